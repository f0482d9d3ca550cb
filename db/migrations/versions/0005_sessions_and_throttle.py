"""ended web sessions, login throttle, disabled users, uploader's scope on scan batches

``ended_sessions``: sessions ended at logout (the sha256 of the cookie's session id), so a copied
cookie stops working at once; ``users.session_generation``: raised at a password change and when the
user is disabled, which ends every session of the user.
``login_throttle``: failed logins per (user name, address) and per address, in place of locking the
account itself (which let anyone lock anyone out). ``users.disabled_at``: a user who may no longer log
in. ``scan_batches.scope_unit``: the unit of the user who uploaded the stack; sheets of units outside it
are not stored as responses.

Revision ID: 0005
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ended_sessions",
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("token_sha256", name=op.f("pk_ended_sessions")),
    )
    with op.batch_alter_table("ended_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ended_sessions_ended_at"), ["ended_at"], unique=False)
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_throttle")),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("session_generation", sa.Integer(), server_default="0", nullable=False))
    with op.batch_alter_table("scan_batches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scope_unit", sa.String(length=32), nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_scan_batches_scope_unit_units"), "units", ["scope_unit"], ["code"])


def downgrade() -> None:
    with op.batch_alter_table("scan_batches", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_scan_batches_scope_unit_units"), type_="foreignkey")
        batch_op.drop_column("scope_unit")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("session_generation")
        batch_op.drop_column("disabled_at")
    op.drop_table("login_throttle")
    with op.batch_alter_table("ended_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ended_sessions_ended_at"))
    op.drop_table("ended_sessions")
