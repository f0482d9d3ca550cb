"""The results the web pages show come from ``omr.services.tally`` (the same computation as every export)."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from omr.services import tally
from omr.vocab import VN_TZ

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


PICKER_MONTHS, PICKER_QUARTERS, PICKER_YEARS = 24, 8, 5  # how far back the period picker reaches


def period_choices(current: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """The period picker's options, newest first, grouped: (kind, [(code, label)]) for months,
    quarters and years; the period on screen is always among them."""
    now = tally.Period.parse(this_month())
    months, p = [], now
    for _ in range(PICKER_MONTHS):
        months.append(p)
        p = p.previous()
    q = tally.Period.quarter(now.start.year, tally.quarter_of(now.start))
    quarters = []
    for _ in range(PICKER_QUARTERS):
        quarters.append(q)
        q = q.previous()
    years = [tally.Period.year(now.start.year - i) for i in range(PICKER_YEARS)]
    groups = {"month": months, "quarter": quarters, "year": years}
    shown = tally.Period.parse(current)
    if shown.kind in groups and all(x.code != shown.code for x in groups[shown.kind]):
        groups[shown.kind].append(shown)
    return [(kind, [(x.code, x.short_label) for x in periods]) for kind, periods in groups.items()]


def comments(s: Session, period: str, unit: str, form_id: str | None, limit: int) -> list[tally.Comment]:
    return tally.comments(s, period, unit, form_id, limit=limit)


def chart_available() -> bool:
    return True
