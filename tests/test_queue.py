"""Reading through the queue: real PostgreSQL, real Redis, real ``omr worker`` processes (Celery).

Each test gets its own data directory, database and empty Redis, starts its workers as subprocesses
with OMR_HOME / OMR_DATABASE_URL / OMR_BROKER_URL in their environment, and drives ``omr scan`` as an
operator would. The servers are started once for the module (tests/servers.py, loopback only).
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from db import session as dbs
from db.models import Page, ScanBatch

FORM, UNIT = "kien-hung-2020", "09552"
STORED = ("accepted", "needs_review")
# short, so a killed worker's pages come back within the test; production default is omr/queue.py's
VISIBILITY = 3
TASK_LINE = re.compile(r"Task omr\.read_pages\[(?P<id>[0-9a-f-]+)\] (?P<what>received|succeeded)")

# The tests that start servers share one xdist group, so the module's servers start once.


@pytest.fixture(scope="module")
def servers(_postgres_server: str) -> Iterator[SimpleNamespace]:
    """The run's PostgreSQL server (tests/conftest.py) and a Redis server for this module."""
    from servers import ServerUnavailable, redis

    try:
        ctx = redis()
        url = ctx.__enter__()
    except ServerUnavailable as e:
        pytest.skip(f"Redis not available: {e}")  # a failure in CI (tests/conftest.py)
    try:
        yield SimpleNamespace(pg=_postgres_server, redis=url)
    finally:
        ctx.__exit__(None, None, None)


class Cluster:
    """One installation spread over processes: a data directory, a database, a queue, workers."""

    def __init__(self, home: Path, env: dict[str, str], logs: Path):
        self.home, self.env, self.logs = home, env, logs
        self.workers: list[subprocess.Popen] = []

    def omr(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "omr.cli", *args], env=self.env, capture_output=True, text=True, timeout=timeout
        )

    def omr_bg(self, *args: str, out: Path) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "omr.cli", *args],
            env=self.env,
            stdout=out.open("w"),
            stderr=out.with_suffix(".err").open("w"),
            text=True,
        )

    def start_workers(self, n: int, concurrency: int = 1) -> list[subprocess.Popen]:
        started = []
        for _ in range(n):
            log = self.logs / f"worker-{len(self.workers) + 1}.log"
            proc = subprocess.Popen(
                [sys.executable, "-m", "omr.cli", "worker", "--concurrency", str(concurrency)],
                env=self.env,
                stdout=log.open("w"),
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: kill -9 takes the worker and its pool
            )
            self.workers.append(proc)
            started.append(proc)
        self.wait_ready(len([p for p in self.workers if p.poll() is None]))
        return started

    def wait_ready(self, n: int, timeout: float = 60) -> None:
        from omr import queue

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            alive = {f"omr-{p.pid}@" for p in self.workers if p.poll() is None}
            replies = {name.split("@")[0] + "@" for r in queue.app().control.ping(timeout=0.5) for name in r}
            if len(alive & replies) >= n:
                return
            if any(p.poll() is not None for p in self.workers if p.returncode != -signal.SIGKILL):
                raise AssertionError(f"a worker exited: {self.worker_logs()}")
        raise AssertionError(f"{n} workers not ready after {timeout}s: {self.worker_logs()}")

    def worker_logs(self) -> str:
        return "\n".join(p.read_text()[-2000:] for p in sorted(self.logs.glob("worker-*.log")))

    def kill(self, proc: subprocess.Popen) -> None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def log_of(self, proc: subprocess.Popen) -> Path:
        return self.logs / f"worker-{self.workers.index(proc) + 1}.log"

    def tasks(self, proc: subprocess.Popen) -> tuple[list[str], set[str]]:
        """Task ids the worker received (in order) and those it finished, from its log."""
        received, done = [], set()
        for m in TASK_LINE.finditer(self.log_of(proc).read_text()):
            (received.append if m["what"] == "received" else done.add)(m["id"])
        return received, done

    def kill_mid_task(self, proc: subprocess.Popen, timeout: float = 30) -> set[str]:
        """kill -9 the worker (and its pool) while it is reading a page, once it has recorded the task
        as its own (a worker killed between taking a task and recording it leaves it to the queue's
        visibility timeout); the ids of the tasks it held."""
        import redis

        from omr.queue import HELD_KEY

        client = redis.Redis.from_url(self.env["OMR_BROKER_URL"])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            received, done = self.tasks(proc)
            if received and received[-1] not in done and client.exists(HELD_KEY + received[-1]):
                break
            time.sleep(0.002)
        self.kill(proc)
        received, done = self.tasks(proc)
        return set(received) - done

    def stop(self) -> None:
        for p in self.workers:
            if p.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGTERM)
        for p in self.workers:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()

    def print_sheets(self, count: int, name: str = "printed.pdf") -> list[str]:
        out = str(self.logs / name)
        r = self.omr("print", "--form", FORM, "--unit", UNIT, "--count", str(count), "--out", out, "--json")
        assert r.returncode == 0, r.stderr
        return [json.loads(x)["serial"] for x in r.stdout.splitlines()]

    def stack(self, serials: list[str], fmt: str = "pdf", seed: int = 1, name: str = "stack") -> Path:
        from samples.generate import generate_stack

        out = self.logs / f"{name}-{seed}"
        key = (self.home / "secret.key").read_bytes()
        generate_stack(out, form_id=FORM, unit=UNIT, serials=serials, key=key, fmt=fmt, dpi=200, seed=seed,
                       degrade="light", hard_case_rate=0.0)  # fmt: skip
        return out


