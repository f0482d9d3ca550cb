"""Faults an unlucky clerk meets: a lost key or database, a killed scan, a reader of the output that goes
away, a scanner that pauses half-way through a file, bookkeeping left behind — and random kills.

Everything runs for real: ``omr`` in subprocesses, real pipes, real reader processes, SQLite files.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select
from test_queue import cluster, servers  # noqa: F401  (fixtures: the queue's servers, an installation over processes)

from db import session as dbs
from db.models import Page, ScanBatch
from db.session import session
from omr import config
from omr.services import ingest, signing_key, watched_folder

REPO = Path(__file__).resolve().parents[1]
FORM, UNIT = "kien-hung-2020", "09552"


def _env(home: Path | None, **extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), **extra}
    if home is None:
        env.pop("OMR_HOME", None)
    else:
        env["OMR_HOME"] = str(home)
    return env


def _omr(home: Path | None, *args: str, cwd: Path = REPO, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "omr.cli", *args],
        env=_env(home),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _one_line_error(r: subprocess.CompletedProcess, *words: str) -> str:
    assert r.returncode != 0, r.stdout
    assert "Traceback" not in r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


def _pages() -> int:
    with session() as s:
        return s.scalar(select(func.count()).select_from(Page)) or 0


def _wait_for(condition, timeout: float, what: str, interval: float = 0.05):
    """Poll ``condition`` until it returns something true; fail with ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g} s: {what}")
        time.sleep(interval)


@pytest.fixture
def stack_of(printed, scan_tools, tmp_path):
    """A JPEG-in-PDF scan of ``n`` freshly printed, marked sheets."""

    def make(n: int, name: str = "stack.pdf") -> Path:
        _, imgs = printed(FORM, UNIT, n, name=f"printed-{name}")
        for i, im in enumerate(imgs):
            scan_tools.cross(im, FORM, "q_result", str(1 + i % 5))
        return scan_tools.jpeg_pdf(imgs, tmp_path / name)

    return make


# --------------------------------------------------------------------------- the key and the database


def test_a_lost_key_is_not_replaced_once_sheets_are_printed(omr_home, printed):
    printed(FORM, UNIT, 2)
    key = config.key_path()
    key.unlink()
    r = _omr(omr_home, "print", "--form", FORM, "--unit", UNIT, "--count", "1", "--out", str(omr_home / "x.pdf"))
    line = _one_line_error(r, str(key), "home/secret.key", "docs/DEPLOYMENT.md", "2 phiếu đã in")
    assert line.startswith("omr print: Thiếu khóa ký")
    assert not key.exists()  # nothing was written in its place
    with pytest.raises(config.ConfigError, match="thiếu khóa ký"):
        signing_key.secret_key()


def test_a_new_installation_gets_its_key(omr_home):
    assert not config.key_path().exists()
    key = signing_key.secret_key()
    assert len(key) == config.KEY_BYTES and config.key_path().read_bytes() == key


@pytest.mark.postgres
def test_a_lost_key_is_not_replaced_when_the_postgresql_database_has_pages(omr_home, pg_url, stack_of):
    path = stack_of(1)
    assert [x["status"] for x in ingest.scan([path], workers=1)] == ["accepted"]
    config.key_path().unlink()
    for p in (omr_home / "pages").rglob("*"):
        if p.is_file():
            p.unlink()  # the images are elsewhere (another machine): the database alone tells
    with pytest.raises(config.ConfigError, match="1 trang đã quét"):
        signing_key.secret_key()
    assert not config.key_path().exists()


def test_an_empty_or_missing_database_beside_stored_pages_is_refused(omr_home, stack_of, tmp_path):
    from omr.services.backup import backup

    path = stack_of(2)
    assert len(list(ingest.scan([path], workers=1))) == 2
    archive = backup(tmp_path / "backup.tar")
    assert archive["files"] > 0
    dbs.dispose()
    db = omr_home / config.DB_FILE
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    db.write_bytes(b"")
    config._checked_databases.clear()  # this process looked at the file before it was emptied
    r = _omr(omr_home, "units", "list")
    _one_line_error(r, str(db), "rỗng", "omr restore")
    assert db.stat().st_size == 0  # not started afresh
    db.unlink()
    r = _omr(omr_home, "scan", "--json", str(path))
    _one_line_error(r, str(db), "bị thiếu", "omr restore")
    assert not db.exists()
    # what the message says to do works
    r = _omr(omr_home, "restore", str(tmp_path / "backup.tar"))
    assert r.returncode == 0, r.stderr
    r = _omr(omr_home, "scan", "--json", str(path))
    assert r.returncode == 0, r.stderr
    assert [json.loads(x)["status"] for x in r.stdout.splitlines()] == ["duplicate", "duplicate"]


