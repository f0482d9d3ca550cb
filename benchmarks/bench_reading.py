"""Where a page's reading time goes, and what each of the scan's speed-ups saves, measured in one run.

    python benchmarks/bench_reading.py [--pages 300]

On a generated 200-dpi JPEG-in-PDF stack (kien-hung-2020, light scanner damage, a few black-and-white
pages), one thread, medians per page, each comparison's two sides in the same run:

- reading a page (decode to decision), in a fresh process: glibc's default memory handling against
  ``readers.keep_freed_memory`` (CPU ms and page faults per page), and OpenCV's own threads against one;
- finding the markers on a 500-px copy of the page (``thresholds.MARKER_WORK_LONG_SIDE``) against 700 px;
- resampling the question band with the homography's affine fit against ``warpPerspective``;
- a black-and-white (CCITT G4) page out of the PDF: whole in a TIFF header by pikepdf, decoded by
  Pillow, against OpenCV decoding that TIFF and against decoding it with pdfium, writing a PNG
  and decoding that;
- an in-process ``ingest.scan`` of the stack with 2 reader processes: CPU per page of the process that
  stores pages and of the readers.

JPEG decoders are compared in bench_libraries.py. Results: BENCHMARKS.md.
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
import time
from collections.abc import Callable
from pathlib import Path

KEY = b"bench-reading-key-0123456789abcd"


def median_ms(fn: Callable, items: list, clock: Callable[[], float] = time.perf_counter) -> float:
    """The median time of ``fn`` over ``items``, in ms, by ``clock`` (wall time unless told)."""
    times = []
    for it in items:
        t = clock()
        fn(it)
        times.append(clock() - t)
    return statistics.median(times) * 1000


def data_home(work: Path, pages: int) -> Path:
    """A fresh data directory with the stack's serials issued (``omr print``) and this script's
    signing key, which the stack was signed with."""
    home = work / "home"
    env = {**os.environ, "OMR_HOME": str(home)}
    env.pop("OMR_DATABASE_URL", None)
    subprocess.run(
        [sys.executable, "-m", "omr.cli", "print", "--form", "kien-hung-2020", "--unit", "09552", "--count", str(pages),
         "--out", str(work / "print.pdf")],
        env=env, check=True, capture_output=True,
    )  # fmt: skip
    (home / "secret.key").write_bytes(KEY)
    return home


def _stack(work: Path, pages: int) -> Path:
    from samples.generate import generate_stack

    serials = [f"{i:06d}" for i in range(1, pages + 1)]
    generate_stack(work, form_id="kien-hung-2020", unit="09552", serials=serials, key=KEY, dpi=200, degrade="light")
    return work / "stack.pdf"


def _child_read(stack: Path, keep_memory: bool, one_thread: bool) -> dict:
    """Runs in a fresh process: CPU ms and minor page faults per page of reading every page."""
    import cv2

    from omr.detect import sources
    from omr.detect.read import read_page_bytes, warm
    from omr.services.readers import keep_freed_memory

    if keep_memory:
        keep_freed_memory()
    if one_thread:
        cv2.setNumThreads(1)
    pages = [p.data for p in sources.iter_pages([stack])]
    warm()
    read_page_bytes(pages[0], KEY)  # first-use costs out of the way
    usage0, cpu0 = resource.getrusage(resource.RUSAGE_SELF), time.process_time()
    for data in pages:
        read_page_bytes(data, KEY)
    usage1, cpu1 = resource.getrusage(resource.RUSAGE_SELF), time.process_time()
    return {
        "cpu_ms": (cpu1 - cpu0) * 1000 / len(pages),
        "faults": (usage1.ru_minflt - usage0.ru_minflt) / len(pages),
    }


def _in_child(stack: Path, keep_memory: bool, one_thread: bool) -> dict:
    args = [sys.executable, __file__, "--child", str(stack)]
    args += ["--keep-memory"] * keep_memory + ["--one-thread"] * one_thread
    return json.loads(subprocess.run(args, capture_output=True, text=True, check=True).stdout)


def bench_process(stack: Path) -> None:
    rows = [
        ("glibc defaults, OpenCV threads (before)", _in_child(stack, False, False)),
        ("glibc defaults, one OpenCV thread", _in_child(stack, False, True)),
        ("freed memory kept, one OpenCV thread (now)", _in_child(stack, True, True)),
    ]
    base = rows[-1][1]["cpu_ms"]
    print("\nReading a page, decode to decisions, one process (CPU ms per page, all its threads)")
    for name, r in rows:
        print(f"  {name:44s} {r['cpu_ms']:7.2f} ms  x{r['cpu_ms'] / base:5.2f}  {r['faults']:7.0f} page faults")


def bench_steps(stack: Path) -> None:
    import cv2

    from omr.detect import register as rg
    from omr.detect import sources
    from omr.detect import thresholds as T
    from omr.detect.read import decode

    cv2.setNumThreads(1)
    grays = [decode(p.data) for p in sources.iter_pages([stack]) if p.ext == ".jpg"]
    print("\nSteps of reading, one thread (median ms per page)")
    now = T.MARKER_WORK_LONG_SIDE
    for label, side in (("now", now), ("before", 700)):
        T.MARKER_WORK_LONG_SIDE = side
        name = f"markers found on a {side}-px copy ({label})"
        print(f"  {name:44s} {median_ms(rg.register, grays):7.2f} ms")
    T.MARKER_WORK_LONG_SIDE = now
    regs = [(g, rg.register(g)) for g in grays]
    regs = [(g, r.homography) for g, r in regs if r is not None]
    band = (0.0, 60.0, 210.0, 200.0)
    affine = T.AFFINE_MAX_ERROR_PX
    for label, tolerance in (("affine fit (now)", affine), ("warpPerspective (before)", -1.0)):
        T.AFFINE_MAX_ERROR_PX = tolerance
        ms = median_ms(lambda gh: rg.warp(gh[0], gh[1], T.PX_PER_MM, band), regs)
        name = f"band resampled, {label}"
        print(f"  {name:44s} {ms:7.2f} ms")
    T.AFFINE_MAX_ERROR_PX = affine


def bench_fax(stack: Path) -> None:
    import cv2
    import numpy as np
    import pypdfium2 as pdfium

    from omr.detect import sources
    from omr.detect.read import decode

    fax = [r for r in sources.iter_pages([stack], by_reference=True) if sources.load(r).ext == ".tif"]
    if not fax:
        print("\n(no black-and-white page in this stack: use more --pages)")
        return
    pdf = pdfium.PdfDocument(stack)

    def through_pdfium(r) -> None:
        (image,) = pdf[r.ref.index].get_objects()
        decode(sources._png(image.get_bitmap(render=False).to_numpy(), bilevel=True))

    def opencv(r) -> None:
        cv2.imdecode(np.frombuffer(sources.load(r).data, np.uint8), cv2.IMREAD_GRAYSCALE)

    now = median_ms(lambda r: decode(sources.load(r).data), fax)
    rows = [("pikepdf TIFF + OpenCV decode", median_ms(opencv, fax))]
    rows.append(("pdfium decode + PNG + decode (before)", median_ms(through_pdfium, fax)))
    sources.close_open_file()
    print(f"\nBlack-and-white (CCITT G4) page out of the PDF and decoded, {len(fax)} pages (median ms per page)")
    print(f"  {'pikepdf TIFF + Pillow decode (now)':44s} {now:7.2f} ms")
    for name, ms in rows:
        print(f"  {name:44s} {ms:7.2f} ms  x{ms / now:5.2f}")


def bench_scan(stack: Path, pages: int, work: Path) -> None:
    """An in-process scan with 2 readers: CPU per page of this process (storing) and of the readers."""
    home = data_home(work, pages)
    env = {**os.environ, "OMR_HOME": str(home)}
    env.pop("OMR_DATABASE_URL", None)
    env.pop("OMR_BROKER_URL", None)
    # the storing process is timed from its first stored page on (start-up apart); the readers whole
    code = (
        "import json, sys, time\n"
        "from pathlib import Path\n"
        "from resource import RUSAGE_CHILDREN, getrusage\n"
        "from omr.services.ingest import scan\n"
        "n, cpu0 = -1, 0.0\n"
        "for _ in scan([Path(sys.argv[1])], workers=2):\n"
        "    n, cpu0 = n + 1, cpu0 or time.process_time()\n"
        "kids = getrusage(RUSAGE_CHILDREN)\n"
        "print(json.dumps([n, time.process_time() - cpu0, kids.ru_utime + kids.ru_stime]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(stack)], env=env, check=True, capture_output=True, text=True)
    n, storing, readers = json.loads(out.stdout)
    print(f"\nIn-process scan of {n + 1} pages, 2 reader processes (CPU ms per page)")
    print(f"  the storing process, after its first page    {storing * 1000 / n:7.2f} ms")
    print(f"  the readers                                  {readers * 1000 / (n + 1):7.2f} ms")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=300)
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--keep-memory", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--one-thread", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        print(json.dumps(_child_read(a.child, a.keep_memory, a.one_thread)))
        return
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    work = Path(tempfile.mkdtemp(prefix="omr-bench-reading-"))
    try:
        stack = _stack(work / "stack", a.pages)
        bench_process(stack)
        bench_steps(stack)
        bench_fax(stack)
        bench_scan(stack, a.pages, work)
        print(f"\nload average {os.getloadavg()[0]:.1f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
