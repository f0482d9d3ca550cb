"""unit report settings: how each unit signs and sends its PDF report

The place of the date line, the plan the report carries out, the signature block (TM./KT./Q., the
signer's title and name), the document symbol, the recipients ("Nơi nhận") and the form shown first:
one optional row per unit, set with ``omr units set``.

Revision ID: 0009
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "unit_report_settings",
        sa.Column("unit_code", sa.String(length=32), nullable=False),
        sa.Column("place", sa.String(length=100), nullable=True),
        sa.Column("plan", sa.Text(), nullable=True),
        sa.Column("sign_as", sa.String(length=4), nullable=True),
        sa.Column("signer_title", sa.String(length=100), nullable=True),
        sa.Column("signer_name", sa.String(length=100), nullable=True),
        sa.Column("symbol", sa.String(length=40), nullable=True),
        sa.Column("recipients", sa.JSON(), nullable=True),
        sa.Column("main_form", sa.String(length=80), nullable=True),
        sa.ForeignKeyConstraint(["unit_code"], ["units.code"], name=op.f("fk_unit_report_settings_unit_code_units")),
        sa.PrimaryKeyConstraint("unit_code", name=op.f("pk_unit_report_settings")),
    )


def downgrade() -> None:
    op.drop_table("unit_report_settings")
