"""Reading on several machines: pages go through a Celery queue on Redis to ``omr worker`` processes.

    from omr import queue
    for line in queue.scan([Path("stack.pdf")]):   # in process, or through the queue if OMR_BROKER_URL is set
        ...

With no ``OMR_BROKER_URL`` this is exactly ``omr.services.ingest.scan``. With it, the process that scans
(``omr scan``, a web upload) only splits the stack into pages: each page's bytes are written to
``OMR_HOME/spool/<batch>/<sha256><ext>`` and a task naming a few consecutive such files is sent. A
worker on any machine that mounts the same OMR_HOME reads the task's pages with ``readers.read_job`` and
stores them together with ``storing.store_pages``, the same code the in-process path uses (on a
redelivery, one at a time with ``readers.ingest_page``). The scanning process waits for the
results in input order and prints them as the contract says; progress is ``ScanBatch.done_pages`` in
the database, so every machine sees the same.

Delivery is at least once, storage exactly once:

- tasks are acknowledged late (after they ran) and rejected back onto the queue when their worker
  process dies; a worker killed outright (kill -9, a machine lost) leaves its tasks unacknowledged in
  Redis, and another worker puts them back after ``OMR_QUEUE_VISIBILITY`` seconds;
- a page's identity is its image's sha256, UNIQUE in the database: a task that runs twice stores once.
  A run that finds its own page already stored by an earlier run of the same task (same batch, source
  and page number) reports what that run stored, not "duplicate";
- the scanning process deletes a page's spool file once it has the page's result, so a task delivered
  again after that finds no file and does nothing. Stopping ``omr scan`` (Ctrl-C) deletes the batch's
  spool: pages not yet read are then skipped by the workers, as in process they are simply not read.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import socket
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from db import session as dbs
from db.models import Page, ScanBatch
from omr import config
from omr.detect.sources import RawPage
from omr.services import ingest, readers, scan_lines, signing_key, storing
from omr.services.spool import batch_dir as spool_dir
from omr.services.spool import stale as stale_spools
from omr.vocab import DUPLICATE

if TYPE_CHECKING:
    from celery import Celery
    from celery.result import AsyncResult

QUEUE = "omr-pages"
TASK = "omr.read_pages"
POLL = 0.5  # seconds between progress refreshes while waiting for a page
NO_WORKER_WARNING = 10.0  # seconds without any result before checking that a worker is there
# A page whose result has not come this long after it was sent is sent again: its task was lost with
# Redis's memory (a restart without persistence). Storing is idempotent, so a merely slow task read
# twice costs only the reading. Long enough for other scans' pages queued ahead of it.
RESEND_AFTER = 600.0
# A page delivered this many times after a worker died under it is taken to be what killed it (an image
# that crashes the decoder, the out-of-memory killer): it becomes one error line instead of a loop of
# dying workers, as in process (readers.Readers).
MAX_TRIES = 3
TRIES_KEY = "omr:tries:"
# A worker says it is alive every HEARTBEAT_EVERY seconds in a Redis key that lives WORKER_TTL seconds,
# and records which task it took as it receives it. A task held by a worker whose key has expired was
# lost with it (kill -9, a machine gone): the scanning side sends it again at once instead of waiting
# for the queue's visibility timeout. A worker merely busy keeps beating (a thread of its own).
WORKER_KEY = "omr:worker:"
HELD_KEY = "omr:held:"
HEARTBEAT_EVERY = 2.0
WORKER_TTL = 10
HOLDER_CHECK = 1.0  # seconds between looks at who holds the page waited for
CRASHED = "máy đọc bị dừng đột ngột nhiều lần khi đọc trang này (ảnh hỏng hoặc quá lớn?); đã bỏ qua"

_apps: dict[tuple[str, str, int], Celery] = {}


class QueueUnavailable(config.ConfigError):
    """The broker cannot be reached or is misconfigured; one line for the operator."""


def enabled() -> bool:
    return config.broker_url() is not None


def shown_url(url: str) -> str:
    """A URL without its password, for messages."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return url


# --------------------------------------------------------------------------- the Celery app


