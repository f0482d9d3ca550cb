"""``omr reread`` on a real data directory: sheets printed by ``omr print``, filled and scanned by the
generator (samples/generate.py), read by ``omr scan``; then read again with a changed reader."""

from __future__ import annotations

import io
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import redirect_stdout
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update

from db import session as dbs
from db.models import Answer, Page, ReviewItem, TextArea
from db.session import session, transaction
from omr import cli, config
from omr.detect import result as R
from omr.detect import thresholds, version
from omr.services import reread as rr
from omr.services import signing_key
from omr.vocab import MACHINE

FORM = "kien-hung-2020"
WARD, SCHOOL, OTHER_WARD = "09552", "TRUONG-A", "00004"  # the school is a service point under the ward
PAGE_KEYS = {"source", "page", "page_id", "serial", "sheet_page", "old_status", "status", "reader_version", "answers"}


def omr(*args: str) -> tuple[int, list[str]]:
    """Run an ``omr`` command in this process (a changed reader reaches its reader processes by fork)."""
    out = io.StringIO()
    with redirect_stdout(out):
        code = cli.main(list(args))
    return code, out.getvalue().splitlines()


def reread_json(*args: str) -> tuple[list[dict], dict]:
    code, lines = omr("reread", "--json", *args)
    assert code == 0, lines
    parsed = [json.loads(x) for x in lines]
    assert "summary" in parsed[-1] and all("summary" not in x for x in parsed[:-1])
    return parsed[:-1], parsed[-1]["summary"]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A data directory with three scanned stacks: the ward's, its school's and another ward's."""
    from samples.generate import generate_stack

    home = tmp_path_factory.mktemp("omr-home")
    work = tmp_path_factory.mktemp("stacks")
    old = os.environ.get("OMR_HOME")
    os.environ["OMR_HOME"] = str(home)
    dbs.dispose()
    try:
        assert omr("units", "add", SCHOOL, "Trường Tiểu học A", "--parent", WARD)[0] == 0
        stacks = []
        for n, (unit, count) in enumerate(((WARD, 5), (SCHOOL, 3), (OTHER_WARD, 3))):
            code, lines = omr(
                "print",
                "--form",
                FORM,
                "--unit",
                unit,
                "--count",
                str(count),
                "--json",
                "--out",
                str(work / f"{unit}.pdf"),
            )
            assert code == 0
            serials = [json.loads(x)["serial"] for x in lines]
            generate_stack(
                work / unit,
                form_id=FORM,
                unit=unit,
                serials=serials,
                key=signing_key.secret_key(),
                dpi=200,
                seed=n,
                hard_case_rate=0.15,
                degrade="light",
                name=unit,
            )
            stacks.append(str(work / unit / f"{unit}.pdf"))
        code, lines = omr("scan", "--json", *stacks)
        assert code == 0
        assert {json.loads(x)["status"] for x in lines} >= {"accepted", "needs_review"}
    finally:
        dbs.dispose()
        if old is None:
            os.environ.pop("OMR_HOME", None)
        else:
            os.environ["OMR_HOME"] = old
    yield home


