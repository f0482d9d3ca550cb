"""The scan pipeline: scanned stacks in, one stored page and one contract JSON line per page out.

    for line in scan([Path("stack.pdf")]):      # lines in input order, each once its page is stored
        print(json.dumps(line, ensure_ascii=False))

Pages stream from ``omr.detect.sources.iter_pages`` by reference (file and page number) to reader
processes, with at most ``WINDOW_PER_CORE`` pages per core in flight, so a 1,000-page PDF is never
all in memory. A reader loads its page, reads it and writes the image and comment crops (atomically,
named by sha256); this process then stores the rows (``omr.services.storing``), half the window at a
time in one transaction. The page's sha256 is UNIQUE in the database, which is what makes a stack
re-scannable after an interruption and two scanners of the same stack safe: a page already stored is
reported ``duplicate`` and nothing new is written.

Statuses (CONTRACT.md): blank, unidentified (kept and queued for a person), invalid (bad signature,
a serial this installation never issued, or a code that does not match the issued sheet), duplicate
(same image, or same sheet page with the same machine answers: kept, not counted), conflict (same
sheet page with other answers: both kept, a person chooses), needs_review, accepted. A page that
cannot be read at all yields ``status: "error"`` with ``error`` and is not stored, so scanning the
stack again retries it.
"""

from __future__ import annotations

import hashlib
import os
import signal
import sys
import time
import zipfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from threading import Event

from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from db import session as dbs
from db.models import Page, ScanBatch, WatchedFile
from db.session import session as open_session
from db.session import transaction
from omr import config
from omr.detect import result as R
from omr.detect.images import UndecodableImage
from omr.detect.sources import STACK_EXTS, RawPage, close_open_file, display_name, iter_pages, load
from omr.services import running
from omr.services.storing import Reading, count_done, duplicate_json, error_json, store_pages, write_files
from omr.vocab import SCAN_DONE, SCAN_FAILED, SCAN_RUNNING

WINDOW_PER_CORE = 16  # pages in flight: handed out by reference, a page in flight costs a few bytes until read

Reader = Callable[[bytes, bytes], R.PageRead]


def _default_reader(data: bytes, key: bytes) -> R.PageRead:
    from omr.detect.read import read_page_bytes

    return read_page_bytes(data, key)


# --------------------------------------------------------------------------- reading (worker side)


def _worker_init(parent: int) -> None:
    # Ctrl-C goes to the whole process group; the parent stops the pool itself, workers must not die
    # half-way through a page and break it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent(parent)
    keep_freed_memory()


PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
PARENT_CHECK_SECONDS = 1.0


def die_with_parent(parent: int) -> None:
    """End this reader process as soon as ``parent`` (the process that scans) is gone, even killed with
    SIGKILL: a reader left behind would hold the scan's stdout open (a shell pipeline reading ``omr
    scan`` would never end) and its memory. Linux sends SIGKILL on the parent's death (PR_SET_PDEATHSIG);
    a thread watching the parent id covers the rest: the parent gone before that was set, other systems,
    a parent whose forking thread ends before it does."""
    import ctypes
    import ctypes.util
    import threading

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:
        os._exit(1)  # the parent died before the signal was set up

    def check_parent() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(1)

    threading.Thread(target=check_parent, name="omr-parent-check", daemon=True).start()


# glibc hands every freed block over 128 KB straight back to the system, so each page's large arrays
# (decoded scan, warped band, summed-area tables: about 20 MB at 200 dpi) are page-faulted in anew,
# some 1,800 faults a page and a fifth of a reader's time (benchmarks/bench_reading.py). Raising both keeps
# them in the heap for the next page to reuse, at the cost of about one page's worth of memory
# per reader process.
MALLOC_MMAP_THRESHOLD = 32 * 1024 * 1024  # the most glibc accepts on 64-bit
MALLOC_TRIM_THRESHOLD = 512 * 1024 * 1024


