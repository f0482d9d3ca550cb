"""One row per counted response (sheet) with every final answer: the raw data of the exports.

The same pages the tally counts (``omr.services.tally.counted_pages``), read in one ordered pass; a
two-page sheet becomes one row. Answers still waiting for a reviewer are marked, not dropped.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Answer, TextArea, Unit
from omr.services import tally
from omr.sheet.templates import Field, Form, UnknownForm, Variant, get_form


@dataclass
class Response:
    serial: str
    unit_code: str
    unit_name: str
    form_id: str
    scanned: date | None
    needs_review: bool
    answers: dict[str, tuple[str | None, bool]] = field(default_factory=dict)  # field -> (value, pending)
    written: set[str] = field(default_factory=set)  # free-text fields with handwriting


def forms_of(result: tally.TallyResult) -> list[Form]:
    out = []
    for ft in result.forms:
        try:
            out.append(get_form(ft.form_id).resolved(Variant(counters=12, personal=True)))
        except UnknownForm:
            continue
    return out


def columns(forms: list[Form]) -> list[Field]:
    """Question columns: every choice and (non-personal) free-text field of the forms, first
    appearance order; forms sharing an id (tc_1…) share the column, the form column tells them apart."""
    seen: dict[str, Field] = {}
    for form in forms:
        for f in form.fields():
            if f.personal or f.id in seen:
                continue
            seen[f.id] = f
    return list(seen.values())


def iter_responses(
    session: Session, period: tally.Period | str, unit_code: str | None, form_id: str | None = None
) -> Iterator[Response]:
    """Counted responses ordered by form, unit and serial, each with its final answers."""
    pages = tally.counted_pages(period, unit_code, form_id).subquery()
    names = dict(session.execute(select(Unit.code, Unit.name).where(Unit.code.in_(select(pages.c.unit_code)))).all())
    written: dict[int, set[str]] = {}
    for pid, fld in session.execute(
        select(TextArea.page_id, TextArea.field).where(
            TextArea.page_id.in_(select(pages.c.id)), TextArea.written.is_(True)
        )
    ):
        written.setdefault(pid, set()).add(fld)
    stmt = (
        select(
            pages.c.id,
            pages.c.serial,
            pages.c.unit_code,
            pages.c.form_id,
            pages.c.status,
            pages.c.created_at,
            Answer.field,
            Answer.final_value,
            Answer.final_state,
        )
        .select_from(pages.outerjoin(Answer, Answer.page_id == pages.c.id))
        .order_by(pages.c.form_id, pages.c.unit_code, pages.c.serial, pages.c.sheet_page, pages.c.id)
    )
    current: Response | None = None
    for pid, serial, unit, fid, status, created, fld, value, state in session.execute(stmt).yield_per(5000):
        if current is None or (current.form_id, current.serial) != (fid, serial):
            if current is not None:
                yield current
            current = Response(serial, unit, names.get(unit, unit), fid, tally.local_date(created), False)
        current.needs_review |= status == "needs_review"
        current.written |= written.get(pid, set())
        if fld is not None:
            current.answers[fld] = (value if state is not None else None, state is None)
    if current is not None:
        yield current
