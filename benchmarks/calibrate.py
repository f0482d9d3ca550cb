"""The spread of the reader's box measurements on the CALIBRATION split, per kind of mark: what
thresholds (or a model) may be fitted on. Never on the held-out families (samples/families.py).

    python benchmarks/calibrate.py [--families gen-full,photocopy] [--pages 48] [--jobs 2]

Uses the same cached stacks as ``python -m benchmarks.accuracy --split calib`` (made once), reads
every page with the reader alone, and prints, for marked and empty boxes of each mark shape, the
percentiles of each measurement, raw and relative to the emptiest box of the same question; then why
clear marks went to review.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from the repository

from benchmarks import accuracy as acc  # noqa: E402
from omr.detect import sources  # noqa: E402
from samples.families import cases  # noqa: E402
from samples.generate import TRUTH_SUFFIX, read_truth  # noqa: E402

NAMES = ("ink", "core", "darkness", "spill", "label", "reach")


def _read(job: tuple[int, sources.RawPage]) -> tuple[int, dict, dict]:
    from omr.detect.read import read_page_bytes
    from samples.evaluate import reader_row

    i, raw = job
    raw = sources.load(raw)
    if raw.error:
        return i, {"source": raw.source, "page": raw.page, "status": "error"}, {}
    p = read_page_bytes(raw.data, acc._key)
    return i, reader_row(p, raw.source, raw.page), p.measurements()


def run(families: list[str] | None, pages: int, jobs: int, cache: Path) -> None:
    todo = cases("calib", families, pages)
    key = acc.cache_key(cache)
    acc.ensure_stacks(cache, todo, key, jobs)
    dirs = [acc.stack_dir(cache, c) for c in todo]
    spread: dict[str, list[list[float]]] = defaultdict(list)
    reasons: Counter = Counter()
    read: list[list[tuple[dict, dict]]] = [[] for _ in todo]
    with ProcessPoolExecutor(jobs, initializer=acc._init, initargs=(key,)) as pool:
        for i, row, meas in pool.map(_read, acc._pages(dirs), chunksize=4):
            read[i].append((row, meas))
    for d, results in zip(dirs, read, strict=True):
        truth = read_truth(d / f"stack{TRUTH_SUFFIX}")
        by_key = {(t["source"], t["page"]): t for t in truth["pages"]}
        for row, meas in results:
            t = by_key.get((row["source"], row["page"]))
            if not t or t.get("blank"):
                continue
            for fid, a in t["answers"].items():
                marks = dict(reversed(m.split(":", 1)) for m in a.get("marks", []))
                got = row.get("answers", {}).get(fid, {})
                if a["kind"] == "clear" and got.get("state") in ("multiple", "uncertain"):
                    reasons[got.get("reason")] += 1
                boxes = meas.get(fid, {})
                floor = np.min(np.array(list(boxes.values())), axis=0) if boxes else None
                for v, m in boxes.items():
                    style = marks.get(v)
                    group = f"{style} ({a['kind']})" if style else "empty"
                    spread[group].append(m)
                    # relative to the emptiest box of the same question: what stands out
                    spread[group + " - field floor"].append(list(np.array(m) - floor))
    print(acc.report(acc.by_family(todo, dirs, [[r for r, _ in res] for res in read]), "calib", markdown=False))
    print("\nclear marks sent to review, by reason:", dict(reasons))
    print("\nbox measurements (percentiles 0.1 / 1 / 50 / 99 / 99.9):")
    for group, ms in sorted(spread.items()):
        arr = np.array(ms)
        print(f"  {group}: n={len(arr)}")
        for j, name in enumerate(NAMES):
            q = np.percentile(arr[:, j], [0.1, 1, 50, 99, 99.9])
            print(f"     {name:9s} " + " ".join(f"{v:6.3f}" for v in q))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--families", help="comma list of calibration families (default: all)")
    ap.add_argument("--pages", type=int, default=48, help="pages per family")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--cache", type=Path, default=acc.DEFAULT_CACHE)
    a = ap.parse_args()
    run(a.families.split(",") if a.families else None, a.pages, a.jobs, a.cache)


if __name__ == "__main__":
    main()
