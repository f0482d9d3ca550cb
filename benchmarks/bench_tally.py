"""Benchmark: the tally (and the exports) of a province's year, 100,000 responses.

    python benchmarks/bench_tally.py                 # SQLite in a temporary data directory
    OMR_DATABASE_URL=postgresql+psycopg://… python benchmarks/bench_tally.py   # and PostgreSQL
    python benchmarks/bench_tally.py --home /tmp/bench --responses 20000 --repeat 7

The data goes under its own units (province BENCH, wards BENCH-W01…, a service point per ward) so a
real database is never mixed with it; it is generated once and reused on later runs. Prints the
median and the spread of ``omr.services.tally.compute`` for the year, a quarter and a month, and the time of
each export. The issue's target: the year's tally under 2 s on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, insert, select  # noqa: E402

from db import session as dbs  # noqa: E402
from db.models import Answer, Page, PrintBatch, Sheet, Unit, local_date  # noqa: E402
from omr.vocab import ACCEPTED, MACHINE, NEEDS_REVIEW

PROVINCE = "BENCH"
WARDS = 60
FORM = "kien-hung-2020"
YEAR = 2026
CHUNK = 5_000


def _units() -> list[dict]:
    rows = [{"code": PROVINCE, "name": "Tỉnh Đo Thử", "kind": "province", "parent_code": None}]
    for w in range(1, WARDS + 1):
        rows.append(
            {"code": f"{PROVINCE}-W{w:02d}", "name": f"Phường Đo Thử {w}", "kind": "ward", "parent_code": PROVINCE}
        )
        rows.append(
            {
                "code": f"{PROVINCE}-W{w:02d}-SP",
                "name": f"Điểm phục vụ {w}",
                "kind": "service_point",
                "parent_code": f"{PROVINCE}-W{w:02d}",
            }
        )
    return rows


def _scale(rng: random.Random) -> str | None:
    # mostly satisfied, as real offices report; a few blanks
    return rng.choices(["5", "4", "3", "2", "1", None], weights=[50, 35, 8, 3, 1, 3])[0]


def generate(n: int, seed: int = 1) -> None:
    """``n`` one-page responses spread over the year and the province's units, in bulk inserts."""
    rng = random.Random(seed)
    units = _units()
    codes = [u["code"] for u in units if u["kind"] != "province"]
    with dbs.transaction() as s:
        s.execute(insert(Unit), units)
        batch_ids = {}
        for code in codes:
            batch_ids[code] = s.execute(
                insert(PrintBatch).returning(PrintBatch.id),
                {
                    "unit_code": code,
                    "form_id": FORM,
                    "form_version": 1,
                    "variant": "c6p0",
                    "first_serial": "B",
                    "last_serial": "B",
                    "count": n // len(codes) + 50,
                    "created_at": datetime(YEAR, 1, 2, tzinfo=UTC),
                },
            ).scalar_one()
    start = datetime(YEAR, 1, 1, tzinfo=UTC)
    span = (datetime(YEAR + 1, 1, 1, tzinfo=UTC) - start).total_seconds() - 7 * 3600
    next_page = 1
    for lo in range(0, n, CHUNK):
        sheets, pages, answers = [], [], []
        for i in range(lo, min(n, lo + CHUNK)):
            code = rng.choice(codes)
            serial = f"B{i:08d}"
            pending = rng.random() < 0.01
            sheets.append(
                {
                    "serial": serial,
                    "unit_code": code,
                    "form_id": FORM,
                    "form_version": 1,
                    "variant": "c6p0",
                    "batch_id": batch_ids[code],
                }
            )
            pid = next_page
            next_page += 1
            pages.append(
                {
                    "id": pid,
                    "source": "bench.pdf",
                    "source_page": i + 1,
                    "sha256": f"{i:064x}",
                    "image_path": f"pages/bench/{i}.png",
                    "status": NEEDS_REVIEW if pending else ACCEPTED,
                    "serial": serial,
                    "sheet_page": 1,
                    "form_id": FORM,
                    "form_version": 1,
                    "variant": "c6p0",
                    "unit_code": code,
                    "rotation": 0,
                    "created_at": (at := start + timedelta(seconds=rng.random() * span)),
                    "survey_date": local_date(at),  # as a scan of the day stores it (no batch period)
                }
            )
            area = ",".join(sorted(rng.sample("1234567890", rng.choice([1, 1, 1, 2]))))
            values = {
                "q_area": area,
                "q_result": _scale(rng),
                "q_counter": str(rng.randint(1, 6)),
                "q_staff": _scale(rng),
            }
            for fld, v in values.items():
                waiting = pending and fld == "q_result"
                answers.append(
                    {
                        "page_id": pid,
                        "field": fld,
                        "machine_value": v,
                        "machine_state": "marked" if v else "blank",
                        "confidence": 0.99,
                        "final_value": None if waiting else v,
                        "final_state": None if waiting else ("marked" if v else "blank"),
                        "decided_by": None if waiting else MACHINE,
                    }
                )
        with dbs.transaction() as s:
            s.execute(insert(Sheet), sheets)
            s.execute(insert(Page), pages)
            s.execute(insert(Answer), answers)
        print(f"\r  {min(n, lo + CHUNK):,} / {n:,} responses", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)


