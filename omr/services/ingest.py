"""The scan pipeline: scanned stacks in, one stored page and one contract JSON line per page out.

    for line in scan([Path("stack.pdf")]):      # lines in input order, each once its page is stored
        print(json.dumps(line, ensure_ascii=False))

One pipeline (``run``): pages stream from ``omr.detect.sources.iter_pages`` to a runner, which reads
and stores them (``omr.services.storing``) and hands their lines back in input order, while the
pipeline keeps the scan batch and the progress bar. Two runners: ``LocalRunner`` here (this machine's
reader processes, ``omr.services.readers``; ``scan``) and ``omr.queue``'s (Celery workers on any
machine). At most a window of pages is in flight, so a 1,000-page PDF is never all in memory. The
page's sha256 is UNIQUE in the database, which is what makes a stack re-scannable after an
interruption and two scanners of the same stack safe: a page already stored is reported
``duplicate`` and nothing new is written.

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
from typing import Any, Protocol

from sqlalchemy import update

from db import session as dbs
from db.models import ScanBatch
from db.session import transaction
from omr.detect.sources import RawPage, close_open_file, display_name, iter_pages
from omr.services import running, signing_key
from omr.services.readers import WINDOW_PER_CORE, InFlight, Reader, Readers, default_reader, worker_count
from omr.services.storing import Reading, store_pages
from omr.vocab import SCAN_DONE, SCAN_FAILED, SCAN_RUNNING

# --------------------------------------------------------------------------- whole stacks


def start_batch(
    label: str | None = None, created_by: str | None = None, total_pages: int = 0, period: str | None = None
) -> int:
    """Record a scan batch (e.g. from a web upload, before reading starts in the background), claimed by
    this process until ``finish_batch``; its survey month is ``period`` (checked by
    ``survey_period.parse_month``), else the month of the scan. Batches a killed scan left running are
    repaired first."""
    from omr.services import doctor
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


# --------------------------------------------------------------------------- progress


class NoBar:
    """Stands in for the progress bar when none is shown; what would be written above it goes to stderr."""

    n, total = 0, None

    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass

    def write(self, s: str) -> None:
        print(s, file=sys.stderr)


def progress_bar(total: int | None, enabled: bool, desc: str) -> Any:
    """The scan's progress bar on stderr (``NoBar`` unless ``enabled``), ``total`` pages if known."""
    if not enabled:
        return NoBar()
    from tqdm import tqdm

    return tqdm(total=total, unit="trang", desc=desc, file=sys.stderr, dynamic_ncols=True, leave=True)


# --------------------------------------------------------------------------- the pipeline


class Runner(Protocol):
    """Who reads and stores the pipeline's pages: ``LocalRunner`` (reader processes on this machine) or
    ``omr.queue.QueueRunner`` (workers on any machine, through Celery)."""

    window: int  # pages taken from the stack ahead of the output at most
    by_reference: bool  # pages handed on as file and page number, loaded where they are read

    def start(self, batch_id: int, bar: Any) -> None:
        """Before the first page: the batch the pages are counted in, and the progress bar."""

    def submit(self, raw: RawPage) -> Any:
        """Set a page on its way; what is returned stands for it in the pipeline's queue."""

    def take(self, pending: deque) -> list[dict]:
        """Take one or more pages off the front of ``pending`` once stored; their lines, in order."""

    def end_of_input(self) -> None:
        """The stack has no more pages: send on whatever waits for more."""

    def close(self, done: bool) -> None:
        """After the last page or on an early stop (``done`` false)."""


