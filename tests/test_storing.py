"""Storing read pages (omr.services.storing): which rescans are duplicates and which conflicts, the
``texts`` object of each line, and pages that could not be decoded kept as rows of their own."""

from __future__ import annotations

import dataclasses
import hashlib

import cv2
import pytest
from sqlalchemy import select

from db.models import Page, PageError, ReviewItem, ScanBatch
from db.session import engine, session
from omr.detect import result as R
from omr.detect.read import read_page_bytes
from omr.detect.sources import RawPage, iter_pages
from omr.services import ingest, signing_key, storing
from omr.services.storing import same_marks

FORM = "kien-hung-2020"
M, B, U, X = R.MARKED, R.BLANK, R.UNCERTAIN, R.MULTIPLE


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (("5", M), ("5", M), True),
        (("5", U), ("5", M), True),  # the same mark, read less surely once
        ((None, U), ("4", M), True),  # no guess: nothing contradicts
        (("5", U), (None, B), True),  # a faint mark seen once, nothing the other time
        (("1,4", U), ("1", M), True),  # multi-choice: the doubtful box ticked once, not the other time
        (("1", U), ("1,4", M), True),
        (("5", U), ("4", M), False),  # the guess is another box: a difference of marks
        (("1,2", U), ("3", M), False),
        (("5", M), ("4", M), False),  # two sure readings of different marks
        (("5", M), (None, B), False),  # a mark added (or erased) between the scans
        ((None, X), ("5", M), False),  # two marks seen once, one the other time
        (("1,4", M), ("1", M), False),
    ],
)
def test_two_readings_of_one_question_are_the_same_marks_or_not(a, b, same):
    assert same_marks({"q": a}, {"q": b}) is same
    assert same_marks({"q": b}, {"q": a}) is same  # whichever scan came first


def test_readings_of_one_page_compare_every_question():
    first = {"q1": ("5", M), "q2": ("1,3", M)}
    assert same_marks(first, {"q1": ("5", U), "q2": ("1,3", M)})
    assert not same_marks(first, {"q1": ("5", U), "q2": ("1", M)})
    assert not same_marks(first, {"q1": ("5", M)})  # not the same questions: not the same page


def _read(raw: RawPage) -> tuple:
    read = read_page_bytes(raw.data, signing_key.secret_key())
    sha = hashlib.sha256(raw.data).hexdigest()
    rel, crops = storing.write_files(sha, raw.ext, raw.data, read)
    return raw, sha, read, rel, crops


def _unsure(item: tuple, field: str, value: str | None) -> tuple:
    """The same reading with one answer the machine was unsure of (a faint or smudged scan of it)."""
    raw, sha, read, rel, crops = item
    answers = [
        dataclasses.replace(a, value=value, state=U, confidence=0.5, reason="faint") if a.field == field else a
        for a in read.answers
    ]
    other_sha = hashlib.sha256(f"{sha} {field} {value}".encode()).hexdigest()  # another image of the sheet
    return raw, other_sha, dataclasses.replace(read, answers=answers), rel, crops


@pytest.mark.parametrize("unsure_first", [False, True])
def test_a_rescan_that_differs_in_certainty_only_is_a_duplicate(omr_home, printed, scan_tools, tmp_path, unsure_first):
    _, imgs = printed(FORM, "09552", 1)
    scan_tools.cross(imgs[0], FORM, "q_result", "5")
    scan_tools.cross(imgs[0], FORM, "q_area", "2")
    changed = imgs[0].copy()
    scan_tools.cross(changed, FORM, "q_staff", "2")  # a mark added to the sheet between the scans
    sure = _read(next(iter_pages([scan_tools.jpeg_pdf([imgs[0]], tmp_path / "a.pdf")])))
    other_marks = _read(next(iter_pages([scan_tools.jpeg_pdf([changed], tmp_path / "c.pdf")])))
    assert {a.field: a.value for a in sure[2].answers}["q_result"] == "5"
    copies = [_unsure(sure, "q_result", "5"), _unsure(sure, "q_area", None)]
    items = [*copies, sure] if unsure_first else [sure, *copies]
    with engine().begin() as conn:
        lines = storing.insert_pages(conn, [*items, _unsure(sure, "q_result", "4"), other_marks], None)
    first = "needs_review" if unsure_first else "accepted"
    assert [x["status"] for x in lines] == [first, "duplicate", "duplicate", "conflict", "conflict"]
    with session() as s:
        assert [p.status for p in s.scalars(select(Page).order_by(Page.id))] == [
            first,
            "duplicate",
            "duplicate",
            "conflict",
            "conflict",
        ]
        kinds = sorted(s.scalars(select(ReviewItem.kind)))
        assert kinds == (["answer"] if unsure_first else []) + ["conflict", "conflict"]


def _write(img, area, dpi: int = 200) -> None:
    """Handwriting-like text across a free-text area."""

    def px(v: float) -> int:
        return round(v * dpi / 25.4)

    x, y = px(area.x + 5), px(area.y + area.h / 2 + 2)
    cv2.putText(img, "Thu tuc nhanh, can bo nhiet tinh", (x, y), cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, 1.4, 0, 3)


