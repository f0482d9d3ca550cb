"""The survey period of scan batches: the month a stack of sheets belongs to, whatever day it is scanned.

A ward empties November's ballot box at the end of the month and scans it in the first days of
December: those sheets are November's. Every scan batch records its survey month (``omr scan --period
2026-11``, the month field of the web upload; default: the month of the scan), each of its pages the
day the tallies count it on (``survey_day``: its scan day, moved into that month), and staff can
correct a batch's month afterwards (``set_period``, audited), which moves its pages with it.

During the first ``EARLY_DAYS`` days of a month most stacks are last month's box, so the web upload
pre-selects last month then (``suggested_month``) and the command line, whose default the contract
fixes at the month of the scan, says which month it used and how to correct it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import date, timedelta

from sqlalchemy import select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from db.models import Page, ScanBatch, local_date, local_today
from omr.services import NotFound, ServiceError, audit
from omr.vocab import SCAN_RUNNING

# The first days of a month, when a stack is most likely the box of the month before: the box is
# emptied on the last working day and scanned within the first week or so (seed 002: reports go up by
# the 20th, so the scanning is done well before).
EARLY_DAYS = 10
_MONTH_RE = re.compile(r"(\d{4})-(\d{1,2})")
_CHUNK = 500  # page ids per UPDATE when a batch moves


def month_code(d: date) -> str:
    return f"{d.year}-{d.month:02d}"


def month_label(code: str) -> str:
    """ "2026-11" -> "tháng 11/2026"."""
    first = _first_day(code)
    return f"tháng {first.month}/{first.year}"


def _first_day(code: str) -> date:
    y, m = code.split("-")
    return date(int(y), int(m), 1)


def _next_month(d: date) -> date:
    return date(d.year + d.month // 12, d.month % 12 + 1, 1)


def previous_month(d: date) -> date:
    """The first day of the month before ``d``'s."""
    return (d.replace(day=1) - timedelta(days=1)).replace(day=1)


def parse_month(text: str, on: date | None = None) -> str:
    """A survey month as ``YYYY-MM`` ("2026-11"), checked: a real month, not after this one."""
    s = str(text).strip()
    m = _MONTH_RE.fullmatch(s)
    if not m or not 1 <= int(m[2]) <= 12 or int(m[1]) < 2000:
        raise ServiceError(f"Kỳ khảo sát không hợp lệ: {s!r} (ghi tháng dạng 2026-11)")
    code = f"{int(m[1])}-{int(m[2]):02d}"
    now = on or local_today()
    if _first_day(code) > now:
        raise ServiceError(f"Kỳ khảo sát {code} chưa tới (hôm nay là {now:%d/%m/%Y}): phiếu không thể thuộc tháng sau")
    return code


def current_month(on: date | None = None) -> str:
    return month_code(on or local_today())


def is_early(on: date | None = None) -> bool:
    """The first days of a month, when a stack is most likely last month's box."""
    return (on or local_today()).day <= EARLY_DAYS


def suggested_month(on: date | None = None) -> str:
    """What the web upload pre-selects: last month during the first ``EARLY_DAYS`` days, else this one."""
    d = on or local_today()
    return month_code(previous_month(d)) if is_early(d) else month_code(d)


def survey_day(scan_day: date, period: str | None) -> date:
    """The day a page counts on: its scan day if it falls in the batch's survey month, else the
    nearest day of that month (the last day for a month already over: November's box scanned on
    2 December counts on 30 November). No period: the scan day."""
    if period is None:
        return scan_day
    first = _first_day(period)
    last = _next_month(first) - timedelta(days=1)
    return min(max(scan_day, first), last)


def batch_period(s: Session | Connection, batch_id: int | None) -> str | None:
    """The survey month of a scan batch (None: no batch, or one from before periods were recorded)."""
    if batch_id is None:
        return None
    return s.execute(select(ScanBatch.period).where(ScanBatch.id == batch_id)).scalar()


def set_period(session: Session, batch_id: int, period: str, user: str | None) -> dict:
    """Move a scan batch, and every page of it, to another survey month; audited. Refused while the
    batch is still being read (its pages still to come would race the move). The caller commits.
    Returns the batch's old and new month and how many pages moved."""
    batch = session.get(ScanBatch, batch_id)
    if batch is None:
        raise NotFound(f"Không có đợt quét số {batch_id}")
    period = parse_month(period)
    if batch.status == SCAN_RUNNING:
        raise ServiceError(f"Đợt quét số {batch_id} đang được đọc: sửa kỳ khảo sát khi đọc xong")
    old = batch.period or month_code(local_date(batch.created_at))
    by_day: dict[date, list[int]] = defaultdict(list)
    rows = session.execute(select(Page.id, Page.created_at, Page.survey_date).where(Page.scan_batch_id == batch_id))
    for pid, created, current in rows:
        day = survey_day(local_date(created), period)
        if day != current:
            by_day[day].append(pid)
    for day, ids in by_day.items():
        for i in range(0, len(ids), _CHUNK):
            session.execute(update(Page).where(Page.id.in_(ids[i : i + _CHUNK])).values(survey_date=day))
    batch.period = period
    moved = sum(len(ids) for ids in by_day.values())
    audit.record(
        session, user, "batch.period", f"scan_batch:{batch_id}", {"period": old}, {"period": period, "pages": moved}
    )
    return {"batch": batch_id, "old": old, "new": period, "pages": moved}
