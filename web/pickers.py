"""What the pickers of a page offer: the units of the user's scope that are still in use, and the
forms with a unit's usual one first."""

from __future__ import annotations

from sqlalchemy import select

from db.models import PrintBatch, Unit
from omr.sheet.templates import all_forms
from web.access import unit_choices
from web.database import db


def retired_units() -> frozenset[str]:
    return frozenset(db().scalars(select(Unit.code).where(Unit.retired.is_(True))))


def unit_options(keep: str | None = None) -> list[tuple[str, str]]:
    """(code, name) of the units in scope, own first, retired ones left out (but ``keep``, the unit a
    page is showing, stays: its history can still be looked at)."""
    gone = retired_units() - {keep}
    return [(c, n) for c, n in unit_choices() if c not in gone]


def usual_form(unit_code: str | None) -> str | None:
    """The form a unit prints: the one set for it, else the one it printed last; None if neither."""
    if not unit_code:
        return None
    s = db()
    return s.scalar(select(Unit.usual_form).where(Unit.code == unit_code)) or s.scalar(
        select(PrintBatch.form_id).where(PrintBatch.unit_code == unit_code).order_by(PrintBatch.id.desc()).limit(1)
    )


def form_options(unit_code: str | None) -> list[tuple[str, str, int]]:
    """(id, full title, pages) of every form, the unit's usual form first, then in the usual order."""
    forms = [(f.id, f.full_title, f.pages) for f in all_forms().values()]
    usual = usual_form(unit_code)
    return sorted(forms, key=lambda f: f[0] != usual)