def test_a_new_default_data_directory_is_announced(tmp_path):
    elsewhere = tmp_path / "some-folder"
    elsewhere.mkdir()
    r = _omr(None, "units", "list", "--province", "01", cwd=elsewhere)
    assert r.returncode == 0, r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and str(elsewhere / "omr-data") in lines[0] and "mới" in lines[0], r.stderr
    assert (elsewhere / "omr-data").is_dir()
    again = _omr(None, "units", "list", "--province", "01", cwd=elsewhere)
    assert again.returncode == 0 and again.stderr == ""


# --------------------------------------------------------------------------- killed scans, closed pipes


def _children(pid: int) -> set[int]:
    """Live (not zombie) processes whose parent is ``pid``."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[1]) == pid and fields[0] != "Z":
                found.add(int(entry.name))
    return found


def _alive(pids: set[int]) -> set[int]:
    out = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            out.add(pid)
    return out


def test_killing_the_scan_ends_its_readers_and_the_pipeline_reading_it(omr_home, stack_of):
    path = stack_of(8)
    scan = subprocess.Popen(
        [sys.executable, "-m", "omr.cli", "scan", "--json", "--workers", "2", str(path)],
        env=_env(omr_home),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    cat = subprocess.Popen(["cat"], stdin=scan.stdout, stdout=subprocess.PIPE)
    assert scan.stdout is not None and cat.stdout is not None
    scan.stdout.close()  # only cat and the scan's own processes hold the pipe now
    readers: set[int] = set()
    try:
        assert cat.stdout.readline()  # a page is stored: the scan is mid-stack
        readers = _wait_for(lambda: c if len(c := _children(scan.pid)) == 2 else None, 60, "its 2 reader processes")
        scan.send_signal(signal.SIGKILL)  # the main process only, as the OOM killer or `kill -9 PID` does
        scan.wait()
        _wait_for(lambda: not _alive(readers), 5, f"reader processes {readers} end with the scan")
        cat.stdout.read()  # end of file: no process holds the pipe any more
        assert cat.wait(timeout=5) == 0
    finally:
        _kill_left(scan, cat, readers)


def _kill_left(*procs: subprocess.Popen | set[int]) -> None:
    """Whatever a failed test would leave running."""
    for p in procs:
        for pid in _alive(p) if isinstance(p, set) else ([p.pid] if p.poll() is None else []):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if isinstance(p, subprocess.Popen):
            p.wait()


F_SETPIPE_SZ = 1031  # <linux/fcntl.h>


def test_a_reader_of_the_output_that_goes_away_is_an_error_and_every_page_is_stored(omr_home, stack_of):
    n = 12
    path = stack_of(n)
    r, w = os.pipe()
    fcntl.fcntl(w, F_SETPIPE_SZ, 4096)  # the smallest pipe: the lines cannot all fit in it
    head = subprocess.Popen(["head", "-1"], stdin=r, stdout=subprocess.PIPE)
    scan = subprocess.Popen(
        [sys.executable, "-m", "omr.cli", "scan", "--json", str(path)],
        env=_env(omr_home),
        cwd=REPO,
        stdout=w,
        stderr=subprocess.PIPE,
        text=True,
    )
    os.close(r)
    os.close(w)
    first, _ = head.communicate(timeout=120)
    assert json.loads(first)["page"] == 1
    _, err = scan.communicate(timeout=300)
    assert scan.returncode != 0
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "đầu ra bị đóng" in lines[0] and f"đọc hết {n} trang" in lines[0], err
    assert _pages() == n


# --------------------------------------------------------------------------- the watched folder


def _tiff(imgs) -> bytes:
    frames = [Image.fromarray(im).convert("1") for im in imgs]
    buf = io.BytesIO()
    frames[0].save(buf, "TIFF", save_all=True, append_images=frames[1:], compression="group4")
    return buf.getvalue()


def _single(img, fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, fmt, **({"quality": 85} if fmt == "JPEG" else {}))
    return buf.getvalue()


def _zip(imgs) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for i, im in enumerate(imgs):
            zf.writestr(f"trang-{i + 1}.jpg", _single(im, "JPEG"))
    return buf.getvalue()


@pytest.fixture
def sheet_images(printed, scan_tools):
    _, imgs = printed(FORM, UNIT, 2)
    for im in imgs:
        scan_tools.cross(im, FORM, "q_result", "5")
    return imgs


def _file_of(kind: str, imgs, scan_tools, tmp_path) -> tuple[str, bytes, int]:
    if kind == "pdf":
        return "stack.pdf", scan_tools.jpeg_pdf(imgs, tmp_path / "made.pdf").read_bytes(), 2
    if kind == "tif":
        return "stack.tif", _tiff(imgs), 2
    if kind == "zip":
        return "stack.zip", _zip(imgs), 2
    if kind == "jpg":
        return "page.jpg", _single(imgs[0], "JPEG"), 1
    return "page.png", _single(imgs[0], "PNG"), 1


@pytest.mark.parametrize("kind", ["pdf", "tif", "jpg", "png", "zip"])
def test_watch_waits_for_a_writer_that_pauses_half_way(omr_home, sheet_images, scan_tools, tmp_path, kind):
    from omr.services.completeness import complete

    name, data, pages = _file_of(kind, sheet_images, scan_tools, tmp_path)
    stable, pause = 0.3, 1.5  # the writer pauses five times longer than a file must stay unchanged
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    target = inbox / name
    finished: list[float] = []

    def write() -> None:
        with target.open("wb") as f:
            f.write(data[: len(data) // 2])
            f.flush()
            os.fsync(f.fileno())
            time.sleep(pause)  # a scanner waiting for paper
            f.write(data[len(data) // 2 :])
        finished.append(time.time())

    stop = threading.Event()
    lines: list[dict] = []
    told: list[str] = []
    watcher = threading.Thread(
        target=lambda: lines.extend(
            watched_folder.watch(
                inbox, scan=ingest.scan, interval=0.05, stable=stable, stop=stop, workers=1, notify=told.append
            )
        )
    )
    writer = threading.Thread(target=write)
    writer.start()
    watcher.start()
    try:
        _wait_for(lambda: len(lines) >= pages, 120, f"{pages} pages of {name} read")
    finally:
        stop.set()
        watcher.join(timeout=60)
        writer.join()
    # every page read whole: identified as the sheet it is (how sure the reader is of each mark on a
    # dithered black-and-white copy is the accuracy tests' business, not this one's)
    assert [x["status"] in ("accepted", "needs_review") and bool(x["serial"]) for x in lines] == [True] * pages, lines
    with session() as s:
        (batch,) = s.scalars(select(ScanBatch)).all()
    assert batch.created_at.timestamp() >= finished[0] - 0.01  # taken only once it was whole
    assert any(name in t for t in told)  # and it said what it was waiting for
    assert complete(target)


@pytest.mark.parametrize("kind", ["pdf", "tif", "jpg", "png", "zip"])
def test_a_file_is_complete_only_to_its_end(sheet_images, scan_tools, tmp_path, kind):
    from omr.services.completeness import complete

    name, data, _ = _file_of(kind, sheet_images, scan_tools, tmp_path)
    path = tmp_path / name
    cuts = [1, 100, len(data) // 3, len(data) // 2, len(data) - 200]
    if kind != "tif":  # a TIFF ends with its last directory, which may be followed by padding
        cuts.append(len(data) - 2)
    for cut in cuts:
        path.write_bytes(data[:cut])
        assert not complete(path), (name, cut, len(data))
    path.write_bytes(data)
    assert complete(path)
    shutil.copy(path, tmp_path / f"again-{name}")
    assert complete(tmp_path / f"again-{name}")


# --------------------------------------------------------------------------- what a killed scan leaves behind


def _scan_then_kill(home: Path, path: Path, after_lines: int) -> subprocess.Popen:
    """``omr scan`` of ``path`` in a subprocess, having given ``after_lines`` lines; it cannot finish until
    more are read (its output pipe holds only a few lines), so that it can then be killed mid-stack."""
    scan = subprocess.Popen(
        [sys.executable, "-m", "omr.cli", "scan", "--json", "--workers", "2", str(path)],
        env=_env(home),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        bufsize=0,  # read line by line, not a buffer's worth ahead
    )
    assert scan.stdout is not None
    fcntl.fcntl(scan.stdout.fileno(), F_SETPIPE_SZ, 4096)
    for _ in range(after_lines):
        assert scan.stdout.readline()
    return scan


def _kill(scan: subprocess.Popen) -> None:
    scan.send_signal(signal.SIGKILL)
    scan.wait()
    assert scan.stdout is not None
    scan.stdout.close()


def _findings(r: subprocess.CompletedProcess) -> dict[str, dict]:
    assert "Traceback" not in r.stderr, r.stderr
    return {f["check"]: f for f in map(json.loads, r.stdout.splitlines())}


def _age(root: Path, seconds: float) -> None:
    then = time.time() - seconds
    for p in root.rglob("*"):
        if p.is_file():
            os.utime(p, (then, then))


def _batches() -> list[ScanBatch]:
    with session() as s:
        return list(s.scalars(select(ScanBatch).order_by(ScanBatch.id)))


def test_doctor_reports_and_repairs_what_a_killed_scan_left(omr_home, stack_of):
    path = stack_of(12)
    scan = _scan_then_kill(omr_home, path, 2)
    # while the scan lives, its batch is not taken for dead
    r = _omr(omr_home, "doctor", "--json")
    assert "batches" not in _findings(r), r.stdout
    _kill(scan)
    (batch,) = _batches()
    assert batch.status == "running"
    stored = _pages()
    # a page image no row points at, as a scan killed between writing it and storing its row leaves
    orphan = omr_home / "pages" / "ff" / ("f" * 64 + ".jpg")
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"\xff\xd8 not stored")
    _age(omr_home / "pages", 3600)
    report = _omr(omr_home, "doctor", "--json")
    assert report.returncode == 1
    found = _findings(report)
    assert found["batches"]["items"] == [str(batch.id)] and not found["batches"]["repaired"]
    assert str(orphan) in found["orphans"]["items"]
    assert orphan.exists() and _batches()[0].status == "running"  # a report changes nothing
    text = _omr(omr_home, "doctor")
    assert text.returncode == 1 and all(ln.startswith(("sửa được: ", "lỗi: ")) for ln in text.stdout.splitlines())
    repaired = _omr(omr_home, "doctor", "--repair")
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert len(repaired.stdout.splitlines()) == 2 and all(
        ln.startswith("đã sửa: ") for ln in repaired.stdout.splitlines()
    )
    (batch,) = _batches()
    assert batch.status == "failed" and "gián đoạn" in (batch.note or "")
    assert not orphan.exists()
    assert _pages() == stored  # nothing stored is touched: every row's image is still there
    with session() as s:
        for image in s.scalars(select(Page.image_path)):
            assert (omr_home / image).is_file()
    clean = _omr(omr_home, "doctor")
    assert clean.returncode == 0 and clean.stdout.startswith("Không thấy vấn đề gì"), clean.stdout


def test_a_later_scan_repairs_a_killed_scans_batch(omr_home, stack_of):
    path = stack_of(12)
    _kill(_scan_then_kill(omr_home, path, 1))
    assert [b.status for b in _batches()] == ["running"]
    lines = list(ingest.scan([path], workers=2))
    assert len(lines) == 12 and _pages() == 12
    first, second = _batches()
    assert (first.status, second.status) == ("failed", "done")
    assert "gián đoạn" in (first.note or "")
    assert not list((omr_home / config.DB_FILE).parent.joinpath("running").glob("*.json"))


def test_doctor_on_a_new_installation_finds_nothing_and_makes_nothing(omr_home):
    r = _omr(omr_home, "doctor")
    assert r.returncode == 0 and r.stdout.startswith("Không thấy vấn đề gì"), r.stdout + r.stderr
    assert not config.key_path().exists()  # a key is made by the first command that signs, not here
    j = _omr(omr_home, "doctor", "--json")
    assert j.returncode == 0 and j.stdout == ""


def test_doctor_finds_a_replaced_key_and_a_damaged_database(omr_home, stack_of):
    path = stack_of(2)
    assert len(list(ingest.scan([path], workers=1))) == 2
    assert _omr(omr_home, "doctor").returncode == 0
    key = config.key_path()
    good = key.read_bytes()
    key.write_bytes(os.urandom(config.KEY_BYTES))
    found = _findings(_omr(omr_home, "doctor", "--json"))
    assert "không khớp" in found["key"]["message"]
    key.write_bytes(good)
    key.unlink()
    r = _omr(omr_home, "doctor")
    assert r.returncode == 1 and "thiếu khóa ký" in r.stdout and not key.exists()
    key.write_bytes(good)
    dbs.dispose()
    db = omr_home / config.DB_FILE
    import sqlite3

    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
    with db.open("r+b") as f:  # damage the middle of the file, as a failing disk does
        f.seek(page_size * (pages // 2))
        f.write(os.urandom(page_size * 2))
    found = _findings(_omr(omr_home, "doctor", "--json"))
    assert (
        "database" in found
        and str(db) in found["database"]["message"]
        or "không mở được" in found["database"]["message"]
    )


# --------------------------------------------------------------------------- kills at random moments

# The moments are random but repeatable: a failure names its seed, and OMR_KILL_SEED runs that again.
KILL_SEED = int(os.environ.get("OMR_KILL_SEED", "20261202"))
# per run: scans in process here, workers and scans through the queue in the next test (at least 10 together)
IN_PROCESS_KILLS = 7
START_UP_S = 0.4  # about the time a scan takes to give its first line: the pause of a kill before it
QUEUE_WORKER_KILLS = 3
STORED = ("accepted", "needs_review")


def _line_gap(times: list[float]) -> float:
    """The mean time between a scan's lines, from its start time and the times of its lines so far.
    Before the first line, about its start-up; right after it, no gap is known yet: 0."""
    if len(times) > 2:
        return (times[-1] - times[1]) / (len(times) - 2)
    return START_UP_S if len(times) == 1 else 0.0


def _kill_at_random(start, rng, lines_before: int, share: float) -> bool:
    """Start a scan, let it give ``lines_before`` lines and ``share`` (0..1) of the time a line takes
    more, then SIGKILL its main process only. Returns whether it was still running (a kill), after
    checking its readers died too. The pause is measured on the scan itself (the gap between its lines
    so far), as a fixed pause outlasts the scan on a fast machine."""
    scan = start()
    assert scan.stdout is not None
    readers: set[int] = set()
    try:
        times = [time.monotonic()]
        for _ in range(lines_before):
            if not scan.stdout.readline():
                break
            times.append(time.monotonic())
        time.sleep(share * _line_gap(times))
        readers = _children(scan.pid)
        if scan.poll() is not None:
            return False
        scan.send_signal(signal.SIGKILL)
        scan.wait()
        _wait_for(lambda: not _alive(readers), 5, f"readers {readers} end with their scan (seed {KILL_SEED})")
        return True
    finally:
        scan.stdout.close()
        _kill_left(scan, readers)


def _check_stored_once(lines: list[dict], n: int) -> None:
    assert [x["page"] for x in lines] == list(range(1, n + 1))
    assert all(x["status"] in (*STORED, "duplicate") for x in lines), lines
    with session() as s:
        per_serial = s.execute(select(Page.serial, func.count()).group_by(Page.serial)).all()
        statuses = set(s.scalars(select(Page.status)))
    assert len(per_serial) == n and all(c == 1 for _, c in per_serial), f"seed {KILL_SEED}: {per_serial}"
    assert statuses <= set(STORED)


def _check_bookkeeping(home: Path, killed: int) -> None:
    from omr.services import doctor

    batches = _batches()
    assert batches[-1].status == "done"
    assert all(b.status != "running" for b in batches), [(b.id, b.status) for b in batches]
    interrupted = [b for b in batches if "gián đoạn" in (b.note or "")]
    assert len(interrupted) <= killed
    assert not list((home / "running").glob("*.json"))  # no claim left
    assert doctor.orphan_files(min_age=0) == []  # every image file belongs to a stored page
    assert not list((home / "pages").rglob(".*.tmp"))
    assert not list((home / "spool").glob("*/"))  # no queue spool of a killed scan


def test_scans_killed_at_random_moments_store_each_page_once(omr_home, stack_of):
    import random

    rng = random.Random(KILL_SEED)
    n = 8
    path = stack_of(n)

    def start() -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "omr.cli", "scan", "--json", "--workers", "2", str(path)],
            env=_env(omr_home),
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )

    kills = attempts = 0
    while kills < IN_PROCESS_KILLS:
        attempts += 1
        assert attempts <= 2 * IN_PROCESS_KILLS, f"seed {KILL_SEED}: most scans finished before their kill"
        kills += _kill_at_random(start, rng, rng.randrange(n), rng.random())
    lines = list(ingest.scan([path], workers=2))
    _check_stored_once(lines, n)
    _check_bookkeeping(omr_home, kills)


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.xdist_group("queue")
def test_queue_workers_and_scans_killed_at_random_moments_store_each_page_once(cluster):  # noqa: F811
    import random

    from test_queue import _stack_file

    rng = random.Random(KILL_SEED + 1)
    n = 20
    stack = _stack_file(cluster.stack(cluster.print_sheets(n), seed=19))
    cluster.start_workers(2, concurrency=2)  # prefork: each worker has pool processes that must die with it
    kills = 0

    def kill_a_worker() -> None:
        nonlocal kills
        time.sleep(rng.uniform(0.2, 2.0))
        victim = rng.choice([w for w in cluster.workers if w.poll() is None])
        pool = _children(victim.pid)
        victim.send_signal(signal.SIGKILL)  # the worker's main process only
        victim.wait()
        _wait_for(lambda: not _alive(pool), 5, f"pool processes {pool} end with their worker (seed {KILL_SEED})")
        kills += 1
        cluster.start_workers(1, concurrency=2)

    # workers killed at random moments under a scan, then the scan itself
    first = cluster.omr_bg("scan", "--json", str(stack), out=cluster.logs / "first.jsonl")
    for _ in range(QUEUE_WORKER_KILLS):
        kill_a_worker()
    time.sleep(rng.uniform(0, 1.0))
    if first.poll() is None:
        first.send_signal(signal.SIGKILL)
        kills += 1
    first.wait(timeout=60)
    # the stack again, with one more worker dying under it if it is still going: it completes
    second = cluster.omr_bg("scan", "--json", str(stack), out=cluster.logs / "second.jsonl")
    if second.poll() is None:
        kill_a_worker()
    assert second.wait(timeout=300) == 0, (cluster.logs / "second.err").read_text()
    assert kills >= QUEUE_WORKER_KILLS
    _check_stored_once(_lines_of(cluster.logs / "second.jsonl"), n)
    # and once more with nobody killed: all reported, nothing stored twice, nothing left behind
    third = cluster.omr("scan", "--json", str(stack), timeout=300)
    assert third.returncode == 0, third.stderr
    _check_stored_once(_lines_of_text(third.stdout), n)
    _check_bookkeeping(cluster.home, kills)


def _lines_of_text(text: str) -> list[dict]:
    return [json.loads(x) for x in text.splitlines() if x.strip()]


def _lines_of(path: Path) -> list[dict]:
    return _lines_of_text(path.read_text())


def test_omr_scan_watch_says_what_it_waits_for_and_reads_the_file_once_whole(omr_home, sheet_images, tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    data = _single(sheet_images[0], "JPEG")
    target = inbox / "page.jpg"
    target.write_bytes(data[: len(data) // 2])
    env = _env(omr_home, OMR_WATCH_STABLE="0.2", PYTHONFAULTHANDLER="1")  # the stable time from the environment
    watcher = subprocess.Popen(
        [sys.executable, "-m", "omr.cli", "scan", "--json", "--watch", str(inbox), "--interval", "0.05"],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert watcher.stderr is not None and watcher.stdout is not None
    try:
        _wait_for(lambda: "Chờ tệp page.jpg ghi xong" in watcher.stderr.readline(), 60, "the watcher says it waits")
        target.write_bytes(data)
        line = json.loads(watcher.stdout.readline())
        assert (line["source"], line["status"]) == ("page.jpg", "accepted")
        _wait_for(lambda: [b.status for b in _batches()] == ["done"], 60, "the file's batch is finished")
    finally:
        watcher.send_signal(signal.SIGTERM)  # systemd stopping the service
        try:
            watcher.wait(timeout=60)
        except subprocess.TimeoutExpired:
            watcher.send_signal(signal.SIGABRT)  # with PYTHONFAULTHANDLER: where every thread was
            watcher.wait()
    assert watcher.returncode == 0, watcher.stderr.read()
    assert _pages() == 1
