"""built-in units: 34 provinces and 3,321 wards/communes from vietnam-provinces; the serial counter

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from db import units

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    units.seed(op.get_bind())
    # the row print runs bump to allocate sheet serials (omr.services.print_runs)
    counters = sa.table("counters", sa.column("name", sa.String), sa.column("value", sa.BigInteger))
    op.bulk_insert(counters, [{"name": "sheet_serial", "value": 0}])


def downgrade() -> None:
    op.execute("DELETE FROM counters WHERE name = 'sheet_serial'")
    op.execute("DELETE FROM units WHERE kind <> 'service_point'")
