"""How right the reader is, per damage family, on the calibration or the held-out split.

    python -m benchmarks.accuracy --split calib|heldout [--families a,b] [--pages N] [--jobs 2] [--replicate N|A-B]
                                  [--cache DIR] [--markdown]

Each (family, form, seed) stack of the split (``samples.families``) is generated once into the
cache directory (default ~/.cache/omr-accuracy, or $OMR_ACCURACY_CACHE) with the cache's own key
(``key`` in it, made on first use); later runs only read. Every page is then read in-process by
``omr.detect.read.read_page_bytes`` (pages loaded by ``omr.detect.sources`` as the scanner does), in
a small process pool, and scored against its truth (``samples.evaluate``). No database: a rescan's
duplicate/conflict status is not measured here.

Prints one row per family and a total, a reliability table (confidence band of each machine-accepted
answer → share right) and the wrong answers the reader was surest of. ``--markdown``: the same as
tables for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from omr.detect import sources
from samples.evaluate import BANDS, Score, Wrong, score
from samples.families import SPLITS, Case, cases
from samples.generate import TRUTH_SUFFIX, generate_stack, read_truth

DEFAULT_CACHE = Path(os.environ.get("OMR_ACCURACY_CACHE", Path.home() / ".cache" / "omr-accuracy"))
DONE = "stack.done"  # in every complete stack directory

_key: bytes = b""


def cache_key(cache: Path) -> bytes:
    """The cache's signing key: every stack in it is signed with it, so it stays with them."""
    path = cache / "key"
    if not path.exists():
        cache.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        tmp.write_bytes(secrets.token_bytes(32))
        tmp.replace(path)
    return path.read_bytes()


def stack_dir(cache: Path, case: Case) -> Path:
    return cache / case.name


def make_stack(job: tuple[Path, Case, bytes, list[str]]) -> str:
    """Generate one case's stack into its directory, unless it is there already. It is made in a
    directory of its own and renamed into place when complete, so two runs sharing a cache never
    see (or delete) each other's half-made stacks."""
    out, case, key, serials = job
    if (out / DONE).exists():
        return ""
    t0 = time.monotonic()
    part = out.with_name(f"{out.name}.part{os.getpid()}")
    shutil.rmtree(part, ignore_errors=True)
    generate_stack(part, serials=serials, key=key, **case.generate_args())
    (part / DONE).write_text("")
    if out.exists() and not (out / DONE).exists():
        shutil.rmtree(out)  # an interrupted run's leftovers
    try:
        part.rename(out)
    except OSError:  # another run finished the same stack first: the same bytes
        shutil.rmtree(part)
    return f"made {out.name} in {time.monotonic() - t0:.1f} s"


def make_stacks(jobs: list[tuple[Path, Case, bytes, list[str]]], processes: int) -> None:
    missing = [j for j in jobs if not (j[0] / DONE).exists()]
    if not missing:
        return
    print(f"generating {len(missing)} stacks (once)", file=sys.stderr)
    with ProcessPoolExecutor(processes) as pool:
        for msg in pool.map(make_stack, missing):
            if msg:  # empty: another run made it meanwhile
                print("  " + msg, file=sys.stderr)


def ensure_stacks(cache: Path, todo: list[Case], key: bytes, processes: int) -> None:
    serials = {c: [f"{i:06d}" for i in range(1, c.sheets + 1)] for c in todo}
    make_stacks([(stack_dir(cache, c), c, key, serials[c]) for c in todo], processes)


def _init(key: bytes) -> None:
    global _key
    import cv2

    cv2.setNumThreads(1)  # one reader per core, as omr scan runs them
    _key = key


def _read(job: tuple[int, sources.RawPage]) -> tuple[int, dict]:
    from omr.detect.read import read_page_bytes
    from samples.evaluate import reader_row

    i, raw = job
    raw = sources.load(raw)
    if raw.error:
        return i, {"source": raw.source, "page": raw.page, "status": "error", "note": raw.error}
    return i, reader_row(read_page_bytes(raw.data, _key), raw.source, raw.page)


def stack_files(out: Path) -> list[Path]:
    """The stack itself in a generated directory (not its truth file or marker)."""
    return [p for p in sorted(out.iterdir()) if not p.name.endswith(TRUTH_SUFFIX) and p.name != DONE]


def _pages(dirs: list[Path]) -> Iterator[tuple[int, sources.RawPage]]:
    for i, out in enumerate(dirs):
        for raw in sources.iter_pages(stack_files(out), by_reference=True):
            yield i, raw


def by_family(todo: list[Case], dirs: list[Path], rows: list[list[dict]]) -> dict[str, Score]:
    """Each case's rows scored against its truth, summed per family in the split's order."""
    out: dict[str, Score] = {}
    for case, d, case_rows in zip(todo, dirs, rows, strict=True):
        s = score(read_truth(d / f"stack{TRUTH_SUFFIX}"), case_rows)
        s.wrong_examples = [Wrong(f"{case.family}/{case.form}/{w.where}", w.confidence) for w in s.wrong_examples]
        if case.family in out:
            out[case.family] += s
        else:
            out[case.family] = s
    return out


