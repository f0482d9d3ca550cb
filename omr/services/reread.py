"""Reading stored pages again with the current reader (``omr reread``), or deciding them again from
their stored measurements, and storing what changed.

    for outcome in reread(unit="09552", dry_run=True):
        if outcome.changed:
            print(outcome.json(version.READER_VERSION))

Each stored page image is read again by the scan's own reader processes (``omr.services.readers``'s
pool): a page whose identity is known (its signed QR was read, or a person named it) with
``read_known`` under that identity, any other page from scratch like a new scan. The machine's side
of every answer (``machine_*``, ``confidence``, ``reason``, ``reader_version``) takes the new reading;
the final side follows it only where the machine decided it: an answer a person decided is never
changed. The page's status is decided again by the scan's own rule (``storing._classify``), so a
re-read page ends as a fresh scan by the current reader would have, with three exceptions that keep
what a person decided: a sheet page whose conflict a person settled keeps which scan counts; a page
a person said is not a sheet is not read; a page already identified is never un-identified (the new
reader failing on it is reported as an error and nothing is changed).

Pages are taken in the order they were stored, so a page is compared with the pages of its sheet page
stored before it as they stand after this run (a rescan read as a conflict by an older reader becomes
a duplicate when both readings now agree). A page that becomes identified is stored again by the
scan's own code (``storing.insert_page``, the way review stores a page a person identified) and is
compared with every stored scan of its sheet page, being the newcomer. Changes are written a group of
pages per transaction; ``dry_run`` runs the same code and rolls each group back, remembering what the
groups before would have written so that later pages are compared as they would be.
"""

from __future__ import annotations

import hashlib
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import cast

from sqlalchemy import and_, delete, exists, func, select, update
from sqlalchemy.orm import Session

from db import session as dbs
from db.models import Answer, Page, ReviewItem, TextArea, utcnow
from omr import config
from omr.detect import result as R
from omr.detect import version
from omr.detect.sources import RawPage
from omr.services import atomic_file, audit, decisions, signing_key, storing
from omr.services.scan_lines import EMPTY, WRITTEN
from omr.sheet.identity import SheetIdentity
from omr.vocab import (
    CONFLICT,
    COUNTED_STATUSES,
    DUPLICATE,
    MACHINE,
    PAGE_STATUSES,
    REVIEW_ANSWER,
    REVIEW_CONFLICT,
    REVIEW_DONE,
    REVIEW_UNIDENTIFIED,
    UNIDENTIFIED,
)

# statuses whose stored identity was verified (the QR's signature, or a person): read under it
IDENTIFIED = (*COUNTED_STATUSES, DUPLICATE, CONFLICT)
GROUP_MAX = 32  # pages written in one transaction

# what a re-read does to an answer's final side (``AnswerChange.effect``; the JSON lines' "effect")
ACCEPTED_NOW = "accepted"  # it waited for a person; the machine now decides it (its review item closes)
TO_REVIEW = "to_review"  # the machine had decided it; now a person must (a review item opens)
CHANGED = "changed"  # the machine's accepted answer changes value
STILL_REVIEW = "still_review"  # still waits for a person; the machine's guess or reading changed
REVIEWER_KEPT = "reviewer_kept"  # a person decided it: their answer stays, only the machine's reading changed
NOT_COUNTED = "not_counted"  # the page does not count (duplicate, conflict): only the machine's reading
EFFECTS = (ACCEPTED_NOW, TO_REVIEW, CHANGED, STILL_REVIEW, REVIEWER_KEPT, NOT_COUNTED)


# --------------------------------------------------------------------------- what changed


@dataclass
class AnswerChange:
    field: str
    old: tuple[str | None, str] | None  # the machine's value and state before (None: no answer yet)
    new: tuple[str | None, str]  # and after
    confidence: float
    effect: str

    def json(self) -> dict:
        return {
            "old": None if self.old is None else {"value": self.old[0], "state": self.old[1]},
            "new": {"value": self.new[0], "state": self.new[1], "confidence": round(self.confidence, 3)},
            "effect": self.effect,
        }


