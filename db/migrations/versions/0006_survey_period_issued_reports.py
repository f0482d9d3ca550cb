"""survey period of scan batches, the survey day of pages, and the register of issued reports

A stack scanned on 2 December may hold November's sheets: ``scan_batches.period`` is the survey month
the stack belongs to, and ``pages.survey_date`` the day the tallies count each page on (its scan day
moved into that month). Existing batches and pages keep the month and day they were scanned in
(Vietnam time, UTC+7, which has no daylight saving). ``issued_reports`` records each report sent
upward, with the figures it carried.

Revision ID: 0006
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_VN = 7  # hours east of UTC


def upgrade() -> None:
    with op.batch_alter_table("scan_batches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("period", sa.String(length=7), nullable=True))
    with op.batch_alter_table("pages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("survey_date", sa.Date(), nullable=True))
    _backfill()
    with op.batch_alter_table("pages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pages_survey_date"), ["survey_date"], unique=False)

    op.create_table(
        "issued_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_code", sa.String(length=32), nullable=False),
        sa.Column("number", sa.String(length=60), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("signer", sa.String(length=100), nullable=False),
        sa.Column("period", sa.String(length=30), nullable=False),
        sa.Column("form_id", sa.String(length=80), nullable=True),
        sa.Column("target", sa.Float(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("fmt", sa.String(length=10), nullable=False),
        sa.Column("file_path", sa.String(length=300), nullable=False),
        sa.Column("file_name", sa.String(length=200), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("changes", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["unit_code"], ["units.code"], name=op.f("fk_issued_reports_unit_code_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_issued_reports")),
        sa.UniqueConstraint("unit_code", "year", "number", name=op.f("uq_issued_reports_unit_code")),
    )
    with op.batch_alter_table("issued_reports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_issued_reports_unit_code"), ["unit_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_issued_reports_period"), ["period"], unique=False)


def _backfill() -> None:
    """Existing batches belong to the month they were scanned in, their pages to their scan day."""
    bind = op.get_bind()
    dialect = bind.dialect.name
    if dialect == "sqlite":
        op.execute(f"UPDATE scan_batches SET period = strftime('%Y-%m', created_at, '+{_VN} hours')")
        op.execute(f"UPDATE pages SET survey_date = date(created_at, '+{_VN} hours')")
    elif dialect == "postgresql":
        local = f"(created_at AT TIME ZONE 'UTC' + interval '{_VN} hours')"
        op.execute(f"UPDATE scan_batches SET period = to_char({local}, 'YYYY-MM')")
        op.execute(f"UPDATE pages SET survey_date = CAST({local} AS date)")
    else:  # the product runs on these two (db/session.py)
        raise NotImplementedError(f"migration 0006: no backfill written for {dialect}")


def downgrade() -> None:
    with op.batch_alter_table("issued_reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_issued_reports_period"))
        batch_op.drop_index(batch_op.f("ix_issued_reports_unit_code"))
    op.drop_table("issued_reports")
    with op.batch_alter_table("pages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pages_survey_date"))
        batch_op.drop_column("survey_date")
    with op.batch_alter_table("scan_batches", schema=None) as batch_op:
        batch_op.drop_column("period")