def app() -> Celery:
    """The Celery app for the current environment (one per broker, result backend and timeout)."""
    url = config.broker_url()
    if url is None:
        raise QueueUnavailable(f"chưa đặt {config.BROKER_ENV} (địa chỉ Redis, ví dụ redis://127.0.0.1:6379/0)")
    backend = config.result_backend() or url
    vt = config.queue_visibility()
    key = (url, backend, vt)
    if key not in _apps:
        _apps[key] = _make_app(url, backend, vt)
    return _apps[key]


def _make_app(url: str, backend: str, vt: int) -> Celery:
    try:
        from celery import Celery
        from celery.signals import task_received, worker_process_init
    except ImportError:
        raise QueueUnavailable(
            "chưa cài Celery và Redis cho chế độ nhiều máy: pip install 'omr-hailong[scale]'"
        ) from None
    from sqlalchemy.exc import OperationalError

    celery = Celery("omr", broker=url, backend=backend, set_as_current=False)
    celery.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_default_queue=QUEUE,
        # at least once: acknowledge after the task ran; a task whose worker process died goes back
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        # one page at a time per worker process: a killed worker holds (and delays) as few pages as can be
        worker_prefetch_multiplier=1,
        # Redis has no acknowledgements of its own: kombu keeps delivered tasks aside and puts them back
        # after the visibility timeout. Look for such tasks often, so a lost worker's pages come back soon.
        broker_transport_options={
            "visibility_timeout": vt,
            "unacked_restore_interval": max(1, min(10, vt // 2)),
            "unacked_restore_throttle": 1,
        },
        # a few quick tries when Redis is briefly away, then a clear error instead of a long hang
        result_backend_transport_options={
            "retry_policy": {"max_retries": 5, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}
        },
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=5,
        task_publish_retry_policy={"max_retries": 3, "interval_start": 0.2, "interval_step": 0.5},
        result_expires=24 * 3600,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        worker_disable_rate_limits=True,
        task_send_sent_event=False,
        enable_utc=True,
    )

    @celery.task(
        bind=True,
        name=TASK,
        shared=False,  # each app (one per broker and timeout) has its own; none leaks into the others
        acks_late=True,
        reject_on_worker_lost=True,
        # the database restarting or failing over: wait and try again rather than lose the page
        autoretry_for=(OperationalError,),
        retry_backoff=2,
        retry_backoff_max=60,
        max_retries=8,
    )
    def read_pages(task: Any, job: dict) -> list[dict]:
        # kombu marks a task put back on the queue (its worker died, or the visibility timeout passed)
        redelivered = bool((task.request.delivery_info or {}).get("redelivered"))
        return run_job(job, redelivered, tries=delivery_counter(task.app) if redelivered else None)

    @task_received.connect(weak=False)
    def _held(request: Any = None, **_: Any) -> None:
        # in the worker's main process, as the task is taken from the queue (before it starts)
        client = _redis(celery)
        if client is not None and request is not None:
            with contextlib.suppress(Exception):  # bookkeeping only: the task runs regardless
                client.set(HELD_KEY + request.id, node_name(), ex=24 * 3600)

    @worker_process_init.connect(weak=False)
    def _fresh_connections(**_: Any) -> None:
        # a forked pool process must not share its parent's database connections
        dbs.dispose()
        # nor outlive the worker that forked it (kill -9 of ``omr worker``), like the scan's own readers.
        # The solo pool sends this signal in the worker itself, which must not die with whoever started it.
        if _worker_pid not in (None, os.getpid()):
            readers.die_with_parent(os.getppid())

    return celery


# --------------------------------------------------------------------------- worker side


class WrongHome(RuntimeError):
    """This worker's OMR_HOME is not the scanning machine's: it would store images nobody else sees."""


def home_id(key: bytes) -> str:
    """Which data directory a job belongs to, told by its signing key (never sent itself)."""
    return hashlib.sha256(b"omr-home:" + key).hexdigest()[:16]


Tries = Callable[[str], int]


def delivery_counter(celery: Celery) -> Tries | None:
    """Counts deliveries of a page (by sha256) in the result backend's Redis, kept for a day."""
    client = getattr(celery.backend, "client", None)
    if client is None:
        return None

    def tries(sha: str) -> int:
        with client.pipeline() as p:
            p.incr(TRIES_KEY + sha)
            p.expire(TRIES_KEY + sha, 24 * 3600)
            return int(p.execute()[0])

    return tries


def _redis(celery: Celery) -> Any:
    """The result backend's Redis client (None with another backend)."""
    return getattr(celery.backend, "client", None)


_worker_pid: int | None = None  # the ``omr worker`` process itself, once it runs


def start_heartbeat(celery: Celery, node: str) -> None:
    """Say that worker ``node`` is alive, from a thread of this (the worker's main) process, until it ends."""
    import threading

    global _worker_pid
    _worker_pid = os.getpid()
    client = _redis(celery)
    if client is None:
        return

    def beat() -> None:
        while True:
            with contextlib.suppress(Exception):  # Redis briefly away: the next beat says it again
                client.set(WORKER_KEY + node, str(os.getpid()), ex=WORKER_TTL)
            time.sleep(HEARTBEAT_EVERY)

    threading.Thread(target=beat, name="omr-worker-heartbeat", daemon=True).start()


def stop_heartbeat(celery: Celery, node: str) -> None:
    client = _redis(celery)
    if client is not None:
        with contextlib.suppress(Exception):
            client.delete(WORKER_KEY + node)


def run_job(job: dict, redelivered: bool = True, tries: Tries | None = None) -> list[dict]:
    """Read and store a task's spooled pages; one contract line per page (``{"stale": true}`` for a page
    whose scan already has its answer or was stopped). ``redelivered``: this task may have run before;
    ``tries``: counts a page's deliveries, to give up on one that keeps killing its worker."""
    key = signing_key.secret_key()
    if job["home"] != home_id(key):
        # checked first: with another OMR_HOME every spool file would look gone and the pages be skipped
        raise WrongHome(
            f"máy đọc {socket.gethostname()} dùng thư mục dữ liệu khác ({config.home()}): "
            "OMR_HOME phải là cùng một thư mục dùng chung trên mọi máy"
        )
    if redelivered:
        # one page at a time, each stored before the next is read: a page that kills its worker must
        # not take the pages read before it in the same task down with it, delivery after delivery
        return [_run_page(page, job["batch"], key, redelivered, tries) for page in job["pages"]]
    return _run_pages(job["pages"], job["batch"], key)


def _run_pages(pages: list[dict], batch_id: int | None, key: bytes) -> list[dict]:
    """A task's first delivery: read every page, then store them all in one transaction."""
    lines: list[dict] = [{"stale": True}] * len(pages)
    read = []
    for i, page in enumerate(pages):
        raw = _spooled(page)
        if raw is not None:
            read.append((i, raw, readers.read_job(raw, key)))
    stored = storing.store_pages(dbs.engine(), [(raw, r) for _, raw, r in read], batch_id)
    for (i, _, _), line in zip(read, stored, strict=True):
        lines[i] = _own_line(pages[i], batch_id, line)
    return lines


def _run_page(page: dict, batch_id: int | None, key: bytes, redelivered: bool, tries: Tries | None) -> dict:
    raw = _spooled(page)
    if raw is None:
        return {"stale": True}
    if redelivered:
        mine = _stored_by_this_task(page, batch_id)
        if mine is not None:
            return mine  # an earlier run stored it (and counted it): report that, count nothing
        if tries is not None and tries(page["sha"]) >= MAX_TRIES:
            crashed = RawPage(page["source"], page["page"], None, page["ext"], error=CRASHED)
            return readers.ingest_page(crashed, key, batch_id)  # the error line, counted and noted
    return _own_line(page, batch_id, readers.ingest_page(raw, key, batch_id))


def _spooled(page: dict) -> RawPage | None:
    """The page from its spool file; None once the scan has its answer or was stopped (file gone)."""
    try:
        data = (config.home() / page["spool"]).read_bytes()
    except FileNotFoundError:
        return None
    return RawPage(page["source"], page["page"], data, page["ext"])


def _own_line(page: dict, batch_id: int | None, line: dict) -> dict:
    """Two runs of this very task at once (a slow worker outlived the visibility timeout): the one that
    lost the race reports what the winner stored, not a duplicate of it."""
    if line["status"] == DUPLICATE:
        mine = _stored_by_this_task(page, batch_id)
        if mine is not None:
            return mine
    return line


def _stored_by_this_task(job: dict, batch_id: int | None) -> dict | None:
    """The contract line of this page if an earlier run of the same task stored it."""
    with dbs.engine().connect() as conn:
        row = conn.execute(
            select(Page.id, Page.scan_batch_id, Page.source, Page.source_page).where(Page.sha256 == job["sha"])
        ).first()
        if row is None or (row.scan_batch_id, row.source, row.source_page) != (
            batch_id,
            job["source"][-500:],
            job["page"],
        ):
            return None
        return storing.stored_json(conn, row.id, job["source"], job["page"])


# --------------------------------------------------------------------------- scanning side


def scan(paths: Sequence[Path], **kwargs: Any) -> Iterator[dict]:
    """``ingest.scan``'s contract lines, read in this process or, with ``OMR_BROKER_URL`` set, by workers.

    Same arguments as ``ingest.scan``; through the queue ``workers`` and ``reader`` do not apply (the
    workers read with their own processes and the standard reader).
    """
    if not enabled():
        return ingest.scan(paths, **kwargs)
    kwargs.pop("workers", None)
    kwargs.pop("reader", None)
    return distributed_scan(paths, **kwargs)


@dataclass
class _Queued:
    """A page of the stack on its way through the queue."""

    raw: RawPage
    line: dict | None = None  # answered without a worker
    chunk: _Chunk | None = None  # or by the task holding this page
    twin: bool = False  # the same image earlier in this very scan: answered after it


@dataclass
class _Chunk:
    """Consecutive new pages of a scan sent as one task: the queue's cost per task is shared by them."""

    pages: list[dict] = field(default_factory=list)
    slots: list[_Queued] = field(default_factory=list)
    spools: list[Path] = field(default_factory=list)
    result: AsyncResult | None = None
    sent_at: float = 0.0
    lines: list[dict] | None = None


def distributed_scan(
    paths: Sequence[Path],
    *,
    created_by: str | None = None,
    label: str | None = None,
    batch_id: int | None = None,
    key: bytes | None = None,
    progress: bool = False,
) -> Iterator[dict]:
    """Send a stack's pages to the workers; yields one contract line per page, in input order."""
    runner = QueueRunner(key)
    yield from ingest.run(
        paths,
        runner,
        created_by=created_by,
        label=label,
        batch_id=batch_id,
        progress=progress,
        desc="Đọc phiếu (hàng đợi)",
    )


def _check_broker(celery: Celery) -> None:
    """Fail at once, in one line, when Redis cannot be reached (before a scan batch is recorded)."""
    try:
        with celery.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=5)
    except Exception as e:
        where = shown_url(config.broker_url() or "")
        raise QueueUnavailable(f"không kết nối được hàng đợi {where}: {_first(e)}") from e