@dataclass
class Outcome:
    """One stored page after the re-read: what changed, or why nothing could be."""

    page_id: int
    source: str
    page: int
    serial: str | None
    sheet_page: int | None
    old_status: str
    status: str
    new_page_id: int | None = None  # stored again under a new id (it became identified)
    answers: list[AnswerChange] = field(default_factory=list)
    texts: dict[str, tuple[bool | None, bool]] = field(default_factory=dict)  # field -> written before, after
    error: str | None = None  # could not be read again: nothing was changed
    kept: str | None = None  # not read again because a person decided what it is

    @property
    def changed(self) -> bool:
        return bool(self.status != self.old_status or self.answers or self.texts or self.new_page_id)

    def json(self, reader_version: str) -> dict:
        """The page's ``omr reread --json`` line (see ``omr reread --help``)."""
        line: dict = {
            "source": self.source,
            "page": self.page,
            "page_id": self.page_id,
            "serial": self.serial,
            "sheet_page": self.sheet_page,
            "old_status": self.old_status,
            "status": self.status,
            "reader_version": reader_version,
            "answers": {a.field: a.json() for a in self.answers},
            "texts": {f: {"old": _written(o), "new": _written(n)} for f, (o, n) in self.texts.items()},
        }
        if self.new_page_id is not None:
            line["new_page_id"] = self.new_page_id
        if self.error is not None:
            line["error"] = self.error
        return line


def _written(w: bool | None) -> str | None:
    return None if w is None else WRITTEN if w else EMPTY


@dataclass
class Summary:
    """Counts over a run, for the closing line."""

    reader_version: str = field(default_factory=lambda: version.READER_VERSION)
    dry_run: bool = False
    from_measurements: bool = False
    pages: int = 0  # read (or re-decided) again
    changed: int = 0
    identified: int = 0  # pages that became identified
    errors: int = 0
    kept: int = 0  # not read: a person decided what the page is
    effects: Counter[str] = field(default_factory=Counter)
    statuses: Counter[tuple[str, str]] = field(default_factory=Counter)  # (before, after) of pages that changed it

    def add(self, o: Outcome) -> None:
        if o.kept:
            self.kept += 1
            return
        if o.error:
            self.errors += 1
            return
        self.pages += 1
        self.changed += o.changed
        self.identified += o.old_status not in IDENTIFIED and o.status in IDENTIFIED
        self.effects.update(a.effect for a in o.answers)
        if o.status != o.old_status:
            self.statuses[(o.old_status, o.status)] += 1

    def json(self) -> dict:
        return {
            "summary": {
                "reader_version": self.reader_version,
                "dry_run": self.dry_run,
                "from_measurements": self.from_measurements,
                "pages": self.pages,
                "changed_pages": self.changed,
                "identified": self.identified,
                "errors": self.errors,
                "kept_by_person": self.kept,
                "answers": {e: self.effects[e] for e in EFFECTS},
                "statuses": {f"{a}>{b}": n for (a, b), n in sorted(self.statuses.items())},
            }
        }


# --------------------------------------------------------------------------- which pages


@dataclass
class StoredPage(RawPage):
    """A stored page handed to a reader process: where its image is and the identity to read it under."""

    page_id: int = 0
    image: str = ""  # absolute path of the stored image
    identity: SheetIdentity | None = None
    kept: str | None = None  # a person decided what the page is: not read at all


def _selection(unit: str | None, since: date | None):
    q = select(
        Page.id,
        Page.source,
        Page.source_page,
        Page.image_path,
        Page.status,
        Page.form_id,
        Page.form_version,
        Page.unit_code,
        Page.serial,
        Page.sheet_page,
        Page.variant,
        exists()  # a person decided what the page is (named its sheet, or said it is none)
        .where(
            ReviewItem.page_id == Page.id,
            ReviewItem.kind == REVIEW_UNIDENTIFIED,
            ReviewItem.status == REVIEW_DONE,
            ReviewItem.resolved_by != MACHINE,
        )
        .label("named"),
    ).where(Page.status.in_(PAGE_STATUSES))  # a status this code does not know of (a stored error) is left alone
    if unit is not None:
        from omr.services.review import Scope, visible
        from omr.services.units import descendants

        with dbs.session() as s:
            units = descendants(s, unit)  # the unit's tree: its wards, communes and service points
        # a unit's pages, and the unidentified pages its people uploaded: what its reviewers see
        q = q.where(visible(Scope(frozenset(units))))
    if since is not None:
        from omr.vocab import VN_TZ

        q = q.where(Page.created_at >= datetime(since.year, since.month, since.day, tzinfo=VN_TZ).astimezone(UTC))
    return q.order_by(Page.id)