def run(
    paths: Sequence[Path],
    runner: Runner,
    *,
    created_by: str | None = None,
    label: str | None = None,
    batch_id: int | None = None,
    progress: bool = False,
    desc: str = "Đọc phiếu",
) -> Iterator[dict]:
    """Pages from the stack to ``runner`` and their contract lines out, in input order, with the scan
    batch recorded and a progress bar (``desc``) if ``progress``. ``batch_id``: an existing scan batch
    to report progress in (else one is made)."""
    paths = [Path(p) for p in paths]
    estimate = count_pages(paths)
    batch_id = _open_batch(paths, estimate, batch_id, label, created_by)
    bar = progress_bar(estimate, progress, desc)
    runner.start(batch_id, bar)
    pending: deque = deque()
    note: str | None
    outcome, note = SCAN_FAILED, "bị dừng giữa chừng"
    try:
        for raw in iter_pages(paths, by_reference=runner.by_reference):
            pending.append(runner.submit(raw))
            while len(pending) >= runner.window:
                yield from runner.take(pending)
        runner.end_of_input()
        while pending:
            yield from runner.take(pending)
        outcome, note = SCAN_DONE, None
    finally:
        # also on an early stop (generator closed, Ctrl-C): pages not yet stored are simply not stored;
        # scanning the stack again stores them, and reports the others as duplicates
        runner.close(outcome == SCAN_DONE)
        bar.close()
        finish_batch(batch_id, outcome, note)


def _open_batch(
    paths: Sequence[Path], estimate: int | None, batch_id: int | None, label: str | None, created_by: str | None
) -> int:
    """The scan batch the stack's pages are counted in: a new one, or ``batch_id`` started elsewhere (a
    web upload), claimed by this process and told the stack's size."""
    if batch_id is None:
        return start_batch(label or ", ".join(display_name(p.name) for p in paths)[:300], created_by, estimate or 0)
    running.claim(batch_id)  # started elsewhere in this process (a web upload), or by another one
    if estimate:
        with transaction() as s:
            s.execute(update(ScanBatch).where(ScanBatch.id == batch_id).values(total_pages=estimate))
    return batch_id


# --------------------------------------------------------------------------- the local runner

GROUP_MAX = 32  # pages stored in one transaction at most


class LocalRunner:
    """Pages read by this machine's reader processes (``omr.services.readers``), handed to them by
    reference, at most ``WINDOW_PER_CORE`` per reader in flight; this process stores the rows, the
    oldest half of the pages in flight at a time in one transaction."""

    by_reference = True  # a page in flight costs a few bytes until its reader loads it

    def __init__(self, workers: int | None = None, key: bytes | None = None, reader: Reader | None = None):
        self.key = key or signing_key.secret_key()
        self.reader = reader or default_reader
        self.workers = worker_count(workers)
        self.window = WINDOW_PER_CORE * self.workers

    def start(self, batch_id: int, bar: Any) -> None:
        self.batch_id, self.bar = batch_id, bar
        self.engine = dbs.engine()
        self.readers = Readers(self.workers, self.reader, self.key)

    def submit(self, raw: RawPage) -> InFlight:
        return InFlight(raw, None if raw.error else self.readers.submit(raw))

    def take(self, pending: deque[InFlight]) -> list[dict]:
        """Store the oldest half of the pages in flight, in one transaction, once they are read: the pages
        share the transaction's cost, and the readers still have the other half to work on meanwhile."""
        group = [pending.popleft() for _ in range(max(1, min(len(pending), GROUP_MAX, len(pending) // 2)))]
        outcomes: list[tuple[RawPage, Reading | str]] = []
        for i, page in enumerate(group):
            if page.future is None:
                outcomes.append((page.raw, page.raw.error or "trang rỗng"))
            else:
                outcomes.append((page.raw, self.readers.result(page, [*group[i + 1 :], *pending])))
        lines = store_pages(self.engine, outcomes, self.batch_id)
        self.bar.update(len(lines))
        return lines

    def end_of_input(self) -> None:
        pass  # every page was handed to a reader as it came

    def close(self, done: bool) -> None:
        self.readers.shutdown()
        close_open_file()  # pages read in this thread (one reader: no pool)


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
    """Read and store a stack on this machine; yields one contract line per page, in input order, each
    once stored.

    ``batch_id``: an existing scan batch to report progress in (else one is made). ``reader`` must be a
    module-level function when ``workers`` > 1 (it is sent to worker processes).
    """
    runner = LocalRunner(workers, key, reader)
    yield from run(paths, runner, created_by=created_by, label=label, batch_id=batch_id, progress=progress)
