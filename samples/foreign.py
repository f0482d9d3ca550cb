"""Files that are not survey sheets, for bad-input tests; committed in ``samples/stack/``.

    python -m samples.foreign [DIR]     # (re)writes them; default samples/stack/

What a reader must do with each is in ``FOREIGN``: never crash, never write outside its own data,
keep going with the rest of the stack. The directory holds these files only, so scanning it whole
gives exactly one outcome per file.
"""

from __future__ import annotations

import io
import struct
import sys
import zipfile
import zlib
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from samples import STACK_DIR
from samples.writers import ZIP_TIME, PageImage, PdfStream

BOMB_SIDE = 60_000

# file -> what it is and what must come of it ("error": a clear per-file error, the stack goes on;
# "unidentified": kept as a page nobody can identify, queued for a person)
FOREIGN = {
    "cat.jpg": {"what": "a photo-like colour picture, not a sheet", "expect": "unidentified"},
    "empty.jpg": {"what": "a 0-byte file", "expect": "error"},
    "truncated.pdf": {"what": "a two-page scanner PDF cut off inside its first image", "expect": "error"},
    "evil.zip": {"what": "a ZIP whose only entry is named ../evil.png (path traversal)", "expect": "error"},
    "bomb.png": {"what": f"a PNG of a few KB declaring {BOMB_SIDE}x{BOMB_SIDE} pixels", "expect": "error"},
}


def cat_jpeg(seed: int = 13) -> bytes:
    """A 'photo' of a tabby: dark and light blobs at several scales, stripes, streaky fur, a vignette."""
    rng = np.random.default_rng(seed)
    h, w = 420, 560
    img = np.zeros((h, w), np.float32)
    for scale, amp in ((50, 2.2), (15, 1.2), (4, 0.6)):
        img += cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), scale) * amp * scale**0.5
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    fur = rng.normal(0, 1, (h, w)).astype(np.float32)
    fur = cv2.filter2D(fur, -1, np.eye(9, dtype=np.float32) / 3)  # short diagonal hairs
    stripes = 22 * np.sin(xx / 23 + 4 * np.sin(yy / 70)) * (img > 0)  # tabby stripes, on the light fur
    img = 105 + img * 16 + stripes + fur * 10
    img *= 1 - 0.8 * (((xx - w / 2) / w) ** 2 + ((yy - h / 2) / h) ** 2)
    rgb = np.stack([img * 1.08, img * 0.95, img * 0.78], axis=-1)  # warm light
    buf = io.BytesIO()
    Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(buf, format="JPEG", quality=80)
    return buf.getvalue()


def truncated_pdf() -> bytes:
    """A scanner-style PDF (two grey JPEG pages), cut in the middle of the first page's image."""
    rng = np.random.default_rng(5)
    buf = io.BytesIO()
    pdf = PdfStream(buf)
    for _ in range(2):
        page = np.full((350, 248), 245, np.uint8) - rng.integers(0, 12, (350, 248), dtype=np.uint8)
        pdf.add(PageImage(page, 30, 70))
    pdf.finish()
    data = buf.getvalue()
    first_image = data.index(b"stream\n") + len(b"stream\n")
    return data[: first_image + 400]


def evil_zip() -> bytes:
    png = io.BytesIO()
    Image.new("L", (8, 8), 255).save(png, format="PNG")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(zipfile.ZipInfo("../evil.png", ZIP_TIME), png.getvalue())
    return buf.getvalue()


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def bomb_png(side: int = BOMB_SIDE, rows: int = 200) -> bytes:
    """Valid PNG header and chunks declaring ``side`` x ``side`` 1-bit pixels (450 MB decoded); only the
    first ``rows`` rows are present, so the file stays tiny. A reader must refuse it by its header."""
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # 1-bit greyscale
    row = b"\x00" + b"\x00" * ((side + 7) // 8)
    idat = zlib.compress(row * rows, 9)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def make_foreign(out_dir: Path = STACK_DIR) -> list[Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {
        "cat.jpg": cat_jpeg(),
        "empty.jpg": b"",
        "truncated.pdf": truncated_pdf(),
        "evil.zip": evil_zip(),
        "bomb.png": bomb_png(),
    }
    written = []
    for name, data in files.items():
        (out_dir / name).write_bytes(data)
        written.append(out_dir / name)
    return written


if __name__ == "__main__":
    for p in make_foreign(Path(sys.argv[1]) if len(sys.argv) > 1 else STACK_DIR):
        print(p, p.stat().st_size)
