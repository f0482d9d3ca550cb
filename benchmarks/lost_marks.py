"""How much of each family's "clear marks sent to a person" a reader could still win back, per family.

    python -m benchmarks.lost_marks --split heldout [--families fax,folded-fax] [--replicate A-B] [--jobs 2]

A clear mark that the damage itself took away is no reader's to find: a fax's threshold can drop a
pale tick whole, or leave a dot of it. On the same stacks as ``benchmarks.accuracy`` (same cache),
each clear mark the reader sends to a person is sorted by what its own box holds on the scan, as the
reader measured it:

- gone: no ink left in the box (``BLANK_INK_MAX``) and no stroke: nothing of the mark reached the scan;
- a dot's worth: no more ink than the family's median faint dot (a dot or a tiny slip, which must
  go to a person: ``samples.fill``), and no cluster a stroke long: nothing on the box tells the two
  apart;
- the rest: a mark the scan kept, sent to a person for what lies around it (a stray stroke, a box not
  found, dirt): the reader's to improve.

"Clear to review, the rest" is then the figure no damage forces. The crops behind the first two
were looked at (BENCHMARKS.md). Results: BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import statistics
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from benchmarks.accuracy import DEFAULT_CACHE, _init, _pages, cache_key, ensure_stacks, render, replicates, stack_dir
from omr.detect import sources
from omr.detect import thresholds as T
from omr.detect.result import BLANK, MARKED
from samples.families import SPLITS, cases
from samples.generate import TRUTH_SUFFIX, read_truth


def _measures(job: tuple[int, sources.RawPage]) -> tuple[int, str, int, dict[str, tuple[str, dict]]]:
    """A page's answers: field -> (state, option -> (ink, stroke ink)) as the reader measured them."""
    from benchmarks import accuracy
    from omr.detect.read import read_page_bytes

    i, raw = job
    raw = sources.load(raw)
    if raw.error:
        return i, raw.source, raw.page, {}
    read = read_page_bytes(raw.data, accuracy._key)
    out = {a.field: (a.state, {v: (m.ink, m.stroke_ink) for v, m in a.boxes.items()}) for a in read.answers}
    return i, raw.source, raw.page, out


def _marked_box(marks: list[str]) -> list[str]:
    """The options a truth entry's marks were drawn in ("tick:3" -> "3")."""
    return [m.split(":", 1)[1] for m in marks if ":" in m]


def sort_family(pages: list[tuple[dict, dict]]) -> dict[str, int]:
    """Counts for one family: clear marks, sent to a person, and of those gone / a dot's worth / the rest.
    ``pages``: (truth page, reader's answers) pairs."""
    dots = [
        ink
        for t, got in pages
        for fid, a in t.get("answers", {}).items()
        if a["kind"] == "faint" and fid in got
        for v in _marked_box(a.get("marks", []))
        if v in got[fid][1]
        for ink in [got[fid][1][v][0]]
    ]
    dot = statistics.median(dots) if dots else 0.0
    n: dict[str, int] = defaultdict(int)
    for t, got in pages:
        for fid, a in t.get("answers", {}).items():
            if a["kind"] != "clear":
                continue
            n["clear"] += 1
            state, boxes = got.get(fid, ("", {}))
            if state in (MARKED, BLANK):
                continue
            n["review"] += 1
            chosen = [boxes[v] for v in _marked_box(a.get("marks", [])) if v in boxes]
            if not chosen:
                n["rest"] += 1
            elif all(ink <= T.BLANK_INK_MAX and stroke <= 0 for ink, stroke in chosen):
                n["gone"] += 1
            elif all(ink <= dot and stroke <= 0 for ink, stroke in chosen):
                n["dot"] += 1
            else:
                n["rest"] += 1
    n["dot_ink_permille"] = round(1000 * dot)
    return n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.lost_marks", description=__doc__.split("\n")[0])
    ap.add_argument("--split", choices=sorted(SPLITS), required=True)
    ap.add_argument("--families", help="comma list (default: the whole split)")
    ap.add_argument("--pages", type=int, default=48)
    ap.add_argument("--replicate", type=replicates, default=[0], metavar="N|A-B")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args(argv)
    fams = args.families.split(",") if args.families else None
    todo = [c for r in args.replicate for c in cases(args.split, fams, args.pages, r)]
    key = cache_key(args.cache)
    ensure_stacks(args.cache, todo, key, args.jobs)
    dirs = [stack_dir(args.cache, c) for c in todo]
    got: list[dict[tuple[str, int], dict]] = [{} for _ in todo]
    with ProcessPoolExecutor(args.jobs, initializer=_init, initargs=(key,)) as pool:
        for i, source, page, answers in pool.map(_measures, _pages(dirs), chunksize=4):
            got[i][(source, page)] = answers
    per: dict[str, list[tuple[dict, dict]]] = defaultdict(list)
    for case, d, answers in zip(todo, dirs, got, strict=True):
        for t in read_truth(d / f"stack{TRUTH_SUFFIX}")["pages"]:
            if not t.get("blank"):
                per[case.family].append((t, answers.get((t["source"], t["page"]), {})))

    def pct(a: int, b: int) -> str:
        return f"{100 * a / b:.1f} %" if b else "-"

    head = ["family", "clear marks", "to a person", "gone", "a dot's worth", "the rest", "the rest, of clear"]
    rows = []
    for fam, pages in per.items():
        n = sort_family(pages)
        rows.append(
            [fam, str(n["clear"]), pct(n["review"], n["clear"]), str(n["gone"]), str(n["dot"]), str(n["rest"]),
             pct(n["rest"], n["clear"])]
        )  # fmt: skip
    print(render(head, rows, args.markdown))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
