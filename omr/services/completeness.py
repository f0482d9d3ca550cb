"""Whether a stack file someone is still writing has reached its end, told by its own structure.

A scanner or a copy over the network writes a file front to back, and may pause for many seconds on
the way; a file whose size has stopped changing is therefore not yet known to be complete. Each format
says where its end is, and ``complete`` follows it there: a PDF's trailer (``startxref``,
``%%EOF``) at its very end, a JPEG's segments up to its scan data and its end-of-image marker, a PNG's chunks up to
``IEND``, a TIFF's chain of image directories with every strip or tile inside the file, a ZIP's central
directory with every entry before it, a BMP's own recorded size. These are structural checks, not a
decoding of the pixels: a complete file that is damaged inside is taken, and reading it reports the
damage, page by page.
"""

from __future__ import annotations

import re
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

TAIL = 4096  # bytes read at the end of a PDF: the trailer and ``startxref`` sit in the last few hundred
TIFF_MAX_PAGES = 100_000  # a loop in the directory chain must not hold the watcher


def complete(path: Path) -> bool:
    """Whether the file at ``path`` is whole; unknown kinds are taken as they are."""
    check = _CHECKS.get(path.suffix.lower())
    try:
        size = path.stat().st_size
        if size == 0:
            return False
        if check is None:
            return True
        with path.open("rb") as f:
            return check(f, size)
    except (OSError, struct.error, ValueError):
        return False


def _pdf(f: BinaryIO, size: int) -> bool:
    f.seek(max(0, size - TAIL))
    # the file ends with its trailer: ``startxref``, the cross-reference's offset, ``%%EOF``. Where that
    # offset points is left to the reader, which repairs what it can: a PDF with junk before ``%PDF``
    # has every offset wrong and is still whole.
    return re.search(rb"startxref\s+\d+\s+%%EOF\s*$", f.read().rstrip(b"\x00")) is not None


_TIFF_WIDTHS = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4, 16: 8, 17: 8, 18: 8}
_TIFF_INTS = {1: "B", 3: "H", 4: "I", 16: "Q"}
_TIFF_DATA_TAGS = (273, 279, 324, 325)  # strip offsets and byte counts, tile offsets and byte counts
_JPEG_STANDALONE = {0x01, *range(0xD0, 0xD8)}  # TEM, RST0-7: no length field


def _jpeg(f: BinaryIO, size: int) -> bool:
    if f.read(2) != b"\xff\xd8":
        return False
    pos = 2
    while True:  # the segments before the image data, each with its length, must all be there
        f.seek(pos)
        marker = f.read(2)
        if len(marker) < 2 or marker[0] != 0xFF:
            return False
        kind = marker[1]
        if kind == 0xFF:  # fill byte
            pos += 1
            continue
        if kind in _JPEG_STANDALONE:
            pos += 2
            continue
        if kind == 0xD9:
            return True
        (length,) = struct.unpack(">H", f.read(2))
        pos += 2 + length
        if pos > size:
            return False
        if kind == 0xDA:  # start of scan: the entropy-coded data runs to the end-of-image marker
            break
    f.seek(max(pos, size - 64))
    # after the scan data only the end-of-image marker and perhaps padding; FF D9 cannot occur inside
    # entropy-coded data (an FF there is always followed by 00 or a restart marker)
    return b"\xff\xd9" in f.read().rstrip(b"\x00\r\n ")[-2:]


def _png(f: BinaryIO, size: int) -> bool:
    if f.read(8) != b"\x89PNG\r\n\x1a\n":
        return False
    pos = 8
    while pos + 12 <= size:
        f.seek(pos)
        length, kind = struct.unpack(">I4s", f.read(8))
        pos += 12 + length
        if kind == b"IEND":
            return pos <= size
    return False


def _tiff(f: BinaryIO, size: int) -> bool:
    head = f.read(16)
    order = {b"II": "<", b"MM": ">"}.get(head[:2])
    if order is None:
        return False
    (magic,) = struct.unpack(order + "H", head[2:4])
    if magic == 42:
        offset_fmt, count_fmt, entry_size, ifd_at = "I", "H", 12, struct.unpack(order + "I", head[4:8])[0]
    elif magic == 43:  # BigTIFF
        offset_fmt, count_fmt, entry_size, ifd_at = "Q", "Q", 20, struct.unpack(order + "Q", head[8:16])[0]
    else:
        return False
    seen = 0
    while ifd_at:
        seen += 1
        if ifd_at >= size or seen > TIFF_MAX_PAGES:
            return False
        f.seek(ifd_at)
        count_size = struct.calcsize(count_fmt)
        (n,) = struct.unpack(order + count_fmt, f.read(count_size))
        table = f.read(n * entry_size + struct.calcsize(offset_fmt))
        if len(table) < n * entry_size + struct.calcsize(offset_fmt):
            return False  # the directory itself is not all written
        tags: dict[int, list[int]] = {}
        for i in range(n):
            e = table[i * entry_size : (i + 1) * entry_size]
            tag, typ = struct.unpack(order + "HH", e[:4])
            (cnt,) = struct.unpack(order + offset_fmt, e[4 : 4 + struct.calcsize(offset_fmt)])
            value = e[4 + struct.calcsize(offset_fmt) :]
            width = _TIFF_WIDTHS.get(typ, 1)
            if cnt * width <= len(value):
                raw = value[: cnt * width]
            else:  # the value is stored elsewhere in the file: it must be there
                (at,) = struct.unpack(order + offset_fmt, value[: struct.calcsize(offset_fmt)])
                if at + cnt * width > size:
                    return False
                if tag not in _TIFF_DATA_TAGS:
                    continue
                f.seek(at)
                raw = f.read(cnt * width)
            if tag in _TIFF_DATA_TAGS and typ in _TIFF_INTS:
                tags[tag] = list(struct.unpack(order + _TIFF_INTS[typ] * cnt, raw))
        offsets, counts = tags.get(273) or tags.get(324), tags.get(279) or tags.get(325)
        if offsets and counts and any(o + c > size for o, c in zip(offsets, counts, strict=False)):
            return False  # an image's data runs past what is written so far
        (ifd_at,) = struct.unpack(order + offset_fmt, table[n * entry_size :])
    return seen > 0


def _zip(f: BinaryIO, size: int) -> bool:
    try:
        with zipfile.ZipFile(f) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, EOFError):
        return False
    return all(i.header_offset + i.compress_size <= size for i in infos)


def _bmp(f: BinaryIO, size: int) -> bool:
    head = f.read(6)
    return head[:2] == b"BM" and struct.unpack("<I", head[2:6])[0] <= size


_CHECKS: dict[str, Callable[[BinaryIO, int], bool]] = {
    ".pdf": _pdf,
    ".jpg": _jpeg,
    ".jpeg": _jpeg,
    ".png": _png,
    ".tif": _tiff,
    ".tiff": _tiff,
    ".zip": _zip,
    ".bmp": _bmp,
}
