"""The ``omr scan --json`` line (CONTRACT.md): one per scanned page, stored, repeated or not read."""

from __future__ import annotations

from collections.abc import Iterable

from db.models import Answer, Page

ERROR = "error"  # a page that could not be read at all: no page row, a PageError row (CONTRACT.md)
WRITTEN, EMPTY = "written", "blank"  # the ``texts`` object's values (CONTRACT.md)


def answers_json(rows: Iterable[Answer]) -> dict[str, dict]:
    """The contract's ``answers`` object from stored rows (the machine's reading)."""
    return {
        a.field: {"value": a.machine_value, "state": a.machine_state, "confidence": round(a.confidence, 3)}
        for a in rows
    }


def texts_json(texts: Iterable[tuple[str, bool]]) -> dict[str, str]:
    """The contract's ``texts`` object: for each free-text field of the page, written or blank."""
    return {field: WRITTEN if written else EMPTY for field, written in texts}


def page_json(
    page: Page,
    answers: dict[str, dict],
    source: str | None = None,
    number: int | None = None,
    texts: dict[str, str] | None = None,
) -> dict:
    """One ``omr scan --json`` line (CONTRACT.md) for a stored page."""
    return {
        "source": page.source if source is None else source,
        "page": page.source_page if number is None else number,
        "status": page.status,
        "form": page.form_id,
        "unit": page.unit_code,
        "serial": page.serial,
        "sheet_page": page.sheet_page,
        "answers": answers,
        "texts": texts or {},
    }


def error_json(source: str, number: int, message: str) -> dict:
    return {
        "source": source,
        "page": number,
        "status": ERROR,
        "form": None,
        "unit": None,
        "serial": None,
        "sheet_page": None,
        "answers": {},
        "texts": {},
        "error": message,
    }