@pytest.fixture
def cluster(servers, tmp_path, monkeypatch) -> Iterator[Cluster]:
    import redis
    from servers import new_database

    db_url = new_database(servers.pg)
    redis.Redis.from_url(servers.redis).flushall()  # no task left over from an earlier test
    home = tmp_path / "home"
    env = {
        **os.environ,
        "OMR_HOME": str(home),
        "OMR_DATABASE_URL": db_url,
        "OMR_BROKER_URL": servers.redis,
        "OMR_QUEUE_VISIBILITY": str(VISIBILITY),
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("OMR_SCAN_WORKERS", None)
    for k in ("OMR_HOME", "OMR_DATABASE_URL", "OMR_BROKER_URL", "OMR_QUEUE_VISIBILITY"):
        monkeypatch.setenv(k, env[k])
    dbs.dispose()
    c = Cluster(home, env, tmp_path)
    try:
        yield c
    finally:
        c.stop()
        dbs.dispose()


def _lines(text: str) -> list[dict]:
    return [json.loads(x) for x in text.splitlines() if x.strip()]


def _count(*where) -> int:
    with dbs.session() as s:
        return s.scalar(select(func.count()).select_from(Page).where(*where))


def _batches() -> list[ScanBatch]:
    with dbs.session() as s:
        return list(s.scalars(select(ScanBatch).order_by(ScanBatch.id)))


def _truth(stack_dir: Path) -> list[dict]:
    return json.loads(next(stack_dir.glob("*.truth.json")).read_text())["pages"]


def _stack_file(stack_dir: Path) -> Path:
    return next(p for p in stack_dir.iterdir() if not p.name.endswith(".json"))


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.xdist_group("queue")
def test_scan_through_two_workers_on_postgresql(cluster):
    serials = cluster.print_sheets(12)
    stack = cluster.stack(serials)
    cluster.start_workers(2)
    r = cluster.omr("scan", "--json", str(_stack_file(stack)))
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    lines = _lines(r.stdout)
    truth = _truth(stack)
    # one contract line per page, in input order, each with the serial that was printed on that page
    assert [x["page"] for x in lines] == list(range(1, 13))
    assert [x["serial"] for x in lines] == [t["serial"] for t in truth]
    assert all(x["status"] in STORED for x in lines), [x["status"] for x in lines]
    assert all(set(x["answers"]) >= {"q_result"} for x in lines)
    assert _count() == 12
    # both workers took pages (each holds one at a time)
    logs = [p.read_text() for p in sorted(cluster.logs.glob("worker-*.log"))]
    assert all("succeeded" in log for log in logs), cluster.worker_logs()

    # the same stack again: reported duplicate, nothing stored twice
    again = cluster.omr("scan", "--json", str(_stack_file(stack)))
    assert again.returncode == 0, again.stderr
    assert [x["status"] for x in _lines(again.stdout)] == ["duplicate"] * 12
    assert _count() == 12
    batches = _batches()
    assert [(b.status, b.done_pages, b.total_pages) for b in batches] == [("done", 12, 12)] * 2

    # without --json: the progress bar and one line per page, in Vietnamese
    human = cluster.omr("scan", str(_stack_file(stack)))
    assert human.returncode == 0 and "Tổng cộng 12 trang" in human.stdout and "trùng: 12" in human.stdout


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.xdist_group("queue")
def test_web_upload_goes_through_the_queue(cluster, tmp_path, monkeypatch):
    import io

    from tests.support.web import UNIT as WEB_UNIT
    from tests.support.web import app_for_tests, csrf_from, fill_clear, login, make_users, print_sheets, save_pdf

    make_users({"staff": ("staff", WEB_UNIT)})
    _, pages = print_sheets(tmp_path, 4, name="up.pdf", by="staff")
    for p in pages:
        fill_clear(p)
    data = save_pdf(pages, tmp_path / "up-stack.pdf").read_bytes()
    cluster.start_workers(2)
    app = app_for_tests(SCAN_INLINE=False)
    c = app.test_client()
    login(c, "staff")
    token = csrf_from(c.get("/").get_data(as_text=True))
    r = c.post(
        "/upload/",
        data={"csrf_token": token, "files": [(io.BytesIO(data), "stack.pdf")]},
        content_type="multipart/form-data",
    )
    assert r.status_code == 302
    batch_id = int(r.headers["Location"].rstrip("/").split("/")[-1])
    for _ in range(300):
        p = c.get(f"/upload/api/{batch_id}").get_json()
        if not p["running"]:
            break
        time.sleep(0.1)
    assert p["status"] == "done" and p["done"] == p["total"] == 4
    assert _count(Page.scan_batch_id == batch_id) == 4
    assert "succeeded" in cluster.worker_logs()
    html = c.get(f"/upload/{batch_id}").get_data(as_text=True)
    assert html.count("Đọc xong") >= 4


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.xdist_group("queue")
def test_worker_killed_mid_stack_loses_nothing(cluster):
    n = 120
    serials = cluster.print_sheets(n)
    stack = cluster.stack(serials, seed=7)
    victim, survivor = cluster.start_workers(2)
    out = cluster.logs / "scan.jsonl"
    scan = cluster.omr_bg("scan", "--json", str(_stack_file(stack)), out=out)
    # wait until the stack is well under way, then kill -9 one worker (and its pool) mid-page
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        batches = _batches()
        if batches and batches[-1].done_pages >= n // 4:
            break
        time.sleep(0.05)
    else:
        raise AssertionError(f"the stack did not get going: {cluster.worker_logs()}")
    # the kill lands while the victim reads a page; should it land between two pages (a few ms out of
    # every ~30), the same is done to a fresh worker, so that a page in flight is always lost
    for _ in range(3):
        in_flight = cluster.kill_mid_task(victim)
        if in_flight:
            break
        (victim,) = cluster.start_workers(1)
    assert in_flight, cluster.worker_logs()
    assert scan.wait(timeout=90) == 0, out.with_suffix(".err").read_text()
    assert survivor.poll() is None
    # the pages the killed worker held were delivered again and read by the survivor. The redelivery
    # comes after the visibility timeout, which can be after the scan has finished (when the killed
    # worker had already stored its page and only the acknowledgement was lost): wait for it.
    deadline = time.monotonic() + VISIBILITY * 10
    while not in_flight <= cluster.tasks(survivor)[1] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert in_flight <= cluster.tasks(survivor)[1], cluster.worker_logs()
    lines = _lines(out.read_text())
    assert [x["page"] for x in lines] == list(range(1, n + 1))
    assert [x["serial"] for x in lines] == [t["serial"] for t in _truth(stack)]
    assert all(x["status"] in STORED for x in lines), collections.Counter(x["status"] for x in lines)
    # every page stored exactly once; the stack completed
    assert _count() == n
    with dbs.session() as s:
        per_serial = s.execute(select(Page.serial, func.count()).group_by(Page.serial)).all()
    assert len(per_serial) == n and all(c == 1 for _, c in per_serial)
    (batch,) = _batches()
    assert (batch.status, batch.done_pages, batch.total_pages) == ("done", n, n)
    assert not any((cluster.home / "spool").glob("*/*"))  # the spool is cleaned up


# the queue alone brings a dead worker's pages back only after this; the scan must not wait for it
LONG_VISIBILITY = 600


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.xdist_group("queue")
def test_a_dead_workers_pages_are_taken_over_within_30_seconds(cluster):
    cluster.env["OMR_QUEUE_VISIBILITY"] = str(LONG_VISIBILITY)
    n = 40
    stack = cluster.stack(cluster.print_sheets(n), seed=17)
    victim, survivor = cluster.start_workers(2)
    out = cluster.logs / "scan.jsonl"
    scan = cluster.omr_bg("scan", "--json", str(_stack_file(stack)), out=out)
    # kill on the victim's first task still in its hands: the workers read faster than the scan stores,
    # so waiting for stored pages first can leave nothing in flight to take over
    for _ in range(3):
        in_flight = cluster.kill_mid_task(victim)
        if in_flight:
            break
        (victim,) = cluster.start_workers(1)
    assert in_flight, cluster.worker_logs()
    killed_at = time.monotonic()
    # the scan learns of the death from the missing heartbeat and says so, well before the visibility timeout
    err = out.with_suffix(".err")
    while "mất tín hiệu" not in err.read_text():
        assert time.monotonic() - killed_at < 30, f"no takeover 30 s after the kill: {err.read_text()}"
        assert scan.poll() is None, err.read_text()
        time.sleep(0.1)
    assert scan.wait(timeout=120) == 0, err.read_text()
    assert time.monotonic() - killed_at < LONG_VISIBILITY / 4
    assert survivor.poll() is None
    lines = _lines(out.read_text())
    assert [x["page"] for x in lines] == list(range(1, n + 1))
    assert all(x["status"] in STORED for x in lines), collections.Counter(x["status"] for x in lines)
    with dbs.session() as s:
        per_serial = s.execute(select(Page.serial, func.count()).group_by(Page.serial)).all()
    assert len(per_serial) == n and all(c == 1 for _, c in per_serial)
    (batch,) = _batches()
    assert (batch.status, batch.done_pages) == ("done", n)


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.xdist_group("queue")
def test_overlapping_stacks_at_once_store_each_page_once(cluster):
    from omr.detect.sources import iter_pages

    n = 60
    serials = cluster.print_sheets(n)
    stack = cluster.stack(serials, seed=11)
    pages = [raw.data for raw in iter_pages([_stack_file(stack)])]
    a, b = cluster.logs / "a", cluster.logs / "b"
    for folder, part in ((a, range(0, 40)), (b, range(20, 60))):
        folder.mkdir()
        for i in part:  # the same scanned page in both stacks: the very same bytes
            (folder / f"page-{i + 1:03d}.jpg").write_bytes(pages[i])
    cluster.start_workers(2)
    runs = [cluster.omr_bg("scan", "--json", str(d), out=cluster.logs / f"{d.name}.jsonl") for d in (a, b)]
    for run in runs:
        assert run.wait(timeout=90) == 0
    out_a = _lines((cluster.logs / "a.jsonl").read_text())
    out_b = _lines((cluster.logs / "b.jsonl").read_text())
    assert len(out_a) == len(out_b) == 40
    by_name: dict[str, list[str]] = collections.defaultdict(list)
    for x in out_a + out_b:
        by_name[x["source"]].append(x["status"])
    assert _count() == n  # each page once
    for i in range(n):
        statuses = by_name[f"page-{i + 1:03d}.jpg"]
        if 20 <= i < 40:
            # in both stacks: stored by one, reported duplicate by the other
            assert sorted(s in STORED for s in statuses) == [False, True], (i, statuses)
            assert "duplicate" in statuses
        else:
            assert len(statuses) == 1 and statuses[0] in STORED, (i, statuses)
    assert [(b.status, b.done_pages) for b in _batches()] == [("done", 40), ("done", 40)]


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.xdist_group("queue")
def test_pages_lost_with_redis_memory_are_sent_again(cluster, monkeypatch):
    """Redis restarted without persistence forgets queued pages; the scan sends them again."""
    import threading

    import redis

    from omr import queue

    stack = cluster.stack(cluster.print_sheets(3), seed=13)
    monkeypatch.setattr(queue, "RESEND_AFTER", 1.0)
    monkeypatch.setenv("OMR_QUEUE_VISIBILITY", "1")  # this process only: resend after 3 s
    lines: list[dict] = []
    scan = threading.Thread(target=lambda: lines.extend(queue.scan([_stack_file(stack)])))
    scan.start()
    deadline = time.monotonic() + 30
    while not any((cluster.home / "spool").glob("*/*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # all three pages sent, no worker to take them
    redis.Redis.from_url(cluster.env["OMR_BROKER_URL"]).flushall()
    cluster.start_workers(1)
    scan.join(timeout=60)
    assert not scan.is_alive()
    assert [x["page"] for x in lines] == [1, 2, 3] and all(x["status"] in STORED for x in lines), lines
    assert _count() == 3


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.xdist_group("queue")
def test_spool_gone_means_nothing_to_do(cluster):
    """A task delivered after its scan has its answer (or was stopped) stores nothing."""
    from omr import queue

    cluster.start_workers(1)
    page = {"source": "x.jpg", "page": 1, "ext": ".jpg", "sha": "0" * 64, "spool": "spool/0/none.jpg"}
    job = {"home": queue.home_id((cluster.home / "secret.key").read_bytes()), "batch": None, "pages": [page]}
    result = queue.app().tasks[queue.TASK].apply_async((job,))
    assert result.get(timeout=30) == [{"stale": True}]
    assert _count() == 0
    # a worker whose OMR_HOME is not the scanner's says so, rather than skipping the page as done
    wrong = queue.app().tasks[queue.TASK].apply_async(({**job, "home": "0" * 16},))
    error = wrong.get(timeout=30, propagate=False)
    assert wrong.failed() and "OMR_HOME" in str(error)

    # a page that keeps killing its worker (delivered again and again) becomes one error line
    from omr.services import ingest

    batch_id = ingest.start_batch("poison", None, 1)
    spool = cluster.home / "spool" / str(batch_id) / "poison.jpg"
    spool.parent.mkdir(parents=True)
    spool.write_bytes(b"\xff\xd8\xff not really a JPEG")
    poison = {**page, "sha": "f" * 64, "spool": spool.relative_to(cluster.home).as_posix()}
    tries = queue.delivery_counter(queue.app())
    assert tries is not None
    for _ in range(queue.MAX_TRIES - 1):
        tries(poison["sha"])  # the deliveries that died with their worker
    (line,) = queue.run_job({**job, "batch": batch_id, "pages": [poison]}, redelivered=True, tries=tries)
    assert line["status"] == "error" and "nhiều lần" in line["error"]
    assert _count() == 0
    (batch,) = _batches()
    assert batch.done_pages == 1 and "nhiều lần" in (batch.note or "")


# --------------------------------------------------------------------------- no servers needed


def _spooled_job(home: Path, data: bytes, batch_id: int) -> dict:
    import hashlib

    from omr import queue
    from omr.services import signing_key

    sha = hashlib.sha256(data).hexdigest()
    spool = home / "spool" / str(batch_id) / f"{sha}.jpg"
    spool.parent.mkdir(parents=True, exist_ok=True)
    spool.write_bytes(data)
    page = {"source": "stack.pdf", "page": 3, "ext": ".jpg", "sha": sha, "spool": spool.relative_to(home).as_posix()}
    return {"home": queue.home_id(signing_key.secret_key()), "batch": batch_id, "pages": [page]}


def test_a_task_run_twice_stores_once_and_reports_what_it_stored(omr_home, printed, scan_tools):
    import io

    from PIL import Image

    from omr import queue
    from omr.services import ingest

    _, imgs = printed(FORM, UNIT, 1)
    scan_tools.cross(imgs[0], FORM, "q_result", "5")
    buf = io.BytesIO()
    Image.fromarray(imgs[0]).save(buf, "JPEG", quality=85)
    batch_id = ingest.start_batch("test", None, 1)
    job = _spooled_job(omr_home, buf.getvalue(), batch_id)
    (first,) = queue.run_job(job, redelivered=False)
    assert first["status"] == "accepted" and first["page"] == 3
    # delivered again (its worker died before acknowledging): same answer, not "duplicate", counted once
    assert queue.run_job(job, redelivered=True) == [first]
    # two copies running at once, neither marked redelivered: the loser still reports what was stored
    assert queue.run_job(job, redelivered=False) == [first]
    assert _count() == 1
    (batch,) = _batches()
    assert batch.done_pages in (1, 2)  # a copy not marked redelivered may count twice; the scan fixes it
    # another batch with the same image: that one is a duplicate
    other = ingest.start_batch("again", None, 1)
    assert queue.run_job(_spooled_job(omr_home, buf.getvalue(), other))[0]["status"] == "duplicate"
    assert _count() == 1


def test_without_a_broker_scan_runs_in_process(omr_home, printed, scan_tools, tmp_path, monkeypatch):
    from omr import queue

    monkeypatch.delenv("OMR_BROKER_URL", raising=False)
    _, imgs = printed(FORM, UNIT, 2)
    path = scan_tools.jpeg_pdf(imgs, tmp_path / "s.pdf")
    assert not queue.enabled()
    lines = list(queue.scan([path], workers=1))
    assert [x["page"] for x in lines] == [1, 2] and all(x["status"] in STORED for x in lines)
    assert _count() == 2


def _omr(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "omr.cli", *args], env=env, capture_output=True, text=True, timeout=60)


def test_worker_without_a_broker_says_so_in_one_line(tmp_path):
    env = {**os.environ, "OMR_HOME": str(tmp_path / "home")}
    env.pop("OMR_BROKER_URL", None)
    env.pop("OMR_DATABASE_URL", None)
    r = _omr(env, "worker")
    assert r.returncode != 0
    assert r.stderr.count("\n") == 1 and "OMR_BROKER_URL" in r.stderr and "Traceback" not in r.stderr


def test_scan_with_an_unreachable_broker_fails_in_one_line(tmp_path, omr_home, printed, scan_tools):
    from servers import free_port

    _, imgs = printed(FORM, UNIT, 1)
    path = scan_tools.jpeg_pdf(imgs, tmp_path / "s.pdf")
    env = {**os.environ, "OMR_HOME": str(omr_home), "OMR_BROKER_URL": f"redis://127.0.0.1:{free_port()}/0"}
    env.pop("OMR_DATABASE_URL", None)
    t0 = time.monotonic()
    r = _omr(env, "scan", "--json", str(path))
    assert r.returncode != 0 and r.stdout == ""
    assert "hàng đợi" in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert len([x for x in r.stderr.splitlines() if x.strip()]) == 1, r.stderr
    assert time.monotonic() - t0 < 30


def test_serve_production_runs_several_processes(tmp_path):
    """``omr serve --production``: gunicorn with the asked number of worker processes, answering."""
    import urllib.request

    from servers import _wait_port, free_port

    port = free_port()
    env = {**os.environ, "OMR_HOME": str(tmp_path / "home")}
    env.pop("OMR_DATABASE_URL", None)
    env.pop("OMR_BROKER_URL", None)
    log = tmp_path / "serve.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "omr.cli", "serve", "--production", "--workers", "2", "--port", str(port)],
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        _wait_port(port, timeout=60)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=30) as r:
            assert r.status == 200 and "csrf" in r.read().decode()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and log.read_text().count("Booting worker") < 2:
            time.sleep(0.1)
        assert log.read_text().count("Booting worker") == 2, log.read_text()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    assert "Traceback" not in log.read_text()