class QueueRunner:
    """The pipeline's runner through the queue (``ingest.run``): spooling and sending pages, collecting
    results in order."""

    by_reference = False  # the pages' bytes go to the spool, for workers on any machine

    def __init__(self, key: bytes | None = None):
        self.celery = app()
        _check_broker(self.celery)  # before a scan batch is recorded
        self.key = key or signing_key.secret_key()
        self.window = config.queue_window()
        self.task = self.celery.tasks[TASK]
        self.home = home_id(self.key)
        self.chunk_size = config.queue_chunk()
        self.open: _Chunk | None = None
        self.shas: set[str] = set()
        self.emitted = 0
        self.warned = False
        self.shown_at = 0.0
        self.checked_at = 0.0
        self.lost: set[str] = set()  # workers found dead, said once each

    def start(self, batch_id: int, bar: Any) -> None:
        self.batch_id, self.bar = batch_id, bar
        self.interactive = not isinstance(bar, ingest.NoBar)
        self.spool_dir = spool_dir(batch_id)

    def take(self, pending: deque[_Queued]) -> list[dict]:
        return [self.finish(pending.popleft())]

    def end_of_input(self) -> None:
        self.flush()

    def close(self, done: bool) -> None:
        # Also on an early stop: with the spool gone, the workers skip this batch's pages still queued.
        shutil.rmtree(self.spool_dir, ignore_errors=True)
        if self.interactive:
            self.bar.n = max(self.bar.n, self.emitted)
            self.bar.refresh()
        if done:
            # The workers counted as they went; a task run twice may have counted twice. The scan knows
            # the exact number of pages now.
            with dbs.transaction() as s:
                s.execute(
                    update(ScanBatch)
                    .where(ScanBatch.id == self.batch_id)
                    .values(done_pages=self.emitted, total_pages=self.emitted)
                )

    def submit(self, raw: RawPage) -> _Queued:
        slot = _Queued(raw)
        if raw.error or raw.data is None:
            slot.line = readers.ingest_page(raw, self.key, self.batch_id)  # the error line, counted
            return slot
        sha = hashlib.sha256(raw.data).hexdigest()
        if sha in self.shas:
            slot.twin = True  # keep the bytes: answered once the first copy is stored (or failed)
            return slot
        self.shas.add(sha)
        with dbs.engine().connect() as conn:
            known = conn.execute(select(Page.id).where(Page.sha256 == sha)).first()
        if known is not None:
            # a page stored before (a stack scanned again): answered from the database, no reading
            slot.line = readers.ingest_page(raw, self.key, self.batch_id)
            return slot
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        spool = self.spool_dir / f"{sha}{raw.ext if raw.ext.startswith('.') else '.bin'}"
        spool.write_bytes(raw.data)
        chunk = self.open = self.open or _Chunk()
        chunk.pages.append(
            {
                "source": raw.source,
                "page": raw.page,
                "ext": raw.ext,
                "sha": sha,
                "spool": spool.relative_to(config.home()).as_posix(),
            }
        )
        chunk.slots.append(slot)
        chunk.spools.append(spool)
        slot.chunk = chunk
        slot.raw = RawPage(raw.source, raw.page, None, raw.ext)  # the bytes are in the spool now
        if len(chunk.pages) >= self.chunk_size:
            self.flush()
        return slot

    def flush(self) -> None:
        """Send the pages gathered so far."""
        if self.open is not None:
            self._send(self.open)
            self.open = None

    def _send(self, chunk: _Chunk) -> None:
        job = {"home": self.home, "batch": self.batch_id, "pages": chunk.pages}
        try:
            chunk.result = self.task.apply_async((job,))
        except Exception as e:  # kombu's connection errors come in many types
            where = shown_url(config.broker_url() or "")
            raise QueueUnavailable(f"không gửi được việc vào hàng đợi {where}: {_first(e)}") from e
        chunk.sent_at = time.monotonic()

    def finish(self, slot: _Queued) -> dict:
        if slot.line is not None:
            line = slot.line
        elif slot.twin:
            # the first copy came earlier in the input, so it has been answered already: this one is a
            # duplicate of it (or, if that one could not be read, is read here, in this process)
            line = readers.ingest_page(slot.raw, self.key, self.batch_id)
        else:
            chunk = slot.chunk
            assert chunk is not None
            if chunk is self.open:
                self.flush()  # waiting for a page not sent yet (the stack's last ones)
            if chunk.lines is None:
                chunk.lines = self._wait(chunk)
            line = chunk.lines[chunk.slots.index(slot)]
        self.emitted += 1
        self._show(self.emitted)
        return line

    def _wait(self, chunk: _Chunk) -> list[dict]:
        from celery.exceptions import TimeoutError as CeleryTimeout

        assert chunk.result is not None
        started = time.monotonic()
        while True:
            try:
                value = chunk.result.get(timeout=POLL, propagate=False)
                break
            except CeleryTimeout:
                self._show(self.emitted)
                now = time.monotonic()
                if not self.warned and now - started > NO_WORKER_WARNING:
                    self._check_workers()
                if now - self.checked_at >= HOLDER_CHECK:
                    self.checked_at = now
                    dead = self._dead_holder(chunk)
                    if dead is not None:
                        self._say_lost(dead)
                        self._resend(chunk)
                        continue
                if now - chunk.sent_at > max(RESEND_AFTER, 3 * config.queue_visibility()):
                    self._resend(chunk)
        failed = chunk.result.failed()
        chunk.result.forget()
        client = _redis(self.celery)
        if client is not None:
            with contextlib.suppress(Exception):
                client.delete(HELD_KEY + chunk.result.id)
        for spool in chunk.spools:
            spool.unlink(missing_ok=True)  # from now on a redelivered copy of this task does nothing
        lines = value if not failed and isinstance(value, list) and len(value) == len(chunk.slots) else None
        out = []
        for i, slot in enumerate(chunk.slots):
            line = lines[i] if lines is not None else None
            if not isinstance(line, dict) or line.get("stale"):
                reason = _first(value) if failed else "máy đọc không trả kết quả"
                line = scan_lines.error_json(slot.raw.source, slot.raw.page, f"máy đọc báo lỗi: {reason}")
            out.append(line)
        return out

    def _resend(self, chunk: _Chunk) -> None:
        """Send a chunk's pages again as a new task (storing is exactly once, so a second run is harmless)."""
        lost = chunk.result
        self._send(chunk)
        with contextlib.suppress(Exception):  # stop listening for the lost task's result now,
            self.celery.backend.remove_pending_result(lost)  # not at exit when Redis may be gone
            if lost is not None and (client := _redis(self.celery)) is not None:
                client.delete(HELD_KEY + lost.id)

    def _dead_holder(self, chunk: _Chunk) -> str | None:
        """The worker holding this chunk's task if it is dead (no heartbeat); the progress line says whom
        the scan waits for."""
        client = _redis(self.celery)
        if client is None or chunk.result is None:
            return None
        try:
            holder = client.get(HELD_KEY + chunk.result.id)
            holder = holder.decode() if isinstance(holder, bytes) else holder
            alive = bool(holder) and bool(client.exists(WORKER_KEY + holder))
        except Exception:
            return None  # Redis away: the visibility timeout and the resend still bring the pages back
        n = len(chunk.slots)
        if not holder:
            self._wait_note(f"chờ máy đọc nhận {n} trang")
            return None
        if alive:
            self._wait_note(f"máy đọc {holder} đang đọc {n} trang")
            return None
        self._wait_note(f"máy đọc {holder} mất tín hiệu: gửi lại {n} trang cho máy đọc khác")
        return holder

    def _wait_note(self, text: str) -> None:
        if self.interactive:
            self.bar.set_postfix_str(text, refresh=True)

    def _say_lost(self, worker: str) -> None:
        if worker in self.lost:
            return
        self.lost.add(worker)
        msg = f"Máy đọc {worker} đã dừng (mất tín hiệu); các trang nó đang giữ được gửi lại cho máy đọc khác."
        if self.interactive:
            self.bar.write(msg)
        else:
            print(msg, file=sys.stderr, flush=True)

    def _check_workers(self) -> None:
        """Say so once if no worker answers: the scan waits for one rather than failing."""
        self.warned = True
        try:
            replies = self.celery.control.ping(timeout=1.0)
        except Exception:
            replies = []
        if not replies:
            msg = "Chưa thấy máy đọc nào (omr worker) trên hàng đợi; các trang sẽ được đọc khi có máy đọc chạy."
            if self.interactive:
                self.bar.write(msg)
            else:
                print(msg, file=sys.stderr, flush=True)

    def _show(self, emitted: int) -> None:
        """The bar shows what the workers have stored, not only what has been printed in order."""
        now = time.monotonic()
        if not self.interactive or now - self.shown_at < 0.2:
            return
        self.shown_at = now
        with dbs.engine().connect() as conn:
            done = conn.execute(select(ScanBatch.done_pages).where(ScanBatch.id == self.batch_id)).scalar() or 0
        n = max(emitted, done)
        if self.bar.total:
            n = min(n, self.bar.total)
        if n != self.bar.n:
            self.bar.n = n
            self.bar.refresh()


def _first(e: object) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


# --------------------------------------------------------------------------- for `omr worker`


def node_name() -> str:
    """A Celery node name unique per process, so several workers on one machine do not clash."""
    return f"omr-{os.getpid()}@{socket.gethostname()}"


def purge_stale_spool() -> None:
    """Remove spool folders of scans that are no longer running (their scanner was killed)."""
    for folder in stale_spools():
        shutil.rmtree(folder, ignore_errors=True)
