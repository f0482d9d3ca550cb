"""The scan pipeline on sheets the product printed, marked and scanned, read by the real reader."""

from __future__ import annotations

import hashlib
import io
import os
import signal
import subprocess
import sys
import threading
import time
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from db.models import Answer, Page, ReviewItem, ScanBatch, TextArea
from db.session import session, transaction
from omr import config
from omr.services import ingest, readers, signing_key, storing, watched_folder
from omr.services.units import add_unit
from omr.sheet.render import UnitHeading, render

REPO = Path(__file__).resolve().parents[1]
FORM = "kien-hung-2020"
CONTRACT_KEYS = {"source", "page", "status", "form", "unit", "serial", "sheet_page", "answers", "texts"}


def _count(model) -> int:
    with session() as s:
        return s.scalar(select(func.count()).select_from(model))


@pytest.fixture
def stack(printed, scan_tools, tmp_path):
    """Four printed sheets, marked like people do, plus an empty back page; a JPEG-in-PDF scan."""
    manifest, imgs = printed(FORM, "09552", 4)
    cross = scan_tools.cross
    cross(imgs[0], FORM, "q_result", "5")
    cross(imgs[0], FORM, "q_area", "1")
    cross(imgs[0], FORM, "q_area", "4")
    cross(imgs[1], FORM, "q_result", "4")
    cross(imgs[1], FORM, "q_result", "3")  # two marks in a single-choice question: a person decides
    cross(imgs[2], FORM, "q_staff", "2")
    imgs.append(np.full_like(imgs[0], 255))
    return scan_tools.jpeg_pdf(imgs, tmp_path / "stack.pdf"), manifest


def test_printed_stack_is_read_and_stored(omr_home, stack):
    path, manifest = stack
    lines = list(ingest.scan([path]))
    assert [(x["source"], x["page"]) for x in lines] == [("stack.pdf", n) for n in range(1, 6)]
    assert all(set(x) == CONTRACT_KEYS for x in lines)
    assert [x["status"] for x in lines] == ["accepted", "needs_review", "accepted", "accepted", "blank"]
    assert [x["serial"] for x in lines[:4]] == [m["serial"] for m in manifest]
    first = lines[0]
    assert first["form"] == FORM and first["unit"] == "09552" and first["sheet_page"] == 1
    assert first["answers"]["q_result"] == {"value": "5", "state": "marked", "confidence": pytest.approx(1, abs=0.3)}
    assert first["answers"]["q_area"]["value"] == "1,4"
    assert first["answers"]["q_staff"]["state"] == "blank"
    assert lines[1]["answers"]["q_result"]["state"] == "multiple"
    assert lines[2]["answers"]["q_staff"]["value"] == "2"
    assert not any(f.startswith("y_kien") for f in first["answers"])  # free text is not an answer
    assert lines[4] == {
        "source": "stack.pdf",
        "page": 5,
        "status": "blank",
        "form": None,
        "unit": None,
        "serial": None,
        "sheet_page": None,
        "answers": {},
        "texts": {},
    }

    with session() as s:
        pages = s.scalars(select(Page).order_by(Page.id)).all()
        assert [p.status for p in pages] == [x["status"] for x in lines]
        for p in pages:
            img = config.home() / p.image_path
            assert img.is_file() and img.suffix == ".jpg" and p.image_path.startswith(f"pages/{p.sha256[:2]}/")
        assert pages[0].measurements["q_result"]["5"][0] > 0.1  # raw ink kept for re-deciding
        assert pages[0].transform is not None
        ans = {a.field: a for a in s.scalars(select(Answer).where(Answer.page_id == pages[0].id))}
        assert ans["q_result"].final_value == "5" and ans["q_result"].decided_by == "machine"
        review = s.scalars(select(ReviewItem)).all()
        assert [(r.page_id, r.kind, r.status) for r in review] == [(pages[1].id, "answer", "open")]
        multi = s.get(Answer, review[0].answer_id)
        assert multi.field == "q_result" and multi.machine_state == "multiple" and multi.final_state is None
        texts = s.scalars(select(TextArea).where(TextArea.page_id == pages[0].id)).all()
        assert {t.field for t in texts} == {"y_kien_chua_hai_long", "y_kien_khac"}
        assert all((config.home() / t.image_path).read_bytes()[:3] == b"\xff\xd8\xff" for t in texts)
        batch = s.scalars(select(ScanBatch)).one()
        assert (batch.status, batch.total_pages, batch.done_pages) == ("done", 5, 5)


