"""page errors: every page that could not be decoded, with its source, page and reason

CONTRACT.md: every page in is a row out. A page that cannot be had (a broken image, a damaged PDF
page, a bad ZIP entry) has no image to store and so no ``pages`` row; it is recorded here, under the
scan batch it came in with, so the upload page, the batch and the accounts can show it.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "page_errors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scan_batch_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=500), nullable=False),
        sa.Column("source_page", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["scan_batch_id"], ["scan_batches.id"], name=op.f("fk_page_errors_scan_batch_id_scan_batches")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_page_errors")),
    )
    with op.batch_alter_table("page_errors", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_page_errors_scan_batch_id"), ["scan_batch_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_page_errors_created_at"), ["created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("page_errors", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_page_errors_created_at"))
        batch_op.drop_index(batch_op.f("ix_page_errors_scan_batch_id"))
    op.drop_table("page_errors")
