"""units: the form a unit usually prints, and units retired from use

``usual_form``: the form the print page offers first for this unit (a ward prints its one-stop-shop
survey, a land-registry branch its own form); none: the first form in the list. ``retired``: a unit
no longer in use (merged, closed) keeps its sheets, pages and results but is no longer offered in
unit pickers nor printed for.

Revision ID: 0007
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ADD COLUMN (SQLite has it): a batch copy of ``units`` would trip the foreign keys pointing at it
    op.add_column("units", sa.Column("usual_form", sa.String(length=80), nullable=True))
    op.add_column("units", sa.Column("retired", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("units", schema=None) as batch_op:
        batch_op.drop_column("retired")
        batch_op.drop_column("usual_form")
