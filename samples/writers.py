"""Stack files the way scanners write them, one page at a time (nothing accumulates in memory).

- ``pdf``: one image per page, embedded as it is: grey and colour pages as JPEG (DCTDecode),
  bilevel pages as CCITT G4 (CCITTFaxDecode). The PDF is written by hand, object by object, so
  each page goes to disk as soon as it is made; page size is the scanned area (A4 for a straight page).
- ``tiff``: one multi-page TIFF; bilevel frames CCITT G4, grey and colour frames JPEG-in-TIFF.
- ``png-dir``: a directory of files, ``page-0001.jpg`` (grey/colour) or ``.png`` (bilevel, lossless).
- ``zip``: the same files inside a ZIP.

Files appear under their final name only when complete (written as ``*.part``, then renamed), so
a watched folder never sees half a stack.
"""

from __future__ import annotations

import io
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, TiffImagePlugin

FORMATS = ("pdf", "tiff", "png-dir", "zip")
ZIP_TIME = (2026, 1, 1, 0, 0, 0)  # fixed: the same seed gives the same bytes


@dataclass(frozen=True)
class PageImage:
    pixels: np.ndarray  # uint8 grey (H, W), uint8 RGB (H, W, 3) or bool bilevel (True = white)
    dpi: int
    quality: int | None  # JPEG quality; None: lossless

    @property
    def mode(self) -> str:
        if self.pixels.dtype == bool:
            return "1"
        return "RGB" if self.pixels.ndim == 3 else "L"

    def pil(self) -> Image.Image:
        return Image.fromarray(self.pixels)


def _jpeg(p: PageImage) -> bytes:
    buf = io.BytesIO()
    p.pil().save(buf, format="JPEG", quality=p.quality or 95, dpi=(p.dpi, p.dpi))
    return buf.getvalue()


def _png(p: PageImage) -> bytes:
    buf = io.BytesIO()
    p.pil().save(buf, format="PNG", dpi=(p.dpi, p.dpi), compress_level=6)
    return buf.getvalue()


def encode_file(p: PageImage) -> tuple[bytes, str]:
    """The page as a standalone image file: (bytes, extension)."""
    if p.mode == "1" or p.quality is None:
        return _png(p), ".png"
    return _jpeg(p), ".jpg"


def _g4_strip(p: PageImage) -> bytes:
    """The page as raw CCITT G4 data: a one-strip TIFF, then its strip."""
    buf = io.BytesIO()
    h, w = p.pixels.shape
    # G4 codes runs of 0 bits as white; PDF's default (BlackIs1 false) decodes them to white
    # only if black was 1 when encoded, so the page goes in inverted
    Image.fromarray(~p.pixels).save(buf, format="TIFF", compression="group4", strip_size=2**31 - 1)
    buf.seek(0)
    with Image.open(buf) as tif:
        offsets, counts = tif.tag_v2[273], tif.tag_v2[279]
    assert len(offsets) == 1, "G4 page split into strips"
    data = buf.getvalue()
    return data[offsets[0] : offsets[0] + counts[0]]


class _Atomic:
    """A file written under ``name.part`` and renamed when closed without error."""

    def __init__(self, path: Path, mode: str = "wb"):
        self.path = path
        self.tmp = path.with_name(path.name + ".part")
        self.fh: BinaryIO = self.tmp.open(mode)

    def commit(self) -> None:
        self.fh.close()
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        self.fh.close()
        self.tmp.unlink(missing_ok=True)


