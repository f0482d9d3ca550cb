"""review queue indexes: the queue in claiming order, and the items each reviewer holds

The claim (``omr.services.review.claim_next``) takes the first free item of a kind in page order: with
(status, kind, page_id, id) it walks the open items in that order and stops at the first free one,
instead of sorting every open item on each claim; the counts of open items read this index alone.
It replaces (status, kind), which it begins with. (assigned_to, status, kind) finds the items a reviewer
holds without reading the whole queue.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("review_items", schema=None) as batch_op:
        batch_op.create_index("ix_review_items_queue", ["status", "kind", "page_id", "id"], unique=False)
        batch_op.create_index("ix_review_items_assigned_to", ["assigned_to", "status", "kind"], unique=False)
        batch_op.drop_index("ix_review_items_status_kind")


def downgrade() -> None:
    with op.batch_alter_table("review_items", schema=None) as batch_op:
        batch_op.create_index("ix_review_items_status_kind", ["status", "kind"], unique=False)
        batch_op.drop_index("ix_review_items_assigned_to")
        batch_op.drop_index("ix_review_items_queue")
