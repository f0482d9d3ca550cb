"""Units: the built-in administrative divisions and the service points users add under them."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from db.models import Unit
from omr.services import NotFound, ServiceError
from omr.templates import MAX_COUNTERS, Variant

CODE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")
# the kinds of unit users add: a service point (school, clinic, branch) or an office that surveys on
# its own quota, like a district-level one-stop office (omr.tally.quota_of)
ADDED_KINDS = ("service_point", "office")


def get_unit(session: Session, code: str) -> Unit:
    unit = session.get(Unit, code)
    if unit is None:
        raise NotFound(f"không có đơn vị mã {code!r} (xem: omr units list)")
    return unit


def variant_of(unit: Unit) -> Variant:
    """What this unit's sheets look like: its number of counters, personal-data areas or not."""
    return Variant(counters=unit.counters, personal=unit.personal_fields)


def list_units(session: Session, province: str | None = None) -> list[Unit]:
    """Every unit, or a province with everything under it (wards, communes, their service points)."""
    # provinces first, then everything else by code: a province heads the list of its own units
    units = sorted(session.scalars(select(Unit)), key=lambda u: (u.kind != "province", u.code))
    if province is None:
        return units
    get_unit(session, province)
    keep = {province}
    children: dict[str | None, list[Unit]] = {}
    for u in units:
        children.setdefault(u.parent_code, []).append(u)
    todo = [province]
    while todo:
        for child in children.get(todo.pop(), []):
            if child.code not in keep:
                keep.add(child.code)
                todo.append(child.code)
    return [u for u in units if u.code in keep]


def descendants(session: Session, code: str) -> set[str]:
    """The unit's code and every unit under it: the scope of a user of that unit, and a tally's roll-up."""
    return {u.code for u in list_units(session, code)}


def within(s: Session | Connection, code: str, ancestor: str) -> bool:
    """Whether unit ``code`` is ``ancestor`` or under it: one of the units a user of ``ancestor`` handles.
    (Up the few levels from ``code`` rather than down the tree: this runs while pages are being stored.)"""
    seen: set[str] = set()
    current: str | None = code
    while current is not None and current not in seen:
        if current == ancestor:
            return True
        seen.add(current)
        current = s.scalar(select(Unit.parent_code).where(Unit.code == current))
    return False


def add_unit(
    session: Session,
    code: str,
    name: str,
    parent: str | None = None,
    counters: int = 6,
    personal_fields: bool = False,
    yearly_quota: int | None = None,
    kind: str = "service_point",
) -> Unit:
    """Add a service point (school, clinic, land-registry branch…) or an office; the caller commits."""
    code, name = code.strip(), name.strip()
    if not CODE_RE.fullmatch(code):
        raise ServiceError(f"mã đơn vị không hợp lệ: {code!r} (chữ, số, dấu - _ . ; tối đa 32 ký tự)")
    if not name:
        raise ServiceError("tên đơn vị không được để trống")
    if not 1 <= counters <= MAX_COUNTERS:
        raise ServiceError(f"số quầy phải từ 1 đến {MAX_COUNTERS}")
    if kind not in ADDED_KINDS:
        raise ServiceError(f"loại đơn vị không hợp lệ: {kind!r} (chọn: {', '.join(ADDED_KINDS)})")
    if yearly_quota is not None and yearly_quota < 0:
        raise ServiceError("chỉ tiêu phiếu mỗi năm không được âm")
    if session.get(Unit, code) is not None:
        raise ServiceError(f"đã có đơn vị mã {code!r}")
    if parent is not None:
        get_unit(session, parent)
    unit = Unit(
        code=code,
        name=name,
        kind=kind,
        parent_code=parent,
        counters=counters,
        personal_fields=personal_fields,
        yearly_quota=yearly_quota,
    )
    session.add(unit)
    session.flush()
    return unit
