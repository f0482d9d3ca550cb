"""Review benchmark (not a timed test): one reviewer in a real browser working through the queue.

    python benchmarks/bench_review_browser.py [--items 220] [--server production|dev] [--doubles 0.1]

Makes a throw-away data directory, prints and marks three sheets (a double mark, a pale stroke beside a
mark, ten areas with a pale stroke in the tenth), scans them with the real pipeline and copies their pages (image
files and rows) into a queue of ``--items`` distinct items; starts ``omr serve`` on 127.0.0.1 and
drives Debian's Chromium (Playwright) through the review page with the keyboard: for each item it
waits until the crop is on screen, looks at it for a random 0.5-1 s (seeded), then presses a key
(Enter for the machine's guess, 0 where the machine has none). A share ``--doubles`` of the presses
is a quick double press (the second 15-40 ms after the first), the mistake the page's key guard is for.

Figures:
- next item: from the keydown (``performance.now()`` in the page) to the next item's crop decoded
  on screen, as the page records it (``window.omrReview.shown``): p50 / p95 / max, target p95 < 50 ms;
- unseen items saved: decisions whose item was not on screen (crop decoded) for at least 100 ms when
  the key went down, from the page's record, and items saved in the database that the script never
  saw on screen; target 0;
- the machine and its load (``os.getloadavg`` before and after).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_review_load import Client, free_port, pct, server_command  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
SEEN_MS = 100  # a decision less than this after its item appeared was not made by looking at it


def prepare(home: Path, items: int) -> None:
    from tests.browser.queue_data import clone_queue, scan_models
    from tests.support.web import Home, make_users

    with Home(home):
        make_users({"reviewer": ("reviewer", "09552"), "admin": ("admin", "09552")})
        scan_models(home.parent)
        from tests.browser.queue_data import close_queue

        close_queue()  # the model pages' own items: the queue is the copies only
        clone_queue(items)


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def drive(port: int, items: int, doubles: float, seed: int) -> dict:
    from playwright.sync_api import sync_playwright

    from tests.support.web import PASSWORD

    rng = random.Random(seed)
    seen: list[int] = []
    base = f"http://127.0.0.1:{port}"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1366, "height": 900}, locale="vi-VN")
        page.goto(f"{base}/login")
        page.fill("#username", "reviewer")
        page.fill("#password", PASSWORD)
        page.keyboard.press("Enter")
        page.wait_for_selector(".username")
        page.goto(f"{base}/review/")
        root = page.locator("#review")
        t0 = time.perf_counter()
        for _ in range(items):
            deadline = time.monotonic() + 30
            while not (ready := root.get_attribute("data-ready")) and time.monotonic() < deadline:
                page.wait_for_timeout(5)
            if not ready:
                break
            item_id = int(ready)
            seen.append(item_id)
            page.wait_for_timeout(rng.uniform(500, 1000))  # the reviewer looks at the item
            guess = page.evaluate("document.querySelector('#options li.guess') !== null")
            key = "Enter" if guess else "0"
            page.keyboard.press(key)
            if rng.random() < doubles:
                page.wait_for_timeout(rng.uniform(15, 40))
                page.keyboard.press(key)
            while root.get_attribute("data-item") == str(item_id):
                page.wait_for_timeout(2)
        wall = time.perf_counter() - t0
        # the last decisions reach the server
        page.wait_for_timeout(1500)
        record = page.evaluate(
            "({shown: window.omrReview.shown, decided: window.omrReview.decided, ignored: window.omrReview.ignored})"
        )
        browser.close()
    return {"seen": seen, "record": record, "wall": wall}


def saved_items(home: Path) -> list[int]:
    import json
    import sqlite3

    con = sqlite3.connect(home / "omr.sqlite3")
    try:
        rows = con.execute("SELECT new FROM audit_log WHERE action = 'review.answer' AND user = 'reviewer'").fetchall()
    finally:
        con.close()
    return [json.loads(r[0])["item"] for r in rows]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--items", type=int, default=220)
    ap.add_argument("--server", choices=("production", "dev"), default="production")
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--doubles", type=float, default=0.1, help="share of key presses doubled 15-40 ms later")
    ap.add_argument("--seed", type=int, default=12)
    args = ap.parse_args()
    if not Path(CHROMIUM).exists():
        print("Debian's chromium is not installed (apt-get install chromium)", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="bench-review-browser-"))
    home = tmp / "home"
    try:
        print(f"preparing {args.items} items…", flush=True)
        prepare(home, args.items)
        port = free_port()
        env = dict(os.environ, OMR_HOME=str(home), OMR_INSECURE_COOKIES="1")
        env.pop("OMR_DATABASE_URL", None)
        with open(tmp / "server.log", "wb") as log:
            server = subprocess.Popen(
                server_command(args, port), env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT
            )
            try:
                deadline = time.monotonic() + 60
                while True:
                    try:
                        Client(port).call("/login")
                        break
                    except OSError:
                        if time.monotonic() > deadline or server.poll() is not None:
                            raise RuntimeError(f"the server did not start: see {tmp / 'server.log'}") from None
                        time.sleep(0.1)
                load0 = os.getloadavg()
                run = drive(port, args.items, args.doubles, args.seed)
                load1 = os.getloadavg()
            finally:
                server.terminate()
                server.wait(20)
        rec = run["record"]
        # the first item is shown by the page's own load, not by a key
        next_ms = [s["ms"] for s in rec["shown"] if s["ms"] is not None]
        unseen_page = [
            d["id"] for d in rec["decided"] if d.get("shownAt") is None or d["keyAt"] - d["shownAt"] < SEEN_MS
        ]
        saved = saved_items(home)
        unseen_db = sorted(set(saved) - set(run["seen"]))
        print(f"machine: {cpu_name()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, server {args.server}")
        print(f"load average before / after: {load0[0]:.2f} / {load1[0]:.2f} (1 min)")
        print(
            f"items decided: {len(saved)} of {len(run['seen'])} shown, in {run['wall']:.0f} s "
            f"({len(saved) / run['wall'] * 3600:,.0f} items/hour with 0.5-1 s think time)"
        )
        print(
            f"next item, keydown to crop decoded: p50 {statistics.median(next_ms):.1f} ms, "
            f"p95 {pct(next_ms, 95):.1f} ms, max {max(next_ms):.1f} ms over {len(next_ms)} items "
            f"({sum(1 for m in next_ms if m >= 50)} at 50 ms or more)"
        )
        print(f"double presses dropped by the key guard: {rec['ignored']}")
        print(f"unseen items saved: {len(unseen_page)} (page record), {len(unseen_db)} (database)")
        ok = pct(next_ms, 95) < 50 and not unseen_page and not unseen_db and len(saved) >= min(200, args.items)
        print("targets met" if ok else "TARGETS MISSED")
        return 0 if ok else 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
