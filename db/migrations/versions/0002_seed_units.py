"""built-in units: 34 provinces and 3,321 wards/communes from vietnam-provinces

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

from db import units

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    units.seed(op.get_bind())


def downgrade() -> None:
    op.execute("DELETE FROM units WHERE kind <> 'service_point'")
