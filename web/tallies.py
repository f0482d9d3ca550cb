"""The results the web pages show come from ``omr.tally`` (the same computation as every export)."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from omr import tally
from web.i18n import VN_TZ

log = logging.getLogger(__name__)


def this_month() -> str:
    return datetime.now(VN_TZ).strftime("%Y-%m")


def summary(s: Session, period: str, unit: str, form_id: str | None = None) -> tally.TallyResult | None:
    """The tally, or None if it cannot be computed (logged; the page still shows its other parts)."""
    try:
        return tally.compute(s, period, unit, form_id)
    except tally.TallyError:
        raise
    except Exception:
        log.exception("tally failed for %s %s", unit, period)
        return None


def parse_period(text: str | None) -> str:
    """A period code from the query string (month, quarter, year), this month if absent; TallyError if bad."""
    if not text:
        return this_month()
    return tally.Period.parse(text).code


def comments(s: Session, period: str, unit: str, form_id: str | None, limit: int) -> list[tally.Comment]:
    return tally.comments(s, period, unit, form_id, limit=limit)


def chart_available() -> bool:
    return True
