"""The audit log: who changed what, on which object, with the values before and after.

Every change that a person or a command makes to stored data writes one entry here, in the same
transaction as the change (the caller commits). Actions are named ``noun.verb`` (``unit.add``,
``review.undo``, ``reread.store_again``); objects ``kind:id`` (``page:12``, ``user:lan``).
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from db.models import AuditLog

# a declarative model's __table__ is a Table (typed as the more general FromClause)
_AUDIT = cast(Table, AuditLog.__table__)


def record(
    session: Session,
    user: str | None,
    action: str,
    obj: str | None,
    old: dict | list | None = None,
    new: dict | list | None = None,
) -> None:
    """Write one audit-log entry in ``session``'s transaction; the caller commits.

    A plain insert rather than a new ORM object: the review queue writes one entry per decision, and
    the insert costs a fraction of an ORM flush there."""
    session.execute(insert(_AUDIT).values(user=user, action=action, object=obj, old=old, new=new))
