"""Hundreds of broken, malicious and odd inputs (tests/support/hostile.py) through the real
``omr scan --json``: each kind alone, and all of them in mixed batches with good pages.

What must hold every time (CONTRACT.md, issue 10): the exit status says whether a page could not be
read; stderr holds only the product's own lines, one per problem (no traceback, no library's
chatter, no English exception names); every page in is a line out, with its page number; the good
pages are stored and reported; the database gains exactly the pages read and the error rows of the
pages that were not, and nothing else in it changes.
"""

from __future__ import annotations

import io
import json
import os
import random
import re
import shutil
import sqlite3
import subprocess
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from support import hostile

FORM = "kien-hung-2020"
CONTRACT_KEYS = {"source", "page", "status", "form", "unit", "serial", "sheet_page", "answers", "texts"}
STATUSES = {"accepted", "needs_review", "unidentified", "duplicate", "conflict", "invalid", "blank", "error"}
ERROR_LINE = re.compile(r"^Lỗi: (.+) trang (\d+): (.+)$")
PERIOD_LINE = re.compile(r"^Đợt quét #\d+: phiếu tính vào kỳ khảo sát ")
NOTICE_LINE = re.compile(r"^Bỏ qua .+: .+$")
# what a library or Python says when it speaks for itself
FOREIGN_TEXT = re.compile(
    r"Traceback|Error\b|Exception|Warning|WARN|libpng|libtiff|Decode:|PDFium|errno|\(\w+Error|"
    r"\.py\b|No such file|Permission denied|[Ii]nvalid|[Cc]orrupt|[Uu]nexpected|[Tt]runcated"
)
TAG = re.compile(r"h\d{3}-")
BATCHES = 6
TIMEOUT = 240


@dataclass
class Run:
    rc: int
    lines: list[dict]
    stderr: list[str]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    """A data directory with printed sheets, their good scans, and every hostile input."""
    from db import session as dbs

    root = tmp_path_factory.mktemp("hostile")
    home = root / "omr-home"
    saved = {k: os.environ.get(k) for k in ("OMR_HOME", "OMR_DATABASE_URL")}
    os.environ["OMR_HOME"] = str(home)
    os.environ.pop("OMR_DATABASE_URL", None)
    dbs.dispose()
    good, good_files = _good_pages(root)
    cases = hostile.build(root / "cases", good)
    dbs.dispose()
    yield home, cases, good_files
    hostile.cleanup(cases)
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def _good_pages(root: Path) -> tuple[hostile.Good, list[tuple[Path, int]]]:
    # tests/conftest.py's helpers, by path: two conftest modules (tests/ and tests/browser/) share the
    # name, and whichever pytest loaded last would answer ``import conftest``
    import importlib.util

    spec = importlib.util.spec_from_file_location("tests_conftest_helpers", Path(__file__).with_name("conftest.py"))
    assert spec and spec.loader
    helpers = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(helpers)
    jpeg_pdf, mark_cross, png_bytes, render_pdf_pages = (
        helpers.jpeg_pdf,
        helpers.mark_cross,
        helpers.png_bytes,
        helpers.render_pdf_pages,
    )

    from db.session import session
    from omr.services.print_runs import print_sheets

    with session() as s:
        print_sheets(s, FORM, "09552", 8, root / "printed.pdf", "tester")
    imgs = render_pdf_pages(root / "printed.pdf")
    for img, value in zip(imgs, "54321543", strict=True):
        mark_cross(img, FORM, "q_result", value)
    material = root / "material"
    material.mkdir()
    pdf = jpeg_pdf(imgs[:3], material / "three.pdf").read_bytes()
    buf = io.BytesIO()
    Image.fromarray(imgs[3]).save(buf, "JPEG", quality=90)
    bw = [Image.fromarray(np.where(im < 128, 0, 255).astype(np.uint8)).convert("1") for im in imgs[4:6]]
    tiff = io.BytesIO()
    bw[0].save(tiff, "TIFF", save_all=True, append_images=bw[1:], compression="group4")
    good = hostile.Good(pdf, 3, png_bytes(imgs[3]), buf.getvalue(), tiff.getvalue())
    folder = root / "good"
    folder.mkdir()
    files = [
        (jpeg_pdf(imgs[6:8], folder / "good-stack.pdf"), 2),
        (folder / "good-sheet.png", 1),
    ]
    files[1][0].write_bytes(png_bytes(imgs[0]))
    return good, files


