"""Storing pages read: image files under OMR_HOME, then rows, with each page's status and its line.

A reader hands back a ``Reading`` (image sha256, extension, ``PageRead``) after writing the image and
comment crops itself (``write_files``); ``store_pages`` then stores a group of pages in one
transaction with a few statements for the whole group (``insert_pages``), and returns their contract
lines (CONTRACT.md ``omr scan --json``). The page's sha256 is UNIQUE: an image stored before, or
twice in one group, is reported ``duplicate`` and not stored again; a sheet page stored before with
the same answers is a duplicate too, with other answers a conflict (both kept, a person chooses).
"The same answers" allows for certainty (``same_marks``): a rescan the machine reads less surely
is the same sheet, not a dispute. A page that could not be had at all is an ``error`` line and a
``PageError`` row (CONTRACT.md: every page in is a row out).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypeGuard

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db.models import Answer, Page, PageError, ReviewItem, ScanBatch, Sheet, TextArea, local_date, utcnow
from db.session import transaction
from omr import config
from omr.detect import result as R
from omr.detect import version
from omr.detect.sources import RawPage
from omr.services import atomic_file, decisions
from omr.services.scan_lines import ERROR, answers_json, error_json, page_json, reading_json, texts_json
from omr.services.survey_period import batch_period, survey_day
from omr.services.units import within
from omr.values import split_values
from omr.vocab import (
    ACCEPTED,
    CONFLICT,
    DUPLICATE,
    INVALID,
    NEEDS_REVIEW,
    REVIEW_ANSWER,
    REVIEW_CONFLICT,
    REVIEW_OPEN,
    REVIEW_UNIDENTIFIED,
    UNIDENTIFIED,
)
from omr.vocab import BLANK_PAGE as BLANK

# statuses of earlier pages a new scan of the same sheet page is compared with
COMPARABLE = (ACCEPTED, NEEDS_REVIEW, CONFLICT)
# a sheet of a unit the uploader does not work for: kept for a person of that unit to place, never
# counted or compared as that unit's response (it could take that unit's serials first)
OUT_OF_SCOPE = "phiếu của đơn vị ngoài phạm vi của người tải lên"


@dataclass
class Reading:
    """What a reader hands back for a page it read: the image's sha256 and extension, and the reading."""

    sha: str
    ext: str
    read: R.PageRead


def image_relpath(sha: str, ext: str) -> str:
    return f"pages/{sha[:2]}/{sha}{ext or '.bin'}"


def crop_relpath(sha: str, field: str) -> str:
    return f"pages/{sha[:2]}/{sha}.{field}.jpg"


def write_files(sha: str, ext: str, data: bytes, read: R.PageRead) -> tuple[str, dict[str, str]]:
    """The page image and its comment crops under OMR_HOME, before any row points at them; returns their
    paths relative to OMR_HOME. (Review stores a page a person identified the same way.)"""
    home = config.home()
    rel = image_relpath(sha, ext)
    atomic_file.write(home / rel, data)
    crops = {}
    for t in read.texts:
        crops[t.field] = crop_relpath(sha, t.field)
        atomic_file.write(home / crops[t.field], t.jpeg)
    return rel, crops


def stored_json(s: Session | Connection, page_id: int, source: str, number: int) -> dict:
    """The contract line of stored page ``page_id``, reported for ``source`` page ``number``."""
    page = s.execute(
        select(
            Page.source, Page.source_page, Page.status, Page.form_id, Page.unit_code, Page.serial, Page.sheet_page
        ).where(Page.id == page_id)
    ).one()
    answers = s.execute(
        select(Answer.field, Answer.machine_value, Answer.machine_state, Answer.confidence)
        .where(Answer.page_id == page_id)
        .order_by(Answer.id)
    ).all()
    texts = s.execute(select(TextArea.field, TextArea.written).where(TextArea.page_id == page_id).order_by(TextArea.id))
    return page_json(page, answers_json(answers), source, number, texts_json(texts))  # type: ignore[arg-type]