def test_rescanning_stores_nothing_new(omr_home, stack):
    path, _ = stack
    first = list(ingest.scan([path]))
    counts = {m: _count(m) for m in (Page, Answer, ReviewItem, TextArea)}
    files = sorted((omr_home / "pages").rglob("*"))
    again = list(ingest.scan([path]))
    # each sheet page is a duplicate of itself; the empty back stays blank (it is no sheet)
    assert [x["status"] for x in again] == ["duplicate"] * 4 + ["blank"]
    # the duplicate line tells what was stored the first time
    assert [(x["serial"], x["answers"]) for x in again] == [(x["serial"], x["answers"]) for x in first]
    assert {m: _count(m) for m in counts} == counts
    assert sorted((omr_home / "pages").rglob("*")) == files


def test_interrupted_scan_then_rescan_stores_every_page_once(omr_home, stack):
    path, _ = stack
    gen = ingest.scan([path])
    got = [next(gen), next(gen)]
    gen.close()  # the operator stopped it after two pages
    assert [x["page"] for x in got] == [1, 2]
    with session() as s:
        assert s.scalars(select(ScanBatch.status)).one() == "failed"
        stored = _count(Page)
    assert 2 <= stored <= 5
    lines = list(ingest.scan([path]))
    assert [x["page"] for x in lines] == [1, 2, 3, 4, 5]
    assert [x["status"] for x in lines[:2]] == ["duplicate", "duplicate"]
    assert _count(Page) == 5
    with session() as s:
        assert len(set(s.scalars(select(Page.sha256)))) == 5


def test_killed_scan_then_rescan_stores_every_page_once(omr_home, printed, scan_tools, tmp_path):
    _, imgs = printed(FORM, "09552", 12)
    for i, im in enumerate(imgs):
        scan_tools.cross(im, FORM, "q_result", str(1 + i % 5))
    path = scan_tools.jpeg_pdf(imgs, tmp_path / "big.pdf")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "omr.cli", "scan", "--json", str(path)],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # kill the reader processes too, as a power cut would
    )
    assert proc.stdout is not None
    for _ in range(3):
        proc.stdout.readline()
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert _count(Page) < 12
    lines = list(ingest.scan([path]))
    assert len(lines) == 12
    assert Counter(x["status"] for x in lines)["accepted"] == 12 - sum(x["status"] == "duplicate" for x in lines)
    assert _count(Page) == 12
    with session() as s:
        assert len(set(s.scalars(select(Page.serial)))) == 12
    assert not list((omr_home / "pages").rglob("*.tmp"))


def test_same_sheet_again_is_duplicate_or_conflict(omr_home, printed, scan_tools, tmp_path):
    _, imgs = printed(FORM, "09552", 1)
    scan_tools.cross(imgs[0], FORM, "q_result", "5")
    original = scan_tools.jpeg_pdf([imgs[0]], tmp_path / "a.pdf", quality=85)
    photocopy = scan_tools.jpeg_pdf([imgs[0]], tmp_path / "b.pdf", quality=70)  # other bytes, same marks
    altered = imgs[0].copy()
    scan_tools.cross(altered, FORM, "q_counter", "2")
    other = scan_tools.jpeg_pdf([altered], tmp_path / "c.pdf")
    lines = list(ingest.scan([original, photocopy, other]))
    assert [x["status"] for x in lines] == ["accepted", "duplicate", "conflict"]
    with session() as s:
        pages = s.scalars(select(Page).order_by(Page.id)).all()
        assert len(pages) == 3  # every image kept
        assert pages[1].duplicate_of_page_id == pages[0].id
        items = s.scalars(select(ReviewItem)).all()
        assert [(i.page_id, i.kind) for i in items] == [(pages[2].id, "conflict")]
        # the conflicting page's answers wait for a person; the first page's still count
        assert (
            s.scalar(select(Answer.final_value).where(Answer.page_id == pages[2].id, Answer.field == "q_result"))
            is None
        )


