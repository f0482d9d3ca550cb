"""Reading uploaded stacks in the background, so the upload request returns at once.

One background thread reads one stack at a time (the scan pipeline itself spreads a stack's pages over
every core). Progress lives in the database (``ScanBatch.done_pages / total_pages``), so any request,
from any server process, can report it; each page's result line is appended to
``OMR_HOME/uploads/<batch>/results.jsonl`` as soon as the page is stored.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from omr import config, queue
from omr.services import ingest
from omr.vocab import SCAN_FAILED

log = logging.getLogger(__name__)

_executor: ThreadPoolExecutor | None = None
_lock = threading.Lock()
RESULTS = "results.jsonl"
REJECTED = "rejected.json"  # files of the upload that were not read, with the reason (a code)


def upload_dir(batch_id: int) -> Path:
    path = config.home() / "uploads" / str(batch_id)
    path.mkdir(parents=True, exist_ok=True)
    return path


def results(batch_id: int) -> list[dict]:
    path = config.home() / "uploads" / str(batch_id) / RESULTS
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return []
    out = []
    for line in text.splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line being written right now
    return out


def save_rejected(batch_id: int, rejected: list[dict]) -> None:
    """Keep the files turned away at upload (``{"file": name, "reason": code}``) with the batch, so its
    page shows them whenever it is opened, in the reader's language."""
    path = upload_dir(batch_id) / REJECTED
    path.write_text(json.dumps(rejected, ensure_ascii=False), encoding="utf-8")


def rejected(batch_id: int) -> list[dict]:
    path = config.home() / "uploads" / str(batch_id) / REJECTED
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return []
    return [r for r in data if isinstance(r, dict)] if isinstance(data, list) else []


def run(batch_id: int, files: list[Path], username: str) -> None:
    """Read the stack and store every page; never raises (a failure is recorded on the batch)."""
    out = upload_dir(batch_id) / RESULTS
    try:
        with out.open("a", encoding="utf-8") as f:
            # read here, or by the workers when OMR_BROKER_URL is set (omr/queue.py)
            for line in queue.scan(files, batch_id=batch_id, created_by=username):
                f.write(json.dumps(line, ensure_ascii=False) + "\n")
                f.flush()
    except Exception as e:  # the stack stops; what was stored stays stored
        log.exception("scan batch %s failed", batch_id)
        ingest.finish_batch(
            batch_id, SCAN_FAILED, f"dừng vì lỗi: {str(e).splitlines()[0] if str(e) else type(e).__name__}"
        )
    finally:
        # the pages are stored under OMR_HOME/pages; the uploaded files are no longer needed
        for p in files:
            try:
                if p.is_dir():
                    shutil.rmtree(p)
                else:
                    p.unlink(missing_ok=True)
            except OSError:
                pass


def submit(batch_id: int, files: list[Path], username: str, inline: bool = False) -> Future | None:
    if inline:
        run(batch_id, files, username)
        return None
    global _executor
    with _lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="omr-scan")
        return _executor.submit(run, batch_id, files, username)
