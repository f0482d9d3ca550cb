"""The three counts people read on every screen, each defined here once, with its words.

- **phiếu đã nhận** (sheets received): sheets, by serial, with at least one stored page that counts
  (``COUNTED_STATUSES``: read, whether or not answers still wait). A two-page sheet is one sheet; a
  rescan, a duplicate or the losing scan of a conflict adds nothing.
- **câu chờ duyệt** (answers waiting): answers on those pages that nobody has decided yet (the machine
  was unsure and no person has looked): the review queue's answers.
- **phiếu còn câu chờ duyệt** (sheets waiting): sheets received with at least one answer waiting.

The words are in ``omr.vocab``, with the page statuses' words, which none of these reuse.

The command line (``omr scan``'s summary), the start page and the results page use these; the tally
(``omr.services.tally``) counts ``responses`` and ``pending_responses`` by the same definitions, which
tests/test_web_pages.py checks against ``counts``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, distinct, func, select
from sqlalchemy.orm import Session

from db.models import Answer, Page
from omr.vocab import COUNTED_STATUSES, RECEIVED, WAITING_ANSWERS, WAITING_SHEETS, WAITING_STATES


@dataclass(frozen=True)
class Counts:
    received: int  # phiếu đã nhận
    waiting_answers: int  # câu chờ duyệt
    waiting_sheets: int  # phiếu còn câu chờ duyệt

    def words(self) -> str:
        return (
            f"{RECEIVED}: {self.received}, {WAITING_ANSWERS}: {self.waiting_answers}, "
            f"{WAITING_SHEETS}: {self.waiting_sheets}"
        )


def counts(
    s: Session, units: Iterable[str] | None = None, start: datetime | None = None, end: datetime | None = None
) -> Counts:
    """The three counts over the pages of ``units`` (None: all) stored in [start, end)."""
    where: list[ColumnElement[bool]] = [Page.status.in_(COUNTED_STATUSES), Page.serial.is_not(None)]
    if units is not None:
        where.append(Page.unit_code.in_(sorted(set(units))))
    if start is not None:
        where.append(Page.created_at >= start)
    if end is not None:
        where.append(Page.created_at < end)
    received = s.scalar(select(func.count(distinct(Page.serial))).where(*where)) or 0
    waiting = (
        select(Page.serial, Answer.id)
        .join(Answer, Answer.page_id == Page.id)
        .where(*where, Answer.final_state.is_(None))
    )
    waiting_answers = s.scalar(select(func.count()).select_from(waiting.subquery())) or 0
    sub = waiting.subquery()
    waiting_sheets = s.scalar(select(func.count(distinct(sub.c.serial)))) or 0
    return Counts(received, waiting_answers, waiting_sheets)


def from_scan_lines(lines: Iterable[dict]) -> Counts:
    """The same three counts for the pages of one ``omr scan`` run, from its output lines."""
    received: set[str] = set()
    waiting_sheets: set[str] = set()
    waiting_answers = 0
    for line in lines:
        if line.get("status") not in COUNTED_STATUSES or not line.get("serial"):
            continue
        received.add(line["serial"])
        n = sum(1 for a in (line.get("answers") or {}).values() if a.get("state") in WAITING_STATES)
        waiting_answers += n
        if n:
            waiting_sheets.add(line["serial"])
    return Counts(len(received), waiting_answers, len(waiting_sheets))