def _omr_scan(home: Path, paths: list[Path], workers: int = 2) -> Run:
    env = {**os.environ, "OMR_HOME": str(home), "OMR_SCAN_WORKERS": str(workers), "PYTHONWARNINGS": ""}
    env.pop("OMR_DATABASE_URL", None)
    env.pop("OMR_BROKER_URL", None)
    installed = Path(sys.executable).with_name("omr")  # the command pip installed, run as a user runs it
    omr = [str(installed)] if installed.exists() else [sys.executable, "-m", "omr.cli"]
    args = [*omr, "scan", "--json", *map(str, paths)]
    out = subprocess.run(args, capture_output=True, env=env, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    stdout = out.stdout.decode("utf-8")
    stderr = out.stderr.decode("utf-8")
    # the one line naming the survey month the batch counts in (issue 11) informs, it reports no problem
    said = [x for x in stderr.splitlines() if not PERIOD_LINE.match(x)]
    return Run(out.returncode, [json.loads(x) for x in stdout.splitlines()], said)


def _snapshot(home: Path) -> dict[str, list]:
    """Everything in the database a scan may not change, and what it may add to."""
    with sqlite3.connect(home / "omr.sqlite3") as db:
        q = db.execute
        return {
            "fixed": [q(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in ("units", "sheets", "print_batches")],
            "pages": q("SELECT id, sha256, status, source, source_page, image_path FROM pages ORDER BY id").fetchall(),
            "answers": q("SELECT * FROM answers ORDER BY id").fetchall(),
            "errors": q("SELECT source, source_page, reason FROM page_errors ORDER BY id").fetchall(),
            "batches": q("SELECT id, status, done_pages FROM scan_batches ORDER BY id").fetchall(),
        }


def _check(run: Run, cases: list[hostile.Case], good: list[tuple[Path, int]]) -> None:
    """Everything that must hold for one run of ``omr scan --json``."""
    by_tag = {c.tag: c for c in cases}
    errors = [x for x in run.lines if x["status"] == "error"]
    assert run.rc == (1 if errors else 0), run.stderr
    # stderr: the product's own lines only, one per error line and one per thing skipped
    said = Counter()
    for line in run.stderr:
        assert not FOREIGN_TEXT.search(line), line
        if m := ERROR_LINE.match(line):
            said[(m[1], int(m[2]), m[3])] += 1
        else:
            assert NOTICE_LINE.match(line), line
    assert said == Counter((x["source"], x["page"], x["error"]) for x in errors)
    for x in run.lines:
        assert x.keys() >= CONTRACT_KEYS and x["status"] in STATUSES, x
        if x["status"] == "error":
            reason = x["error"]
            assert reason and "\n" not in reason and reason[0].isupper() and not FOREIGN_TEXT.search(reason), x
    # every page in is a line out: per source, pages 1..n in order
    pages: dict[str, list[int]] = {}
    for x in run.lines:
        pages.setdefault(x["source"], []).append(x["page"])
    assert all(p == list(range(1, len(p) + 1)) for p in pages.values()), pages
    # each line belongs to a case of this run or to a good file; each case gives what it must
    per_case: dict[str, list[dict]] = {c.tag: [] for c in cases}
    per_good: dict[str, list[dict]] = {p.name: [] for p, _ in good}
    for x in run.lines:
        tag = TAG.search(x["source"])
        if tag is not None:
            per_case[tag[0][:-1]].append(x)
        else:
            per_good[x["source"]].append(x)
    for tag, got in per_case.items():
        case = by_tag[tag]
        what = f"{case.kind} ({case.path.name}): {got}"
        if case.lines is None:
            assert got, what
        else:
            assert len(got) == case.lines, what
        if case.expect == hostile.ERROR:
            assert all(x["status"] == "error" for x in got), what
            assert all(case.reason in x["error"] for x in got if case.reason), what
        elif case.expect == hostile.READ:
            assert all(x["status"] != "error" for x in got), what
        elif case.errors_at is not None:
            failed = {(x["source"], x["page"]) for x in got if x["status"] == "error"}
            matched = {(end, n) for src, n in failed for end, page in case.errors_at if src.endswith(end) and n == page}
            assert matched == case.errors_at, what
            assert len(failed) == len(case.errors_at), what
        if case.notice:
            assert any(case.tag in s and case.notice in s for s in run.stderr), (what, run.stderr)
    for path, n in good:
        got = per_good[path.name]
        assert [x["page"] for x in got] == list(range(1, n + 1))
        assert all(x["status"] in ("accepted", "duplicate") and x["serial"] for x in got), got


def _check_stored(before: dict, after: dict, run: Run) -> None:
    """The database gained the pages read and the errors of the rest; nothing else changed."""
    assert after["fixed"] == before["fixed"]
    assert after["pages"][: len(before["pages"])] == before["pages"]
    assert after["answers"][: len(before["answers"])] == before["answers"]
    new_pages = after["pages"][len(before["pages"]) :]
    read = {(x["source"], x["page"]) for x in run.lines if x["status"] != "error"}
    assert {(p[3], p[4]) for p in new_pages} <= read
    stored = {(x["source"], x["page"]) for x in run.lines if x["status"] not in ("error", "duplicate")}
    assert stored <= {(p[3], p[4]) for p in new_pages}
    new_errors = after["errors"][len(before["errors"]) :]
    errors = [(x["source"], x["page"], x["error"]) for x in run.lines if x["status"] == "error"]
    assert Counter(new_errors) == Counter(errors)
    assert after["batches"][: len(before["batches"])] == before["batches"]
    (batch,) = after["batches"][len(before["batches"]) :]
    assert batch[1:] == ("done", len(run.lines))


def test_there_are_hundreds_of_inputs_of_every_kind(world):
    _, cases, _ = world
    assert len(cases) >= 200
    assert len({c.kind for c in cases}) >= 50


def test_each_kind_alone(world, tmp_path):
    """The first case of every kind, scanned alone in a data directory of its own (a copy of the one
    with the printed sheets): the run's lines, stderr, exit status and database."""
    home, cases, _ = world
    from db import session as dbs

    dbs.dispose()
    firsts = list({c.kind: c for c in reversed(cases)}.values())[::-1]

    def alone(case: hostile.Case) -> tuple[hostile.Case, Run, dict, dict]:
        own = tmp_path / case.tag
        shutil.copytree(home, own, ignore=shutil.ignore_patterns("*-wal", "*-shm"))
        before = _snapshot(own)
        run = _omr_scan(own, [case.path], workers=1)
        return case, run, before, _snapshot(own)

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(alone, firsts))
    failures = []
    for case, run, before, after in results:
        try:
            _check(run, [case], [])
            _check_stored(before, after, run)
        except AssertionError as e:  # every kind that fails, not only the first
            failures.append(f"{case.kind} ({case.path.name!a}): {e!s}".encode("utf-8", "backslashreplace").decode())
    assert not failures, "\n\n".join(failures)


def test_all_of_them_in_mixed_batches_with_good_pages(world):
    home, cases, good = world
    from db import session as dbs

    dbs.dispose()
    order = cases[:]
    random.Random(10).shuffle(order)
    failures = []
    for i in range(BATCHES):
        batch = order[i::BATCHES]
        paths = [c.path for c in batch]
        at = len(paths) // 2
        paths[at:at] = [good[0][0]]  # good pages among the bad, and after them
        paths.append(good[1][0])
        before = _snapshot(home)
        run = _omr_scan(home, paths)
        try:
            _check(run, batch, good)
            _check_stored(before, _snapshot(home), run)
        except AssertionError as e:
            failures.append(f"batch {i + 1}: {e}")
    assert not failures, "\n\n".join(failures)
