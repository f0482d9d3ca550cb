"""The built-in units: Vietnam's 34 provinces and 3,321 wards/communes (2025 reorganisation).

Data comes from the ``vietnam-provinces`` package, under the official codes written as text
("01" for Hà Nội, "09552" for Phường Kiến Hưng) so leading zeros survive every export.
Written with a plain table description (not the ORM models) because a migration calls it and a
migration must keep working whatever the models later become.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

PROVINCE_DIGITS, WARD_DIGITS = 2, 5

_units = sa.table(
    "units",
    sa.column("code", sa.String),
    sa.column("name", sa.String),
    sa.column("kind", sa.String),
    sa.column("parent_code", sa.String),
    sa.column("counters", sa.Integer),
    sa.column("personal_fields", sa.Boolean),
    sa.column("yearly_quota", sa.Integer),
)

# vietnam_provinces division types -> our unit kinds
_WARD_KINDS = {"phường": "ward", "xã": "commune", "đặc khu": "special"}


def province_code(n: int) -> str:
    return f"{n:0{PROVINCE_DIGITS}d}"


def ward_code(n: int) -> str:
    return f"{n:0{WARD_DIGITS}d}"


def builtin_units() -> list[dict]:
    """Every official division as a row of ``units``, provinces first (wards point at them)."""
    from vietnam_provinces import Province, Ward

    rows = [
        {
            "code": province_code(int(p.code)),
            "name": p.name,
            "kind": "province",
            "parent_code": None,
            "counters": 6,
            "personal_fields": False,
            "yearly_quota": None,
        }
        for p in Province.iter_all()
    ]
    for w in Ward.iter_all():
        rows.append(
            {
                "code": ward_code(int(w.code)),
                "name": w.name,
                "kind": _WARD_KINDS.get(w.division_type.value, "commune"),
                "parent_code": province_code(int(w.province_code)),
                "counters": 6,
                "personal_fields": False,
                "yearly_quota": None,
            }
        )
    return rows


def seed(conn: Connection) -> int:
    """Insert the official units that are not there yet (one multi-row insert); returns how many."""
    have = set(conn.execute(sa.select(_units.c.code)).scalars())
    rows = [r for r in builtin_units() if r["code"] not in have]
    if rows:
        conn.execute(_units.insert(), rows)
    return len(rows)