def keep_freed_memory() -> None:
    """Make this (reader) process keep freed memory for reuse instead of returning it at once; glibc
    only (elsewhere the defaults stay). Both thresholds must be set: either alone turns off glibc's
    own adjustment and is slower than neither."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    m_trim_threshold, m_mmap_threshold = -1, -3  # <malloc.h>
    if mallopt(m_mmap_threshold, MALLOC_MMAP_THRESHOLD):
        mallopt(m_trim_threshold, MALLOC_TRIM_THRESHOLD)


def read_job(raw: RawPage, key: bytes, reader: Reader | None = None) -> Reading | str:
    """Runs in a reader process: load the page (pages come by reference), read it, and write its image
    and comment crops under OMR_HOME (content-addressed, so writing twice is harmless). The one process
    that stores every page then only writes rows. Returns the reading, or a one-line reason there is none."""
    raw = load(raw)
    if raw.error or raw.data is None:
        return raw.error or "trang rỗng"
    try:
        read = (reader or _default_reader)(raw.data, key)
    except UndecodableImage as e:  # says what is wrong with the image itself
        return str(e)
    except Exception as e:  # one bad page must never stop the stack: report it and go on
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        return f"Không đọc được trang: {msg}"
    sha = hashlib.sha256(raw.data).hexdigest()
    write_files(sha, raw.ext, raw.data, read)
    return Reading(sha, raw.ext, read)


class _Inline:
    """Stands in for a process pool when one worker is asked for (tests, single-core machines)."""

    def submit(self, fn, *args) -> Future:
        fut: Future = Future()
        fut.set_result(fn(*args))
        return fut

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        pass


def worker_count(workers: int | None = None) -> int:
    if workers:
        return max(1, workers)
    env = os.environ.get("OMR_SCAN_WORKERS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def before_forking_readers() -> None:
    """Set up this process before reader processes are forked from it: they inherit it all."""
    import cv2

    from omr.detect.read import warm

    # One page per reader process per core: OpenCV's own threads would only fight the other readers
    # for the same cores (benchmarks/bench_reading.py: 15 % more CPU per page). Set before the fork: setting it inside a
    # forked reader can deadlock OpenCV's thread pool.
    cv2.setNumThreads(1)
    warm()  # templates, layouts and fonts, loaded once and shared by the readers


def _pool(workers: int):
    if workers <= 1:
        return _Inline()
    # fork, not spawn/forkserver: those run the caller's main module again in every worker, which
    # breaks any script that calls scan() without an ``if __name__ == "__main__"`` guard, and they
    # start slower. Workers only run the pure reader, never the parent's threads or connections.
    from multiprocessing import get_all_start_methods

    before_forking_readers()
    method = "fork" if "fork" in get_all_start_methods() else "spawn"
    return ProcessPoolExecutor(
        max_workers=workers, mp_context=get_context(method), initializer=_worker_init, initargs=(os.getpid(),)
    )


class _Readers:
    """The reading pool, restarted when a worker dies under it (a page that crashes the image decoder,
    the kernel's out-of-memory killer), so that one such page becomes one error line, not a lost stack."""

    CRASHED = "trình đọc bị dừng đột ngột khi đọc trang này (ảnh hỏng hoặc quá lớn?)"

    def __init__(self, workers: int, reader: Reader, key: bytes, job: Callable = read_job):
        # ``job(raw, key, reader)`` runs in a reader process; omr reread hands its own (no files written)
        self.workers, self.reader, self.key, self.job = workers, reader, key, job
        self.pool = _pool(workers)

    def submit(self, raw: RawPage) -> Future:
        try:
            return self.pool.submit(self.job, raw, self.key, self.reader)
        except BrokenProcessPool as e:
            # the pool broke before this page's turn came to collect it: let ``result`` recover it
            failed: Future = Future()
            failed.set_exception(e)
            return failed

    def result(self, slot: _Slot, in_flight: Iterable[_Slot]) -> Reading | str:
        assert slot.future is not None
        try:
            return slot.future.result()
        except BrokenProcessPool:
            pass
        # Some page in flight killed its worker; which one is unknown. Read this one alone in a fresh
        # pool: if that dies too, it is the culprit. The others in flight are read again afterwards.
        self._restart()
        try:
            read = self.submit(slot.raw).result()
        except BrokenProcessPool:
            self._restart()
            read = self.CRASHED
        for other in in_flight:
            f = other.future
            if f is not None and not (f.done() and f.exception() is None):
                other.future = self.submit(other.raw)
        return read

    def _restart(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.pool = _pool(self.workers)

    def shutdown(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def ingest_page(
    raw: RawPage, key: bytes | None = None, batch_id: int | None = None, reader: Reader | None = None
) -> dict:
    """Read and store one page in this process, answering it from the database if its image is stored
    already (a queue worker's page on a redelivery; a page the scanning side answers itself); idempotent."""
    raw = load(raw)
    if raw.error or raw.data is None:
        line = error_json(raw.source, raw.page, raw.error or "trang rỗng")
        count_done(batch_id, line)
        return line
    # a page delivered again (a queue redelivers what a dead worker held) is answered without reading
    sha = hashlib.sha256(raw.data).hexdigest()
    with dbs.engine().connect() as conn:
        existing = conn.scalar(select(Page.id).where(Page.sha256 == sha))
        dup = duplicate_json(conn, existing, raw) if existing is not None else None
    if dup is not None:
        count_done(batch_id)
        return dup
    read = read_job(raw, key or config.secret_key(), reader)
    return store_pages(dbs.engine(), [(raw, read)], batch_id)[0]


# --------------------------------------------------------------------------- whole stacks


def start_batch(
    label: str | None = None, created_by: str | None = None, total_pages: int = 0, period: str | None = None
) -> int:
    """Record a scan batch (e.g. from a web upload, before reading starts in the background), claimed by
    this process until ``finish_batch``; its survey month is ``period`` (checked by
    ``survey_period.parse_month``), else the month of the scan. Batches a killed scan left running are
    repaired first."""
    from omr import doctor
    from omr.services.survey_period import current_month

    doctor.recover_interrupted()
    with transaction() as s:
        batch = ScanBatch(
            label=label,
            created_by=created_by,
            total_pages=total_pages,
            status=SCAN_RUNNING,
            period=period or current_month(),
        )
        s.add(batch)
        s.flush()
        running.claim(batch.id)  # before the row is committed: no one ever sees it running unclaimed
        return batch.id


def finish_batch(batch_id: int, status: str = SCAN_DONE, note: str | None = None) -> None:
    with transaction() as s:
        batch = s.get(ScanBatch, batch_id)
        if batch is not None:
            batch.status = status
            batch.total_pages = max(batch.total_pages, batch.done_pages)
            if note:
                batch.note = note
    running.release(batch_id)


def count_pages(paths: Sequence[Path]) -> int | None:
    """A quick estimate of how many pages a stack holds, for progress; None if it cannot tell cheaply."""
    total = 0
    try:
        for path in paths:
            # only regular files are opened: opening a FIFO given on the command line would block
            files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path] * path.is_file()
            for f in files:
                total += _count_file(f)
    except Exception:  # only an estimate: reading proper will report what is wrong with the file
        return None
    return total


def _count_file(f: Path) -> int:
    suffix = f.suffix.lower()
    if suffix == ".pdf":
        import pypdfium2 as pdfium

        try:
            pdf = pdfium.PdfDocument(str(f))
        except pdfium.PdfiumError:
            return 1
        try:
            return max(1, len(pdf))
        finally:
            pdf.close()
    if suffix in (".tif", ".tiff"):
        from PIL import Image

        with Image.open(f) as im:
            return max(1, getattr(im, "n_frames", 1))
    if suffix == ".zip":
        with zipfile.ZipFile(f) as zf:
            return sum(1 for i in zf.infolist() if not i.is_dir()) or 1
    return 1


@dataclass
class _Slot:
    raw: RawPage
    future: Future | None = None  # None: the page could not even be had (``raw.error``)


GROUP_MAX = 32  # pages stored in one transaction at most


def scan(
    paths: Sequence[Path],
    *,
    created_by: str | None = None,
    label: str | None = None,
    batch_id: int | None = None,
    workers: int | None = None,
    key: bytes | None = None,
    progress: bool = False,
    reader: Reader | None = None,
) -> Iterator[dict]:
    """Read and store a stack; yields one contract line per page, in input order, each once stored.

    ``batch_id``: an existing scan batch to report progress in (else one is made). ``reader`` must be a
    module-level function when ``workers`` > 1 (it is sent to worker processes).
    """
    paths = [Path(p) for p in paths]
    key = key or config.secret_key()
    reader = reader or _default_reader
    n_workers = worker_count(workers)
    window = WINDOW_PER_CORE * n_workers
    estimate = count_pages(paths)
    if batch_id is None:
        batch_id = start_batch(label or ", ".join(display_name(p.name) for p in paths)[:300], created_by, estimate or 0)
    else:
        running.claim(batch_id)  # started elsewhere in this process (a web upload), or by another one
        if estimate:
            with transaction() as s:
                s.execute(update(ScanBatch).where(ScanBatch.id == batch_id).values(total_pages=estimate))
    engine = dbs.engine()
    bar = _progress(estimate, progress)
    readers = _Readers(n_workers, reader, key)
    pending: deque[_Slot] = deque()
    outcome, note = SCAN_FAILED, "bị dừng giữa chừng"
    try:
        for raw in iter_pages(paths, by_reference=True):
            pending.append(_Slot(raw, None if raw.error else readers.submit(raw)))
            while len(pending) >= window:
                yield from _store_ready(pending, readers, engine, batch_id, bar)
        while pending:
            yield from _store_ready(pending, readers, engine, batch_id, bar)
        outcome, note = SCAN_DONE, None
    finally:
        # also on an early stop (generator closed, Ctrl-C): pages not yet stored are simply not stored;
        # scanning the stack again stores them, and reports the others as duplicates
        readers.shutdown()
        close_open_file()  # pages read in this thread (one reader: no pool)
        bar.close()
        finish_batch(batch_id, outcome, note)


def _store_ready(pending: deque[_Slot], readers: _Readers, engine: Engine, batch_id: int, bar) -> list[dict]:
    """Store the oldest half of the pages in flight, in one transaction, once they are read: the pages
    share the transaction's cost, and the readers still have the other half to work on meanwhile."""
    group = [pending.popleft() for _ in range(max(1, min(len(pending), GROUP_MAX, len(pending) // 2)))]
    outcomes = []
    for i, slot in enumerate(group):
        if slot.future is None:
            outcomes.append((slot.raw, slot.raw.error or "trang rỗng"))
        else:
            outcomes.append((slot.raw, readers.result(slot, [*group[i + 1 :], *pending])))
    lines = store_pages(engine, outcomes, batch_id)
    bar.update(len(lines))
    return lines


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass

    def write(self, s: str) -> None:
        print(s, file=sys.stderr)


def _progress(total: int | None, enabled: bool):
    if not enabled:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, unit="trang", desc="Đọc phiếu", file=sys.stderr, dynamic_ncols=True, leave=True)


# --------------------------------------------------------------------------- watched folder

STABLE_ENV = "OMR_WATCH_STABLE"
DEFAULT_STABLE = 5.0  # seconds a file's size and time must stay the same: a scanner's pause between pages
_PARTIAL_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", ".filepart")


def stable_seconds() -> float:
    """How long a watched file must stay unchanged before it is looked at (``OMR_WATCH_STABLE``)."""
    try:
        value = float(os.environ.get(STABLE_ENV, "").strip())
    except ValueError:
        return DEFAULT_STABLE
    return value if value >= 0 else DEFAULT_STABLE


def _candidates(directory: Path) -> list[Path]:
    out = []
    for p in sorted(directory.rglob("*")):
        name = p.name
        if name.startswith((".", "~")) or name.lower().endswith(_PARTIAL_SUFFIXES):
            continue
        if p.suffix.lower() in STACK_EXTS and p.is_file():
            out.append(p)
    return out


def _already_processed(path: Path, size: int, mtime_ns: int) -> bool:
    with open_session() as s:
        return bool(
            s.scalar(
                select(func.count())
                .select_from(WatchedFile)
                .where(WatchedFile.path == str(path), WatchedFile.size == size, WatchedFile.mtime_ns == mtime_ns)
            )
        )


def _mark_processed(path: Path, size: int, mtime_ns: int, batch_id: int | None) -> None:
    try:
        with transaction() as s:
            s.add(WatchedFile(path=str(path), size=size, mtime_ns=mtime_ns, scan_batch_id=batch_id))
    except IntegrityError:
        pass  # another watcher on the same folder got there first


def watch(
    directory: Path,
    *,
    interval: float = 2.0,
    stable: float | None = None,
    stop: Event | None = None,
    created_by: str | None = None,
    workers: int | None = None,
    key: bytes | None = None,
    progress: bool = False,
    reader: Reader | None = None,
    notify: Callable[[str], None] | None = None,
) -> Iterator[dict]:
    """Read every stack file that appears in ``directory``, each once and only once fully written.

    A file is taken when its size and modification time have stayed the same for ``stable`` seconds
    (default ``stable_seconds()``) and it is whole to its end (``completeness.complete``); until then it
    waits, however long: a scanner may pause half-way for longer than any fixed time. ``notify`` hears,
    once per state of a file, that a file stopped changing but has not reached its end. Files read are
    remembered in the database by path, size and time, so a restarted watcher skips them and a file
    replaced by a new scan is read again. Runs until ``stop`` is set (or Ctrl-C in the caller).
    """
    from omr.services.completeness import complete

    directory = Path(directory).resolve()  # remembered files are keyed by absolute path
    stable = stable_seconds() if stable is None else stable
    stop = stop or Event()
    seen: dict[Path, tuple[int, int, float]] = {}  # path -> size, mtime, when first seen so
    told: set[tuple[Path, int, int]] = set()
    while not stop.is_set():
        now = time.monotonic()
        current: dict[Path, tuple[int, int, float]] = {}
        for path in _candidates(directory):
            try:
                st = path.stat()
            except OSError:
                continue
            size, mtime = st.st_size, st.st_mtime_ns
            before = seen.get(path)
            since = before[2] if before and before[:2] == (size, mtime) else now
            current[path] = (size, mtime, since)
            if size == 0 or now - since < stable or _already_processed(path, size, mtime):
                continue  # new, still changing, or read already
            if not complete(path):
                if notify is not None and (path, size, mtime) not in told:
                    told.add((path, size, mtime))
                    notify(f"Chờ tệp {path.name} ghi xong: cỡ không đổi {stable:g} giây nhưng chưa đến cuối tệp")
                continue
            batch_id = start_batch(path.name, created_by)
            # through the queue when a broker is configured, like any other scan
            from omr import queue

            yield from queue.scan([path], batch_id=batch_id, workers=workers, key=key, progress=progress, reader=reader)
            _mark_processed(path, size, mtime, batch_id)
            if stop.is_set():
                break
        seen = current
        stop.wait(interval)