def test_pages_of_one_sheet_stored_in_one_group_are_compared(omr_home, printed, scan_tools, tmp_path):
    """Pages are stored in groups, one transaction each: a sheet page met twice inside one group is
    compared with its first copy exactly as across groups."""
    from db.session import engine
    from omr.detect.read import read_page_bytes
    from omr.detect.sources import RawPage, iter_pages

    _, imgs = printed(FORM, "09552", 2)
    scan_tools.cross(imgs[0], FORM, "q_result", "5")
    altered = imgs[0].copy()
    scan_tools.cross(altered, FORM, "q_counter", "2")
    stack = scan_tools.jpeg_pdf([imgs[0], imgs[1], imgs[0], altered, imgs[0]], tmp_path / "s.pdf")
    raws = list(iter_pages([stack]))
    raws[4] = RawPage("s.pdf", 5, raws[2].data, raws[2].ext)  # the very same image again: not stored twice
    photocopy = scan_tools.jpeg_pdf([imgs[0]], tmp_path / "copy.pdf", quality=60)
    raws[2] = next(iter_pages([photocopy]))  # other bytes, same marks
    items = []
    for raw in raws:
        read = read_page_bytes(raw.data, signing_key.secret_key())
        sha = hashlib.sha256(raw.data).hexdigest()
        rel, crops = storing.write_files(sha, raw.ext, raw.data, read)
        items.append((RawPage(raw.source, raw.page, raw.data, raw.ext), sha, read, rel, crops))
    with engine().begin() as conn:
        lines = storing.insert_pages(conn, items, None)
    assert [x["status"] for x in lines] == ["accepted", "accepted", "duplicate", "conflict", "duplicate"]
    assert lines[4]["serial"] == lines[0]["serial"] and lines[4]["page"] == 5
    with session() as s:
        pages = s.scalars(select(Page).order_by(Page.id)).all()
        assert [p.status for p in pages] == ["accepted", "accepted", "duplicate", "conflict"]  # one image, one row
        assert pages[2].duplicate_of_page_id == pages[0].id
        items = s.scalars(select(ReviewItem)).all()
        assert [(i.page_id, i.kind) for i in items] == [(pages[3].id, "conflict")]


