"""Load benchmark (not a timed test): 20 reviewers at once clearing the review queue of `omr serve`.

    python benchmarks/bench_review_load.py [--reviewers 20] [--sheets 150] [--runs 3] [--server production]

Makes a throw-away data directory, prints sheets, marks every sheet with a double mark and a faint
dot (two review items each), scans them with the real pipeline, starts `omr serve` on loopback and
lets N reviewer threads claim and decide items over HTTP like the review page does. Prints p50/p95
latency of getting the next item and of submitting a decision, and how many items were handed to
two reviewers at once (target: 0; p95 target: under 150 ms).

How it measures:
- ``--server production`` (the default) runs ``omr serve --production``: gunicorn, several processes
  with a few threads each, which is how the application is deployed; ``--server dev`` runs the
  single-process Werkzeug server of plain ``omr serve`` for comparison.
- Every reviewer logs in first (argon2 on purpose costs tens of milliseconds of CPU); the timed part
  starts when all of them are logged in, so the figures are those of working the queue. Login times
  are reported on their own line.
- Each reviewer keeps one HTTP/1.1 connection open, as a browser does (a server that closes it after
  each answer, like Werkzeug's, is reconnected to transparently).
- There is no think time: every reviewer asks for the next item the moment the previous decision is
  answered, so 20 reviewers are 20 requests always in flight: far more than 20 people produce.
- ``--runs N`` prepares the sheets once and runs the whole load N times on fresh copies of the data
  directory, then prints the median of each figure. After each run the database is checked: every
  item decided exactly once, none left open.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from http.cookies import SimpleCookie
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(home: Path, sheets: int, reviewers: int) -> None:
    from tests.support.web import cross, fill_clear, make_users, pale_stroke, print_sheets, save_pdf

    make_users({f"r{i:02d}": ("reviewer", "09552") for i in range(reviewers)} | {"admin": ("admin", "09552")})
    done = 0
    while done < sheets:
        n = min(50, sheets - done)
        _, pages = print_sheets(home.parent, n, name=f"p{done}.pdf")
        for p in pages:
            fill_clear(p, result="4")
            cross(p, "q_result", "2")
            pale_stroke(p, "q_staff", "3")
        stack = save_pdf(pages, home.parent / f"stack{done}.pdf")
        from omr.services import ingest

        list(ingest.scan([stack], created_by="admin"))
        done += n


class HTTPError(Exception):
    def __init__(self, status: int, body: str):
        super().__init__(f"HTTP {status}: {body[:200]}")
        self.status = status


class Client:
    """One reviewer's browser: a persistent HTTP/1.1 connection and the session cookie."""

    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookies: dict[str, str] = {}

    def call(self, path: str, body: dict | None = None, form: dict | None = None, headers: dict | None = None) -> str:
        h = dict(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        elif form is not None:
            data = urllib.parse.urlencode(form).encode()
            h["Content-Type"] = "application/x-www-form-urlencoded"
        if self.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        method = "POST" if data is not None else "GET"
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=data, headers=h)
                resp = self.conn.getresponse()
                text = resp.read().decode()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # the server closed the kept-alive connection between two requests: open a new one
                self.conn.close()
                if attempt == 2:
                    raise
        for raw in resp.headers.get_all("Set-Cookie") or []:
            c = SimpleCookie()
            c.load(raw)
            for k, m in c.items():
                self.cookies[k] = m.value
        if resp.will_close:
            self.conn.close()
        if resp.status in (301, 302, 303):
            return self.call(resp.headers["Location"].replace(f"http://127.0.0.1:{self.conn.port}", ""))
        if resp.status >= 400:
            raise HTTPError(resp.status, text)
        return text