def stored_pages(unit: str | None = None, since: date | None = None, measured_only: bool = False) -> list[StoredPage]:
    """The stored pages to read again, in the order they were stored. ``unit``: that unit and every unit
    under it; ``since``: pages scanned on or after that (Vietnamese) calendar day; ``measured_only``:
    only pages with measurements to decide again from (identified ones)."""
    home = config.home()
    out = []
    with dbs.session() as s:
        for r in s.execute(_selection(unit, since)):
            task = StoredPage(r.source, r.source_page, page_id=r.id, image=str(home / r.image_path))
            if r.status in IDENTIFIED:  # by its QR code, or by a person (review.assign_identity)
                task.identity = SheetIdentity(r.form_id, r.form_version, r.unit_code, r.serial, r.sheet_page, r.variant)
            elif r.named:  # review.not_a_sheet
                task.kept = "người duyệt đã xác nhận đây không phải phiếu khảo sát"
            if task.identity is not None or not measured_only:
                out.append(task)
    return out


# --------------------------------------------------------------------------- reading (reader processes)


def reread_job(task: StoredPage, key: bytes, reader: Callable[[bytes, bytes], R.PageRead]) -> R.PageRead | str:
    """Runs in a reader process: the stored image read again (under its known identity if it has one),
    or a one-line reason it cannot be. Writes nothing: what to keep is decided by the storing side."""
    from omr.detect.read import decode, read_known

    try:
        data = Path(task.image).read_bytes()
    except OSError as e:
        return f"không đọc được ảnh đã lưu {task.image}: {e.strerror or e}"
    try:
        return read_known(decode(data), task.identity) if task.identity else reader(data, key)
    except Exception as e:  # one bad page must never stop the run: report it and go on
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        return f"không đọc được trang: {msg}"


def _read_all(
    tasks: Iterable[StoredPage], workers: int | None, key: bytes
) -> Iterator[tuple[StoredPage, R.PageRead | str | None]]:
    """Each task with its new reading, in order, read by the scan's reader processes."""
    from omr.services.readers import WINDOW_PER_CORE, InFlight, Readers, default_reader, worker_count

    n = worker_count(workers)
    readers = Readers(n, default_reader, key, job=reread_job)
    pending: deque[InFlight] = deque()

    def done(slot: InFlight) -> tuple[StoredPage, R.PageRead | str | None]:
        # this pool's pages are StoredPages, read by reread_job into PageReads
        task = cast(StoredPage, slot.raw)
        return task, None if slot.future is None else cast("R.PageRead | str", readers.result(slot, pending))

    try:
        for task in tasks:
            pending.append(InFlight(task, None if task.kept else readers.submit(task)))
            while len(pending) >= WINDOW_PER_CORE * n or (pending and pending[0].future is None):
                yield done(pending.popleft())
        while pending:
            yield done(pending.popleft())
    finally:
        readers.shutdown()


def decide_from_measurements(page: Page) -> R.PageRead | None:
    """The page's answers decided again from its stored measurements (no pixels read), as a reading
    of the stored identity; None if the page has none."""
    from omr.detect.decide import decide_field
    from omr.sheet.layout import layout_for
    from omr.sheet.templates import Variant

    if not page.measurements or page.serial is None or page.form_id is None or page.form_version is None:
        return None
    variant = page.variant or Variant().code()
    fl = layout_for(page.form_id, page.form_version, Variant.parse(variant))
    answers = [
        decide_field(fl.form.field(fid), {v: R.BoxMeasure.from_list(m) for v, m in boxes.items()})
        for fid, boxes in page.measurements.items()
    ]
    ident = SheetIdentity(
        page.form_id, page.form_version, page.unit_code or "", page.serial, page.sheet_page or 1, variant
    )
    return R.PageRead(R.READ, ident, answers, [], page.transform, page.rotation)


# --------------------------------------------------------------------------- storing what changed

