"""End-to-end speed and memory of ``omr scan``, per input format, and of ``omr print``.

    python benchmarks/bench_scan.py [--pages 500] [--big 1000] [--repeat 3] [--formats pdf,pdf-bw]

Formats: pdf (one JPEG per page, a few black-and-white and colour pages), pdf-bw (every page
black-and-white, CCITT G4), tiff, zip, png-dir. Each run scans a generated 200-dpi stack into a fresh
copy of a data directory (SQLite, database writes included) with ``omr scan --json`` in a child
process; peak memory is the largest sum of the proportional set size (PSS) of that process and its
reader processes, sampled every 20 ms. For a baseline on the same machine in the same run, the
decode of the same pages in one process is timed too: shared machines are noisy, so compare ratios,
not absolute figures. Results: BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

from proctree import tree

from omr.detect import sources
from omr.detect.read import decode
from samples import degrade as dg
from samples.generate import generate_stack

FORMATS = ("pdf", "pdf-bw", "tiff", "zip", "png-dir")
# every page black-and-white (CCITT G4), as an office scanner in black-and-white mode writes them
BLACK_AND_WHITE = replace(dg.LIGHT, p_bilevel=1.0, p_colour=0.0)


def _pss_kb(pid: int) -> int:
    """Proportional set size: shared pages (forked reader processes share most of theirs with the main
    process) counted once across the tree, not once per process as plain RSS would."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _tree_mb(root: int) -> float:
    """Memory of a process and all its descendants, in MB (PSS)."""
    return sum(_pss_kb(pid) for pid in tree(root)) / 1024


def run_measured(cmd: list[str], env: dict) -> tuple[float, float, float]:
    """(seconds, peak MB of the process tree, CPU seconds of the command and every process under it)."""
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = 0.0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, _tree_mb(proc.pid))
            time.sleep(0.02)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    _, err = proc.communicate()
    elapsed = time.perf_counter() - t0
    stop.set()
    th.join()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {err.strip()[-500:]}")
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    return elapsed, peak, cpu


def omr_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "omr.cli", *args]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=500)
    ap.add_argument("--big", type=int, default=1000, help="pages of the stack whose peak memory is checked")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--formats", default=",".join(FORMATS))
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="omr-bench-"))
    home = work / "home"
    env = {**os.environ, "OMR_HOME": str(home)}
    env.pop("OMR_DATABASE_URL", None)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")

    # printing: 1,000 sheets into one PDF (also issues the serials the stacks use)
    n_print = max(a.big, a.pages)
    t, peak, _ = run_measured(
        omr_cmd(
            "print",
            "--form",
            "kien-hung-2020",
            "--unit",
            "09552",
            "--count",
            str(n_print),
            "--out",
            str(work / "print.pdf"),
        ),
        env,
    )
    print(f"omr print {n_print} sheets: {t:.2f} s ({n_print / t:.0f} sheets/s), peak {peak:.0f} MB")
    key = (home / "secret.key").read_bytes()
    serials = [f"{i:06d}" for i in range(1, n_print + 1)]

    rows = []
    for fmt in a.formats.split(","):
        out = work / fmt
        bw = fmt == "pdf-bw"
        generate_stack(
            out,
            form_id="kien-hung-2020",
            unit="09552",
            serials=serials[: a.pages],
            key=key,
            fmt="pdf" if bw else fmt,
            dpi=200,
            seed=3,
            degrade=BLACK_AND_WHITE if bw else "light",
            progress=True,
        )
        stack = [p for p in out.iterdir() if not p.name.endswith(".json")]
        # baseline: decoding the same pages, one process
        t0 = time.perf_counter()
        n = sum(1 for raw in sources.iter_pages(stack) if raw.data and decode(raw.data) is not None)
        decode_rate = n / (time.perf_counter() - t0)
        times, peaks, cpus = [], [], []
        for _ in range(a.repeat):
            fresh = work / "run-home"
            shutil.rmtree(fresh, ignore_errors=True)
            shutil.copytree(home, fresh)
            t, peak, cpu = run_measured(omr_cmd("scan", "--json", *map(str, stack)), {**env, "OMR_HOME": str(fresh)})
            times.append(t)
            peaks.append(peak)
            cpus.append(cpu)
        med = statistics.median(times)
        rows.append((fmt, n, n / med, n / statistics.median(cpus), decode_rate, statistics.median(peaks)))
        shutil.rmtree(out)
    load = os.getloadavg()[0]
    print(f"\nomr scan, {a.pages} pages at 200 dpi, median of {a.repeat} runs; load average {load:.1f}")
    print("(pages per CPU-second counts every process of the scan: the rate 2 idle cores would give is twice it;")
    print(" decode/s: the same pages' JPEG/PNG decode alone, one process, same run, as a baseline)")
    print(f"  {'format':8s} {'pages':>6s} {'pages/s':>9s} {'pages/CPU-s':>12s} {'decode/s':>9s} {'peak MB':>8s}")
    for fmt, n, rate, per_cpu, dec, peak in rows:
        print(f"  {fmt:8s} {n:6d} {rate:9.1f} {per_cpu:12.1f} {dec:9.1f} {peak:8.0f}")

    if a.big:
        out = work / "big"
        generate_stack(
            out,
            form_id="kien-hung-2020",
            unit="09552",
            serials=serials[: a.big],
            key=key,
            fmt="pdf",
            dpi=200,
            seed=4,
            degrade="light",
            progress=True,
        )
        stack = [p for p in out.iterdir() if not p.name.endswith(".json")]
        fresh = work / "run-home"
        shutil.rmtree(fresh, ignore_errors=True)
        shutil.copytree(home, fresh)
        t, peak, cpu = run_measured(omr_cmd("scan", "--json", *map(str, stack)), {**env, "OMR_HOME": str(fresh)})
        size = sum(p.stat().st_size for p in stack) / 1e6
        print(
            f"\n{a.big}-page JPEG-in-PDF ({size:.0f} MB): {t:.1f} s, {a.big / t:.1f} pages/s, "
            f"{a.big / cpu:.1f} pages/CPU-s, peak {peak:.0f} MB (PSS of the whole process tree)"
        )
    print(json.dumps({"work": str(work)}))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
