"""``omr reread`` against ``omr scan`` on the same pages, in the same run.

    python benchmarks/bench_reread.py [--pages 1000] [--repeat 1]

Prints the sheets into a data directory, generates a 200-dpi JPEG-in-PDF stack of them, then, on a
fresh copy of that directory for each repeat: ``omr scan --json`` of the stack, ``omr reread --json``
of every page it stored (the same reader: every page read again and compared, nothing to change), and
``omr reread --json --from-measurements``. Each command runs in a child process, wall time measured
around it. Shared machines are noisy: compare the ratio of the two, taken in the same run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from samples.generate import generate_stack

FORM, UNIT = "kien-hung-2020", "09552"


def _omr(home: Path, *args: str) -> float:
    env = {**os.environ, "OMR_HOME": str(home)}
    env.pop("OMR_DATABASE_URL", None)
    start = time.perf_counter()
    subprocess.run(["omr", *args], env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pages", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-reread-") as tmp:
        base = Path(tmp) / "printed"
        _omr(base, "print", "--form", FORM, "--unit", UNIT, "--count", str(args.pages), "--out", f"{tmp}/p.pdf")
        serials = [f"{i:06d}" for i in range(1, args.pages + 1)]
        generate_stack(
            Path(tmp) / "stack",
            form_id=FORM,
            unit=UNIT,
            serials=serials,
            key=(base / "secret.key").read_bytes(),
            dpi=200,
            degrade="light",
        )
        stack = str(Path(tmp) / "stack" / "stack.pdf")
        times: dict[str, list[float]] = {"scan": [], "reread": [], "from_measurements": []}
        for r in range(args.repeat):
            home = Path(tmp) / f"run{r}"
            shutil.copytree(base, home)
            times["scan"].append(_omr(home, "scan", "--json", stack))
            times["reread"].append(_omr(home, "reread", "--json"))
            times["from_measurements"].append(_omr(home, "reread", "--json", "--from-measurements"))
            shutil.rmtree(home)
    print(
        f"{args.pages} pages, {os.cpu_count()} cores, median of {args.repeat}; "
        f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after"
    )
    for name, ts in times.items():
        t = statistics.median(ts)
        print(f"  {name:<18} {t:7.1f} s  {args.pages / t:6.1f} pages/s")
    print(f"  reread / scan      {statistics.median(times['reread']) / statistics.median(times['scan']):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
