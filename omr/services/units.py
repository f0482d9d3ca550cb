"""Units: the built-in administrative divisions and the service points users add under them."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import case, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from db.models import Unit
from omr.services import NotFound, ServiceError, audit
from omr.sheet.templates import MAX_COUNTERS, Variant, all_forms

CODE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")
# the kinds of unit users add: a service point (school, clinic, branch) or an office that surveys on
# its own quota, like a district-level one-stop office (omr.services.tally.quota_of)
ADDED_KINDS = ("service_point", "office")


def get_unit(session: Session, code: str) -> Unit:
    unit = session.get(Unit, code)
    if unit is None:
        raise NotFound(f"không có đơn vị mã {code!r} (xem: omr units list)")
    return unit


def variant_of(unit: Unit) -> Variant:
    """What this unit's sheets look like: its number of counters, personal-data areas or not."""
    return Variant(counters=unit.counters, personal=unit.personal_fields)


@dataclass(frozen=True)
class UnitTree:
    """The units' parent links, read once: who is under whom, and each unit's name. The tally walks the
    same links in SQL (``scope_cte``), so its counting stays one query per figure."""

    names: dict[str, str]
    parents: dict[str, str | None]
    children: dict[str | None, tuple[str, ...]]

    @classmethod
    def of(cls, rows: Iterable[tuple[str, str, str | None]]) -> UnitTree:
        """The tree of (code, name, parent code) rows."""
        rows = list(rows)
        children: dict[str | None, list[str]] = {}
        for code, _name, parent in rows:
            children.setdefault(parent, []).append(code)
        return cls(
            {code: name for code, name, _ in rows},
            {code: parent for code, _, parent in rows},
            {k: tuple(sorted(v)) for k, v in children.items()},
        )

    def below(self, code: str) -> frozenset[str]:
        """The unit's code and every unit under it."""
        out, todo = {code}, [code]
        while todo:
            for c in self.children.get(todo.pop(), ()):
                if c not in out:
                    out.add(c)
                    todo.append(c)
        return frozenset(out)


def unit_tree(s: Session | Connection) -> UnitTree:
    """Every unit's place in the tree, from the database."""
    return UnitTree.of(s.execute(select(Unit.code, Unit.name, Unit.parent_code)).all())


def scope_cte(root: str | None):
    """Recursive CTE (code, branch): every unit under ``root`` (root included), and which unit
    directly under the root it belongs to (``branch``; the root's own pages have branch = root).
    Without a root: every unit, each under its top-level ancestor. UNION, not UNION ALL, so a
    mistaken cycle in parent links ends instead of looping."""
    u = Unit.__table__
    if root is None:
        anchor = select(u.c.code.label("code"), u.c.code.label("branch")).where(u.c.parent_code.is_(None))
    else:
        anchor = select(u.c.code.label("code"), u.c.code.label("branch")).where(u.c.code == root)
    scope = anchor.cte("scope", recursive=True)
    child = u.alias("child")
    branch = scope.c.branch if root is None else case((scope.c.code == root, child.c.code), else_=scope.c.branch)
    return scope.union(select(child.c.code, branch).where(child.c.parent_code == scope.c.code))


def list_units(session: Session, province: str | None = None) -> list[Unit]:
    """Every unit, or a province with everything under it (wards, communes, their service points)."""
    # provinces first, then everything else by code: a province heads the list of its own units
    units = sorted(session.scalars(select(Unit)), key=lambda u: (u.kind != "province", u.code))
    if province is None:
        return units
    get_unit(session, province)
    keep = UnitTree.of((u.code, u.name, u.parent_code) for u in units).below(province)
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
    by: str | None = None,
) -> Unit:
    """Add a service point (school, clinic, land-registry branch…) or an office and audit it as
    ``unit.add`` (by ``by``); the caller commits."""
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
    audit.record(session, by, "unit.add", f"unit:{unit.code}", None, unit_facts(unit))
    return unit


def unit_facts(unit: Unit) -> dict:
    """What the audit log records of a unit, before and after a change."""
    return {
        "name": unit.name,
        "parent": unit.parent_code,
        "counters": unit.counters,
        "personal_fields": unit.personal_fields,
        "yearly_quota": unit.yearly_quota,
        "usual_form": unit.usual_form,
        "retired": unit.retired,
    }


def update_unit(
    session: Session,
    code: str,
    by: str | None,
    *,
    name: str | None = None,
    counters: int | None = None,
    personal_fields: bool | None = None,
    yearly_quota: int | None = None,
    usual_form: str | None = None,
    retired: bool | None = None,
) -> Unit:
    """Change a unit (only what is given; ``usual_form=""`` and ``yearly_quota=0`` clear it) and audit it
    as ``unit.set`` with the old and new values; the caller commits. A retired unit keeps its sheets,
    pages and results."""
    unit = get_unit(session, code)
    old = unit_facts(unit)
    if name is not None:
        if not name.strip():
            raise ServiceError("Tên đơn vị không được để trống")
        unit.name = name.strip()
    if counters is not None:
        if not 1 <= counters <= MAX_COUNTERS:
            raise ServiceError(f"Số quầy phải từ 1 đến {MAX_COUNTERS}")
        unit.counters = counters
    if personal_fields is not None:
        unit.personal_fields = personal_fields
    if yearly_quota is not None:
        unit.yearly_quota = yearly_quota or None
    if usual_form is not None:
        if usual_form and usual_form not in all_forms():
            raise ServiceError(f"Không có mẫu phiếu {usual_form!r}")
        unit.usual_form = usual_form or None
    if retired is not None:
        unit.retired = retired
    new = unit_facts(unit)
    if new != old:
        audit.record(
            session,
            by,
            "unit.set",
            f"unit:{code}",
            {k: v for k, v in old.items() if new[k] != v},
            {k: v for k, v in new.items() if old[k] != v},
        )
    session.flush()
    return unit