def duplicate_json(s: Session | Connection, page_id: int, raw: RawPage) -> dict:
    """A page whose exact image is already stored (as page ``page_id``): its line as it was stored."""
    return _repeated(stored_json(s, page_id, raw.source, raw.page))


def _repeated(line: dict) -> dict:
    """The line of an image seen again: a duplicate of the sheet page it holds; an empty page stays
    ``blank`` (two backs of a sheet can be the same white pixels, and neither is a sheet)."""
    return {**line, "status": BLANK if line["status"] == BLANK else DUPLICATE}


def _machine(answers: Iterable[tuple[str, str | None, str]]) -> dict[str, tuple[str | None, str]]:
    return {f: (v, st) for f, v, st in answers}


def _same_answer(a: tuple[str | None, str], b: tuple[str | None, str]) -> bool:
    """Whether two machine readings of one question can be the same marks on paper.

    Two decided readings (marked, blank, multiple) must agree exactly: a mark one of them saw and the
    other did not is a real difference. A reading the machine was unsure of (``uncertain``, with its
    best guess or none) agrees with any reading its guess does not contradict: a blank, the same
    value, or (multi-choice) values that one of the two holds all of (the doubtful box seen as
    ticked in one and not in the other). A different value is still a difference of marks."""
    if a == b:
        return True
    if R.UNCERTAIN not in (a[1], b[1]):
        return False
    va, vb = frozenset(split_values(a[0])), frozenset(split_values(b[0]))
    return not va or not vb or va <= vb or vb <= va


def same_marks(earlier: dict[str, tuple[str | None, str]], new: dict[str, tuple[str | None, str]]) -> bool:
    """Whether two readings of one sheet page (field -> machine value, state) differ in certainty at
    most, so that the second is a ``duplicate`` of the first rather than a ``conflict``."""
    return earlier.keys() == new.keys() and all(_same_answer(earlier[f], new[f]) for f in earlier)


_Key = tuple[str, int]  # a sheet page: serial, page number
_Earlier = dict[_Key, list[tuple[int, dict[str, tuple[str | None, str]]]]]  # -> stored pages, their answers


def _sheets(s: Session | Connection, serials: set[str]) -> dict[str, tuple]:
    """The issued sheets among ``serials``: form, version, unit, variant.

    FOR UPDATE (PostgreSQL), in serial order: two scanners storing the same sheet page take turns, so
    they cannot both find no earlier page. SQLite needs nothing more: the transaction already holds
    the write lock. (Plain column selects throughout: this runs on a Session or a bare Connection.)
    """
    if not serials:
        return {}
    rows = s.execute(
        select(Sheet.serial, Sheet.form_id, Sheet.form_version, Sheet.unit_code, Sheet.variant)
        .where(Sheet.serial.in_(serials))
        .order_by(Sheet.serial)
        .with_for_update()
    ).all()
    return {r[0]: tuple(r[1:]) for r in rows}


def _earlier(s: Session | Connection, keys: set[_Key]) -> _Earlier:
    """Pages of these sheet pages stored before, oldest first, with the machine's answers."""
    out: _Earlier = {}
    if not keys:
        return out
    rows = s.execute(
        select(Page.id, Page.serial, Page.sheet_page)
        .where(Page.serial.in_({k[0] for k in keys}), Page.status.in_(COMPARABLE))
        .order_by(Page.id)
    ).all()
    ids = {r.id: (r.serial, r.sheet_page) for r in rows if (r.serial, r.sheet_page) in keys}
    if not ids:
        return out
    answers: dict[int, list[tuple[str, str | None, str]]] = {pid: [] for pid in ids}
    for pid, field, value, state in s.execute(
        select(Answer.page_id, Answer.field, Answer.machine_value, Answer.machine_state).where(Answer.page_id.in_(ids))
    ):
        answers[pid].append((field, value, state))
    for pid, key in ids.items():  # dicts keep the query's order: oldest first
        out.setdefault(key, []).append((pid, _machine(answers[pid])))
    return out


def _key(read: R.PageRead) -> _Key | None:
    return (read.identity.serial, read.identity.page) if read.status == R.READ and read.identity else None