def evaluate(cache: Path, todo: list[Case], jobs: int) -> dict[str, Score]:
    """Score per family, in the split's order."""
    key = cache_key(cache)
    ensure_stacks(cache, todo, key, jobs)
    dirs = [stack_dir(cache, c) for c in todo]
    rows: list[list[dict]] = [[] for _ in todo]
    with ProcessPoolExecutor(jobs, initializer=_init, initargs=(key,)) as pool:
        for i, row in pool.map(_read, _pages(dirs), chunksize=4):
            rows[i].append(row)
    return by_family(todo, dirs, rows)


# --------------------------------------------------------------------------- tables


def _pct(n: int, d: int) -> str:
    return f"{100 * n / d:.1f} %" if d else "–"


def family_table(scores: dict[str, Score]) -> tuple[list[str], list[list[str]]]:
    head = [
        "family",
        "pages",
        "identified",
        "accepted answers",
        "wrong accepted",
        "per 2,000",
        "must-review sent",
        "clear to review",
        "blank pages",
        "written areas seen",
        "empty areas empty",
    ]
    total = Score()
    rows = []
    for name, s in [*scores.items(), ("total", None)]:
        if s is None:
            s, name = total, "**total**"
        else:
            total += s
        rows.append(
            [
                name,
                f"{s.pages_out}/{s.pages_in}",
                _pct(s.identified, s.sheet_pages),
                str(s.accepted),
                str(s.accepted_wrong),
                f"{2000 * s.accepted_wrong / s.accepted:.1f}" if s.accepted else "–",
                _pct(s.must_review_sent, s.must_review),
                _pct(s.clear_sent, s.clear),
                f"{s.blank_recognised}/{s.blank_pages}",
                _pct(s.texts_written_right, s.texts_written),
                _pct(s.texts_empty_right, s.texts_empty),
            ]
        )
    return head, rows


def reliability_table(total: Score) -> tuple[list[str], list[list[str]]]:
    head = ["confidence", "accepted answers", "right", "share right"]
    rows = []
    edges = [*BANDS, 1.0]
    for lo, hi in zip(edges, edges[1:], strict=False):
        right, wrong = total.reliability[(lo, True)], total.reliability[(lo, False)]
        n = right + wrong
        closed = "]" if hi == 1.0 else ")"
        rows.append([f"[{lo:.2f}, {hi:.2f}{closed}", str(n), str(right), _pct(right, n) if n else "–"])
    return head, rows


def render(head: list[str], rows: list[list[str]], markdown: bool) -> str:
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "| --- |" + " ---: |" * (len(head) - 1)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines)
    widths = [max(len(x) for x in col) for col in zip(head, *rows, strict=True)]
    fmt = "  ".join(f"{{:<{w}}}" if i == 0 else f"{{:>{w}}}" for i, w in enumerate(widths))
    return "\n".join(fmt.format(*r).replace("**", "  ") for r in [head, *rows])


def report(scores: dict[str, Score], split: str, markdown: bool, worst: int = 10) -> str:
    total = Score()
    for s in scores.values():
        total += s
    h = "### " if markdown else ""
    out = [f"{h}Split {split}: per damage family", "", render(*family_table(scores), markdown)]
    out += ["", f"{h}Reliability (machine-accepted answers, all families)", ""]
    out += [render(*reliability_table(total), markdown), ""]
    bad = total.worst(worst)
    out.append(f"Wrong answers the reader was surest of ({len(bad)} of {total.accepted_wrong}):")
    out += [f"{'- ' if markdown else '  '}{w}" for w in bad]
    return "\n".join(out)


def replicates(text: str) -> list[int]:
    """``7`` or ``8-12`` (both ends included)."""
    first, dash, last = text.partition("-")
    try:
        lo, hi = int(first), int(last if dash else first)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a replicate number or range: {text!r}") from None
    if lo < 0 or hi < lo:
        raise argparse.ArgumentTypeError(f"not a replicate range: {text!r}")
    return list(range(lo, hi + 1))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.accuracy", description=__doc__.split("\n\n")[0])
    ap.add_argument("--split", choices=sorted(SPLITS), required=True)
    ap.add_argument("--families", help="comma list (default: the whole split)")
    ap.add_argument("--pages", type=int, default=48, help="pages per family (default 48)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument(
        "--replicate",
        type=replicates,
        default=[0],
        metavar="N|A-B",
        help="other seeds: fresh pages of the same families; a range A-B pools replicates A to B in one table",
    )
    args = ap.parse_args(argv)
    families = args.families.split(",") if args.families else None
    try:
        todo = [case for r in args.replicate for case in cases(args.split, families, args.pages, r)]
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    t0 = time.monotonic()
    scores = evaluate(args.cache, todo, args.jobs)
    print(report(scores, args.split, args.markdown))
    pages = sum(s.pages_in for s in scores.values())
    print(f"\n{pages} pages in {time.monotonic() - t0:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
