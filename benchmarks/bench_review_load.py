"""Load benchmark (not a timed test): 20 reviewers at once clearing the review queue of `omr serve`.

    python benchmarks/bench_review_load.py [--reviewers 20] [--sheets 150]

Makes a throw-away data directory, prints sheets, marks every sheet with a double mark and a faint
dot (two review items each), scans them with the real pipeline, starts `omr serve` on loopback and
lets N reviewer threads claim and decide items over HTTP like the review page does. Prints p50/p95
latency of getting the next item and of submitting a decision, and how many items were handed to
two reviewers at once (target: 0; p95 target: under 150 ms).
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(home: Path, sheets: int, reviewers: int) -> None:
    from web.testing import cross, faint_dot, fill_clear, make_users, print_sheets, save_pdf

    make_users({f"r{i:02d}": ("reviewer", "09552") for i in range(reviewers)} | {"admin": ("admin", "09552")})
    done = 0
    while done < sheets:
        n = min(50, sheets - done)
        _, pages = print_sheets(home.parent, n, name=f"p{done}.pdf")
        for p in pages:
            fill_clear(p, result="4")
            cross(p, "q_result", "2")
            faint_dot(p, "q_staff", "3")
        stack = save_pdf(pages, home.parent / f"stack{done}.pdf")
        from omr.services import ingest

        list(ingest.scan([stack], created_by="admin"))
        done += n


class Reviewer(threading.Thread):
    def __init__(self, base: str, name: str, password: str):
        super().__init__(daemon=True)
        self.base, self.name, self.password = base, name, password
        self.next_ms: list[float] = []
        self.decide_ms: list[float] = []
        self.items: list[int] = []
        self.errors = 0
        jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

    def call(self, path: str, body: dict | None = None, form: dict | None = None, headers: dict | None = None):
        data = None
        h = dict(headers or {})
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        elif form is not None:
            data = urllib.parse.urlencode(form).encode()
        req = urllib.request.Request(self.base + path, data=data, headers=h)
        with self.opener.open(req, timeout=30) as r:
            return r.read().decode()

    def run(self) -> None:
        page = self.call("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        home = self.call("/login", form={"username": self.name, "password": self.password, "csrf_token": token})
        token = re.search(r'name="csrf-token" content="([^"]+)"', home).group(1)
        h = {"X-CSRFToken": token, "Accept": "application/json"}
        while True:
            t0 = time.perf_counter()
            item = json.loads(self.call("/review/api/next?kind=answer", headers=h))["item"]
            self.next_ms.append((time.perf_counter() - t0) * 1000)
            if item is None:
                return
            self.items.append(item["id"])
            t0 = time.perf_counter()
            try:
                self.call(f"/review/api/item/{item['id']}/decide", body={"accept": True}, headers=h)
            except urllib.error.HTTPError:
                self.errors += 1
            self.decide_ms.append((time.perf_counter() - t0) * 1000)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(values) > 1 else values[0]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reviewers", type=int, default=20)
    ap.add_argument("--sheets", type=int, default=150)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="omr-bench-review-"))
    home = tmp / "home"
    os.environ["OMR_HOME"] = str(home)
    os.environ.pop("OMR_DATABASE_URL", None)
    from web.testing import PASSWORD

    t0 = time.perf_counter()
    prepare(home, args.sheets, args.reviewers)
    print(f"prepared {args.sheets} sheets in {time.perf_counter() - t0:.1f} s", flush=True)
    port = free_port()
    env = dict(os.environ, OMR_INSECURE_COOKIES="1")
    server = subprocess.Popen(
        [sys.executable, "-m", "omr.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/login", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        crew = [Reviewer(base, f"r{i:02d}", PASSWORD) for i in range(args.reviewers)]
        t0 = time.perf_counter()
        for r in crew:
            r.start()
        for r in crew:
            r.join()
        wall = time.perf_counter() - t0
    finally:
        server.terminate()
        server.wait(10)
    nxt = [v for r in crew for v in r.next_ms]
    dec = [v for r in crew for v in r.decide_ms]
    handed = Counter(i for r in crew for i in set(r.items))
    twice = sum(1 for n in handed.values() if n > 1)
    total = sum(len(r.items) for r in crew)
    print(f"reviewers: {args.reviewers}, items decided: {total} in {wall:.1f} s ({total / wall:.0f} items/s)")
    print(f"next item:  p50 {pct(nxt, 50):.1f} ms, p95 {pct(nxt, 95):.1f} ms ({len(nxt)} requests)")
    print(f"decision:   p50 {pct(dec, 50):.1f} ms, p95 {pct(dec, 95):.1f} ms ({len(dec)} requests)")
    print(f"items given to two reviewers at once: {twice}; refused decisions: {sum(r.errors for r in crew)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
