"""Calibrate the reader's thresholds on generated stacks (reader only, no database).

    python benchmarks/calibrate.py [--sheets 150] [--seed 1] [--hard 0.08]

Generates filled and degraded sheets of several forms, reads every page, scores the answers against
the truth (samples/evaluate.py) and prints the spread of each box measurement for marked and empty
boxes, which is what the values in omr/detect/thresholds.py were chosen from.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from omr.detect import sources
from omr.detect.read import read_page_bytes
from omr.templates import Variant
from samples.evaluate import reader_row, score
from samples.generate import generate_stack, read_truth

KEY = b"calibration-key-000000000000000000"
FORMS = (("kien-hung-2020", Variant(counters=5)), ("sipas-tthc", Variant()), ("hn-y-te", Variant()))


def _read(raw: sources.RawPage) -> tuple[dict, dict]:
    if raw.error:
        return {"source": raw.source, "page": raw.page, "status": "error"}, {}
    p = read_page_bytes(raw.data, KEY)
    return reader_row(p, raw.source, raw.page), p.measurements()


def run(sheets: int, seed: int, hard: float, fmt: str) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="omr-calib-"))
    spread: dict[str, list[list[float]]] = defaultdict(list)
    total = None
    reasons: Counter = Counter()
    for i, (form, variant) in enumerate(FORMS):
        n = sheets if form == "kien-hung-2020" else max(1, sheets // 3)
        out = tmp / form
        truth_path = generate_stack(
            out,
            form_id=form,
            unit="09552",
            serials=[f"{k:06d}" for k in range(1, n + 1)],
            key=KEY,
            variant=variant,
            fmt=fmt,
            seed=seed + i,
            hard_case_rate=hard,
            blank_backs=form == "kien-hung-2020",
            progress=True,
        )
        truth = read_truth(truth_path)
        stack = [p for p in out.iterdir() if not p.name.endswith(".json")]
        with ProcessPoolExecutor() as pool:
            results = list(pool.map(_read, sources.iter_pages(stack), chunksize=4))
        rows = [r for r, _ in results]
        s = score(truth, rows)
        print(f"\n== {form} ({n} sheets, {fmt})\n{s.summary()}")
        for ex in s.wrong_examples[:10]:
            print("   wrong:", ex)
        for kind_outcome, k in sorted(s.by_kind.items()):
            print(f"   {kind_outcome}: {k}")
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
        total = s if total is None else total
    print("clear marks sent to review, by reason:", dict(reasons))
    names = ("ink", "core", "darkness", "spill", "label", "reach")
    print("\nbox measurements (percentiles 0.1 / 1 / 50 / 99 / 99.9):")
    for group, ms in sorted(spread.items()):
        arr = np.array(ms)
        print(f"  {group}: n={len(arr)}")
        for j, name in enumerate(names):
            q = np.percentile(arr[:, j], [0.1, 1, 50, 99, 99.9])
            print(f"     {name:9s} " + " ".join(f"{v:6.3f}" for v in q))
    print(json.dumps({"tmp": str(tmp)}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sheets", type=int, default=150)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--hard", type=float, default=0.08)
    ap.add_argument("--format", default="pdf")
    a = ap.parse_args()
    run(a.sheets, a.seed, a.hard, a.format)


if __name__ == "__main__":
    main()