def _outside_scope(s: Session | Connection, batch_id: int | None, units: set[str]) -> set[str]:
    """The units among ``units`` outside the scope of the user who uploaded the batch (a web upload
    records the uploader's unit on it; a batch without one, e.g. ``omr scan``, takes every unit)."""
    if batch_id is None or not units:
        return set()
    scope = s.scalar(select(ScanBatch.scope_unit).where(ScanBatch.id == batch_id))
    return set() if scope is None else {u for u in units if not within(s, u, scope)}


def _classify(
    read: R.PageRead, sheets: dict[str, tuple], earlier: _Earlier, outside: frozenset[str] | set[str] = frozenset()
) -> tuple[str, str | None, int | None]:
    """The page's status, an explanatory note and the earlier page it duplicates or conflicts with."""
    if read.status == R.EMPTY_PAGE:
        return BLANK, read.note, None
    if read.status == R.UNIDENTIFIED:
        return UNIDENTIFIED, read.note, None
    if read.status == R.INVALID or read.identity is None:
        return INVALID, read.note, None
    ident = read.identity
    sheet = sheets.get(ident.serial)
    if sheet is None:
        return INVALID, f"số phiếu {ident.serial} chưa từng được in ở hệ thống này", None
    if sheet != (ident.form, ident.version, ident.unit, ident.variant):
        return INVALID, f"mã QR không khớp phiếu số {ident.serial} đã in ({sheet[0]}, đơn vị {sheet[2]})", None
    if ident.unit in outside:
        return UNIDENTIFIED, OUT_OF_SCOPE, None
    before = earlier.get((ident.serial, ident.page))
    if before:
        mine = _machine((a.field, a.value, a.state) for a in read.answers)
        for pid, theirs in before:
            if same_marks(theirs, mine):
                return DUPLICATE, f"trùng với trang đã lưu #{pid}", pid
        first = before[0][0]
        return CONFLICT, f"phiếu {ident.serial} trang {ident.page} đã lưu (#{first}) với câu trả lời khác", first
    return decisions.page_status(decisions.waits_for_person(a.state for a in read.answers)), read.note, None


# a read page to store: its source, image sha256, reading, and image and crop paths under OMR_HOME
_Item = tuple[RawPage, str, R.PageRead, str, dict[str, str]]