@pytest.fixture
def home(built: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh copy of the built data directory for one test."""
    copy = tmp_path / "omr-home"
    shutil.copytree(built, copy)
    monkeypatch.setenv("OMR_HOME", str(copy))
    monkeypatch.delenv("OMR_DATABASE_URL", raising=False)
    monkeypatch.setenv("OMR_SCAN_WORKERS", "2")
    dbs.dispose()
    yield copy
    dbs.dispose()


def snapshot() -> dict:
    """Everything a re-read may touch, as plain values."""

    def rows(model) -> list[tuple]:
        cols = [c for c in model.__table__.columns]
        with session() as s:
            return [tuple(r) for r in s.execute(select(*cols).order_by(cols[0]))]

    return {m.__tablename__: rows(m) for m in (Page, Answer, ReviewItem, TextArea)}


def nothing_marks(monkeypatch: pytest.MonkeyPatch, new_version: str = "2-test") -> None:
    """A changed reader: no box counts as marked any more, so every ticked answer is uncertain."""
    for name in ("MARK_INK_MIN", "THIN_MARK_INK_MIN", "FILLED_INK_MIN"):
        monkeypatch.setattr(thresholds, name, 2.0)
    monkeypatch.setattr(version, "READER_VERSION", new_version)


def answers_by_field(page_id: int) -> dict[str, Answer]:
    with session() as s:
        return {a.field: a for a in s.scalars(select(Answer).where(Answer.page_id == page_id))}


# --------------------------------------------------------------------------- the same reader


def test_same_reader_changes_nothing(home):
    before = snapshot()
    lines, summary = reread_json()
    assert lines == []
    assert summary["pages"] == len(before["pages"]) and summary["changed_pages"] == 0 and summary["errors"] == 0
    assert snapshot() == before
    with session() as s:  # every decision says which reader made it
        assert set(s.scalars(select(Answer.reader_version))) == {version.READER_VERSION}
        assert set(s.scalars(select(Page.reader_version))) == {version.READER_VERSION}


# --------------------------------------------------------------------------- a changed reader


def test_changed_reader_dry_run_then_apply_then_nothing_more(home, monkeypatch):
    original = snapshot()
    nothing_marks(monkeypatch)
    planned, dry = reread_json("--dry-run")
    assert snapshot() == original  # a dry run writes nothing
    assert dry["dry_run"] is True and dry["answers"]["to_review"] > 0 and planned

    applied, summary = reread_json()
    assert applied == planned  # the dry run said exactly what applying did
    assert {k: v for k, v in summary.items() if k != "dry_run"} == {k: v for k, v in dry.items() if k != "dry_run"}
    for line in applied:
        assert set(line) >= PAGE_KEYS and line["reader_version"] == "2-test"
        for f, change in line["answers"].items():
            assert change["new"]["state"] in ("uncertain", "blank", "multiple"), (f, change)
    to_review = [(x["page_id"], f) for x in applied for f, c in x["answers"].items() if c["effect"] == "to_review"]
    assert len(to_review) == dry["answers"]["to_review"]
    with session() as s:
        for page_id, field in to_review:
            a = s.scalars(select(Answer).where(Answer.page_id == page_id, Answer.field == field)).one()
            assert a.machine_state == "uncertain" and a.final_state is None and a.reader_version == "2-test"
            assert s.scalars(select(ReviewItem).where(ReviewItem.answer_id == a.id, ReviewItem.status == "open")).one()
            assert s.get(Page, page_id).status == "needs_review"
        assert set(s.scalars(select(Page.reader_version))) == {"2-test"}

    again, summary = reread_json()  # idempotent: the same reader changes nothing the second time
    assert again == [] and summary["changed_pages"] == 0

    # the reader as it was (a version on): everything the machine had accepted is accepted again
    monkeypatch.undo()
    monkeypatch.setenv("OMR_HOME", str(home))
    monkeypatch.setenv("OMR_SCAN_WORKERS", "2")
    monkeypatch.setattr(version, "READER_VERSION", "3-test")
    back, summary = reread_json()
    assert summary["answers"]["accepted"] == len(to_review)
    restored = snapshot()
    answer_cols = [c.name for c in Answer.__table__.columns]
    final = [answer_cols.index(c) for c in ("id", "machine_value", "machine_state", "final_value", "final_state")]
    assert [[r[i] for i in final] for r in restored["answers"]] == [[r[i] for i in final] for r in original["answers"]]
    status = [c.name for c in Page.__table__.columns].index("status")
    assert [r[status] for r in restored["pages"]] == [r[status] for r in original["pages"]]
    with session() as s:
        open_items = s.scalars(select(ReviewItem.answer_id).where(ReviewItem.status == "open")).all()
    item_status = [c.name for c in ReviewItem.__table__.columns].index("status")
    original_open = [r for r in original["review_items"] if r[item_status] == "open"]
    assert len(open_items) == len(original_open)


def test_a_reviewers_answer_is_never_changed(home, monkeypatch):
    from omr.services import review

    scope = review.Scope(frozenset({WARD, SCHOOL, OTHER_WARD}), root=True)
    item_id = review.claim_next("chi", scope)
    assert item_id is not None
    with session() as s:
        item = s.get(ReviewItem, item_id)
        ans = s.get(Answer, item.answer_id)
        page_id, field, machine = ans.page_id, ans.field, ans.machine_value
        options = list(s.get(Page, page_id).measurements[field])
    chosen = next(v for v in options if v != machine)
    review.decide_answer("chi", scope, item_id, chosen)

    # its stored measurements now say, beyond doubt, that another box is the one marked
    with transaction() as s:
        page = s.get(Page, page_id)
        boxes = dict(page.measurements[field])
        other = next(v for v in boxes if v != chosen)
        empty = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
        page.measurements = {
            **page.measurements,
            field: {v: ([0.3, 0.4, 0.3, 0.0, 0.0, 1.0] if v == other else empty) for v in boxes},
        }
    monkeypatch.setattr(version, "READER_VERSION", "2-test")
    lines, _ = reread_json("--from-measurements")
    change = next(x for x in lines if x["page_id"] == page_id)["answers"][field]
    assert change["new"] == {"value": other, "state": "marked", "confidence": change["new"]["confidence"]}
    assert change["effect"] == "reviewer_kept"
    a = answers_by_field(page_id)[field]
    assert (a.machine_value, a.machine_state, a.reader_version) == (other, "marked", "2-test")
    assert (a.final_value, a.final_state, a.decided_by) == (chosen, "marked", "chi")

    # and a re-read of the pixels by a reader that sees no marks leaves it as the reviewer decided
    nothing_marks(monkeypatch, "3-test")
    decided = {(r.page_id, r.field): (r.final_value, r.decided_by) for r in _answers() if r.decided_by != MACHINE}
    assert (page_id, field) in decided
    reread_json()
    after = {(r.page_id, r.field): (r.final_value, r.decided_by) for r in _answers()}
    assert {k: after[k] for k in decided} == decided


def _answers() -> list[Answer]:
    with session() as s:
        return list(s.scalars(select(Answer).where(Answer.decided_by.is_not(None))))


def test_from_measurements_changes_a_value_and_records_the_reader(home, monkeypatch):
    scanned_with = version.READER_VERSION  # the reader that read the stack
    with transaction() as s:
        a = s.scalars(
            select(Answer).where(
                Answer.field == "q_result", Answer.machine_state == "marked", Answer.decided_by == MACHINE
            )
        ).first()
        page = s.get(Page, a.page_id)
        page_id, was = page.id, a.machine_value
        boxes = page.measurements["q_result"]
        now = next(v for v in boxes if v != was)
        page.measurements = {
            **page.measurements,
            "q_result": {v: boxes[was] if v == now else boxes[now] for v in boxes},
        }
    monkeypatch.setattr(version, "READER_VERSION", "2-test")
    lines, summary = reread_json("--from-measurements")
    assert summary["from_measurements"] is True
    line = next(x for x in lines if x["page_id"] == page_id)
    assert line["answers"]["q_result"]["old"] == {"value": was, "state": "marked"}
    assert line["answers"]["q_result"]["new"]["value"] == now and line["answers"]["q_result"]["effect"] == "changed"
    a = answers_by_field(page_id)["q_result"]
    assert (a.machine_value, a.final_value, a.decided_by, a.reader_version) == (now, now, MACHINE, "2-test")
    with session() as s:  # the pixels were not read again: the page's reading is still the old reader's
        assert s.get(Page, page_id).reader_version == scanned_with


# --------------------------------------------------------------------------- which pages


def _units_of(lines: list[dict]) -> set[str]:
    with session() as s:
        return {s.get(Page, x["page_id"]).unit_code for x in lines}


def test_unit_means_the_units_tree_and_since_the_day_scanned(home, monkeypatch):
    nothing_marks(monkeypatch)
    everything, _ = reread_json("--dry-run")
    assert _units_of(everything) == {WARD, SCHOOL, OTHER_WARD}
    ward, _ = reread_json("--dry-run", "--unit", WARD)
    assert _units_of(ward) == {WARD, SCHOOL}  # the ward and the school under it
    school, _ = reread_json("--dry-run", "--unit", SCHOOL)
    assert _units_of(school) == {SCHOOL}

    with transaction() as s:  # the other ward's stack was scanned in January
        s.execute(update(Page).where(Page.unit_code == OTHER_WARD).values(created_at=datetime(2026, 1, 15, tzinfo=UTC)))
    today = date.today()
    recent, summary = reread_json("--dry-run", "--since", (today - timedelta(days=30)).isoformat())
    assert _units_of(recent) == {WARD, SCHOOL}
    with session() as s:
        assert summary["pages"] == len(s.scalars(select(Page.id).where(Page.unit_code != OTHER_WARD)).all())
    future, summary = reread_json("--dry-run", "--since", (today + timedelta(days=2)).isoformat())
    assert future == [] and summary["pages"] == 0


def test_bad_unit_or_day_is_one_line(home, capsys):
    assert cli.main(["reread", "--unit", "KHONG-CO"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "KHONG-CO" in err[0]
    assert cli.main(["reread", "--since", "2026-13-01"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Ngày không hợp lệ" in err[0]


def test_human_summary_in_vietnamese(home, monkeypatch):
    nothing_marks(monkeypatch)
    code, lines = omr("reread", "--dry-run", "--unit", SCHOOL)
    assert code == 0
    assert lines[-3].startswith("Đã đọc lại ") and "phiên bản 2-test (chạy thử: chưa ghi gì)" in lines[-3]
    assert "chuyển sang cần duyệt" in lines[-2]
    assert any("→ không chắc" in x for x in lines[:-3])


# --------------------------------------------------------------------------- what a page is


def _blind_to(serial: str):
    """A scan's reader that cannot read one sheet's QR code (as an older reader could not)."""
    from omr.detect.read import read_page_bytes

    def reader(data: bytes, key: bytes) -> R.PageRead:
        read = read_page_bytes(data, key)
        if read.identity is not None and read.identity.serial == serial:
            return R.PageRead(R.UNIDENTIFIED, note="không đọc được mã QR", image_size=read.image_size)
        return read

    return reader


def _rescan(page_id: int, tmp: Path) -> Path:
    """The stored image of a page scanned again: the same marks, other bytes."""
    import cv2

    with session() as s:
        rel = s.get(Page, page_id).image_path
    img = cv2.imread(str(config.home() / rel), cv2.IMREAD_GRAYSCALE)
    out = tmp / f"rescan-{page_id}.png"
    cv2.imwrite(str(out), img)
    return out


def test_a_page_the_old_reader_could_not_identify_becomes_identified(home, tmp_path):
    old_id, serial = _scan_unidentified(tmp_path)
    scanned = datetime(2026, 3, 2, 8, 0)
    with transaction() as s:  # scanned in March
        s.execute(update(Page).where(Page.id == old_id).values(created_at=scanned.replace(tzinfo=UTC)))
        assert s.scalars(select(ReviewItem).where(ReviewItem.page_id == old_id, ReviewItem.status == "open")).one()

    lines, summary = reread_json()
    line = next(x for x in lines if x["page_id"] == old_id)
    assert line["old_status"] == "unidentified" and line["status"] in ("accepted", "needs_review")
    assert line["serial"] == serial and summary["identified"] == 1 and line["answers"]
    assert all(c["old"] is None for c in line["answers"].values())
    with session() as s:
        new = s.get(Page, line["new_page_id"])
        assert new.serial == serial and new.reader_version == version.READER_VERSION
        assert s.get(Page, old_id) is None
        items = s.scalars(
            select(ReviewItem).where(ReviewItem.page_id == new.id, ReviewItem.kind == "unidentified")
        ).all()
        assert [(i.status, i.resolved_by) for i in items] == [("done", MACHINE)]
        assert len(answers_by_field(new.id)) == len(line["answers"])
    assert new.created_at.replace(tzinfo=None) == scanned  # still when it was scanned: a re-read is no scan
    assert reread_json()[0] == []


def _scan_as_conflict(tmp_path: Path) -> tuple[int, int]:
    """An accepted page and a rescan of it that an older reader read differently: a conflict."""
    from omr.detect.read import read_page_bytes
    from omr.services import ingest

    with session() as s:
        first = s.scalars(select(Page).where(Page.status == "accepted").order_by(Page.id)).first()
        field = answers_by_field(first.id)["q_result"]

    def misreader(data: bytes, key: bytes) -> R.PageRead:
        read = read_page_bytes(data, key)
        wrong = "1" if field.machine_value != "1" else "2"
        read.answers = [
            R.AnswerRead(a.field, wrong, "marked", 0.9) if a.field == "q_result" else a for a in read.answers
        ]
        return read

    [line] = list(ingest.scan([_rescan(first.id, tmp_path)], workers=1, reader=misreader))
    assert line["status"] == "conflict"
    with session() as s:
        return first.id, s.scalar(select(Page.id).order_by(Page.id.desc()))


def test_a_conflict_the_readings_no_longer_show_becomes_a_duplicate(home, tmp_path):
    first, rescan = _scan_as_conflict(tmp_path)
    lines, summary = reread_json()
    line = next(x for x in lines if x["page_id"] == rescan)
    assert (line["old_status"], line["status"]) == ("conflict", "duplicate")
    assert line["answers"]["q_result"]["effect"] == "not_counted"
    assert summary["statuses"] == {"conflict>duplicate": 1}
    with session() as s:
        page = s.get(Page, rescan)
        assert page.duplicate_of_page_id == first
        [item] = s.scalars(select(ReviewItem).where(ReviewItem.page_id == rescan, ReviewItem.kind == "conflict"))
        assert (item.status, item.resolved_by) == ("done", MACHINE)
        assert all(a.final_state is None for a in answers_by_field(rescan).values())  # counted once, on the first
    assert reread_json()[0] == []


def test_a_conflict_a_person_settled_stays_settled(home, tmp_path):
    from omr.services import review

    first, rescan = _scan_as_conflict(tmp_path)
    scope = review.Scope(frozenset({WARD, SCHOOL, OTHER_WARD}), root=True)
    item_id = review.claim_next("chi", scope, kind="conflict")
    review.resolve_conflict("chi", scope, item_id, keep_page_id=rescan)
    with session() as s:
        statuses = {p: s.get(Page, p).status for p in (first, rescan)}
    assert statuses[first] == "conflict"
    lines, summary = reread_json()
    assert summary["statuses"] == {}
    with session() as s:
        assert {p: s.get(Page, p).status for p in (first, rescan)} == statuses
    # the kept scan counts, with the machine's reading of it now the current reader's
    assert answers_by_field(rescan)["q_result"].final_value == answers_by_field(first)["q_result"].machine_value


def test_dry_run_compares_with_what_earlier_groups_would_write(home, tmp_path, monkeypatch):
    """A rescan in another write group than the page it duplicates: the dry run still sees it as the
    duplicate it will be once both readings changed alike."""
    from omr.services import ingest

    with session() as s:
        first = s.scalars(select(Page).where(Page.status == "accepted").order_by(Page.id)).first()
    [line] = list(ingest.scan([_rescan(first.id, tmp_path)], workers=1))
    assert line["status"] == "duplicate"
    monkeypatch.setattr(rr, "GROUP_MAX", 1)
    nothing_marks(monkeypatch)
    planned, _ = reread_json("--dry-run")
    applied, _ = reread_json()
    assert planned == applied
    with session() as s:
        assert s.scalar(select(Page.status).order_by(Page.id.desc()).limit(1)) == "duplicate"


def test_missing_image_is_an_error_line_and_changes_nothing(home):
    with session() as s:
        page = s.scalars(select(Page).where(Page.status == "accepted").order_by(Page.id)).first()
    (config.home() / page.image_path).unlink()
    before = snapshot()
    code, lines = omr("reread", "--json")
    assert code == 1
    parsed = [json.loads(x) for x in lines]
    [bad] = [x for x in parsed if "error" in x]
    assert bad["page_id"] == page.id and bad["status"] == "accepted"
    assert parsed[-1]["summary"]["errors"] == 1
    assert snapshot() == before


def _scan_unidentified(tmp_path: Path) -> tuple[int, str]:
    """A sheet scanned only once, by a reader blind to its QR code: an unidentified page."""
    from omr.services import ingest

    with session() as s:
        page = s.scalars(select(Page).where(Page.status == "accepted").order_by(Page.id)).first()
        serial = page.serial
    path = _rescan(page.id, tmp_path)
    with transaction() as s:
        for model in (ReviewItem, TextArea, Answer):
            s.execute(delete(model).where(model.page_id == page.id))
        s.execute(delete(Page).where(Page.id == page.id))
    [line] = list(ingest.scan([path], workers=1, reader=_blind_to(serial)))
    assert line["status"] == "unidentified"
    with session() as s:
        return s.scalar(select(Page.id).where(Page.source == path.name)), serial


def test_a_page_a_person_said_is_no_sheet_is_not_read(home, tmp_path):
    from omr.services import review

    page_id, _ = _scan_unidentified(tmp_path)
    scope = review.Scope(frozenset({WARD}), root=True)
    review.not_a_sheet("chi", scope, review.claim_next("chi", scope, kind="unidentified"))
    lines, summary = reread_json()  # the current reader could read its QR code; the person's word stands
    assert lines == [] and summary["kept_by_person"] == 1
    with session() as s:
        assert s.get(Page, page_id).status == "invalid"


def test_a_page_a_person_identified_is_read_under_that_identity(home, tmp_path, monkeypatch):
    from omr.services import review

    page_id, serial = _scan_unidentified(tmp_path)
    scope = review.Scope(frozenset({WARD}), root=True)
    new_id = review.assign_identity("chi", scope, review.claim_next("chi", scope, kind="unidentified"), serial, 1)
    assert reread_json()[0] == []  # the same reader reads it as review stored it
    nothing_marks(monkeypatch)
    lines, _ = reread_json()
    line = next(x for x in lines if x["page_id"] == new_id)
    assert line["serial"] == serial and "new_page_id" not in line and line["status"] == "needs_review"
    assert all(a.reader_version == "2-test" for a in answers_by_field(new_id).values())


def test_text_areas_follow_the_reader(home, monkeypatch):
    with session() as s:
        blank = s.scalars(select(TextArea).where(TextArea.written.is_(False))).all()
    assert blank
    monkeypatch.setattr(thresholds, "TEXT_WRITTEN_INK_MIN", 0.0)  # any ink at all is writing now
    lines, _ = reread_json()
    changed = {(x["page_id"], f): c for x in lines for f, c in x["texts"].items()}
    assert {(t.page_id, t.field) for t in blank} <= set(changed)
    assert all(c == {"old": "blank", "new": "written"} for c in changed.values())
    with session() as s:
        assert s.scalars(select(TextArea).where(TextArea.written.is_(False))).all() == []


@pytest.mark.postgres
def test_on_postgresql(omr_home, pg_url, tmp_path, monkeypatch):
    """The same run on PostgreSQL: its row locks, and the reviewer's answer kept."""
    from omr.services import review
    from samples.generate import generate_stack

    code, lines = omr(
        "print", "--form", FORM, "--unit", WARD, "--count", "4", "--json", "--out", str(tmp_path / "p.pdf")
    )
    serials = [json.loads(x)["serial"] for x in lines]
    generate_stack(
        tmp_path / "s",
        form_id=FORM,
        unit=WARD,
        serials=serials,
        key=signing_key.secret_key(),
        dpi=200,
        seed=3,
        hard_case_rate=0.3,
        degrade="light",
    )
    assert omr("scan", "--json", str(tmp_path / "s" / "stack.pdf"))[0] == 0
    scope = review.Scope(frozenset({WARD}))
    item_id = review.claim_next("chi", scope)
    with session() as s:
        ans = s.get(Answer, s.get(ReviewItem, item_id).answer_id)
        options = list(s.get(Page, ans.page_id).measurements[ans.field])
    review.decide_answer("chi", scope, item_id, options[-1])
    before = snapshot()
    assert reread_json()[0] == [] and snapshot() == before

    nothing_marks(monkeypatch)
    planned, _ = reread_json("--dry-run")
    assert snapshot() == before and planned
    assert reread_json()[0] == planned
    a = answers_by_field(ans.page_id)[ans.field]
    assert (a.final_value, a.decided_by, a.reader_version) == (options[-1], "chi", "2-test")
    assert reread_json()[0] == []
