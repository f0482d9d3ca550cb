"""The ``omr scan --json`` line (CONTRACT.md): one per scanned page, stored, repeated or not read."""

from __future__ import annotations

from collections.abc import Iterable

from db.models import Answer, Page
from omr.detect import result as R

ERROR = "error"  # a page that could not be read at all: no page row, a PageError row (CONTRACT.md)
WRITTEN, EMPTY = "written", "blank"  # the ``texts`` object's values (CONTRACT.md)


def answer_json(value: str | None, state: str, confidence: float) -> dict:
    """One answer of the line's ``answers`` object: the machine's reading."""
    return {"value": value, "state": state, "confidence": round(confidence, 3)}


def answers_json(rows: Iterable[Answer]) -> dict[str, dict]:
    """The line's ``answers`` object from stored rows."""
    return {a.field: answer_json(a.machine_value, a.machine_state, a.confidence) for a in rows}


def texts_json(texts: Iterable[tuple[str, bool]]) -> dict[str, str]:
    """The line's ``texts`` object: for each free-text field of the page, written or blank."""
    return {field: WRITTEN if written else EMPTY for field, written in texts}


def line(
    source: str,
    number: int,
    status: str,
    *,
    form: str | None = None,
    unit: str | None = None,
    serial: str | None = None,
    sheet_page: int | None = None,
    answers: dict[str, dict] | None = None,
    texts: dict[str, str] | None = None,
) -> dict:
    """One ``omr scan --json`` line: the one place its fields are named, in the order they are printed."""
    return {
        "source": source,
        "page": number,
        "status": status,
        "form": form,
        "unit": unit,
        "serial": serial,
        "sheet_page": sheet_page,
        "answers": answers or {},
        "texts": texts or {},
    }


def page_json(
    page: Page,
    answers: dict[str, dict],
    source: str | None = None,
    number: int | None = None,
    texts: dict[str, str] | None = None,
) -> dict:
    """The line of a stored page (reported for ``source`` page ``number`` if given)."""
    return line(
        page.source if source is None else source,
        page.source_page if number is None else number,
        page.status,
        form=page.form_id,
        unit=page.unit_code,
        serial=page.serial,
        sheet_page=page.sheet_page,
        answers=answers,
        texts=texts,
    )


def reading_json(source: str, number: int, status: str, read: R.PageRead) -> dict:
    """The line of a page as just read, given the status storing decided for it."""
    ident = read.identity
    return line(
        source,
        number,
        status,
        form=ident.form if ident else None,
        unit=ident.unit if ident else None,
        serial=ident.serial if ident else None,
        sheet_page=ident.page if ident else None,
        answers={a.field: answer_json(a.value, a.state, a.confidence) for a in read.answers},
        texts=texts_json((t.field, t.written) for t in read.texts),
    )


def error_json(source: str, number: int, message: str) -> dict:
    """The line of a page that could not be read at all, with the reason."""
    return {**line(source, number, ERROR), "error": message}