class Reviewer(threading.Thread):
    def __init__(self, port: int, name: str, password: str, start: threading.Barrier):
        super().__init__(daemon=True)
        self.port, self.name, self.password, self.start_line = port, name, password, start
        self.login_ms = 0.0
        self.next_ms: list[float] = []
        self.decide_ms: list[float] = []
        self.samples: list[tuple[str, float, float]] = []  # (request, start in s, ms) for --dump
        self.items: list[int] = []
        self.errors = 0
        self.failure: BaseException | None = None

    def run(self) -> None:
        try:
            self._run()
        except BaseException as e:  # reported by main(), never silently lost
            self.failure = e
            self.start_line.abort()

    def _run(self) -> None:
        c = Client(self.port)
        t0 = time.perf_counter()
        page = c.call("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        home = c.call("/login", form={"username": self.name, "password": self.password, "csrf_token": token})
        token = re.search(r'name="csrf-token" content="([^"]+)"', home).group(1)
        self.login_ms = (time.perf_counter() - t0) * 1000
        h = {"X-CSRFToken": token, "Accept": "application/json"}
        self.start_line.wait()  # the timed part: everyone is logged in
        while True:
            t0 = time.perf_counter()
            item = json.loads(c.call("/review/api/next?kind=answer", headers=h))["item"]
            self.next_ms.append((time.perf_counter() - t0) * 1000)
            self.samples.append(("next", t0, self.next_ms[-1]))
            if item is None:
                return
            self.items.append(item["id"])
            t0 = time.perf_counter()
            try:
                c.call(f"/review/api/item/{item['id']}/decide", body={"accept": True}, headers=h)
            except HTTPError:
                self.errors += 1
            self.decide_ms.append((time.perf_counter() - t0) * 1000)
            self.samples.append(("decide", t0, self.decide_ms[-1]))


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(values) > 1 else values[0]


def server_command(args, port: int) -> list[str]:
    cmd = [sys.executable, "-m", "omr.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    if args.server == "production":
        cmd.append("--production")
        if args.workers:
            cmd += ["--workers", str(args.workers)]
    return cmd


def check_database(home: Path) -> dict:
    """What the run left in the database: open items, and how often each item was decided."""
    import sqlite3

    con = sqlite3.connect(home / "omr.sqlite3")
    try:
        left = con.execute("SELECT count(*) FROM review_items WHERE kind = 'answer' AND status = 'open'").fetchone()[0]
        done = con.execute("SELECT count(*) FROM review_items WHERE kind = 'answer' AND status = 'done'").fetchone()[0]
        rows = con.execute("SELECT new FROM audit_log WHERE action = 'review.answer'").fetchall()
    finally:
        con.close()
    per_item = Counter(json.loads(r[0])["item"] for r in rows)
    return {"open": left, "done": done, "decided_twice": sum(1 for n in per_item.values() if n > 1)}


def _server_cpu(pid: int) -> float:
    """CPU seconds used so far by the server process and its worker processes (Linux /proc)."""
    from proctree import tree  # benchmarks/, beside this file

    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for p in tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


def run_once(home: Path, args, password: str) -> dict:
    port = free_port()
    env = dict(os.environ, OMR_HOME=str(home), OMR_INSECURE_COOKIES="1")
    env.pop("OMR_DATABASE_URL", None)
    log = open(home.parent / "server.log", "wb")  # noqa: SIM115  (closed below)
    server = subprocess.Popen(server_command(args, port), env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                Client(port).call("/login")
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError(f"the server did not start: see {home.parent / 'server.log'}") from None
                time.sleep(0.1)
        start = threading.Barrier(args.reviewers + 1)
        crew = [Reviewer(port, f"r{i:02d}", password, start) for i in range(args.reviewers)]
        for r in crew:
            r.start()
        start.wait()
        t0 = time.perf_counter()
        cpu0 = _server_cpu(server.pid), time.process_time()
        for r in crew:
            r.join()
        wall = time.perf_counter() - t0
        cpu = _server_cpu(server.pid) - cpu0[0], time.process_time() - cpu0[1]
        if args.dump:
            rows = sorted((round(s - t0, 4), r.name, kind, round(ms, 2)) for r in crew for kind, s, ms in r.samples)
            args.dump.with_suffix(f".{home.parent.name}.json").write_text(json.dumps(rows))
    finally:
        server.terminate()
        server.wait(30)
        log.close()
    failed = [r for r in crew if r.failure is not None]
    if failed:
        raise RuntimeError(f"reviewer {failed[0].name} failed: {failed[0].failure!r}")
    handed = Counter(i for r in crew for i in set(r.items))
    total = sum(len(r.items) for r in crew)
    nxt = [v for r in crew for v in r.next_ms]
    dec = [v for r in crew for v in r.decide_ms]
    logins = [r.login_ms for r in crew]
    return {
        "items": total,
        "wall": wall,
        "next_p50": pct(nxt, 50),
        "next_p95": pct(nxt, 95),
        "next_n": len(nxt),
        "decide_p50": pct(dec, 50),
        "decide_p95": pct(dec, 95),
        "decide_n": len(dec),
        "login_p50": pct(logins, 50),
        "login_max": max(logins),
        "server_cpu": cpu[0],
        "client_cpu": cpu[1],
        "twice": sum(1 for n in handed.values() if n > 1),
        "refused": sum(r.errors for r in crew),
        **check_database(home),
    }


def report(r: dict, reviewers: int) -> None:
    rate = r["items"] / r["wall"]
    print(f"reviewers: {reviewers}, items decided: {r['items']} in {r['wall']:.1f} s ({rate:.0f} items/s)")
    print(f"next item:  p50 {r['next_p50']:.1f} ms, p95 {r['next_p95']:.1f} ms ({r['next_n']} requests)")
    print(f"decision:   p50 {r['decide_p50']:.1f} ms, p95 {r['decide_p95']:.1f} ms ({r['decide_n']} requests)")
    print(f"items given to two reviewers at once: {r['twice']}; refused decisions: {r['refused']}")
    print(f"CPU time in the timed part: server {r['server_cpu']:.1f} s, load generator {r['client_cpu']:.1f} s")
    print(f"logins (before the timed part): p50 {r['login_p50']:.0f} ms, slowest {r['login_max']:.0f} ms")
    print(f"database after the run: {r['open']} items open, {r['done']} done, {r['decided_twice']} decided twice")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reviewers", type=int, default=20)
    ap.add_argument("--sheets", type=int, default=150)
    ap.add_argument("--runs", type=int, default=1, help="run the load N times (fresh data each), report medians")
    ap.add_argument(
        "--server",
        choices=("production", "dev"),
        default="production",
        help="production: omr serve --production (gunicorn); dev: plain omr serve (Werkzeug)",
    )
    ap.add_argument("--workers", type=int, help="gunicorn processes (default: omr serve's own)")
    ap.add_argument("--keep", action="store_true", help="keep the throw-away directory (server logs)")
    ap.add_argument("--dump", type=Path, help="write every timed request to DUMP.runN.json (start s, who, what, ms)")
    ap.add_argument("--prepared", type=Path, help="a data directory kept from an earlier --keep run (template/home)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="omr-bench-review-"))
    template = tmp / "template" / "home"
    os.environ["OMR_HOME"] = str(template)
    os.environ.pop("OMR_DATABASE_URL", None)
    from db import session as dbs
    from tests.support.web import PASSWORD

    t0 = time.perf_counter()
    if args.prepared:
        shutil.copytree(args.prepared, template)
    else:
        prepare(template, args.sheets, args.reviewers)
        dbs.dispose()  # the database file is complete (WAL checkpointed) before it is copied
        print(f"prepared {args.sheets} sheets in {time.perf_counter() - t0:.1f} s", flush=True)
    print(f"server: omr serve{' --production' if args.server == 'production' else ''}; cpus: {os.cpu_count()}")
    results = []
    try:
        for n in range(args.runs):
            home = tmp / f"run{n + 1}" / "home"
            shutil.copytree(template, home)
            r = run_once(home, args, PASSWORD)
            results.append(r)
            if args.runs > 1:
                print(f"--- run {n + 1}")
            report(r, args.reviewers)
            sys.stdout.flush()
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"kept: {tmp}")
    if args.runs > 1:
        med = {k: statistics.median(r[k] for r in results) for k in results[0]}
        print(f"--- median of {args.runs} runs")
        report(med, args.reviewers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
