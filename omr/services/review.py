"""The review queue: people decide what the machine could not.

Three kinds of item (``ReviewItem.kind``): an *answer* the machine was unsure of (multiple marks, a
faint dot, a correction…), an *unidentified* page (no readable sheet identity: a person names form,
unit and serial, or says it is not a survey sheet), and a *conflict* (the same sheet page scanned
twice with different answers: a person keeps one).

Concurrency: an item is handed to one reviewer at a time by one statement that picks and takes it,
``UPDATE … SET assigned_to = me WHERE id = (SELECT the first free item in queue order … LIMIT 1
FOR UPDATE SKIP LOCKED) AND status = 'open' AND (assigned_to IS NULL OR assigned_at < stale)
RETURNING id`` (SQLite ≥ 3.35, PostgreSQL). SQLite runs writers one at a time and ignores the locking
clause; PostgreSQL lets concurrent claimers skip each other's row and re-checks the WHERE clause on the
newest row version; on both exactly one reviewer gets each item. Deciding is the same kind of
conditional UPDATE (``_mark_done``), whose row count says who won. A claim not acted on goes stale
after ``STALE`` and is handed out again. The index (status, kind, page_id, id) keeps the pick a walk
from the head of the queue, whatever its length.

Every decision writes an ``AuditLog`` row with the old and new values; undo restores the old ones.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import cast

from sqlalchemy import CursorResult, Table, and_, bindparam, delete, func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from db.models import Answer, AuditLog, Page, ReviewItem, ScanBatch, Sheet, TextArea, User, utcnow
from db.session import session as open_session
from db.session import transaction
from omr import config
from omr.services import NotFound, ServiceError, audit, decisions
from omr.values import join_values, split_values
from omr.vocab import (
    ANSWER_REASON,
    BLANK_ANSWER,
    CONFLICT,
    COUNTED_STATUSES,
    INVALID,
    MARKED,
    REVIEW_ANSWER,
    REVIEW_CONFLICT,
    REVIEW_DONE,
    REVIEW_OPEN,
    REVIEW_UNIDENTIFIED,
)

STALE = timedelta(minutes=5)  # a claimed item nobody decided is handed out again after this
MAX_HELD = 3  # the item on screen and the two prefetched behind it
# decisions still being sent: held until stored, but not counted against MAX_HELD (else the prefetch
# that follows a quick decision finds the reviewer's hands full); at most this many are let off
MAX_SAVING = 4
CLAIM_ATTEMPTS = 5  # PostgreSQL: tries when the row picked was taken in the meantime
KINDS = (REVIEW_ANSWER, REVIEW_UNIDENTIFIED, REVIEW_CONFLICT)
ACTIVE_GAP = timedelta(minutes=5)  # longer pauses between decisions are breaks, not work
THROUGHPUT_MIN_ITEMS, THROUGHPUT_MIN_MINUTES = 50, 10  # below either, no rate per hour is shown


class ReviewError(ServiceError):
    """A decision that cannot be made (bad value, item not yours any more…)."""


class Taken(ReviewError):
    """The item is being (or was) handled by someone else."""


@dataclass(frozen=True)
class Scope:
    """What a reviewer may see: pages of these units, and unidentified pages uploaded by their people.

    ``root``: also unidentified pages nobody can place (scanned from the command line).
    """

    units: frozenset[str]
    root: bool = False


def _now() -> datetime:
    return datetime.now(UTC)


def visible(scope: Scope) -> ColumnElement[bool]:
    """SQL condition on ``Page``: the page belongs to the scope."""
    return _visible(scope.root, sorted(scope.units), sorted(scope.units))


def _visible(root: bool, units, uploader_units) -> ColumnElement[bool]:
    """``visible`` with the unit lists given as literal lists or as (expanding) bound parameters."""
    uploaders = select(User.username).where(User.unit_code.in_(uploader_units))
    conds: list[ColumnElement[bool]] = [
        Page.unit_code.in_(units),
        and_(
            Page.unit_code.is_(None),
            Page.scan_batch_id.in_(select(ScanBatch.id).where(ScanBatch.created_by.in_(uploaders))),
        ),
    ]
    if root:
        orphan_batches = select(ScanBatch.id).where(
            or_(ScanBatch.created_by.is_(None), ScanBatch.created_by.not_in(select(User.username)))
        )
        conds.append(
            and_(Page.unit_code.is_(None), or_(Page.scan_batch_id.is_(None), Page.scan_batch_id.in_(orphan_batches)))
        )
    return or_(*conds)


def page_visible(s: Session, page: Page, scope: Scope) -> bool:
    return bool(s.scalar(select(func.count()).select_from(Page).where(Page.id == page.id, visible(scope))))


# --------------------------------------------------------------------------- the queue
#
# The queue's hot statements (claim, counts, the item with its page) are built once per kind of scope,
# with bound parameters, rather than on every request: building a SQLAlchemy statement costs more
# Python than SQLite takes to run it.

# a declarative model's __table__ is a Table (typed as the more general FromClause)
_RI = cast(Table, ReviewItem.__table__)
_ANS = cast(Table, Answer.__table__)


def _scope_params(scope: Scope) -> dict:
    units = sorted(scope.units)
    return {"scope_units": units, "scope_uploader_units": units}


@cache
def _visible_bound(root: bool) -> ColumnElement[bool]:
    return _visible(root, bindparam("scope_units", expanding=True), bindparam("scope_uploader_units", expanding=True))


@cache
def _counts_stmt(root: bool):
    return (
        select(_RI.c.kind, func.count())
        .select_from(_RI.join(Page, Page.id == _RI.c.page_id))
        .where(_RI.c.status == REVIEW_OPEN, _visible_bound(root))
        .group_by(_RI.c.kind)
    )


@cache
def _held_stmt():
    # a handful of rows, put in queue order by the caller: no ORDER BY, so the index on the reviewer's
    # name is used rather than the queue's
    return select(_RI.c.id, _RI.c.page_id).where(
        _RI.c.assigned_to == bindparam("q_user"),
        _RI.c.status == REVIEW_OPEN,
        _RI.c.kind == bindparam("q_kind"),
        _RI.c.assigned_at >= bindparam("q_stale"),
    )


def _free():
    return or_(_RI.c.assigned_to.is_(None), _RI.c.assigned_at < bindparam("q_stale"))


@cache
def _pick_stmt(root: bool, lock: bool):
    """The first item of the queue nobody holds, in the scope (by page, then item)."""
    q = (
        select(_RI.c.id)
        .select_from(_RI.join(Page, Page.id == _RI.c.page_id))
        .where(
            _RI.c.status == REVIEW_OPEN,
            _RI.c.kind == bindparam("q_kind"),
            _free(),
            _RI.c.id.not_in(bindparam("q_exclude", expanding=True)),
            _visible_bound(root),
        )
        .order_by(_RI.c.page_id, _RI.c.id)
        .limit(1)
    )
    # PostgreSQL: concurrent claimers skip each other's row instead of queueing on it (SQLite renders
    # nothing here: its writers run one at a time anyway)
    return q.with_for_update(of=_RI, skip_locked=True) if lock else q


@cache
def _claim_stmt(root: bool):
    """Pick and take in one statement: ``UPDATE … WHERE id = (first free item) AND still free RETURNING id``."""
    return (
        update(_RI)
        .where(_RI.c.id == _pick_stmt(root, True).scalar_subquery(), _RI.c.status == REVIEW_OPEN, _free())
        .values(assigned_to=bindparam("q_user"), assigned_at=bindparam("q_now"))
        .returning(_RI.c.id)
    )


@cache
def _item_stmt(root: bool):
    return (
        select(ReviewItem, Page)
        .join(Page, Page.id == ReviewItem.page_id)
        .where(ReviewItem.id == bindparam("q_item"), _visible_bound(root))
    )


def open_counts(s: Session, scope: Scope) -> dict[str, int]:
    """Open items of each kind in the scope (one indexed pass over the open items)."""
    rows = s.execute(_counts_stmt(scope.root), _scope_params(scope)).all()
    out = dict.fromkeys(KINDS, 0)
    out.update({k: n for k, n in rows})
    return out


def held_by_others(s: Session, scope: Scope, username: str) -> dict[str, list[tuple[str, int]]]:
    """Open items of each kind someone else holds right now (not stale), by whom: what a reviewer who
    finds nothing free is told is "being handled by …"."""
    rows = s.execute(
        select(_RI.c.kind, _RI.c.assigned_to, func.count())
        .select_from(_RI.join(Page, Page.id == _RI.c.page_id))
        .where(
            _RI.c.status == REVIEW_OPEN,
            _RI.c.assigned_to.is_not(None),
            _RI.c.assigned_to != username,
            _RI.c.assigned_at >= _now() - STALE,
            visible(scope),
        )
        .group_by(_RI.c.kind, _RI.c.assigned_to)
        .order_by(_RI.c.kind, _RI.c.assigned_to)
    ).all()
    out: dict[str, list[tuple[str, int]]] = {k: [] for k in KINDS}
    for kind, who, n in rows:
        out[kind].append((who, n))
    return out


def warm_up(s: Session) -> None:
    """Compile the queue's reading statements on this process's engine (``omr serve`` calls this before
    a process takes its first request). A scope of no unit: nothing is read, nothing written."""
    nobody = Scope(frozenset())
    params = {"q_user": "", "q_kind": REVIEW_ANSWER, "q_stale": _now(), "q_exclude": [], **_scope_params(nobody)}
    s.execute(_held_stmt(), params).all()
    s.execute(_pick_stmt(False, False), params).all()
    open_counts(s, nobody)
    with suppress(NotFound):
        get_item(s, 0, nobody)


def claim_next(
    username: str,
    scope: Scope,
    kind: str = REVIEW_ANSWER,
    exclude: Iterable[int] = (),
    saving: Iterable[int] = (),
) -> int | None:
    """The id of an item for ``username`` to decide, now assigned to them; None when the queue is empty.

    An item they already hold (and not in ``exclude``: what their screen already shows) comes first,
    so reloading the page shows the same item; they hold at most ``MAX_HELD`` at once, not counting the
    items in ``saving`` (decisions on their way: up to ``MAX_SAVING`` of them). A new item is
    taken by a single ``UPDATE … RETURNING`` whose WHERE clause re-checks that nobody holds it: SQLite
    runs it under its one write lock, PostgreSQL skips rows other claimers have locked and re-checks
    the clause on the newest row version, so no item is ever handed to two reviewers.
    """
    if kind not in KINDS:
        raise ReviewError(f"Không có loại mục duyệt {kind!r}")
    saving_ids = sorted({int(i) for i in saving})[:MAX_SAVING]
    exclude = sorted({int(i) for i in exclude} | set(saving_ids))
    now = _now()
    url = config.database_url()  # once: it is a few system calls
    params = {"q_user": username, "q_kind": kind, "q_stale": now - STALE, "q_now": now, "q_exclude": exclude}
    with open_session(url) as s:
        held = [i for _page, i in sorted((r.page_id, r.id) for r in s.execute(_held_stmt(), params))]
    mine = [i for i in held if i not in exclude]
    if mine:
        with transaction(url) as w:  # keep it fresh: it is still on this reviewer's screen
            kept = cast(
                CursorResult,
                w.execute(
                    update(_RI)
                    .where(_RI.c.id == mine[0], _RI.c.assigned_to == username, _RI.c.status == REVIEW_OPEN)
                    .values(assigned_at=now)
                ),
            ).rowcount
        if kept == 1:
            return mine[0]
        # decided or given back meanwhile (another tab of theirs): take a new one
    elif len([i for i in held if i not in saving_ids]) >= MAX_HELD:
        return None
    params |= _scope_params(scope)
    for _attempt in range(CLAIM_ATTEMPTS):
        with transaction(url) as w:
            got = w.execute(_claim_stmt(scope.root), params).scalar()
        if got is not None:
            return got
        # Nothing taken: the queue is empty, or (PostgreSQL) the row picked was taken by another
        # reviewer between the pick and the update. Look again only if something is still free.
        with open_session(url) as s:
            if s.execute(_pick_stmt(scope.root, False), params).first() is None:
                return None
    return None


def release(username: str, item_ids: Iterable[int]) -> None:
    """Give back items held but not decided (a reviewer leaving the queue)."""
    ids = list(item_ids)
    if not ids:
        return
    with transaction() as w:
        w.execute(
            update(ReviewItem)
            .where(ReviewItem.id.in_(ids), ReviewItem.assigned_to == username, ReviewItem.status == REVIEW_OPEN)
            .values(assigned_to=None, assigned_at=None)
        )


def get_item(s: Session, item_id: int, scope: Scope) -> tuple[ReviewItem, Page]:
    """The item and its page, if the scope may see it (NotFound otherwise: nothing is revealed)."""
    row = s.execute(_item_stmt(scope.root), {"q_item": item_id, **_scope_params(scope)}).first()
    if row is None:
        raise NotFound("Không có mục duyệt này")
    return row[0], row[1]


# --------------------------------------------------------------------------- what a reviewer sees


# The keys that choose a question's options, in printed order: 1–9, then letters, so an option is
# always one key press (no waiting to see whether a second digit follows). The review page keeps
# P (whole page), Z (undo) and X (zoom) for itself.
OPTION_LETTERS = "abcdefghijklmnoqrstuvwy"


def option_keys(n: int) -> tuple[str, ...]:
    keys = [str(i) for i in range(1, min(n, 9) + 1)] + list(OPTION_LETTERS[: max(0, n - 9)])
    if len(keys) < n:
        raise ReviewError(f"Câu hỏi có {n} lựa chọn, nhiều hơn số phím chọn được")
    return tuple(keys)


@dataclass
class OptionView:
    key: str  # the key that chooses it (see ``option_keys``)
    value: str
    label: str


@dataclass
class ItemView:
    id: int
    kind: str
    status: str
    page_id: int
    serial: str | None
    sheet_page: int | None
    unit_code: str | None
    form_id: str | None
    form_title: str | None
    note: str | None
    field_id: str | None = None
    field_kind: str | None = None
    question: str | None = None
    element: str | None = None
    options: list[OptionView] = field(default_factory=list)
    reason: str | None = None
    reason_text: str | None = None
    machine_value: str | None = None
    machine_state: str | None = None
    confidence: float | None = None
    final_value: str | None = None
    final_state: str | None = None
    decided_by: str | None = None
    resolved_by: str | None = None
    other_page_id: int | None = None  # conflicts: the earlier page with the same serial
    differences: list[dict] = field(default_factory=list)  # conflicts: answers that differ


def describe(s: Session, item: ReviewItem, page: Page) -> ItemView:
    from omr.sheet.layout import layout_for
    from omr.sheet.templates import UnknownForm, Variant

    title = None
    fl = None
    if page.form_id and page.form_version is not None:
        try:
            fl = layout_for(page.form_id, page.form_version, Variant.parse(page.variant or Variant().code()))
            title = fl.form.title
        except (UnknownForm, ValueError):
            fl = None
    view = ItemView(
        item.id,
        item.kind,
        item.status,
        page.id,
        page.serial,
        page.sheet_page,
        page.unit_code,
        page.form_id,
        title,
        page.note,
        resolved_by=item.resolved_by,
    )
    if item.kind == REVIEW_ANSWER and item.answer_id is not None:
        ans = s.get(Answer, item.answer_id)
        if ans is None:
            raise NotFound("Không có câu trả lời này")
        view.field_id = ans.field
        view.reason = ans.reason or ans.machine_state
        view.reason_text = ANSWER_REASON.get(view.reason or "", view.reason)
        view.machine_value, view.machine_state, view.confidence = ans.machine_value, ans.machine_state, ans.confidence
        view.final_value, view.final_state, view.decided_by = ans.final_value, ans.final_state, ans.decided_by
        if fl is not None:
            fp = fl.placement(ans.field)
            view.field_kind, view.question, view.element = fp.field.kind, fp.field.label, fp.field.element
            keys = option_keys(len(fp.options))
            view.options = [OptionView(keys[i], o.value, o.label) for i, o in enumerate(fp.options)]
    elif item.kind == REVIEW_CONFLICT:
        other = conflict_partner(s, page)
        if other is not None:
            view.other_page_id = other.id
            view.differences = _differences(s, other, page, fl)
    return view


def conflict_partner(s: Session, page: Page) -> Page | None:
    """The earlier stored page of the same sheet page that the conflict page disagrees with."""
    if page.serial is None:
        return None
    return s.scalar(
        select(Page)
        .where(
            Page.serial == page.serial,
            Page.sheet_page == page.sheet_page,
            Page.id != page.id,
            Page.status.in_((*COUNTED_STATUSES, CONFLICT)),
        )
        .order_by(Page.status.in_(COUNTED_STATUSES).desc(), Page.id)
        .limit(1)
    )


def _differences(s: Session, a: Page, b: Page, fl) -> list[dict]:
    def answers(p: Page) -> dict[str, Answer]:
        return {x.field: x for x in s.scalars(select(Answer).where(Answer.page_id == p.id))}

    aa, bb = answers(a), answers(b)
    out = []
    for f in sorted(set(aa) | set(bb), key=lambda k: (aa.get(k) or bb[k]).id):
        va, vb = aa.get(f), bb.get(f)
        left = va.final_value if va and va.final_state else va.machine_value if va else None
        right = vb.final_value if vb and vb.final_state else vb.machine_value if vb else None
        if left == right:
            continue
        label = f
        labels: dict[str, str] = {}
        if fl is not None:
            try:
                fp = fl.placement(f)
                label = fp.field.label
                labels = {o.value: o.label for o in fp.options}
            except KeyError:
                pass

        def words(v: str | None, labels: dict[str, str] = labels) -> str:
            if not v:
                return "—"
            return ", ".join(labels.get(x, x) for x in split_values(v))

        out.append({"field": f, "question": label, "left": words(left), "right": words(right)})
    return out


# --------------------------------------------------------------------------- deciding answers


def _check_value(view_options: list[tuple[str, str]], kind: str, value: str | None) -> str | None:
    if value in (None, ""):
        return None
    values = [v for v, _ in view_options]
    parts = split_values(str(value))
    if any(p not in values for p in parts) or not parts:
        raise ReviewError(f"Lựa chọn không có trong câu hỏi: {value!r}")
    if kind != "multi" and len(parts) != 1:
        raise ReviewError("Câu hỏi này chỉ chọn một")
    return join_values(sorted(set(parts)))


def _mark_done(w: Session, item_id: int, username: str, is_admin: bool, now: datetime, page_id: int | None = None):
    """Mark the item done by ``username`` if it is theirs to decide; the conditional UPDATE is the lock.

    Open and held by nobody else (or stale): taken. Already done by them (or an administrator changing
    it): their new decision replaces the old one. Otherwise ``Taken``. ``page_id``: the page the caller
    checked the item against (the item must still be on it).
    """
    where = [
        _RI.c.id == item_id,
        _RI.c.status == REVIEW_OPEN,
        or_(_RI.c.assigned_to == username, _RI.c.assigned_to.is_(None), _RI.c.assigned_at < now - STALE),
    ]
    if page_id is not None:
        where.append(_RI.c.page_id == page_id)
    won = cast(
        CursorResult,
        w.execute(
            update(_RI)
            .where(*where)
            .values(status=REVIEW_DONE, resolved_by=username, resolved_at=now, assigned_to=username)
            .execution_options(synchronize_session=False)
        ),
    ).rowcount
    if won == 1:
        return
    row = w.execute(select(_RI.c.status, _RI.c.resolved_by, _RI.c.page_id).where(_RI.c.id == item_id)).first()
    if row is None or (page_id is not None and row.page_id != page_id):
        raise NotFound("Không có mục duyệt này")
    if row.status == REVIEW_OPEN:
        raise Taken("Mục này đang do người khác duyệt")
    if row.resolved_by != username and not is_admin:
        raise Taken("Mục này đã được người khác duyệt")
    # changing one's own earlier decision (Backspace, then a new choice)
    w.execute(
        update(_RI)
        .where(_RI.c.id == item_id)
        .values(resolved_by=username, resolved_at=now)
        .execution_options(synchronize_session=False)
    )


def _take(w: Session, item_id: int, username: str, is_admin: bool, now: datetime) -> ReviewItem:
    """``_mark_done``, then the item as it now is."""
    _mark_done(w, item_id, username, is_admin, now)
    item = w.get(ReviewItem, item_id)
    assert item is not None
    w.refresh(item)
    return item


def decide_answer(
    username: str,
    scope: Scope,
    item_id: int,
    value: str | None,
    *,
    accept_machine: bool = False,
    is_admin: bool = False,
) -> None:
    """Record a person's answer: ``value`` (an option value, comma-joined for multi; None = no answer),
    or the machine's guess with ``accept_machine``.

    What the decision is checked against (the item's page and scope, the question's options, the
    machine's reading) never changes once scanned, so it is read before the write lock is taken; the
    write transaction is only the conditional take, the answer and the audit entry.
    """
    now = _now()
    url = config.database_url()
    with open_session(url) as s:
        item, page = get_item(s, item_id, scope)
        if item.kind != REVIEW_ANSWER or item.answer_id is None:
            raise ReviewError("Mục này không phải câu trả lời")
        view = describe(s, item, page)
    if accept_machine:
        value = view.machine_value
    value = _check_value([(o.value, o.label) for o in view.options], view.field_kind or "single", value)
    answer_id, page_id = item.answer_id, page.id
    state = MARKED if value else BLANK_ANSWER
    with transaction(url) as w:
        _mark_done(w, item_id, username, is_admin, now, page_id)
        a = _ANS.c
        ans = w.execute(
            select(a.field, a.final_value, a.final_state, a.decided_by, a.machine_value).where(a.id == answer_id)
        ).one()
        w.execute(
            update(_ANS)
            .where(_ANS.c.id == answer_id)
            .values(final_value=value, final_state=state, decided_by=username, decided_at=now)
        )
        audit.record(
            w,
            username,
            "review.answer",
            _answer_object(page_id, ans.field),
            old={"final_value": ans.final_value, "final_state": ans.final_state, "decided_by": ans.decided_by},
            new={
                "final_value": value,
                "final_state": state,
                "decided_by": username,
                "item": item_id,
                "machine_value": ans.machine_value,
                "accepted_machine": accept_machine,
            },
        )


# --------------------------------------------------------------------------- back and undo


def previous(username: str, scope: Scope, before: int | None = None) -> int | None:
    """The item this reviewer decided before ``before`` (or their latest decision)."""
    with open_session() as s:
        q = (
            select(ReviewItem.id, ReviewItem.resolved_at)
            .join(Page, Page.id == ReviewItem.page_id)
            .where(ReviewItem.status == REVIEW_DONE, ReviewItem.resolved_by == username, visible(scope))
        )
        if before is not None:
            ref = s.get(ReviewItem, before)
            if ref is not None and ref.status == REVIEW_DONE and ref.resolved_at is not None:
                q = q.where(
                    or_(
                        ReviewItem.resolved_at < ref.resolved_at,
                        and_(ReviewItem.resolved_at == ref.resolved_at, ReviewItem.id < ref.id),
                    )
                )
        row = s.execute(q.order_by(ReviewItem.resolved_at.desc(), ReviewItem.id.desc()).limit(1)).first()
        return row[0] if row else None


def undo_last(username: str, scope: Scope) -> int | None:
    """Take back this reviewer's latest decision: old values restored, the item open again and theirs."""
    item_id = previous(username, scope)
    if item_id is None:
        return None
    now = _now()
    with transaction() as w:
        item, page = get_item(w, item_id, scope)
        restored: dict = {}
        if item.kind == REVIEW_ANSWER and item.answer_id is not None:
            ans = w.get(Answer, item.answer_id)
            assert ans is not None
            entry = _last_entry(w, username, "review.answer", _answer_object(page.id, ans.field))
            old = (entry.old if entry and isinstance(entry.old, dict) else None) or {}
            restored = {"final_value": ans.final_value, "final_state": ans.final_state, "decided_by": ans.decided_by}
            if old.get("decided_by"):
                ans.final_value, ans.final_state = old.get("final_value"), old.get("final_state")
                ans.decided_by = old.get("decided_by")
            else:
                ans.final_value = ans.final_state = ans.decided_by = ans.decided_at = None
            if ans.decided_by is None:
                _reopen(w, item, username, now)
        elif item.kind == REVIEW_CONFLICT:
            entry = _last_entry(w, username, "review.conflict", f"item:{item.id}")
            restored = _undo_statuses(w, entry)
            _reopen(w, item, username, now)
        else:
            raise ReviewError("Không hoàn tác được việc gán phiếu cho trang chưa nhận dạng; hãy sửa trên trang phiếu")
        audit.record(
            w,
            username,
            "review.undo",
            f"item:{item.id}",
            old=restored,
            new=(entry.old if entry else None),
        )
    return item_id


def _answer_object(page_id: int, field_id: str) -> str:
    """The audit log's name for one answer of one page (what ``decide_answer`` writes, undo looks up)."""
    return f"page:{page_id}/{field_id}"


def _last_entry(w: Session, username: str, action: str, obj: str) -> AuditLog | None:
    """This reviewer's latest ``action`` entry on exactly ``obj`` (never a prefix: page 1 is not page 10,
    one question of a page is not another)."""
    return w.scalar(
        select(AuditLog)
        .where(AuditLog.user == username, AuditLog.action == action, AuditLog.object == obj)
        .order_by(AuditLog.id.desc())
        .limit(1)
    )


def _reopen(w: Session, item: ReviewItem, username: str, now: datetime) -> None:
    item.status, item.resolved_by, item.resolved_at = REVIEW_OPEN, None, None
    item.assigned_to, item.assigned_at = username, now


def _undo_statuses(w: Session, entry: AuditLog | None) -> dict:
    old = entry.old if entry and isinstance(entry.old, dict) else {}
    now_vals = {}
    for pid, st in (old.get("statuses") or {}).items():
        p = w.get(Page, int(pid))
        if p is not None:
            now_vals[pid] = p.status
            p.status = st
    return {"statuses": now_vals}


# --------------------------------------------------------------------------- conflicts


def resolve_conflict(username: str, scope: Scope, item_id: int, keep_page_id: int, *, is_admin: bool = False) -> None:
    """Keep one of two scans of the same sheet page; the other stops counting (and stays stored)."""
    now = _now()
    with transaction() as w:
        item, page = get_item(w, item_id, scope)
        if item.kind != REVIEW_CONFLICT:
            raise ReviewError("Mục này không phải phiếu trùng số")
        other = conflict_partner(w, page)
        pages = {page.id: page, **({other.id: other} if other else {})}
        if keep_page_id not in pages:
            raise ReviewError("Hãy chọn một trong hai trang")
        item = _take(w, item_id, username, is_admin, now)
        old = {"statuses": {str(p.id): p.status for p in pages.values()}}
        for p in pages.values():
            if p.id == keep_page_id:
                _queue_undecided(w, p)
            else:
                p.status = CONFLICT
                # its open questions no longer matter: the other scan is the one counted
                decisions.close_items(
                    w, and_(ReviewItem.page_id == p.id, ReviewItem.kind == REVIEW_ANSWER), username, now
                )
        audit.record(
            w,
            username,
            "review.conflict",
            f"item:{item.id}",
            old=old,
            new={"statuses": {str(p.id): p.status for p in pages.values()}, "kept": keep_page_id},
        )


def _queue_undecided(w: Session, page: Page) -> None:
    """A page that starts counting: the answers nobody has decided yet are decided as on a first scan
    (the machine's where it decides them, else a review item each), and the page's status follows."""
    w.flush()
    undecided = list(w.scalars(select(Answer).where(Answer.page_id == page.id, Answer.final_state.is_(None))))
    for ans in undecided:
        final = decisions.machine_final(ans.machine_value, ans.machine_state, utcnow())
        if final.state is not None:
            ans.final_value, ans.final_state, ans.decided_by, ans.decided_at = (
                final.value,
                final.state,
                final.decided_by,
                final.decided_at,
            )
            continue
        decisions.ask_person(w, page.id, ans.id, REVIEW_ANSWER, utcnow())
    w.flush()
    waiting = w.scalar(
        select(func.count()).select_from(Answer).where(Answer.page_id == page.id, Answer.final_state.is_(None))
    )
    page.status = decisions.page_status(bool(waiting))


# --------------------------------------------------------------------------- unidentified pages


def not_a_sheet(username: str, scope: Scope, item_id: int, *, is_admin: bool = False) -> None:
    now = _now()
    with transaction() as w:
        item, page = get_item(w, item_id, scope)
        if item.kind != REVIEW_UNIDENTIFIED:
            raise ReviewError("Mục này không phải trang chưa nhận dạng")
        _take(w, item_id, username, is_admin, now)
        old = {"status": page.status, "note": page.note}
        page.status, page.note = INVALID, "không phải phiếu khảo sát (người duyệt xác nhận)"
        audit.record(
            w,
            username,
            "review.not_a_sheet",
            f"page:{page.id}",
            old=old,
            new={"status": page.status, "note": page.note},
        )


def assign_identity(
    username: str,
    scope: Scope,
    item_id: int,
    serial: str,
    sheet_page: int,
    form_id: str | None = None,
    unit_code: str | None = None,
    *,
    is_admin: bool = False,
) -> int:
    """Name the sheet an unidentified page is, then read it like any other page; returns the page's new id.

    The serial must be one this installation printed (its form and unit come from the print record; a
    form or unit given must agree), inside the reviewer's units. The stored image is read again with
    that identity and stored by the scan pipeline's own storing code, so the page gets its answers,
    review items, duplicate/conflict status and text areas exactly as a readable page would.
    """
    from omr.detect.read import decode, read_known
    from omr.detect.result import READ
    from omr.detect.sources import RawPage
    from omr.services import storing
    from omr.sheet.identity import SheetIdentity
    from omr.sheet.templates import get_form

    serial = serial.strip()
    now = _now()
    with open_session() as s:
        item, page = get_item(s, item_id, scope)
        if item.kind != REVIEW_UNIDENTIFIED or item.status != REVIEW_OPEN:
            raise ReviewError("Mục này không phải trang chưa nhận dạng đang chờ duyệt")
        sheet = s.get(Sheet, serial) or (s.get(Sheet, serial.zfill(6)) if serial.isdigit() else None)
        if sheet is None:
            raise ReviewError(f"Số phiếu {serial} chưa từng được in ở hệ thống này")
        if sheet.unit_code not in scope.units:
            raise ReviewError(f"Phiếu số {serial} không thuộc đơn vị của bạn")
        if form_id and form_id != sheet.form_id:
            raise ReviewError(f"Phiếu số {sheet.serial} là mẫu {sheet.form_id}, không phải {form_id}")
        if unit_code and unit_code != sheet.unit_code:
            raise ReviewError(f"Phiếu số {sheet.serial} thuộc đơn vị {sheet.unit_code}, không phải {unit_code}")
        form = get_form(sheet.form_id, sheet.form_version)
        if not 1 <= sheet_page <= form.pages:
            raise ReviewError(f"Mẫu {form.id} chỉ có {form.pages} trang")
        ident = SheetIdentity(
            sheet.form_id, sheet.form_version, sheet.unit_code, sheet.serial, sheet_page, sheet.variant
        )
        path = config.home() / page.image_path
        data = path.read_bytes()
        raw = RawPage(page.source, page.source_page, data, path.suffix)
        old = {"page_id": page.id, "status": page.status, "serial": page.serial, "note": page.note}
        batch_id, sha = page.scan_batch_id, page.sha256
    read = read_known(decode(data), ident)
    if read.status != READ:
        raise ReviewError("Không tìm thấy 4 dấu định vị ở góc trang: không đọc được các ô của trang này")
    rel, crops = storing.write_files(sha, raw.ext, data, read)
    with transaction() as w:
        item = _take(w, item_id, username, is_admin, now)
        # The page is stored again under its identity by the pipeline's own code. Its sha256 is UNIQUE,
        # so the old row first steps aside ("u" is no hex digit), then hands its item over and goes;
        # the image file stays where it is (same sha, same path).
        w.execute(update(Page).where(Page.id == old["page_id"]).values(sha256="u" + sha[1:]))
        w.flush()
        line = storing.insert_page(w, raw, sha, read, rel, crops, batch_id)
        new_page = w.scalar(select(Page).where(Page.sha256 == sha))
        assert new_page is not None
        w.execute(update(ReviewItem).where(ReviewItem.page_id == old["page_id"]).values(page_id=new_page.id))
        w.execute(delete(TextArea).where(TextArea.page_id == old["page_id"]))
        w.execute(delete(Page).where(Page.id == old["page_id"]))
        audit.record(
            w,
            username,
            "review.identify",
            f"page:{new_page.id}",
            old=old,
            new={
                "page_id": new_page.id,
                "status": line["status"],
                "serial": sheet.serial,
                "sheet_page": sheet_page,
                "form": sheet.form_id,
                "unit": sheet.unit_code,
            },
        )
        return new_page.id


# --------------------------------------------------------------------------- throughput


@dataclass
class Throughput:
    username: str
    items: int
    active_hours: float
    last_at: datetime | None

    @property
    def per_hour(self) -> float:
        return self.items / self.active_hours if self.active_hours > 0 else 0.0

    @property
    def reliable(self) -> bool:
        """Enough decisions, over enough time, for a rate per hour to mean something (7 items in a
        minute are not "10,647 an hour")."""
        return self.items >= THROUGHPUT_MIN_ITEMS and self.active_hours * 60 >= THROUGHPUT_MIN_MINUTES


def throughput(s: Session, usernames: Iterable[str], since: datetime) -> list[Throughput]:
    """Items decided per hour of work for each reviewer since ``since`` (breaks longer than
    ``ACTIVE_GAP`` are not counted as work)."""
    names = sorted(set(usernames))
    if not names:
        return []
    rows = s.execute(
        select(ReviewItem.resolved_by, ReviewItem.resolved_at)
        .where(ReviewItem.resolved_by.in_(names), ReviewItem.resolved_at >= since, ReviewItem.status == REVIEW_DONE)
        .order_by(ReviewItem.resolved_by, ReviewItem.resolved_at)
    ).all()
    per: dict[str, list[datetime]] = {}
    for who, at in rows:
        assert who is not None and at is not None  # the WHERE compares both: NULL rows are not selected
        per.setdefault(who, []).append(at)
    out = []
    for who, times in per.items():
        active = timedelta()
        for a, b in zip(times, times[1:], strict=False):
            active += min(b - a, ACTIVE_GAP)
        # the first decision of each stretch took some time too: count the typical gap once per item
        typical = active / max(1, len(times) - 1) if len(times) > 1 else timedelta(seconds=10)
        active += typical
        out.append(Throughput(who, len(times), active.total_seconds() / 3600, times[-1]))
    return sorted(out, key=lambda t: -t.items)


__all__ = [
    "ReviewError",
    "Scope",
    "Taken",
    "assign_identity",
    "claim_next",
    "decide_answer",
    "describe",
    "get_item",
    "held_by_others",
    "option_keys",
    "not_a_sheet",
    "open_counts",
    "previous",
    "release",
    "resolve_conflict",
    "throughput",
    "undo_last",
]
