"""Pages per second through the queue (``omr worker`` processes on Redis) against the in-process default.

    python benchmarks/bench_distributed.py [--pages 300] [--repeat 3] [--db sqlite|postgres] [--write]

One generated 200-dpi JPEG-in-PDF stack is scanned with ``omr scan --json`` into a fresh copy of the same
data directory each time:

- in process, one reader (``OMR_SCAN_WORKERS=1``) and the default (one reader per core);
- through the queue, with 1 and 2 ``omr worker --concurrency 1`` processes (and one worker with
  ``--concurrency 2``), already started and waiting, as they are in production.

Wall time is the ``omr scan`` command from start to exit. CPU time is the sum over every process that
took part (the scanning process and its readers, or the scanning process and the workers): pages per
CPU-second is what a core delivers on each path, whatever else the machine is doing. Redis (and
PostgreSQL with ``--db postgres``) are started on loopback by tests/servers.py. ``--write`` replaces
this script's section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # tests/servers.py: Redis and PostgreSQL on loopback

from proctree import tree  # noqa: E402
from servers import postgres, redis  # noqa: E402

SECTION = "## Distributed reading: omr worker on Redis vs in process"
TICK = os.sysconf("SC_CLK_TCK")


@dataclass
class Result:
    label: str
    cores: int  # reading processes
    seconds: float
    cpu: float

    def rate(self, pages: int) -> float:
        return pages / self.seconds


def omr(*args: str) -> list[str]:
    return [sys.executable, "-m", "omr.cli", *args]


def _tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a live process and its live descendants."""
    total = 0.0
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / TICK
        except (OSError, IndexError, ValueError):
            pass
    return total


