"""Who decides an answer, and what status a counted page has: the one rule that storing a scan,
re-reading a stored page and review all apply.

The machine decides an answer only when it read a mark, or a blank, it is sure of (the reader's own
states, ``omr.detect.decide``); more than one box marked in a single-choice field, or a reading it
is unsure of, waits for a person (CONTRACT.md: such answers put the page in ``needs_review``). A
counted page is ``needs_review`` while any of its answers waits, else ``accepted``. What waits for a
person is a review item (``ask_person``), closed once nothing is left to decide (``close_items``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from db.models import ReviewItem
from omr.detect import result as R
from omr.vocab import ACCEPTED, MACHINE, NEEDS_REVIEW, REVIEW_DONE, REVIEW_OPEN

MACHINE_STATES = (R.MARKED, R.BLANK)  # the answer states the machine's reading stands with


def machine_decides(state: str) -> bool:
    """Whether the machine's reading of an answer (its state) stands without a person."""
    return state in MACHINE_STATES


def waits_for_person(states: Iterable[str]) -> bool:
    """Whether any of these machine readings (their states) needs a person to decide it."""
    return any(not machine_decides(state) for state in states)


@dataclass(frozen=True)
class Final:
    """An answer's final side: what counts, and who decided it when (all None: nobody yet)."""

    value: str | None = None
    state: str | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None


UNDECIDED = Final()


def machine_final(value: str | None, state: str, now: datetime) -> Final:
    """The final side of an answer the machine read as ``value`` and ``state``: that reading, decided
    by the machine now, if the machine decides it; else nothing yet (a person will)."""
    return Final(value, state, MACHINE, now) if machine_decides(state) else UNDECIDED


def page_status(waiting: bool) -> str:
    """The status of a counted page, ``waiting``: whether any of its answers waits for a person."""
    return NEEDS_REVIEW if waiting else ACCEPTED


def ask_person(s: Session, page_id: int, answer_id: int | None, kind: str, now: datetime) -> None:
    """Queue a review item of ``kind`` for the page (and answer), unless one is open for it already."""
    where = [ReviewItem.page_id == page_id, ReviewItem.kind == kind, ReviewItem.status == REVIEW_OPEN]
    if answer_id is not None:
        where.append(ReviewItem.answer_id == answer_id)
    if not s.scalar(select(func.count()).select_from(ReviewItem).where(*where)):
        s.add(ReviewItem(page_id=page_id, answer_id=answer_id, kind=kind, status=REVIEW_OPEN, created_at=now))


def close_items(s: Session, which: ColumnElement[bool], by: str, now: datetime) -> None:
    """Close the open review items ``which`` selects: nothing is left for a person there, as ``by`` (a
    person, or the machine) found."""
    s.execute(
        update(ReviewItem)
        .where(which, ReviewItem.status == REVIEW_OPEN)
        .values(status=REVIEW_DONE, resolved_by=by, resolved_at=now)
        .execution_options(synchronize_session=False)
    )