_Key = tuple[str, int]
_Machine = dict[str, tuple[str | None, str]]


class _Run:
    """One re-read: writes (or, dry, rolls back) a group of pages at a time."""

    def __init__(self, dry_run: bool, from_measurements: bool, by: str | None):
        self.dry_run, self.from_measurements, self.by = dry_run, from_measurements, by
        self.now = utcnow()
        # dry run: what the groups before would have written for the pages of each sheet page, so the
        # pages after them are compared as they would be (page id -> machine answers, None: not comparable)
        self.would_be: dict[_Key, dict[int, _Machine | None]] = {}
        self.next_id: int | None = None  # dry run: the ids pages stored again would get

    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        if not self.dry_run:
            with dbs.transaction() as s:
                yield s
            return
        with dbs.session(immediate=True) as s:
            s.begin()
            try:
                yield s
            finally:
                s.rollback()

    def group(self, items: list[tuple[StoredPage, R.PageRead | str | None]]) -> list[Outcome]:
        with self._transaction() as s:
            ids = [t.page_id for t, _ in items]
            pages = {p.id: p for p in s.scalars(select(Page).where(Page.id.in_(ids)).with_for_update())}
            known = [p for t, _ in items if t.identity is not None and (p := pages.get(t.page_id)) is not None]
            g = _Group(s, known, self.would_be, texts=not self.from_measurements)
            out = []
            for task, read in items:
                page = pages.get(task.page_id)
                if page is None:  # gone since it was listed (identified by a person meanwhile)
                    continue
                out.append(self.page(s, g, task, page, read))
                s.flush()
        return out

    def page(self, s: Session, g: _Group, task: StoredPage, page: Page, read: R.PageRead | str | None) -> Outcome:
        o = Outcome(page.id, page.source, page.source_page, page.serial, page.sheet_page, page.status, page.status)
        if task.kept:
            o.kept = task.kept
            return o
        if self.from_measurements:
            read = decide_from_measurements(page)
            if read is None:
                return o  # nothing measured to decide from (not a read sheet page)
        if isinstance(read, str) or read is None:
            o.error = read or "không đọc được trang"
            return o
        if task.identity is None:
            return self._unidentified(s, page, read, o)
        if read.status != R.READ:
            o.error = f"trình đọc hiện tại không đọc được trang đã nhận dạng ({read.note}); giữ nguyên"
            return o
        self._identified(s, g, page, read, o)
        return o

    # ----------------------------------------------------------------- identified pages

    def _identified(self, s: Session, g: _Group, page: Page, read: R.PageRead, o: Outcome) -> None:
        serial, sheet_page = page.serial, page.sheet_page
        assert serial is not None and sheet_page is not None
        key = (serial, sheet_page)
        if key in g.settled:
            # a person chose which scan of this sheet page counts: that stays; the counted one may
            # still move between accepted and needs_review with its answers
            status = storing._classify(read, g.sheets, {})[0] if page.status in COUNTED_STATUSES else page.status
            note, other = page.note, page.duplicate_of_page_id
        else:
            status, note, other = storing._classify(read, g.sheets, g.before(key, page.id))
        counted = status in COUNTED_STATUSES
        stored = g.answers.get(page.id, {})
        for new in read.answers:
            ans = stored.get(new.field)
            if ans is None:  # a question the earlier reading did not give (should not happen): added
                ans = Answer(page_id=page.id, field=new.field, machine_state=new.state, confidence=0.0)
                s.add(ans)
                s.flush()
            change = self._answer(s, page, ans, new, counted)
            if change is not None:
                o.answers.append(change)
        if not self.from_measurements:
            self._texts(s, g, page, read, o)
            self._machine_page(page, read)
        self._status(s, page, status, note, other if status == DUPLICATE else None)
        o.status = status
        machine = {a.field: (a.value, a.state) for a in read.answers}
        g.now_stands(key, page.id, machine if status in storing.COMPARABLE else None, self.dry_run)

    def _answer(self, s: Session, page: Page, ans: Answer, new: R.AnswerRead, counted: bool) -> AnswerChange | None:
        """The machine's side takes the new reading; the final side follows it where the machine decided."""
        old = (ans.machine_value, ans.machine_state)
        old_final = (ans.final_value, ans.final_state)
        ans.machine_value, ans.machine_state = new.value, new.state
        ans.confidence, ans.reason = float(new.confidence), new.reason
        ans.reader_version = version.READER_VERSION
        machine_changed = old != (new.value, new.state)
        if ans.decided_by not in (None, MACHINE):
            if not machine_changed:
                return None
            return AnswerChange(new.field, old, (new.value, new.state), new.confidence, REVIEWER_KEPT)
        waited = old_final[1] is None  # only an answer waiting for a person can have an open item
        if not counted:
            # a page that does not count has no final answers and nothing for a person to decide
            ans.final_value = ans.final_state = ans.decided_by = ans.decided_at = None
            if waited:
                decisions.close_items(s, ReviewItem.answer_id == ans.id, MACHINE, self.now)
            effect = NOT_COUNTED
        elif not decisions.machine_decides(new.state):
            ans.final_value = ans.final_state = ans.decided_by = ans.decided_at = None
            decisions.ask_person(s, page.id, ans.id, REVIEW_ANSWER, self.now)
            effect = STILL_REVIEW if waited else TO_REVIEW
        else:
            if old_final != (new.value, new.state):
                ans.final_value, ans.final_state = new.value, new.state
                ans.decided_by, ans.decided_at = MACHINE, self.now
            if waited:
                decisions.close_items(s, ReviewItem.answer_id == ans.id, MACHINE, self.now)
            effect = ACCEPTED_NOW if waited else CHANGED
        final_changed = old_final != (ans.final_value, ans.final_state)
        if not (machine_changed or final_changed):
            return None
        return AnswerChange(new.field, old, (new.value, new.state), new.confidence, effect)

    def _texts(self, s: Session, g: _Group, page: Page, read: R.PageRead, o: Outcome) -> None:
        stored = g.texts.get(page.id, {})
        for t in read.texts:
            row = stored.get(t.field)
            rel = storing.crop_relpath(page.sha256, t.field)
            if not self.dry_run:
                _replace_crop(config.home() / rel, t.jpeg)
            if row is None:
                s.add(TextArea(page_id=page.id, field=t.field, written=t.written, ink=t.ink, image_path=rel))
                o.texts[t.field] = (None, t.written)
                continue
            if row.written != t.written:
                o.texts[t.field] = (row.written, t.written)
            if (row.written, row.ink) != (t.written, t.ink):
                row.written, row.ink = t.written, t.ink

    @staticmethod
    def _machine_page(page: Page, read: R.PageRead) -> None:
        measurements = read.measurements()
        if page.measurements != measurements:
            page.measurements = measurements
        if page.transform != read.transform:
            page.transform = read.transform
        page.rotation = read.rotation
        page.reader_version = version.READER_VERSION

    def _status(self, s: Session, page: Page, status: str, note: str | None, duplicate_of: int | None) -> None:
        old = page.status
        page.status, page.note, page.duplicate_of_page_id = status, note, duplicate_of
        if old == status:
            return
        if old == CONFLICT:  # the readings now agree (or the page counts): nothing left to choose
            decisions.close_items(
                s, and_(ReviewItem.page_id == page.id, ReviewItem.kind == REVIEW_CONFLICT), MACHINE, self.now
            )
        if status == CONFLICT:
            decisions.ask_person(s, page.id, None, REVIEW_CONFLICT, self.now)

    # ----------------------------------------------------------------- pages not identified before

    def _unidentified(self, s: Session, page: Page, read: R.PageRead, o: Outcome) -> Outcome:
        if page.note == storing.OUT_OF_SCOPE:
            return o  # a sheet of a unit its uploader does not work for: a person of that unit places it
        if read.status != R.READ:
            status, note, _ = storing._classify(read, {}, {})
            if status == page.status:
                page.note, page.reader_version = note, version.READER_VERSION
                return o
        # it changes what it is (identified now, or blank / unidentified / invalid the other way):
        # stored again by the scan's own code, as review stores a page a person identified
        old = {"page_id": page.id, "status": page.status, "serial": page.serial, "note": page.note}
        new_id = self._store_again(s, page, read)
        new = s.get(Page, new_id)
        assert new is not None
        audit.record(
            s,
            self.by,
            "reread.store_again",
            f"page:{new_id}",
            old=old,
            new={
                "page_id": new_id,
                "status": new.status,
                "serial": new.serial,
                "reader_version": version.READER_VERSION,
            },
        )
        o.status, o.serial, o.sheet_page = new.status, new.serial, new.sheet_page
        o.new_page_id = None if self.dry_run else new_id
        if new.status != UNIDENTIFIED:  # a person no longer needs to name it
            decisions.close_items(
                s, and_(ReviewItem.page_id == new_id, ReviewItem.kind == REVIEW_UNIDENTIFIED), MACHINE, self.now
            )
        o.answers = [
            AnswerChange(a.field, None, (a.value, a.state), a.confidence, self._first_effect(new.status, a))
            for a in read.answers
        ]
        if self.dry_run and new.serial is not None and new.status in storing.COMPARABLE:
            assert new.sheet_page is not None  # stored with its serial, from the same identity
            key = (new.serial, new.sheet_page)
            self.would_be.setdefault(key, {})[self._dry_id(s)] = {a.field: (a.value, a.state) for a in read.answers}
        o.texts = {t.field: (None, t.written) for t in read.texts}
        return o

    @staticmethod
    def _first_effect(status: str, a: R.AnswerRead) -> str:
        if status not in COUNTED_STATUSES:
            return NOT_COUNTED
        return ACCEPTED_NOW if decisions.machine_decides(a.state) else TO_REVIEW

    def _dry_id(self, s: Session) -> int:
        """Dry run: an id after every stored page's, as a page stored again would get (ids of rows rolled
        back are handed out again, so the rolled-back insert's own id cannot stand for it)."""
        if self.next_id is None:
            self.next_id = (s.scalar(select(func.max(Page.id))) or 0) + 1
        self.next_id += 1
        return self.next_id

    def _store_again(self, s: Session, page: Page, read: R.PageRead) -> int:
        """Store the page again from its new reading with ``storing.insert_page``; the new row's id.
        (That compares it with the stored scans of its sheet page as the database holds them: in a dry
        run, without what earlier groups would have changed.)"""
        sha, ext = page.sha256, Path(page.image_path).suffix
        rel = page.image_path
        crops = {t.field: storing.crop_relpath(sha, t.field) for t in read.texts}
        if not self.dry_run:
            data = (config.home() / rel).read_bytes()
            if hashlib.sha256(data).hexdigest() == sha:  # the image the row names: its crops are written beside it
                storing.write_files(sha, ext, data, read)
        created, old_id = page.created_at, page.id
        # sha256 is UNIQUE: the old row steps aside ("u" is no hex digit), hands its items over and goes
        s.execute(update(Page).where(Page.id == old_id).values(sha256="u" + sha[1:]))
        s.flush()
        storing.insert_page(
            s, RawPage(page.source, page.source_page, None, ext), sha, read, rel, crops, page.scan_batch_id
        )
        new_id = s.scalar(select(Page.id).where(Page.sha256 == sha))
        assert new_id is not None
        # still the day it was scanned: a re-read is not a new scan (--since, the tallies' periods)
        s.execute(update(Page).where(Page.id == new_id).values(created_at=created))
        s.execute(update(ReviewItem).where(ReviewItem.page_id == old_id).values(page_id=new_id))
        s.execute(delete(TextArea).where(TextArea.page_id == old_id))
        s.expunge(page)
        s.execute(delete(Page).where(Page.id == old_id))
        return new_id


