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

import sys
import zipfile
from collections import deque
from collections.abc import Iterator, Sequence
from pathlib import Path

from sqlalchemy import update
from sqlalchemy.engine import Engine

from db import session as dbs
from db.models import (
    SCAN_DONE,
    SCAN_FAILED,
    SCAN_RUNNING,
    ScanBatch,
)
from db.session import transaction
from omr import config
from omr.detect.sources import close_open_file, display_name, iter_pages
from omr.services import running
from omr.services.readers import WINDOW_PER_CORE, Reader, _default_reader, _Readers, _Slot, worker_count
from omr.services.storing import store_pages

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
