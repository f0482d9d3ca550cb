"""CPU per page of reading, for two source trees of the reader, alternated on the same pages.

    python benchmarks/bench_trees.py BEFORE_TREE AFTER_TREE [--pages 100] [--rounds 5]

A tree is a checkout of the project (for the code before a change: ``git worktree add DIR COMMIT``).
On one generated 200-dpi JPEG-in-PDF stack (kien-hung-2020, light scanner damage), each round reads
every page in a fresh process per tree, the trees taking turns: ``read_page_bytes`` on one OpenCV
thread, as a reader process runs, after one page to get first-use costs out of the way. It prints each
tree's CPU ms per page of every round and their medians: on a shared machine, alternating is what
lets a 10 % change show through the noise. Results: BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_reading import KEY, _stack

# run in the tree under test: its own omr package, not this one's
_CHILD = """
import sys, time, cv2
cv2.setNumThreads(1)
from omr.detect import sources
from omr.detect.read import read_page_bytes, warm
from omr.services.readers import keep_freed_memory
keep_freed_memory()
pages = [p.data for p in sources.iter_pages([sys.argv[1]])]
key = sys.argv[2].encode()
warm()
read_page_bytes(pages[0], key)
t0 = time.process_time()
for data in pages:
    read_page_bytes(data, key)
print((time.process_time() - t0) * 1000 / len(pages))
"""


def cpu_ms(tree: Path, stack: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(stack), KEY.decode()],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path)
    ap.add_argument("--pages", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    trees = [args.before.resolve(), args.after.resolve()]
    with tempfile.TemporaryDirectory(prefix="omr-bench-") as tmp:
        stack = _stack(Path(tmp), args.pages)
        runs: dict[Path, list[float]] = {t: [] for t in trees}
        for i in range(args.rounds):
            for tree in trees:
                runs[tree].append(cpu_ms(tree, stack))
            print(f"round {i + 1}: " + ", ".join(f"{runs[t][-1]:.2f} ms" for t in trees), flush=True)
    print(f"\n{platform.machine()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    print(f"CPU ms per page read, {args.pages} pages, median of {args.rounds} alternated rounds:")
    for name, tree in zip(("before", "after"), trees, strict=True):
        print(f"  {name:7s} {statistics.median(runs[tree]):6.2f}   ({tree})")
    before, after = (statistics.median(runs[t]) for t in trees)
    print(f"  after / before: {after / before:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