class _Group:
    """What the pages of one write group are decided against, read in a few statements for the group:
    their answers and text areas, their issued sheets, the sheet pages a person settled, and the stored
    pages of their sheet pages as they stand (kept up to date as the group's pages are decided)."""

    def __init__(self, s: Session, pages: list[Page], would_be: dict[_Key, dict[int, _Machine | None]], texts: bool):
        self.would_be = would_be
        ids = [p.id for p in pages]
        keys: set[_Key] = {(p.serial, p.sheet_page) for p in pages}  # type: ignore[misc]
        self.answers: dict[int, dict[str, Answer]] = {}
        for a in s.scalars(select(Answer).where(Answer.page_id.in_(ids)).with_for_update()):
            self.answers.setdefault(a.page_id, {})[a.field] = a
        self.texts: dict[int, dict[str, TextArea]] = {}
        if texts:
            for t in s.scalars(select(TextArea).where(TextArea.page_id.in_(ids))):
                self.texts.setdefault(t.page_id, {})[t.field] = t
        self.sheets = storing._sheets(s, {k[0] for k in keys})
        settled = s.execute(
            select(Page.serial, Page.sheet_page)
            .join(ReviewItem, ReviewItem.page_id == Page.id)
            .where(
                Page.serial.in_({k[0] for k in keys}),
                ReviewItem.kind == REVIEW_CONFLICT,
                ReviewItem.status == REVIEW_DONE,
                ReviewItem.resolved_by != MACHINE,  # a person chose, not the machine closing it
            )
        ).all()
        self.settled = {(r.serial, r.sheet_page) for r in settled}
        self.standing: dict[_Key, dict[int, _Machine | None]] = {
            k: dict(v) for k, v in storing._earlier(s, keys).items()
        }
        for key, later in would_be.items():
            if key in keys:
                self.standing.setdefault(key, {}).update(later)

    def before(self, key: _Key, page_id: int) -> storing._Earlier:
        """The stored pages of this sheet page before ``page_id`` that a page is compared with."""
        found = sorted((pid, m) for pid, m in self.standing.get(key, {}).items() if m is not None and pid < page_id)
        return {key: found} if found else {}

    def now_stands(self, key: _Key, page_id: int, machine: _Machine | None, remember: bool) -> None:
        """Page ``page_id`` was decided: its answers as pages after it see them (None: not compared)."""
        self.standing.setdefault(key, {})[page_id] = machine
        if remember:  # dry run: the groups after this one read the database as it was
            self.would_be.setdefault(key, {})[page_id] = machine


