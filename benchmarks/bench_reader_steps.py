"""CPU per page of each step of ``omr scan``: the reader's steps and the storing process's work, in one run.

    python benchmarks/bench_reader_steps.py [--pages 200]

On a generated 200-dpi JPEG-in-PDF stack (kien-hung-2020, light scanner damage, a few black-and-white
pages), ``ingest.scan`` runs in this one process with one reader (no pool) and one OpenCV thread, on a
fresh data directory (SQLite). Each step is timed where it is called, by wrapping the function the
caller looks up, so the figures follow the code as it is: CPU time (``time.process_time``), median
per page over the pages the step ran on, and the mean over all pages (the means add up to the whole).
Indented rows are part of the row above them. Handing a reading back from a reader process (pickled
and unpickled) is timed on the readings of the same run, and the bench_scan baseline (the page out
of the PDF and decoded, nothing else) on the same pages. Results: BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import os
import pickle
import platform
import shutil
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from bench_reading import _stack, data_home, median_ms

# (module, attribute, label, depth): each step where its caller looks it up; deeper rows are inside the
# row above them. ``locate`` runs for the boxes (in measure_page) and for each text area (in text_ink).
STORING = "storing process: rows of a group, per page"
STEPS = [
    (None, None, STORING, 0),
    ("omr.services.readers", "load", "page out of the PDF (pikepdf)", 0),
    ("omr.services.readers", "default_reader", "reading (read_page_bytes)", 0),
    ("omr.detect.read", "decode", "decode", 1),
    ("omr.detect.read", "repair_streaks", "streaks", 1),
    ("omr.detect.read", "is_blank", "blank check", 1),
    ("omr.detect.read", "register", "markers, orientation, contrast", 1),
    ("omr.detect.register", "_candidates", "candidates on the small copy", 2),
    ("omr.detect.read", "read_qr", "QR code", 1),
    ("omr.detect.read", "identity", "signature check", 1),
    ("omr.detect.read", "is_bilevel", "bilevel check", 1),
    ("omr.detect.read", "_widened", "black widened (black-and-white pages)", 1),
    ("omr.detect.read", "warp", "warp of the question band", 1),
    ("omr.detect.read", "sheet_masks", "the layout's blank paper and box borders", 1),
    ("omr.detect.read", "repair_sheet_lines", "lines across the sheet", 1),
    ("omr.detect.read", "InkMap", "ink map", 1),
    ("omr.detect.measure", "local_paper", "local paper grey", 2),
    ("omr.detect.read", "measure_page", "measure the boxes", 1),
    ("omr.detect.measure", "locate", "locate boxes (and text areas)", 2),
    ("omr.detect.measure", "border_lines", "border lines", 2),
    ("omr.detect.measure", "_interiors", "interiors", 2),
    ("omr.detect.measure", "despeckle", "despeckle", 2),
    ("omr.detect.read", "decide_field", "decide", 1),
    ("omr.detect.read", "text_ink", "text areas: ink", 1),
    ("omr.detect.read", "_crop_jpeg", "text areas: JPEG crops", 1),
    ("omr.services.readers", "write_files", "image and crops written", 0),
]


class Timer:
    """CPU seconds per step and page: ``page`` is the number of the page being read."""

    def __init__(self) -> None:
        self.page = 0
        self.spent: dict[str, dict[int, float]] = defaultdict(lambda: defaultdict(float))

    def wrap(self, module: str, name: str, label: str) -> None:
        mod = importlib.import_module(module)
        target = getattr(mod, name)
        if not callable(target):  # a module the caller uses through its attributes: time those
            for attr in ("decode", "verify"):
                self._wrap_attr(target, attr, label)
            return
        self._wrap_attr(mod, name, label)

    def _wrap_attr(self, owner: object, name: str, label: str) -> None:
        fn = getattr(owner, name)

        @functools.wraps(fn)
        def timed(*args, **kwargs):
            t0 = time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                self.spent[label][self.page] += time.process_time() - t0

        setattr(owner, name, timed)


def _scan(stack: Path, timer: Timer) -> tuple[int, float, list]:
    """Scan the stack in this process with the steps timed; (pages, CPU seconds, readings)."""
    import cv2

    from omr.services import ingest, readers

    cv2.setNumThreads(1)  # as in a reader process
    readers.keep_freed_memory()
    load = readers.load

    def next_page(raw):  # a reader starts each page by loading it
        timer.page += 1
        return load(raw)

    readers.load = next_page  # type: ignore[assignment]
    readings: list = []
    store = ingest.store_pages

    def per_page(engine, items, batch_id):
        # one group of pages stored: its cost is shared out over them
        t0 = time.process_time()
        out = store(engine, items, batch_id)
        each = (time.process_time() - t0) / len(items)
        for _ in items:
            timer.spent[STORING][len(timer.spent[STORING]) + 1] = each
        readings.extend(r for _, r in items if not isinstance(r, str))
        return out

    ingest.store_pages = per_page  # type: ignore[assignment]
    t0 = time.process_time()
    n = sum(1 for _ in ingest.scan([stack], workers=1))
    return n, time.process_time() - t0, readings


def report(timer: Timer, n: int, total: float) -> None:
    print(f"\nomr scan's steps, one process, {n} pages (CPU ms per page)")
    print(f"  {'step':52s} {'median':>8s} {'mean':>8s} {'pages':>6s}")
    top = 0.0
    for _, _, label, depth in STEPS:
        per = timer.spent.get(label, {})
        if not per:
            continue
        mean = sum(per.values()) / n
        top += mean if depth == 0 else 0.0
        name = "  " * depth + label
        print(f"  {name:52s} {statistics.median(per.values()) * 1000:8.2f} {mean * 1000:8.2f} {len(per):6d}")
    print(f"  {'the rest (pipeline, hashing, batch, lines)':52s} {'':8s} {(total / n - top) * 1000:8.2f}")
    print(f"  {'whole scan':52s} {'':8s} {total / n * 1000:8.2f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=200)
    a = ap.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    work = Path(tempfile.mkdtemp(prefix="omr-bench-steps-"))
    try:
        stack = _stack(work / "stack", a.pages)
        home = data_home(work, a.pages)
        os.environ["OMR_HOME"] = str(home)
        os.environ.pop("OMR_DATABASE_URL", None)
        from omr.detect import sources
        from omr.detect.images import decode

        timer = Timer()
        for module, name, label, _ in STEPS:
            if module and name:
                timer.wrap(module, name, label)
        n, total, readings = _scan(stack, timer)
        report(timer, n, total)
        pages = [p.data for p in sources.iter_pages([stack])]
        print("\n  handing a reading back from a reader process (pickled and unpickled, median)")
        print(f"  {'':52s} {median_ms(lambda r: pickle.loads(pickle.dumps(r)), readings, time.process_time):8.2f}")
        print("  bench_scan's baseline: the page's JPEG decoded alone (median)")
        print(f"  {'':52s} {median_ms(decode, pages, time.process_time):8.2f}")
        print(f"\nload average {os.getloadavg()[0]:.1f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