def timed_scan(stack: Path, env: dict, pages: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the scan process and the readers it waited for)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    r = subprocess.run(omr("scan", "--json", str(stack)), env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        raise SystemExit(f"omr scan failed: {r.stderr.strip()[-500:]}")
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    if len(lines) != pages or any(x["status"] == "error" for x in lines):
        raise SystemExit(f"omr scan gave {len(lines)} lines for {pages} pages, or errors")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def fresh_home(base: Path, work: Path, db_url: str | None, pg_base: str | None) -> tuple[Path, str | None]:
    home = work / "run-home"
    shutil.rmtree(home, ignore_errors=True)
    shutil.copytree(base, home)
    if pg_base is None:
        return home, None
    # a fresh PostgreSQL database, copied from the one holding the printed sheets
    import psycopg

    name = f"run_{time.monotonic_ns()}"
    admin = pg_base.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE base")
    return home, pg_base.rsplit("/", 1)[0] + "/" + name


def run_in_process(stack, base, work, pages, readers, pg_base) -> tuple[float, float]:
    home, url = fresh_home(base, work, None, pg_base)
    env = {**os.environ, "OMR_HOME": str(home), "OMR_SCAN_WORKERS": str(readers)}
    env.pop("OMR_BROKER_URL", None)
    env.pop("OMR_DATABASE_URL", None)
    if url:
        env["OMR_DATABASE_URL"] = url
    return timed_scan(stack, env, pages)


def run_queue(stack, base, work, pages, broker, procs, concurrency, pg_base) -> tuple[float, float]:
    import redis as redis_client

    redis_client.Redis.from_url(broker).flushall()
    home, url = fresh_home(base, work, None, pg_base)
    env = {**os.environ, "OMR_HOME": str(home), "OMR_BROKER_URL": broker}
    env.pop("OMR_DATABASE_URL", None)
    if url:
        env["OMR_DATABASE_URL"] = url
    workers = [
        subprocess.Popen(
            omr("worker", "--concurrency", str(concurrency), "--loglevel", "WARNING"),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for _ in range(procs)
    ]
    try:
        _wait_workers(env, procs)
        cpu0 = sum(_tree_cpu(w.pid) for w in workers)
        wall, cpu = timed_scan(stack, env, pages)
        return wall, cpu + sum(_tree_cpu(w.pid) for w in workers) - cpu0
    finally:
        for w in workers:
            os.killpg(w.pid, signal.SIGTERM)
        for w in workers:
            w.wait(timeout=30)


def _wait_workers(env: dict, n: int) -> None:
    os.environ["OMR_BROKER_URL"] = env["OMR_BROKER_URL"]
    from omr import queue

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if len(queue.app().control.ping(timeout=0.5)) >= n:
            time.sleep(1.0)  # let the pool processes finish starting
            return
    raise SystemExit("workers did not start")


def write_section(text: str) -> None:
    path = ROOT / "BENCHMARKS.md"
    old = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    block = f"{SECTION}\n\n{text.strip()}\n\n"
    new = pattern.sub(lambda _: block, old) if pattern.search(old) else old.rstrip("\n") + "\n\n" + block
    path.write_text(new.rstrip("\n") + "\n", encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    ap.add_argument("--write", action="store_true", help="record the table in BENCHMARKS.md")
    a = ap.parse_args()
    from samples.generate import generate_stack

    cores = len(os.sched_getaffinity(0))
    load_before = os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="omr-bench-dist-"))
    with ExitStack() as servers:
        broker = servers.enter_context(redis())
        pg_base = None
        base = work / "base"
        env = {**os.environ, "OMR_HOME": str(base)}
        env.pop("OMR_DATABASE_URL", None)
        env.pop("OMR_BROKER_URL", None)
        if a.db == "postgres":
            url = servers.enter_context(postgres())
            admin = url.replace("postgresql+psycopg://", "postgresql://")
            import psycopg

            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute("CREATE DATABASE base")
            pg_base = url
            env["OMR_DATABASE_URL"] = url.rsplit("/", 1)[0] + "/base"
        r = subprocess.run(
            omr("print", "--form", "kien-hung-2020", "--unit", "09552", "--count", str(a.pages), "--out",
                str(work / "print.pdf"), "--json"),
            env=env, capture_output=True, text=True,
        )  # fmt: skip
        if r.returncode != 0:
            raise SystemExit(r.stderr)
        serials = [json.loads(x)["serial"] for x in r.stdout.splitlines()]
        key = (base / "secret.key").read_bytes()
        generate_stack(work / "stack", form_id="kien-hung-2020", unit="09552", serials=serials, key=key, fmt="pdf",
                       dpi=200, seed=3, degrade="light", progress=True)  # fmt: skip
        stack = work / "stack" / "stack.pdf"
        if pg_base:
            pg_base = pg_base.rsplit("/", 1)[0] + "/omr"  # connect to the maintenance db to copy "base"

        runs = [
            ("in process, 1 reader", 1, lambda: run_in_process(stack, base, work, a.pages, 1, pg_base)),
            (f"in process, default ({cores} readers)", cores,
             lambda: run_in_process(stack, base, work, a.pages, cores, pg_base)),
            ("queue, 1 worker process", 1, lambda: run_queue(stack, base, work, a.pages, broker, 1, 1, pg_base)),
            ("queue, 2 worker processes", 2, lambda: run_queue(stack, base, work, a.pages, broker, 2, 1, pg_base)),
            ("queue, 1 worker --concurrency 2", 2,
             lambda: run_queue(stack, base, work, a.pages, broker, 1, 2, pg_base)),
        ]  # fmt: skip
        # round robin: a burst of other work on the machine slows one run of each kind, not one kind
        walls: dict[str, list[float]] = {label: [] for label, _, _ in runs}
        cpus: dict[str, list[float]] = {label: [] for label, _, _ in runs}
        for i in range(a.repeat):
            for label, _, fn in runs:
                wall, cpu = fn()
                walls[label].append(wall)
                cpus[label].append(cpu)
                rate, per_cpu = a.pages / wall, a.pages / cpu
                print(f"[{i + 1}/{a.repeat}] {label:36s} {rate:7.1f} pages/s  {per_cpu:6.1f} pages/CPU-s", flush=True)
        results = [
            Result(label, used, statistics.median(walls[label]), statistics.median(cpus[label]))
            for label, used, _ in runs
        ]
    shutil.rmtree(work, ignore_errors=True)
    load_after = os.getloadavg()[0]

    base_rate = results[0]
    ref_cpu = a.pages / results[0].cpu
    rows = [
        "| run | reading processes | pages/s | pages/s per reading process | pages per CPU-second | "
        "per CPU-second vs in process, 1 reader |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for res in results:
        per_cpu = a.pages / res.cpu
        rows.append(
            f"| {res.label} | {res.cores} | {res.rate(a.pages):.1f} | {res.rate(a.pages) / res.cores:.1f} | "
            f"{per_cpu:.1f} | {per_cpu / ref_cpu * 100:.0f} % |"
        )
    q2 = next(r for r in results if r.label == "queue, 2 worker processes")
    default = results[1]
    text = "\n".join(
        [
            f"`python benchmarks/bench_distributed.py --pages {a.pages} --repeat {a.repeat} --db {a.db}` on "
            f"{platform.machine()}, {cores} cores, Python {platform.python_version()}; "
            f"{time.strftime('%Y-%m-%d')}. One {a.pages}-page 200-dpi JPEG-in-PDF stack (generated, light "
            f"degradation), `omr scan --json` into a fresh copy of the same data directory ({a.db}), median "
            f"of {a.repeat} runs taken in turn. Workers were started beforehand, as in production; Redis on "
            "loopback. CPU time counts every process that took part (the scanning process, its readers or "
            "the workers). "
            f"Load average before/after: {load_before:.1f}/{load_after:.1f} (other work on the machine "
            "slows every row; compare rows of one run, not runs).",
            "",
            *rows,
            "",
            f"Through the queue with 2 worker processes: {q2.rate(a.pages):.1f} pages/s against "
            f"{default.rate(a.pages):.1f} in process on the same {cores} cores "
            f"({q2.rate(a.pages) / default.rate(a.pages) * 100:.0f} %); per CPU-second "
            f"{a.pages / q2.cpu / (a.pages / default.cpu) * 100:.0f} % of the in-process default. "
            f"In-process, 1 reader: {base_rate.rate(a.pages):.1f} pages/s. Wall-clock rates follow whatever "
            "else the machine runs; pages per CPU-second is the figure to compare (the issue's target: the "
            "distributed path within 15 % of in-process throughput per core).",
        ]
    )
    print()
    print(text)
    if a.write:
        write_section(text)
        print(f"\nwritten to {ROOT / 'BENCHMARKS.md'}")


if __name__ == "__main__":
    main()