class _Rows:
    """Pages classified but not yet inserted: inserted together, one statement per table."""

    def __init__(self, batch_id: int | None, period: str | None):
        self.batch_id, self.now = batch_id, utcnow()
        self.survey_date = survey_day(local_date(self.now), period)
        self.clear()

    def clear(self) -> None:
        self.pages: list[dict] = []
        self.reads: list[R.PageRead] = []
        self.crops: list[dict[str, str]] = []
        self.keys: set[_Key] = set()

    def add(self, raw: RawPage, sha: str, read: R.PageRead, rel: str, crops: dict, status: str, note, other) -> None:
        ident = read.identity
        self.pages.append(
            {
                "scan_batch_id": self.batch_id,
                "source": raw.source[-500:],  # the column's size; the end of a long path is the telling part
                "source_page": raw.page,
                "sha256": sha,
                "image_path": rel,
                "status": status,
                "serial": ident.serial if ident else None,
                "sheet_page": ident.page if ident else None,
                "form_id": ident.form if ident else None,
                "form_version": ident.version if ident else None,
                "variant": ident.variant if ident else None,
                "unit_code": ident.unit if ident else None,
                "transform": read.transform,
                "rotation": read.rotation,
                "measurements": read.measurements() if read.answers else None,
                "note": note,
                "duplicate_of_page_id": other if status == DUPLICATE else None,
                "reader_version": version.READER_VERSION,
                "created_at": self.now,
                "survey_date": self.survey_date,
            }
        )
        self.reads.append(read)
        self.crops.append(crops)
        if (key := _key(read)) is not None:
            self.keys.add(key)

    def insert(self, s: Session | Connection, earlier: _Earlier) -> None:
        """Insert the rows (the sha256 UNIQUE constraint speaks here). Pages that now stand for their
        sheet page join ``earlier``, for the pages after them to be compared with."""
        if not self.pages:
            return
        # Core statements, not the ORM's unit of work: this runs on the one process that stores every
        # page while the readers share the machine's cores with it.
        ids = s.execute(insert(Page).returning(Page.id, sort_by_parameter_order=True), self.pages).scalars().all()
        answers: list[dict] = []
        reviews: list[tuple[int, int | None, str]] = []  # page id, index in ``answers`` or None, kind
        texts: list[dict] = []
        for pid, row, read, crops in zip(ids, self.pages, self.reads, self.crops, strict=True):
            status = row["status"]
            counted = status in (ACCEPTED, NEEDS_REVIEW)
            for a in read.answers:
                # a page that does not count has nothing to decide; on one that counts, what the
                # machine does not decide a person does
                final = decisions.machine_final(a.value, a.state, self.now) if counted else decisions.UNDECIDED
                if counted and final.state is None:
                    reviews.append((pid, len(answers), REVIEW_ANSWER))
                answers.append(
                    {
                        "page_id": pid,
                        "field": a.field,
                        "machine_value": a.value,
                        "machine_state": a.state,
                        "confidence": float(a.confidence),
                        "reason": a.reason,
                        "final_value": final.value,
                        "final_state": final.state,
                        "decided_by": final.decided_by,
                        "decided_at": final.decided_at,
                        "reader_version": version.READER_VERSION,
                    }
                )
            if status == UNIDENTIFIED:
                reviews.append((pid, None, REVIEW_UNIDENTIFIED))
            elif status == CONFLICT:
                reviews.append((pid, None, REVIEW_CONFLICT))
            texts += [
                {"page_id": pid, "field": t.field, "written": t.written, "ink": t.ink, "image_path": crops[t.field]}
                for t in read.texts
            ]
            if status in COMPARABLE:
                mine = _machine((a.field, a.value, a.state) for a in read.answers)
                earlier.setdefault((row["serial"], row["sheet_page"]), []).append((pid, mine))
        answer_ids: Sequence[int] = []
        if answers:
            answer_ids = (
                s.execute(insert(Answer).returning(Answer.id, sort_by_parameter_order=True), answers).scalars().all()
            )
        if reviews:
            s.execute(
                insert(ReviewItem),
                [
                    {
                        "page_id": pid,
                        "answer_id": None if i is None else answer_ids[i],
                        "kind": kind,
                        "status": REVIEW_OPEN,
                        "created_at": self.now,
                    }
                    for pid, i, kind in reviews
                ],
            )
        if texts:
            s.execute(insert(TextArea), texts)
        self.clear()


def insert_pages(
    s: Session | Connection, items: Sequence[_Item], batch_id: int | None, *, uploader_scope: bool = True
) -> list[dict]:
    """Store read pages (their files already written) in the caller's transaction; returns their contract
    lines, in order. An image already stored, in the database or earlier in ``items``, is reported
    ``duplicate`` and not stored again. A few statements for the whole group, not a few per page.
    ``uploader_scope``: sheets of units outside the batch's uploader's are stored ``unidentified`` with
    the note ``OUT_OF_SCOPE`` (off for a page a person identified, whose own scope was checked)."""
    stored = dict(s.execute(select(Page.sha256, Page.id).where(Page.sha256.in_({it[1] for it in items}))).all())
    keys = {k for it in items if (k := _key(it[2])) is not None}
    sheets = _sheets(s, {serial for serial, _ in keys})
    outside = _outside_scope(s, batch_id, {sheet[2] for sheet in sheets.values()}) if uploader_scope else set()
    earlier = _earlier(s, keys)
    rows = _Rows(batch_id, batch_period(s, batch_id))
    lines: list[dict] = []
    first: dict[str, dict] = {}  # sha256 -> line of the page stored with it in this group
    for raw, sha, read, rel, crops in items:
        if sha in stored:
            lines.append(duplicate_json(s, stored[sha], raw))
            continue
        if sha in first:
            lines.append(_repeated({**first[sha], "source": raw.source, "page": raw.page}))
            continue
        key = _key(read)
        if key in rows.keys:
            rows.insert(s, earlier)  # the same sheet page twice in the group: the second is compared with the first
        status, note, other = _classify(read, sheets, earlier, outside)
        rows.add(raw, sha, read, rel, crops, status, note, other)
        first[sha] = reading_json(raw.source, raw.page, status, read)
        lines.append(first[sha])
    rows.insert(s, earlier)
    return lines