_FAULTS = """
import sys, resource, numpy as np
from omr.services.readers import keep_freed_memory
if sys.argv[1] == "keep":
    keep_freed_memory()
np.ones(20_000_000, np.uint8).sum()  # a page's worth of large arrays, made and freed
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    np.ones(20_000_000, np.uint8).sum()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def test_reader_processes_reuse_freed_memory_instead_of_faulting_it_in_again():
    def faults(mode: str) -> int:
        out = subprocess.run([sys.executable, "-c", _FAULTS, mode], capture_output=True, text=True, check=True)
        return int(out.stdout)

    assert faults("default") >= 50  # 100 MB mapped anew, even in 2 MB pages
    assert faults("keep") <= 5


def _foreign_sheet(tmp_path: Path, scan_tools, serial: str, unit: str, key: bytes, name: str) -> Path:
    from omr.sheet.layout import layout_for

    pdf = tmp_path / f"{name}-printed.pdf"
    render(pdf, layout_for(FORM), unit, [serial], key, UnitHeading("Phường Kiến Hưng", "Thành phố Hà Nội"))
    return scan_tools.jpeg_pdf(scan_tools.render(pdf), tmp_path / f"{name}.pdf")


def test_codes_this_installation_did_not_issue_are_invalid(omr_home, printed, scan_tools, tmp_path):
    manifest, _ = printed(FORM, "09552", 1)
    key = signing_key.secret_key()
    never_issued = _foreign_sheet(tmp_path, scan_tools, "999999", "09552", key, "unissued")
    wrong_unit = _foreign_sheet(tmp_path, scan_tools, manifest[0]["serial"], "00004", key, "mismatch")
    forged = _foreign_sheet(tmp_path, scan_tools, manifest[0]["serial"], "09552", b"k" * 32, "forged")
    lines = list(ingest.scan([never_issued, wrong_unit, forged]))
    assert [x["status"] for x in lines] == ["invalid", "invalid", "invalid"]
    assert lines[0]["serial"] == "999999"
    with session() as s:
        notes = s.scalars(select(Page.note).order_by(Page.id)).all()
        assert "chưa từng được in" in notes[0] and "không khớp" in notes[1] and "chữ ký" in notes[2]
        assert s.scalar(select(func.count()).select_from(ReviewItem)) == 0
        assert s.scalar(select(func.count()).select_from(Answer).where(Answer.final_state.is_not(None))) == 0


def test_unreadable_pages_are_reported_and_the_rest_goes_on(omr_home, stack, tmp_path, scan_tools):
    path, _ = stack
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "a-empty.pdf").write_bytes(b"")
    (folder / "b-broken.pdf").write_bytes(path.read_bytes()[:5000])
    rng = np.random.default_rng(7)
    noise = (rng.random((900, 700)) * 255).astype(np.uint8)  # a photo of something that is not a sheet
    (folder / "c-photo.png").write_bytes(scan_tools.png(noise))
    (folder / "d-stack.pdf").write_bytes(path.read_bytes())
    lines = list(ingest.scan([folder]))
    assert [(x["source"], x["status"]) for x in lines[:3]] == [
        ("a-empty.pdf", "error"),
        ("b-broken.pdf", "error"),
        ("c-photo.png", "unidentified"),
    ]
    assert all("error" in x and x["error"] and "\n" not in x["error"] for x in lines[:2])
    assert [x["status"] for x in lines[3:]] == ["accepted", "needs_review", "accepted", "accepted", "blank"]
    with session() as s:
        photo = s.scalars(select(Page).where(Page.source == "c-photo.png")).one()
        assert s.scalars(select(ReviewItem.kind).where(ReviewItem.page_id == photo.id)).all() == ["unidentified"]
        assert "b-broken.pdf" in (s.scalars(select(ScanBatch.note)).one() or "")
    assert _count(Page) == 6  # errors store nothing: scanning again retries them


def test_zip_and_png_inputs(omr_home, printed, scan_tools, tmp_path):
    _, imgs = printed(FORM, "09552", 3)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("p1.png", scan_tools.png(imgs[0]))
        zf.writestr("p2.png", scan_tools.png(imgs[1]))
    (tmp_path / "stack.zip").write_bytes(buf.getvalue())
    (tmp_path / "single.png").write_bytes(scan_tools.png(imgs[2]))
    lines = list(ingest.scan([tmp_path / "stack.zip", tmp_path / "single.png"]))
    assert [(x["source"], x["status"]) for x in lines] == [
        ("p1.png", "accepted"),
        ("p2.png", "accepted"),
        ("single.png", "accepted"),
    ]


def test_unit_variant_is_read_back(omr_home, printed, scan_tools, tmp_path):
    with transaction() as s:
        add_unit(s, "TH-KH", "Trường Tiểu học Kiến Hưng", parent="09552", counters=3)
    _, imgs = printed(FORM, "TH-KH", 1)
    scan_tools.cross(imgs[0], FORM, "q_counter", "3", variant_code="c3p0")
    (line,) = ingest.scan([scan_tools.jpeg_pdf(imgs, tmp_path / "th.pdf")])
    assert line["status"] == "accepted" and line["unit"] == "TH-KH"
    assert line["answers"]["q_counter"]["value"] == "3"


def test_window_bounds_pages_in_flight(omr_home, printed, scan_tools, tmp_path, monkeypatch):
    """A long stack is streamed: never more than the window of pages taken ahead of the output."""
    _, imgs = printed(FORM, "09552", 2)
    path = scan_tools.jpeg_pdf(imgs * 10, tmp_path / "long.pdf")  # 20 pages (duplicates after the first two)
    pulled = 0
    real = ingest.iter_pages

    def counting(paths, **kwargs):
        nonlocal pulled
        for raw in real(paths, **kwargs):
            pulled += 1
            yield raw

    monkeypatch.setattr(ingest, "iter_pages", counting)
    window = readers.WINDOW_PER_CORE * readers.worker_count(2)
    out = 0
    for line in ingest.scan([path], workers=2):
        out += 1
        assert line["page"] == out  # input order
        assert pulled - out <= window
    assert out == 20
    assert _count(Page) == 2


def test_same_page_twice_in_flight_is_stored_once(omr_home, printed, scan_tools, tmp_path):
    _, imgs = printed(FORM, "09552", 1)
    path = scan_tools.jpeg_pdf([imgs[0], imgs[0]], tmp_path / "twice.pdf")
    lines = list(ingest.scan([path], workers=2))
    assert [x["status"] for x in lines] == ["accepted", "duplicate"]
    assert _count(Page) == 1


def _blank_png(path: Path, shade: int) -> None:
    from PIL import Image

    Image.new("L", (800, 1100), shade).save(path)


def _wait_until(condition, what: str, timeout: float = 60) -> None:
    """Poll ``condition`` until it holds; fail, saying ``what`` was waited for, once ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        time.sleep(0.05)