def test_each_line_says_which_comment_areas_hold_writing_also_for_duplicates(omr_home, printed, scan_tools, tmp_path):
    from omr.sheet.layout import layout_for

    _, imgs = printed(FORM, "09552", 1)
    scan_tools.cross(imgs[0], FORM, "q_result", "5")
    area = next(fp.area for fp in layout_for(FORM).fields_on(1) if fp.field.id == "y_kien_khac")
    _write(imgs[0], area)
    stack = scan_tools.jpeg_pdf([imgs[0]], tmp_path / "a.pdf")
    expected = {"y_kien_chua_hai_long": "blank", "y_kien_khac": "written"}
    (line,) = ingest.scan([stack])
    assert line["status"] == "accepted" and line["texts"] == expected
    (again,) = ingest.scan([stack])  # the same image: answered from the stored rows
    assert again["status"] == "duplicate" and again["texts"] == expected


def test_pages_that_cannot_be_decoded_are_rows_of_their_batch(omr_home, printed, scan_tools, tmp_path):
    _, imgs = printed(FORM, "09552", 1)
    folder = tmp_path / "stack"
    folder.mkdir()
    good = scan_tools.jpeg_pdf(imgs, folder / "b-good.pdf")
    (folder / "a-empty.png").write_bytes(b"")
    (folder / "c-cut.pdf").write_bytes(good.read_bytes()[:300])
    lines = list(ingest.scan([folder]))
    assert [(x["source"], x["page"], x["status"]) for x in lines] == [
        ("a-empty.png", 1, "error"),
        ("b-good.pdf", 1, "accepted"),
        ("c-cut.pdf", 1, "error"),
    ]
    assert lines[0]["texts"] == {} and lines[0]["error"] == "Tệp rỗng (0 byte)"
    with session() as s:
        batch = s.scalars(select(ScanBatch)).one()
        errors = s.execute(select(PageError.scan_batch_id, PageError.source, PageError.source_page, PageError.reason))
        assert errors.all() == [
            (batch.id, "a-empty.png", 1, "Tệp rỗng (0 byte)"),
            (batch.id, "c-cut.pdf", 1, "PDF hỏng, không mở được"),
        ]
        assert batch.done_pages == 3 and batch.status == "done"
        assert "c-cut.pdf trang 1: PDF hỏng, không mở được" in batch.note
        assert s.scalars(select(Page.source)).all() == ["b-good.pdf"]


@pytest.mark.postgres
def test_error_pages_are_rows_on_postgresql(omr_home, pg_url, tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    (line,) = ingest.scan([tmp_path / "empty.png"])
    assert line["status"] == "error"
    with session() as s:
        assert s.execute(select(PageError.source, PageError.source_page, PageError.reason)).all() == [
            ("empty.png", 1, "Tệp rỗng (0 byte)")
        ]


def test_a_write_killed_midway_leaves_nothing_the_next_writer_keeps(tmp_path):
    """A writer killed while it holds its temporary, half written, loses its lock with its life: the
    next write of that file takes the temporary over and leaves only the whole file. Another host's
    temporary (OMR_HOME shared over NFS) is not touched."""
    import signal
    import subprocess
    import sys

    from omr.services import atomic_file

    target = tmp_path / "pages" / "ab" / "abcd.jpg"
    target.parent.mkdir(parents=True)
    tmp = atomic_file.temporary(target)
    elsewhere = target.with_name(tmp.name.replace(".tmp", "x.tmp"))
    elsewhere.write_bytes(b"another host's half")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time\n"
            f"fd = os.open({str(tmp)!r}, os.O_RDWR | os.O_CREAT)\n"
            "fcntl.flock(fd, fcntl.LOCK_EX)\n"
            "os.write(fd, b'half a pa')\n"
            "print('locked', flush=True)\n"
            "time.sleep(600)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert tmp.read_bytes() == b"half a pa"

    atomic_file.write(target, b"a whole page")
    assert target.read_bytes() == b"a whole page"
    assert sorted(p.name for p in target.parent.iterdir()) == sorted([target.name, elsewhere.name])

    tmp.write_bytes(b"half a pa")  # killed again, while writing a file that was already whole
    atomic_file.write(target, b"a whole page")
    assert sorted(p.name for p in target.parent.iterdir()) == sorted([target.name, elsewhere.name])


def test_writers_of_one_file_take_turns(tmp_path):
    """Two processes writing the same file at once: each write is whole, and no temporary is left."""
    import subprocess
    import sys

    target = tmp_path / "same.bin"
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from omr.services import atomic_file\n"
        "for i in range(300):\n"
        "    atomic_file.write(Path(sys.argv[1]), sys.argv[2].encode() * (1000 + i % 7))\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, str(target), c]) for c in "AB"]
    assert [p.wait() for p in procs] == [0, 0]
    data = target.read_bytes()
    assert len(set(data)) == 1 and 1000 <= len(data) < 1007
    assert [p.name for p in tmp_path.iterdir()] == ["same.bin"]


def test_a_failed_write_leaves_the_old_file(tmp_path):
    from omr.services import atomic_file

    target = tmp_path / "kept.bin"
    target.write_bytes(b"old")
    with pytest.raises(OSError), atomic_file.replacing(target) as f:
        f.write(b"ne")
        raise OSError("disk full")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["kept.bin"]