class StackWriter:
    """Base: ``add`` pages in order, each returning (source name, page number within that source)."""

    path: Path

    def add(self, page: PageImage) -> tuple[str, int]:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass

    def __enter__(self) -> StackWriter:
        return self

    def __exit__(self, exc_type, *_) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class PdfStream:
    """A minimal PDF 1.4 writer on any binary stream: catalog (1) and page tree (2), then three
    objects per page (image, content, page); the page tree and the xref go last."""

    def __init__(self, fh: BinaryIO):
        self.fh = fh
        self.offsets: list[int] = []  # by object number - 1
        self.kids: list[int] = []
        self.pos = 0
        self._raw(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
        self._obj(1, b"<< /Type /Catalog /Pages 2 0 R >>")
        self.offsets.append(0)  # object 2, the page tree, is written last when its kids are known

    def _raw(self, b: bytes) -> None:
        self.fh.write(b)
        self.pos += len(b)

    def _obj(self, num: int, body: bytes, stream: bytes | None = None) -> None:
        if num > len(self.offsets):
            self.offsets.append(self.pos)
        else:
            self.offsets[num - 1] = self.pos
        self._raw(b"%d 0 obj\n" % num + body)
        if stream is not None:
            self._raw(b"\nstream\n")
            self._raw(stream)
            self._raw(b"\nendstream")
        self._raw(b"\nendobj\n")

    def add(self, page: PageImage) -> int:
        """Append a page showing ``page`` full size; returns the page count so far."""
        h, w = page.pixels.shape[:2]
        if page.mode == "1":
            data = _g4_strip(page)
            img = b"/ColorSpace /DeviceGray /BitsPerComponent 1 /Filter /CCITTFaxDecode "
            img += b"/DecodeParms << /K -1 /Columns %d /Rows %d /BlackIs1 false >>" % (w, h)
        else:
            data = _jpeg(page)
            space = b"/DeviceRGB" if page.mode == "RGB" else b"/DeviceGray"
            img = b"/ColorSpace " + space + b" /BitsPerComponent 8 /Filter /DCTDecode"
        n = len(self.offsets) + 1
        head = b"<< /Type /XObject /Subtype /Image /Width %d /Height %d %s /Length %d >>" % (w, h, img, len(data))
        self._obj(n, head, data)
        # the page is the scanned area at its resolution: A4 for a straight page
        pw, ph = w / page.dpi * 72, h / page.dpi * 72
        content = b"q %.3f 0 0 %.3f 0 0 cm /Im0 Do Q" % (pw, ph)
        self._obj(n + 1, b"<< /Length %d >>" % len(content), content)
        self._obj(
            n + 2,
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %.3f %.3f] /Resources << /XObject << /Im0 %d 0 R >> >> "
            b"/Contents %d 0 R >>" % (pw, ph, n, n + 1),
        )
        self.kids.append(n + 2)
        return len(self.kids)

    def finish(self) -> None:
        kids = b" ".join(b"%d 0 R" % k for k in self.kids)
        self._obj(2, b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(self.kids)))
        xref = self.pos
        self._raw(b"xref\n0 %d\n0000000000 65535 f \n" % (len(self.offsets) + 1))
        for off in self.offsets:
            self._raw(b"%010d 00000 n \n" % off)
        self._raw(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(self.offsets) + 1, xref))


class PdfWriter(StackWriter):
    def __init__(self, path: Path):
        self.path = path
        self.out = _Atomic(path)
        self.pdf = PdfStream(self.out.fh)

    def add(self, page: PageImage) -> tuple[str, int]:
        return self.path.name, self.pdf.add(page)

    def close(self) -> None:
        self.pdf.finish()
        self.out.commit()

    def abort(self) -> None:
        self.out.abort()


class TiffWriter(StackWriter):
    def __init__(self, path: Path):
        self.path = path
        self.out = _Atomic(path, "w+b")  # the TIFF writer goes back to link each frame to the next
        self.tw = TiffImagePlugin.AppendingTiffWriter(self.out.fh, new=True)
        self.n = 0

    def add(self, page: PageImage) -> tuple[str, int]:
        im = page.pil()
        opts: dict = {"dpi": (page.dpi, page.dpi)}
        if page.mode == "1":
            opts["compression"] = "group4"
        elif page.quality is None:
            opts["compression"] = "tiff_adobe_deflate"
        else:
            opts.update(compression="jpeg", quality=page.quality)
        im.save(self.tw, format="TIFF", **opts)
        self.tw.newFrame()
        self.n += 1
        return self.path.name, self.n

    def close(self) -> None:
        self.tw.finalize()
        self.out.commit()

    def abort(self) -> None:
        self.out.abort()


class DirWriter(StackWriter):
    def __init__(self, path: Path):
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        # an earlier run's pages would join this stack and break its truth
        for old in path.glob("page-*"):
            old.unlink()
        self.n = 0

    def add(self, page: PageImage) -> tuple[str, int]:
        self.n += 1
        data, ext = encode_file(page)
        name = f"page-{self.n:04d}{ext}"
        f = _Atomic(self.path / name)
        f.fh.write(data)
        f.commit()
        return name, 1


class ZipWriter(StackWriter):
    def __init__(self, path: Path):
        self.path = path
        self.out = _Atomic(path)
        self.zf = zipfile.ZipFile(self.out.fh, "w")
        self.n = 0

    def add(self, page: PageImage) -> tuple[str, int]:
        self.n += 1
        data, ext = encode_file(page)
        info = zipfile.ZipInfo(f"page-{self.n:04d}{ext}", ZIP_TIME)
        # JPEG and PNG are compressed already: storing them is what scanner software does
        info.compress_type = zipfile.ZIP_STORED
        self.zf.writestr(info, data)
        return info.filename, 1

    def close(self) -> None:
        self.zf.close()
        self.out.commit()

    def abort(self) -> None:
        self.zf.close()
        self.out.abort()


def open_writer(fmt: str, out_dir: Path, name: str) -> StackWriter:
    out_dir.mkdir(parents=True, exist_ok=True)
    if fmt == "pdf":
        return PdfWriter(out_dir / f"{name}.pdf")
    if fmt == "tiff":
        return TiffWriter(out_dir / f"{name}.tif")
    if fmt == "png-dir":
        return DirWriter(out_dir / name)
    if fmt == "zip":
        return ZipWriter(out_dir / f"{name}.zip")
    raise ValueError(f"unknown stack format {fmt!r} (one of {', '.join(FORMATS)})")
