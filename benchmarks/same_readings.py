"""Whether a change to the reader changed what it reads: every page's whole reading, before and after.

    python -m benchmarks.same_readings dump OUT.json [--cache DIR] [--jobs 2]
    python -m benchmarks.same_readings compare BEFORE.json AFTER.json

``dump`` reads every page of every stack in an accuracy cache (``benchmarks.accuracy``: make one with
``python -m benchmarks.accuracy --split calib --pages 24 --cache DIR`` and the same with ``--split
heldout``: every damage family, blank backs, fax and folded pages) and writes each page's status,
note, identity, transform, every box's measurements at full precision, each answer's value, state,
confidence and reason, and each text area's ink, verdict and crop (as its sha256). Run it on the
code before a change and after it. ``compare`` says how many pages read identically, and for the
others whether any decision differs (page status, an answer's value, state or reason, a text area
written or empty), only a confidence, or only numbers, with the largest change of each measurement.
It exits 1 if a decision differs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import fields
from pathlib import Path

from benchmarks.accuracy import DEFAULT_CACHE, DONE, cache_key, stack_files
from omr.detect import sources
from omr.detect.result import BoxMeasure, PageRead

MEASURES = [f.name for f in fields(BoxMeasure)]


def _init() -> None:
    import cv2

    cv2.setNumThreads(1)  # as a reader process runs


def reading(read: PageRead) -> dict:
    """Everything the reader said about a page, as plain JSON."""
    return {
        "status": read.status,
        "note": read.note,
        "identity": repr(read.identity),
        "transform": read.transform,
        "rotation": read.rotation,
        "answers": [
            {
                "field": a.field,
                "value": a.value,
                "state": a.state,
                "confidence": a.confidence,
                "reason": a.reason,
                "boxes": {v: [getattr(m, f) for f in MEASURES] for v, m in a.boxes.items()},
            }
            for a in read.answers
        ],
        "texts": [
            {"field": t.field, "written": t.written, "ink": t.ink, "crop": hashlib.sha256(t.jpeg).hexdigest()}
            for t in read.texts
        ],
    }


def _read(job: tuple[str, sources.RawPage, bytes]) -> tuple[str, dict]:
    from omr.detect.read import read_page_bytes

    name, raw, key = job
    raw = sources.load(raw)
    if raw.error or raw.data is None:
        return name, {"error": raw.error}
    return name, reading(read_page_bytes(raw.data, key))


def _jobs(cache: Path):
    key = cache_key(cache)
    for done in sorted(cache.rglob(DONE)):
        stack = done.parent
        for raw in sources.iter_pages(stack_files(stack), by_reference=True):
            yield f"{stack.relative_to(cache)}:{raw.source}:{raw.page}", raw, key


def dump(out: Path, cache: Path, jobs: int) -> None:
    with ProcessPoolExecutor(jobs, initializer=_init) as pool:
        pages = dict(pool.map(_read, _jobs(cache), chunksize=4))
    out.write_text(json.dumps(pages))
    print(f"{len(pages)} pages read into {out}")


def decisions(page: dict, confidence: bool = True) -> tuple:
    """What the machine decided on a page, without the measurements behind it (nor the confidences,
    with ``confidence`` false)."""
    answers = [
        (a["field"], a["value"], a["state"], a["confidence"] if confidence else None, a["reason"])
        for a in page.get("answers", [])
    ]
    texts = [(t["field"], t["written"]) for t in page.get("texts", [])]
    return page.get("status"), page.get("note"), page.get("identity"), page.get("rotation"), answers, texts


def _largest_changes(a: dict, b: dict, largest: dict[str, float]) -> None:
    for x, y in zip(a.get("answers", []), b.get("answers", []), strict=True):
        for value, measures in x["boxes"].items():
            for name, p, q in zip(MEASURES, measures, y["boxes"][value], strict=True):
                largest[name] = max(largest.get(name, 0.0), abs(p - q))
        largest["confidence"] = max(largest.get("confidence", 0.0), abs(x["confidence"] - y["confidence"]))
    for x, y in zip(a.get("texts", []), b.get("texts", []), strict=True):
        largest["text ink"] = max(largest.get("text ink", 0.0), abs(x["ink"] - y["ink"]))


def compare(before: dict, after: dict) -> int:
    """Pages whose decisions differ (each printed), after a summary of what else differs."""
    if before.keys() != after.keys():
        raise SystemExit("the two dumps hold different pages")
    same = decided_otherwise = surer = 0
    largest: dict[str, float] = {}
    for name, a in before.items():
        b = after[name]
        if a == b:
            same += 1
            continue
        if decisions(a, confidence=False) != decisions(b, confidence=False):
            decided_otherwise += 1
            print(f"decided otherwise: {name}\n  before {decisions(a)}\n  after  {decisions(b)}")
            continue
        surer += decisions(a) != decisions(b)
        if a.get("answers") and b.get("answers"):
            _largest_changes(a, b, largest)
    print(
        f"{len(before)} pages: {same} read identically, {len(before) - same - decided_otherwise - surer} differ in "
        f"numbers only, {surer} in a confidence too, {decided_otherwise} in a decision"
    )
    for name, change in largest.items():
        if change:
            print(f"  largest change of {name}: {change:.6f}")
    return decided_otherwise


def main() -> int:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="command", required=True)
    d = sub.add_parser("dump")
    d.add_argument("out", type=Path)
    d.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    d.add_argument("--jobs", type=int, default=2)
    c = sub.add_parser("compare")
    c.add_argument("before", type=Path)
    c.add_argument("after", type=Path)
    a = ap.parse_args()
    if a.command == "dump":
        dump(a.out, a.cache, a.jobs)
        return 0
    return 1 if compare(json.loads(a.before.read_text()), json.loads(a.after.read_text())) else 0


if __name__ == "__main__":
    sys.exit(main())
