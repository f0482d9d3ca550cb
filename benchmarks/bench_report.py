"""A province's year: the PDF report over 100,000 responses and its sheet annex over 50,000 page images.

    python benchmarks/bench_report.py [--responses 100000] [--images 50000] [--repeat 3] [--keep DIR]

Builds a synthetic data directory (SQLite): one province with 100 communes, ``--responses`` one-page
sheets of form kien-hung-2020 spread over the year with their answers and a comment on one sheet in
50; the last ``--images`` sheets (the second half of the year) each have a small page image on disk
(JPEG, 600×849 px: a grey sheet with marks, ~20 KB). Then each export runs in a fresh process, and the
process's wall time and peak resident memory (``VmHWM``) are taken:

- ``pdf``: the report of the year (``omr export --format pdf``), comment annex included;
- ``sheets-pdf``: the annex of the second half (``--images`` pages), one PDF;
- ``sheets-zip``: the same as a ZIP of the images;
- ``sheets-pdf`` of a tenth of the images, to show that memory does not grow with the number of pages.

Medians of ``--repeat`` runs are printed as a Markdown table for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORM = "kien-hung-2020"
PROVINCE = "BP"
COMMUNES = 100
YEAR = 2026
SECOND_HALF = f"{YEAR}-07-01..{YEAR}-12-31"

CHILD = """
import sys, time
from pathlib import Path
t0 = time.perf_counter()
from db.session import session
from omr.reports import export
with session() as s:
    export(s, sys.argv[1], sys.argv[2], None, sys.argv[3], Path(sys.argv[4]))
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec, so a child would report the parent's size
hwm = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(time.perf_counter() - t0, int(hwm.split()[1]) / 1024)
"""


def _images(n: int) -> list[bytes]:
    """A few distinct page images; files repeat them (the annex copies bytes, it never decodes a JPEG)."""
    from PIL import Image, ImageDraw

    out = []
    rng = random.Random(1)
    for _ in range(n):
        im = Image.new("L", (600, 849), 235)
        d = ImageDraw.Draw(im)
        for _ in range(40):
            x, y = rng.randrange(40, 560), rng.randrange(40, 800)
            d.rectangle((x, y, x + 14, y + 14), outline=0, width=2)
            if rng.random() < 0.3:
                d.line((x, y, x + 14, y + 14), fill=0, width=3)
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=75)
        out.append(buf.getvalue())
    return out


def build(home: Path, responses: int, images: int) -> None:
    os.environ["OMR_HOME"] = str(home)
    os.environ.pop("OMR_DATABASE_URL", None)
    sys.path.insert(0, str(ROOT))
    from db import session as dbs
    from db.models import Answer, Page, PrintBatch, TextArea, Unit

    rng = random.Random(7)
    communes = [f"BP{i:03d}" for i in range(1, COMMUNES + 1)]
    with dbs.transaction() as s:
        s.add(Unit(code=PROVINCE, name="Tỉnh Thử Tải", kind="province"))
        s.flush()
        for i, code in enumerate(communes, 1):
            s.add(Unit(code=code, name=f"Xã Thử Tải {i}", kind="commune", parent_code=PROVINCE))
        s.flush()
        for code in communes:
            s.add(
                PrintBatch(unit_code=code, form_id=FORM, form_version=1, variant="c6p0", first_serial="0",
                           last_serial="0", count=responses // COMMUNES + 50,
                           created_at=datetime(YEAR, 1, 2, 2, tzinfo=UTC))
            )  # fmt: skip
    blobs = _images(50)
    # the first sheets over January–June, the last ``images`` (with an image each) over July–December
    first_image = responses - images
    halves = ((datetime(YEAR, 1, 1, 2, tzinfo=UTC), datetime(YEAR, 6, 30, 10, tzinfo=UTC), first_image),
              (datetime(YEAR, 7, 1, 2, tzinfo=UTC), datetime(YEAR, 12, 31, 10, tzinfo=UTC), images))  # fmt: skip
    pages, answers, texts = [], [], []
    for n in range(responses):
        begin, end, count = halves[n >= first_image]
        at = begin + (end - begin) * ((n - (first_image if n >= first_image else 0)) / max(count, 1))
        unit = communes[n % COMMUNES]
        rel = f"pages/{n % 256:02x}/{n:07d}.jpg"
        pages.append(
            {"id": n + 1, "source": "bench.pdf", "source_page": n + 1, "sha256": f"{n:064x}", "image_path": rel,
             "status": "accepted", "serial": f"{n:07d}", "sheet_page": 1, "form_id": FORM, "form_version": 1,
             "variant": "c6p0", "unit_code": unit, "rotation": 0, "created_at": at}
        )  # fmt: skip
        area = ",".join(sorted(rng.sample("123456789", rng.choice((1, 1, 2)))))
        for field, value in (
            ("q_area", area),
            ("q_result", str(rng.choice("5554443321"))),
            ("q_counter", str(rng.randint(1, 6))),
            ("q_staff", str(rng.choice("5554443321"))),
        ):
            answers.append(
                {"page_id": n + 1, "field": field, "machine_value": value, "machine_state": "marked",
                 "confidence": 0.99, "final_value": value, "final_state": "marked", "decided_by": "machine"}
            )  # fmt: skip
        if n % 50 == 0:
            texts.append({"page_id": n + 1, "field": "y_kien_khac", "written": True, "ink": 0.1,
                          "image_path": f"crops/{n % 50}.jpg"})  # fmt: skip
    with dbs.transaction() as s:
        for i in range(0, len(pages), 20000):
            s.execute(Page.__table__.insert(), pages[i : i + 20000])
        for i in range(0, len(answers), 50000):
            s.execute(Answer.__table__.insert(), answers[i : i + 50000])
        s.execute(TextArea.__table__.insert(), texts)
    (home / "crops").mkdir(parents=True, exist_ok=True)
    from PIL import Image

    crop = io.BytesIO()
    Image.new("L", (900, 160), 250).save(crop, "JPEG")
    for i in range(50):
        (home / "crops" / f"{i}.jpg").write_bytes(crop.getvalue())
    for n in range(first_image, responses):
        path = home / f"pages/{n % 256:02x}/{n:07d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(blobs[n % len(blobs)])
    dbs.dispose()


def run(home: Path, period: str, fmt: str, out: Path) -> tuple[float, float, int]:
    env = {**os.environ, "OMR_HOME": str(home), "PYTHONPATH": str(ROOT)}
    env.pop("OMR_DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", CHILD, period, PROVINCE, fmt, str(out)], env=env, capture_output=True, text=True
    )
    if done.returncode:
        raise SystemExit(done.stderr)
    seconds, mb = (float(x) for x in done.stdout.split()[-2:])
    return seconds, mb, out.stat().st_size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--responses", type=int, default=100_000)
    ap.add_argument("--images", type=int, default=50_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--keep", type=Path, help="keep the data directory and outputs here")
    ap.add_argument("--only", choices=("pdf", "sheets-pdf", "sheets-zip"), help="run this format only")
    args = ap.parse_args()
    home = args.keep or Path(tempfile.mkdtemp(prefix="bench-report-"))
    try:
        if not (home / "omr.sqlite3").exists():  # --keep: a directory built by an earlier run is used again
            t = time.perf_counter()
            build(home, args.responses, args.images)
            print(f"built {args.responses} responses, {args.images} images in {time.perf_counter() - t:.0f} s",
                  file=sys.stderr)  # fmt: skip
        out = home / "out"
        out.mkdir(exist_ok=True)
        small = f"{YEAR}-12-01..{YEAR}-12-31"  # about a sixth of the second half
        cases = [
            ("pdf", str(YEAR), "report of the year (PDF, comment annex)", "bao-cao.pdf"),
            ("sheets-pdf", small, "sheet annex, December (PDF)", "phieu-12.pdf"),
            ("sheets-pdf", SECOND_HALF, "sheet annex, second half (PDF)", "phieu.pdf"),
            ("sheets-zip", SECOND_HALF, "sheet annex, second half (ZIP)", "phieu.zip"),
        ]
        rows = []
        for fmt, period, label, name in cases:
            if args.only and fmt != args.only:
                continue
            runs = [run(home, period, fmt, out / name) for _ in range(args.repeat)]
            pages = None
            if fmt == "sheets-pdf":
                import pypdfium2 as pdfium

                pdf = pdfium.PdfDocument(str(out / name))
                pages = len(pdf)
                pdf.close()
            rows.append(
                {"case": label, "format": fmt, "period": period, "pages": pages,
                 "seconds": statistics.median(r[0] for r in runs), "peak_mb": statistics.median(r[1] for r in runs),
                 "size_mb": runs[-1][2] / 1e6, "runs": [[round(r[0], 1), round(r[1])] for r in runs]}
            )  # fmt: skip
            print(json.dumps(rows[-1], ensure_ascii=False), file=sys.stderr)
        print("| export | pages | median time | median peak RSS | file |")
        print("| --- | ---: | ---: | ---: | ---: |")
        for r in rows:
            pages = f"{r['pages']:,}" if r["pages"] else "–"
            print(f"| {r['case']} | {pages} | {r['seconds']:.1f} s | {r['peak_mb']:.0f} MB | {r['size_mb']:.0f} MB |")
    finally:
        if args.keep is None:
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
