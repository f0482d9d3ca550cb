"""Which QR reader, which PDF reader and which JPEG decoder: measured, not guessed.

    python benchmarks/bench_libraries.py [--pages 60]

QR: zxing-cpp and pyzbar on the same 200-dpi scans, on the crop near the QR's known place (what the
reader does) and on the whole page (its fallback). PDF: taking each page's embedded JPEG with
pypdfium2 or pikepdf against rasterising the page with pypdfium2. JPEG: OpenCV against simplejpeg
(libjpeg-turbo, exact and fast integer IDCT) on generated 200-dpi grey scans with scanner noise.
Medians per page, one thread; ratios against the chosen library in the same run.
"""

from __future__ import annotations

import argparse
import io
import platform
import statistics
import time

import cv2
import numpy as np
import pypdfium2 as pdfium
from PIL import Image

from omr.detect.qr import read_qr
from omr.detect.read import decode
from omr.detect.register import register
from omr.sheet.layout import layout_for
from omr.sheet.render import UnitHeading, render

KEY = b"bench-key-00000000000000000000000"


def _median_ms(fn, items) -> float:
    times = []
    for it in items:
        t = time.perf_counter()
        fn(it)
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def _scans(n: int) -> list[bytes]:
    buf = io.BytesIO()
    render(
        buf,
        layout_for("kien-hung-2020"),
        "09552",
        [f"{i:06d}" for i in range(1, n + 1)],
        KEY,
        UnitHeading("Phường Kiến Hưng"),
    )
    pdf = pdfium.PdfDocument(buf.getvalue())
    out = []
    for i in range(n):
        img = pdf[i].render(scale=200 / 72, grayscale=True).to_numpy()
        ok, jpg = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 80])
        out.append(jpg.tobytes())
    return out


def bench_qr(scans: list[bytes]) -> None:
    import zxingcpp

    grays = [decode(s) for s in scans]
    regs = [register(g) for g in grays]
    crops = []
    for g, r in zip(grays, regs, strict=True):
        h = r.homography
        x, y = (h @ np.array([160.0, 10.0, 1.0]))[:2] / (h @ np.array([160.0, 10.0, 1.0]))[2]
        crops.append(np.ascontiguousarray(g[max(0, int(y)) : int(y) + 300, max(0, int(x)) : int(x) + 330]))
    rows = [
        ("zxing-cpp, crop near corner", _median_ms(lambda c: zxingcpp.read_barcodes(c), crops)),
        ("zxing-cpp, whole page", _median_ms(lambda g: zxingcpp.read_barcodes(g), grays[:15])),
        (
            "omr.detect.qr.read_qr (as used)",
            _median_ms(lambda i: read_qr(grays[i], regs[i].homography), range(len(grays))),
        ),
    ]
    ok = sum(read_qr(g, r.homography) is not None for g, r in zip(grays, regs, strict=True))
    try:
        from pyzbar import pyzbar

        rows.append(("pyzbar, crop near corner", _median_ms(lambda c: pyzbar.decode(c), crops)))
        rows.append(("pyzbar, whole page", _median_ms(lambda g: pyzbar.decode(g), grays[:15])))
    except (ImportError, OSError) as e:  # libzbar0 missing
        rows.append((f"pyzbar unavailable ({e})", float("nan")))
    base = rows[0][1]
    print(f"\nQR on {len(scans)} pages, 200 dpi JPEG (read {ok}/{len(scans)})")
    for name, ms in rows:
        print(f"  {name:40s} {ms:8.2f} ms/page   x{ms / base:6.1f}")


def bench_pdf(scans: list[bytes]) -> None:
    import pikepdf

    buf = io.BytesIO()
    ims = [Image.open(io.BytesIO(s)) for s in scans]
    ims[0].save(buf, "PDF", save_all=True, append_images=ims[1:], resolution=200)
    data = buf.getvalue()
    doc = pdfium.PdfDocument(data)
    n = len(doc)

    def pdfium_extract(i):
        obj = next(o for o in doc[i].get_objects() if isinstance(o, pdfium.PdfImage))
        return bytes(obj.get_data(decode_simple=False))

    def pdfium_render(i):
        return doc[i].render(scale=200 / 72, grayscale=True).to_numpy()

    pk = pikepdf.open(io.BytesIO(data))

    def pikepdf_extract(i):
        page = pk.pages[i]
        (img,) = page.get_images().values()
        return img.read_raw_bytes()

    rows = [
        ("pypdfium2: embedded JPEG as is", _median_ms(pdfium_extract, range(n))),
        ("pikepdf: embedded JPEG as is", _median_ms(pikepdf_extract, range(n))),
        ("pypdfium2: rasterise page 200 dpi", _median_ms(pdfium_render, range(n))),
    ]
    decode_ms = _median_ms(decode, scans)
    base = rows[0][1]
    print(f"\nPDF page extraction, {n} pages (JPEG decode for comparison: {decode_ms:.2f} ms/page)")
    for name, ms in rows:
        print(f"  {name:40s} {ms:8.2f} ms/page   x{ms / base:6.1f}")
    print(f"  rasterise + decode vs extract + decode: x{(rows[2][1]) / (base + decode_ms):.1f}")


def bench_jpeg(n: int) -> None:
    import tempfile
    from pathlib import Path

    import simplejpeg

    from omr.detect import sources
    from samples.generate import generate_stack

    with tempfile.TemporaryDirectory() as tmp:
        serials = [f"{i:06d}" for i in range(1, n + 1)]
        generate_stack(
            Path(tmp), form_id="kien-hung-2020", unit="09552", serials=serials, key=KEY, dpi=200, degrade="light"
        )
        pages = [p.data for p in sources.iter_pages([Path(tmp) / "stack.pdf"]) if p.ext == ".jpg"]
    rows = [
        ("simplejpeg, fast IDCT (chosen)", lambda d: simplejpeg.decode_jpeg(d, colorspace="GRAY", fastdct=True)),
        ("simplejpeg, exact IDCT", lambda d: simplejpeg.decode_jpeg(d, colorspace="GRAY")),
        ("OpenCV imdecode", lambda d: cv2.imdecode(np.frombuffer(d, np.uint8), cv2.IMREAD_GRAYSCALE)),
    ]
    size = statistics.median(len(d) for d in pages) / 1024
    print(f"\nJPEG decode to grey, {len(pages)} generated 200-dpi pages (median {size:.0f} KB)")
    times = [(name, _median_ms(fn, pages)) for name, fn in rows]
    for name, ms in times:
        print(f"  {name:40s} {ms:8.2f} ms/page   x{ms / times[0][1]:6.2f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=60)
    args = ap.parse_args()
    print(
        f"machine: {platform.processor() or platform.machine()}, {platform.python_implementation()} "
        f"{platform.python_version()}"
    )
    cv2.setNumThreads(1)  # as in the scan's reader processes
    scans = _scans(args.pages)
    bench_qr(scans)
    bench_pdf(scans)
    bench_jpeg(args.pages)


if __name__ == "__main__":
    main()