def test_watch_reads_each_finished_file_once(omr_home, stack, tmp_path):
    path, _ = stack
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    data = path.read_bytes()
    (inbox / "incoming.pdf").write_bytes(data[: len(data) // 2])  # the scanner is still writing
    stop = threading.Event()
    lines: list[dict] = []
    told: list[str] = []

    def run():
        for line in watched_folder.watch(
            inbox, scan=ingest.scan, interval=0.05, stable=0.2, stop=stop, workers=1, notify=told.append
        ):
            lines.append(line)

    t = threading.Thread(target=run)
    t.start()
    try:
        # the half file stayed unchanged longer than ``stable``: the watcher looked at it and waits for its end
        _wait_until(lambda: any("incoming.pdf" in x for x in told), "the watcher waiting for the half file")
        assert lines == []
        (inbox / "incoming.pdf").write_bytes(data)
        (inbox / ".hidden.pdf").write_bytes(data)
        _wait_until(lambda: len(lines) >= 5, "the five pages of the finished file")
        # a later file is read after it: by then the first one, unchanged, has been polled many times
        _blank_png(inbox / "later.png", 255)
        _wait_until(lambda: len(lines) >= 6, "the later file's page")
    finally:
        stop.set()
        t.join(timeout=60)
    assert not t.is_alive()
    # the half-written file was not read (that would have been an error line, then the pages again)
    assert [(x["source"], x["status"]) for x in lines] == [
        *(("incoming.pdf", s) for s in ["accepted", "needs_review", "accepted", "accepted", "blank"]),
        ("later.png", "blank"),
    ]
    assert _count(Page) == 6
    # a restarted watcher remembers the files it read: only a new one is read
    stop2 = threading.Event()
    again: list[dict] = []
    t2 = threading.Thread(
        target=lambda: again.extend(
            watched_folder.watch(inbox, scan=ingest.scan, interval=0.05, stable=0.2, stop=stop2, workers=1)
        )
    )
    t2.start()
    try:
        _blank_png(inbox / "newer.png", 250)
        _wait_until(lambda: len(again) >= 1, "the newer file's page")
    finally:
        stop2.set()
        t2.join(timeout=60)
    assert [(x["source"], x["status"]) for x in again] == [("newer.png", "blank")]


def _scan_concurrently(path: Path, n: int = 2) -> list[list[dict]]:
    import json

    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "omr.cli", "scan", "--json", str(path)],
            env=env,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(n)
    ]
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err.decode()
        outs.append([json.loads(ln) for ln in out.decode().splitlines()])
    return outs


