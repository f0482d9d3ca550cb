"""CPU per file written under OMR_HOME, against how many files its directory already holds.

    python benchmarks/bench_atomic_write.py [--writes 300]

Page images and comment crops go to ``pages/<2 hex>/``: a province's year of sheets puts thousands of
files in each. ``omr.services.atomic_file.write`` is timed (CPU, ``time.process_time``) writing 1 kB
files into a directory already holding 0 to 4,000 files, median of 5 rounds. Results: BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from pathlib import Path

from omr.services import atomic_file


def per_write_ms(directory: Path, writes: int, round_: int) -> float:
    t0 = time.process_time()
    for i in range(writes):
        atomic_file.write(directory / f"r{round_}-{i:058x}.jpg", b"y" * 1000)
    return (time.process_time() - t0) / writes * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--writes", type=int, default=300)
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, Python {platform.python_version()}")
    print(f"  {'files already there':>20s}  {'CPU ms per write (median of 5)':>32s}")
    with tempfile.TemporaryDirectory() as work:
        for n in (0, 400, 1200, 4000):
            d = Path(work) / f"pages-{n}" / "ab"
            d.mkdir(parents=True)
            for i in range(n):
                (d / f"{i:064x}.jpg").write_bytes(b"x")
            ms = statistics.median(per_write_ms(d, args.writes, r) for r in range(5))
            print(f"  {n:>20d}  {ms:>32.3f}")


if __name__ == "__main__":
    main()
