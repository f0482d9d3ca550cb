"""Who decides an answer, and what status a counted page has: the one rule that storing a scan,
re-reading a stored page and review all apply.

The machine decides an answer only when it read a mark, or a blank, it is sure of (the reader's own
states, ``omr.detect.decide``); more than one box marked in a single-choice field, or a reading it
is unsure of, waits for a person (CONTRACT.md: such answers put the page in ``needs_review``). A
counted page is ``needs_review`` while any of its answers waits, else ``accepted``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from db.models import ACCEPTED, MACHINE, NEEDS_REVIEW
from omr.detect import result as R

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
