"""The watched folder (``omr scan --watch``): every stack file that appears in it is scanned once, when
whole, by the scan the caller hands it (in process, or through the queue: ``omr.queue.scan``)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from threading import Event

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from db.models import WatchedFile
from db.session import session as open_session
from db.session import transaction
from omr import config
from omr.detect.sources import STACK_EXTS
from omr.services.ingest import start_batch
from omr.services.readers import Reader

_PARTIAL_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", ".filepart")
# what reads a stack: ``omr.services.ingest.scan``, or ``omr.queue.scan`` to go through the queue when set up
Scan = Callable[..., Iterator[dict]]


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
    scan: Scan,
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
    """Read every stack file that appears in ``directory`` with ``scan``, each once and only once fully
    written (``workers``, ``key``, ``progress`` and ``reader`` are passed on to ``scan``).

    A file is taken when its size and modification time have stayed the same for ``stable`` seconds
    (default ``config.watch_stable_seconds()``) and it is whole to its end (``completeness.complete``); until then it
    waits, however long: a scanner may pause half-way for longer than any fixed time. ``notify`` hears,
    once per state of a file, that a file stopped changing but has not reached its end. Files read are
    remembered in the database by path, size and time, so a restarted watcher skips them and a file
    replaced by a new scan is read again. Runs until ``stop`` is set (or Ctrl-C in the caller).
    """
    from omr.services.completeness import complete

    directory = Path(directory).resolve()  # remembered files are keyed by absolute path
    stable = config.watch_stable_seconds() if stable is None else stable
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
            yield from scan([path], batch_id=batch_id, workers=workers, key=key, progress=progress, reader=reader)
            _mark_processed(path, size, mtime, batch_id)
            if stop.is_set():
                break
        seen = current
        stop.wait(interval)