def _replace_crop(path: Path, jpeg: bytes) -> None:
    """A text area's crop as the new reading cut it: same name, new content, so replaced in one rename
    (``atomic_file.write`` would keep a file of the same size that is already there)."""
    try:
        if path.read_bytes() == jpeg:
            return
    except FileNotFoundError:
        pass
    with atomic_file.replacing(path) as f:
        f.write(jpeg)


# --------------------------------------------------------------------------- the whole run


def reread(
    *,
    unit: str | None = None,
    since: date | None = None,
    dry_run: bool = False,
    from_measurements: bool = False,
    workers: int | None = None,
    key: bytes | None = None,
    by: str | None = None,
    tasks: list[StoredPage] | None = None,
    summary: Summary | None = None,
    progress: Callable[[int], object] | None = None,
) -> Iterator[Outcome]:
    """Read the selected stored pages again (or decide them again from their stored measurements) and
    store what changed, unless ``dry_run``; yields one outcome per page, in the order they were stored.
    ``tasks``: the pages, as ``stored_pages`` lists them (to know their number first); ``summary`` is
    filled in as pages are done; ``progress(n)`` is called as each group of ``n`` pages is stored."""
    tasks = stored_pages(unit, since, from_measurements) if tasks is None else tasks
    run = _Run(dry_run, from_measurements, by)
    if from_measurements:
        readings: Iterator[tuple[StoredPage, R.PageRead | str | None]] = ((t, None) for t in tasks)
    else:
        readings = _read_all(tasks, workers, key or signing_key.secret_key())
    summary = summary or Summary()
    summary.dry_run, summary.from_measurements = dry_run, from_measurements
    group: list[tuple[StoredPage, R.PageRead | str | None]] = []
    for item in readings:
        group.append(item)
        if len(group) >= GROUP_MAX:
            yield from _stored(run, group, summary, progress)
            group = []
    if group:
        yield from _stored(run, group, summary, progress)
    if not dry_run and summary.pages:
        with dbs.transaction() as s:
            audit.record(s, by, "reread", f"reader:{version.READER_VERSION}", new=summary.json()["summary"])


def _stored(run: _Run, group: list, summary: Summary, progress: Callable[[int], object] | None) -> Iterator[Outcome]:
    outcomes = run.group(group)
    if progress is not None:
        progress(len(group))
    for o in outcomes:
        summary.add(o)
        yield o