def timed(fn, repeat: int) -> tuple[float, float, float, float]:
    """(median, min, max) wall-clock seconds and the median CPU seconds of this process (SQLite
    runs in-process, so the CPU time shows the cost even on a machine busy with other work)."""
    times, cpu = [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        fn()
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return statistics.median(times), min(times), max(times), statistics.median(cpu)


def run(label: str, responses: int, repeat: int, exports: bool) -> None:
    from omr.services.tally import compute

    with dbs.session() as s:
        have = s.scalar(select(func.count()).select_from(Page).where(Page.unit_code.like(f"{PROVINCE}-%")))
    if not have:
        print(f"[{label}] generating {responses:,} responses …", file=sys.stderr)
        t = time.perf_counter()
        generate(responses)
        if dbs.engine().dialect.name == "postgresql":
            # what autovacuum does shortly after a bulk load: without statistics the planner guesses
            with dbs.engine().connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("ANALYZE")
        print(f"[{label}] generated in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    elif have != responses:
        print(f"[{label}] reusing {have:,} responses already there", file=sys.stderr)
    print(f"[{label}] responses in the database: {have or responses:,}")
    for period in (str(YEAR), f"{YEAR}-Q4", f"{YEAR}-11"):

        def tally(period: str = period) -> object:
            with dbs.session() as s:
                return compute(s, period, PROVINCE)

        med, lo, hi, cpu = timed(tally, repeat)
        res = tally()
        print(
            f"[{label}] tally {period:8s} median {med:6.3f} s  (min {lo:.3f}, max {hi:.3f}, cpu {cpu:.3f}; "
            f"{res.responses:,} responses, index {res.index.value:.1%})"
        )
    if exports:
        from omr.reports import csv_export, pdf_report, xlsx_export

        with dbs.session() as s:
            res = compute(s, str(YEAR), PROVINCE)
            for name, write in (
                ("csv", lambda: csv_export.write_responses(s, res, io.StringIO())),
                ("xlsx", lambda: xlsx_export.write_xlsx(s, res, io.BytesIO())),
                ("pdf", lambda: pdf_report.write_pdf(s, res, io.BytesIO())),
            ):
                med, _lo, _hi, _cpu = timed(write, 1)
                print(f"[{label}] export {name:4s}  {med:6.3f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", help="data directory to keep the SQLite database in (default: a temporary one)")
    ap.add_argument("--responses", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--no-exports", action="store_true")
    args = ap.parse_args()
    pg_url = os.environ.pop("OMR_DATABASE_URL", "").strip()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["OMR_HOME"] = args.home or tmp
        run("sqlite", args.responses, args.repeat, not args.no_exports)
        dbs.dispose()
        if pg_url:
            os.environ["OMR_DATABASE_URL"] = pg_url
            run("postgresql", args.responses, args.repeat, not args.no_exports)
            dbs.dispose()


if __name__ == "__main__":
    main()
