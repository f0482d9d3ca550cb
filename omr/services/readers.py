"""Reading pages in reader processes: the scan's pool (``omr.services.ingest``) and ``omr reread``'s.

A reader process loads a page handed to it by reference, reads it with the pure reader and writes the
image and comment crops (atomically, named by sha256); the process that stores rows only writes rows.
The pool is restarted when a reader dies under it, so that one page that kills it becomes one error
line. ``ingest_page`` reads and stores one page in this very process (the queue's workers).
"""

from __future__ import annotations

import hashlib
import os
import signal
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing import get_context

from sqlalchemy import select

from db import session as dbs
from db.models import Page
from omr import config
from omr.detect import result as R
from omr.detect.images import UndecodableImage
from omr.detect.sources import RawPage, load
from omr.services import signing_key
from omr.services.scan_lines import error_json
from omr.services.storing import Reading, count_done, duplicate_json, store_pages, write_files

WINDOW_PER_CORE = 16  # pages in flight: handed out by reference, a page in flight costs a few bytes until read

Reader = Callable[[bytes, bytes], R.PageRead]


def default_reader(data: bytes, key: bytes) -> R.PageRead:
    from omr.detect.read import read_page_bytes

    return read_page_bytes(data, key)


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
        read = (reader or default_reader)(raw.data, key)
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


def cores() -> int:
    """The cores this process may run on: one reader process each, by default."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def worker_count(workers: int | None = None) -> int:
    """How many reader processes a scan runs: ``workers`` if given, else ``OMR_SCAN_WORKERS``, else ``cores()``."""
    if workers:
        return max(1, workers)
    return config.scan_workers() or cores()


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


class Readers:
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

    def result(self, slot: InFlight, in_flight: Iterable[InFlight]) -> Reading | str:
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
    read = read_job(raw, key or signing_key.secret_key(), reader)
    return store_pages(dbs.engine(), [(raw, read)], batch_id)[0]


@dataclass
class InFlight:
    """A page handed to the readers, and its reading to come."""

    raw: RawPage
    future: Future | None = None  # None: the page could not even be had (``raw.error``)
