"""reader version: which reader read each page and made each machine decision

``pages.reader_version``: the reader that read the page's image (identity, registration, measurements).
``answers.reader_version``: the reader whose decision the machine columns hold (it differs from the
page's when a page is re-decided from its stored measurements). Null for what was stored before
versions were recorded.

Revision ID: 0008
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reader_version", sa.String(length=40), nullable=True))
    with op.batch_alter_table("answers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reader_version", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("answers", schema=None) as batch_op:
        batch_op.drop_column("reader_version")
    with op.batch_alter_table("pages", schema=None) as batch_op:
        batch_op.drop_column("reader_version")