def _check_concurrent(path: Path, pages: int, stored_before: int = 0) -> None:
    outs = _scan_concurrently(path)
    for page in range(pages):
        statuses = sorted(out[page]["status"] for out in outs)
        if "blank" in statuses:  # an empty page is blank to every scanner, stored once all the same
            assert statuses == ["blank"] * len(outs), statuses
            continue
        # exactly one scanner stored the page; the other found it stored
        assert statuses.count("duplicate") == len(outs) - 1, statuses
    assert _count(Page) == stored_before + pages


def test_two_scanners_of_one_stack_store_each_page_once(omr_home, stack):
    path, _ = stack
    _check_concurrent(path, 5)


@pytest.mark.postgres
def test_scan_on_postgresql(omr_home, pg_url, printed, scan_tools, tmp_path):
    _, imgs = printed(FORM, "09552", 3)
    scan_tools.cross(imgs[0], FORM, "q_result", "5")
    scan_tools.cross(imgs[1], FORM, "q_result", "5")
    scan_tools.cross(imgs[1], FORM, "q_result", "1")
    path = scan_tools.jpeg_pdf(imgs, tmp_path / "pg.pdf")
    lines = list(ingest.scan([path]))
    assert [x["status"] for x in lines] == ["accepted", "needs_review", "accepted"]
    assert [x["status"] for x in ingest.scan([path])] == ["duplicate"] * 3
    assert _count(Page) == 3 and _count(ReviewItem) == 1
    _, more = printed(FORM, "09552", 3, name="more.pdf")
    _check_concurrent(scan_tools.jpeg_pdf(more, tmp_path / "pg2.pdf"), 3, stored_before=3)


def _reader_that_crashes_on_png(data: bytes, key: bytes):
    """The real reader, except that a PNG kills its worker process outright, as a decoder crash would."""
    from omr.detect.read import read_page_bytes

    if data[:4] == b"\x89PNG":
        os._exit(3)
    return read_page_bytes(data, key)


def test_a_page_that_kills_its_reader_is_one_error(omr_home, printed, scan_tools, tmp_path):
    from PIL import Image

    _, imgs = printed(FORM, "09552", 4)
    folder = tmp_path / "mixed"
    folder.mkdir()
    for i, im in enumerate(imgs):
        if i == 1:
            (folder / f"{i}.png").write_bytes(scan_tools.png(im))
        else:
            Image.fromarray(im).save(folder / f"{i}.jpg", quality=85)
    lines = list(ingest.scan([folder], workers=2, reader=_reader_that_crashes_on_png))
    assert [(x["source"], x["status"]) for x in lines] == [
        ("0.jpg", "accepted"),
        ("1.png", "error"),
        ("2.jpg", "accepted"),
        ("3.jpg", "accepted"),
    ]
    assert _count(Page) == 3


def test_the_same_empty_page_twice_is_blank_both_times(omr_home, tmp_path):
    # two backs of sheets can be the very same white pixels (a fax, a clean scanner): neither is a sheet,
    # so neither is a "duplicate" of one; both are blank, in one scan and in the next
    for name in ("a.png", "b.png"):
        _blank_png(tmp_path / name, 255)
    first = list(ingest.scan([tmp_path / "a.png", tmp_path / "b.png"]))
    again = list(ingest.scan([tmp_path / "a.png"]))
    assert [line["status"] for line in first + again] == ["blank", "blank", "blank"]