def insert_page(
    s: Session | Connection,
    raw: RawPage,
    sha: str,
    read: R.PageRead,
    rel: str,
    crops: dict[str, str],
    batch_id: int | None,
) -> dict:
    """One page a person identified (review): see ``insert_pages``."""
    return insert_pages(s, [(raw, sha, read, rel, crops)], batch_id, uploader_scope=False)[0]


MAX_BATCH_NOTE = 4000


def _count_in(s: Session | Connection, batch_id: int | None, done: int, errors: Sequence[dict] = ()) -> None:
    """Count pages handled on their scan batch; unreadable ones are recorded (``PageError``) and also
    noted on the batch, so a web upload page can say what went wrong after the fact."""
    if errors:
        s.execute(
            insert(PageError),
            [
                {
                    "scan_batch_id": batch_id,
                    "source": e["source"][-500:],  # as pages.source: the end of a long path is the telling part
                    "source_page": e["page"],
                    "reason": e["error"],
                    "created_at": utcnow(),
                }
                for e in errors
            ],
        )
    if batch_id is None:
        return
    s.execute(update(ScanBatch).where(ScanBatch.id == batch_id).values(done_pages=ScanBatch.done_pages + done))
    if errors:
        note = s.scalar(select(ScanBatch.note).where(ScanBatch.id == batch_id)) or ""
        for e in errors:
            if len(note) < MAX_BATCH_NOTE:
                line = f"{e['source']} trang {e['page']}: {e['error']}"
                note = f"{note}\n{line}" if note else line
        s.execute(update(ScanBatch).where(ScanBatch.id == batch_id).values(note=note))


def count_done(batch_id: int | None, error: dict | None = None) -> None:
    """Count one page handled outside ``store_pages`` on its batch; an ``error`` line is recorded."""
    if batch_id is not None or error:
        with transaction() as s:
            _count_in(s, batch_id, 1, [error] if error else [])


def store_pages(engine: Engine, items: Sequence[tuple[RawPage, Reading | str]], batch_id: int | None) -> list[dict]:
    """Store a group of pages, read or not (a reason), in one transaction; their lines in order. Safe to
    run twice or from two processes at once with the same pages: the second reports ``duplicate``."""
    try:
        with engine.execution_options(sqlite_immediate=True).begin() as conn:
            read = [(raw, r.sha, r.read, image_relpath(r.sha, r.ext), _crops(r)) for raw, r in items if _is_read(r)]
            stored = iter(insert_pages(conn, read, batch_id))
            lines = [error_json(raw.source, raw.page, r) if isinstance(r, str) else next(stored) for raw, r in items]
            _count_in(conn, batch_id, len(items), [x for x in lines if x["status"] == ERROR])
            return lines
    except IntegrityError:
        # another process stored one of these images between our look and our insert
        if len(items) > 1:
            return [line for item in items for line in store_pages(engine, [item], batch_id)]
        raw, r = items[0]
        assert isinstance(r, Reading)
        with engine.connect() as conn:
            existing = conn.scalar(select(Page.id).where(Page.sha256 == r.sha))
            if existing is None:
                raise
            line = duplicate_json(conn, existing, raw)
        count_done(batch_id)
        return [line]


def _is_read(r: Reading | str) -> TypeGuard[Reading]:
    return isinstance(r, Reading)


def _crops(r: Reading) -> dict[str, str]:
    return {t.field: crop_relpath(r.sha, t.field) for t in r.read.texts}
