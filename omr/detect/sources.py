"""Scanned stacks in, one encoded page image at a time out.

A scanner PDF usually holds one image per page (JPEG, JBIG2 or CCITT): that image is taken as it is
(JPEG bytes untouched, CCITT fax data in a TIFF header) rather than rendering the page, which costs
5–8 times more. Everything is
streamed: a 1,000-page PDF is opened lazily and only the page being handed out is in memory.
A file that cannot be read becomes one ``RawPage`` with ``error`` set; the stack goes on.

``iter_pages(paths, by_reference=True)`` hands out pages of PDF, TIFF and image files on disk as a
``PageRef`` only (file, kind, index), and the process that reads the page loads it with ``load``:
the scan's reader processes then extract, hash and decode in parallel, and the one process that
stores pages never touches an image.
"""

from __future__ import annotations

import io
import os
import threading
import warnings
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import cv2
import numpy as np
import pikepdf
import pypdfium2 as pdfium
from PIL import Image, ImageSequence

# A4 at 600 dpi is 35 Mpx; anything far beyond is not a scan but a decompression bomb.
MAX_PIXELS = 80_000_000
MAX_MEMBER_BYTES = 300 * 1024 * 1024  # one file inside a ZIP, uncompressed
MAX_ZIP_RATIO = 200  # uncompressed / compressed: scans compress 2–20x, bombs 1000x
RENDER_DPI = 200  # for PDF pages that are not a single image
PDF_REOPEN_PAGES = 50

IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"}
STACK_EXTS = IMAGE_EXTS | {".pdf", ".zip"}

Image.MAX_IMAGE_PIXELS = MAX_PIXELS


@dataclass(frozen=True)
class PageRef:
    """Where a page not yet loaded is: a file on disk, its kind (``.pdf``, ``.tif`` or an image
    extension) and the page's index in it."""

    path: str
    kind: str
    index: int = 0


@dataclass
class RawPage:
    source: str
    page: int
    data: bytes | None = None
    ext: str = ""
    error: str | None = None
    ref: PageRef | None = None  # set (and ``data`` None) until ``load`` reads the page


class UnreadableFile(ValueError):
    pass


def _sniff(head: bytes) -> str | None:
    if head.startswith(b"%PDF"):
        return ".pdf"
    if head.startswith(b"\xff\xd8\xff"):
        return ".jpg"
    if head.startswith(b"\x89PNG"):
        return ".png"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return ".tif"
    if head.startswith(b"PK\x03\x04"):
        return ".zip"
    if head.startswith(b"BM"):
        return ".bmp"
    return None


def iter_pages(paths: Sequence[Path], by_reference: bool = False) -> Iterator[RawPage]:
    """Every page of the stack, in order. ``by_reference``: pages of files on disk come as a ``ref``
    for ``load`` (pages inside a ZIP always come loaded)."""
    for path in paths:
        if path.is_dir():
            for f in sorted(p for p in path.rglob("*") if p.is_file()):
                yield from _iter_file(f, f.relative_to(path).as_posix(), by_reference)
        else:
            yield from _iter_file(path, path.name, by_reference)


def _iter_file(path: Path, name: str, by_reference: bool) -> Iterator[RawPage]:
    try:
        with path.open("rb") as fh:
            head = fh.read(8)
    except OSError as e:
        yield RawPage(name, 1, error=f"không mở được tệp: {e.strerror or e}")
        return
    if not head:
        yield RawPage(name, 1, error="tệp rỗng (0 byte)")
        return
    kind = _sniff(head)
    if kind == ".zip":
        yield from _zip_pages(path, name)
    elif not by_reference or kind is None:
        if kind == ".pdf":
            yield from _pdf_pages(path, name)
        else:
            yield from _blob_pages(path.read_bytes, name, kind)
    elif kind == ".pdf":
        yield from _pdf_refs(path, name)
    elif kind == ".tif":
        yield from _tiff_refs(path, name)
    else:
        yield RawPage(name, 1, ext=kind, ref=PageRef(str(path), kind))


def _pdf_refs(path: Path, name: str) -> Iterator[RawPage]:
    try:
        pdf = _open_pdf(path)
    except pdfium.PdfiumError as e:
        yield RawPage(name, 1, error=f"PDF hỏng, không mở được ({e})")
        return
    try:
        count = len(pdf)
    finally:
        pdf.close()
    if count == 0:
        yield RawPage(name, 1, error="PDF không có trang nào")
    for i in range(count):
        yield RawPage(name, i + 1, ref=PageRef(str(path), ".pdf", i))


def _tiff_refs(path: Path, name: str) -> Iterator[RawPage]:
    try:
        with _open_tiff(path) as im:
            count = getattr(im, "n_frames", 1)
    except UnreadableFile as e:
        yield RawPage(name, 1, error=str(e))
        return
    except Exception as e:  # a truncated frame list: report it where reading stops
        yield RawPage(name, 1, error=f"tệp TIFF hỏng ({type(e).__name__})")
        return
    for i in range(count):
        yield RawPage(name, i + 1, ref=PageRef(str(path), ".tif", i))


def load(raw: RawPage) -> RawPage:
    """The page with its bytes, or with ``error`` saying why it cannot be had."""
    ref = raw.ref
    if ref is None:
        return raw
    try:
        if ref.kind == ".pdf":
            return _open.pdf(ref.path).page(ref.index, raw.source)
        if ref.kind == ".tif":
            im = _open.tiff(ref.path)
            im.seek(ref.index)
            return _encode_frame(im, raw.source, raw.page)
        return next(_blob_pages(Path(ref.path).read_bytes, raw.source, ref.kind))
    except (pdfium.PdfiumError, UnreadableFile, ValueError) as e:
        what = "trang PDF" if ref.kind == ".pdf" else "trang TIFF" if ref.kind == ".tif" else "tệp ảnh"
        return RawPage(raw.source, raw.page, error=f"{what} hỏng ({e})")
    except OSError as e:
        return RawPage(raw.source, raw.page, error=f"không đọc được tệp: {e.strerror or e}")
    except Exception as e:  # PIL raises many types for a broken TIFF frame
        return RawPage(raw.source, raw.page, error=f"trang hỏng ({type(e).__name__})")


class _OpenFile(threading.local):
    """The one stack file this thread is loading pages from, kept open between its pages.

    PDF pages are handed out in order, so a reader keeps the document open (renewing pdfium's every
    ``PDF_REOPEN_PAGES`` pages, see ``_Pdf.renew``). A forked process starts with nothing open
    (``os.register_at_fork``): a handle shared with the parent would share its file offset too.
    """

    def __init__(self) -> None:
        self.path: str | None = None
        self.handle: _Pdf | Image.Image | None = None
        self.uses = 0

    def _get(self, path: str, opener: Callable[[Path], Any]) -> Any:
        if self.path != path:
            self.close()
            self.handle, self.path = opener(Path(path)), path
        self.uses += 1
        return self.handle

    def pdf(self, path: str) -> _Pdf:
        pdf = self._get(path, _Pdf)
        if self.uses > PDF_REOPEN_PAGES:
            pdf.renew()
            self.uses = 1
        return pdf

    def tiff(self, path: str) -> Image.Image:
        # a TIFF frame is found by walking the frames before it: the file stays open throughout
        return self._get(path, _open_tiff)

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
        self.path, self.handle, self.uses = None, None, 0


_open = _OpenFile()


def close_open_file() -> None:
    """Close the file this thread loaded pages from (at the end of a scan: the next may bring a new
    file under the same name)."""
    _open.close()


def _forget_open_files() -> None:
    global _open
    _open = _OpenFile()  # the parent's handles are left to the parent


os.register_at_fork(after_in_child=_forget_open_files)


def _blob_pages(read, name: str, kind: str | None) -> Iterator[RawPage]:
    if kind is None:
        yield RawPage(name, 1, error="không phải tệp ảnh hay PDF")
        return
    if kind == ".pdf":
        data = read()
        yield from _pdf_pages(data, name)
        return
    try:
        data = read()
    except OSError as e:
        yield RawPage(name, 1, error=f"không đọc được tệp: {e.strerror or e}")
        return
    if kind == ".tif":
        yield from _tiff_pages(data, name)
        return
    try:
        _check_image(data)
    except UnreadableFile as e:
        yield RawPage(name, 1, error=str(e))
        return
    yield RawPage(name, 1, data, ".jpg" if kind == ".jpg" else ".png" if kind == ".png" else kind)


def _check_image(data: bytes | Path) -> None:
    """Open lazily to read the header only: refuse bombs before any pixel is decoded."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data) if isinstance(data, bytes) else data) as im:
                w, h = im.size
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise UnreadableFile("ảnh quá lớn (nghi là bom giải nén), bỏ qua") from None
        except Exception as e:  # PIL raises many types for broken files
            raise UnreadableFile(f"ảnh hỏng, không đọc được ({type(e).__name__})") from None
    if w * h > MAX_PIXELS:
        raise UnreadableFile(f"ảnh quá lớn ({w}×{h} điểm ảnh), bỏ qua")


def _open_tiff(path: Path) -> Image.Image:
    _check_image(path)
    return Image.open(path)


def _tiff_pages(data: bytes, name: str) -> Iterator[RawPage]:
    try:
        _check_image(data)
        im = Image.open(io.BytesIO(data))
    except UnreadableFile as e:
        yield RawPage(name, 1, error=str(e))
        return
    n = 0
    try:
        for n, frame in enumerate(ImageSequence.Iterator(im), 1):
            yield _encode_frame(frame, name, n)
    except Exception as e:  # a truncated frame: report it, keep the frames already given
        yield RawPage(name, n + 1, error=f"trang TIFF hỏng ({type(e).__name__})")


def _encode_frame(frame: Image.Image, name: str, n: int) -> RawPage:
    """One TIFF frame as its own file, deterministically (the same page in the same file hashes the
    same): bilevel as a one-bit PNG, a JPEG-compressed frame as JPEG again at high quality (the
    scanner already chose lossy; PNG of it would be 10 times bigger and slower), anything else PNG."""
    grey = np.asarray(frame.convert("L"))
    if frame.mode == "1":
        ok, buf = cv2.imencode(".png", grey, [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_BILEVEL, 1])
        ext = ".png"
    elif frame.info.get("compression") == "jpeg" or getattr(frame, "tile", [("",)])[0][0] == "jpeg":
        ok, buf = cv2.imencode(".jpg", grey, [cv2.IMWRITE_JPEG_QUALITY, 95])
        ext = ".jpg"
    else:
        ok, buf = cv2.imencode(".png", grey, [cv2.IMWRITE_PNG_COMPRESSION, 1])
        ext = ".png"
    if not ok:
        raise UnreadableFile("không mã hóa được trang TIFF")
    return RawPage(name, n, buf.tobytes(), ext)


def _open_pdf(src: Path | bytes) -> pdfium.PdfDocument:
    return pdfium.PdfDocument(src if isinstance(src, bytes) else str(src))


def _pdf_pages(src: Path | bytes, name: str) -> Iterator[RawPage]:
    try:
        pdf = _Pdf(src)
        count = len(pdf.doc)
    except pdfium.PdfiumError as e:
        yield RawPage(name, 1, error=f"PDF hỏng, không mở được ({e})")
        return
    if count == 0:
        yield RawPage(name, 1, error="PDF không có trang nào")
        return
    try:
        for i in range(count):
            if i and i % PDF_REOPEN_PAGES == 0:
                pdf.renew()
            try:
                yield pdf.page(i, name)
            except (pdfium.PdfiumError, UnreadableFile, ValueError) as e:
                yield RawPage(name, i + 1, error=f"trang PDF hỏng ({e})")
    finally:
        pdf.close()


# Entries by which a PDF changes what its fax data means (inverted, a mask): left to pdfium to apply.
_FAX_ALTERED_BY = ("/Decode", "/ImageMask", "/Mask", "/SMask")


class _Pdf:
    """An open PDF: pdfium for its pages, and pikepdf, opened at the first page scanned as a fax
    (CCITT G3/G4, what office scanners write in black and white), to take that page out whole."""

    def __init__(self, src: Path | bytes):
        self.src = src
        self.doc = _open_pdf(src)
        self._pike: pikepdf.Pdf | None = None

    def renew(self) -> None:
        """Open pdfium's document again: it keeps every object it has parsed (each page's image data
        included) until closed, so this bounds memory on a 1,000-page stack. pikepdf reads a page's
        data from the file when asked and keeps its handle (opening it costs 10–40 ms on such a stack)."""
        self.doc.close()
        self.doc = _open_pdf(self.src)

    def page(self, index: int, name: str) -> RawPage:
        page = self.doc[index]
        try:
            return _pdf_page(page, name, index + 1, lambda: self._fax_tiff(index))
        finally:
            page.close()

    def _fax_tiff(self, index: int) -> bytes | None:
        """The page's fax data in a TIFF header made from its DecodeParms, not decoded: a third of the
        time of decoding it and writing it again (benchmarks/bench_reading.py). None if pikepdf cannot wrap it."""
        buf = io.BytesIO()
        try:
            if self._pike is None:
                self._pike = pikepdf.open(io.BytesIO(self.src) if isinstance(self.src, bytes) else self.src)
            images = list(self._pike.pages[index].get_images().values())
            if len(images) != 1 or any(k in images[0] for k in _FAX_ALTERED_BY):
                return None
            if pikepdf.PdfImage(images[0]).extract_to(stream=buf) != ".tif":
                return None
        except (pikepdf.PdfError, pikepdf.UnsupportedImageTypeError, NotImplementedError, ValueError):
            return None  # pdfium decodes it, as any other image
        return buf.getvalue()

    def close(self) -> None:
        self.doc.close()
        if self._pike is not None:
            self._pike.close()


def _pdf_page(page: pdfium.PdfPage, name: str, n: int, fax_tiff: Callable[[], bytes | None]) -> RawPage:
    objs = list(page.get_objects(max_depth=2))
    images = [o for o in objs if isinstance(o, pdfium.PdfImage)]
    if len(images) == 1 and len(objs) == 1:
        img = images[0]
        w, h = img.get_px_size()
        if w * h > MAX_PIXELS:
            raise UnreadableFile(f"ảnh trong trang quá lớn ({w}×{h})")
        filters = img.get_filters()
        if filters == ["DCTDecode"]:
            return RawPage(name, n, bytes(img.get_data(decode_simple=False)), ".jpg")
        if filters == ["CCITTFaxDecode"] and (tiff := fax_tiff()) is not None:
            return RawPage(name, n, tiff, ".tif")
        arr = img.get_bitmap(render=False).to_numpy()
        # CCITT / JBIG2 scans are one bit deep: a bilevel PNG of them is 5x quicker to write
        return RawPage(name, n, _png(arr, bilevel=img.get_metadata().bits_per_pixel == 1), ".png")
    # vector pages (e.g. the printed PDF itself) or composite scans: render
    w_pt, h_pt = page.get_size()
    if w_pt * h_pt * (RENDER_DPI / 72) ** 2 > MAX_PIXELS:
        raise UnreadableFile("trang PDF quá lớn")
    bmp = page.render(scale=RENDER_DPI / 72, grayscale=True)
    return RawPage(name, n, _png(bmp.to_numpy()), ".png")


def _png(arr: np.ndarray, bilevel: bool = False) -> bytes:
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    elif arr.ndim == 3:
        arr = cv2.cvtColor(arr[:, :, :3], cv2.COLOR_BGR2GRAY)
    ok, buf = cv2.imencode(".png", arr, [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_BILEVEL, int(bilevel)])
    if not ok:
        raise UnreadableFile("không mã hóa được ảnh trang")
    return buf.tobytes()


def _zip_pages(path: Path, name: str) -> Iterator[RawPage]:
    try:
        zf = zipfile.ZipFile(path)
        infos = zf.infolist()
    except (zipfile.BadZipFile, OSError) as e:
        yield RawPage(name, 1, error=f"tệp ZIP hỏng ({e})")
        return
    with zf:
        for info in sorted(infos, key=lambda i: i.filename):
            if info.is_dir():
                continue
            member = info.filename
            p = PurePosixPath(member.replace("\\", "/"))
            if p.is_absolute() or ".." in p.parts:
                yield RawPage(member, 1, error="đường dẫn không an toàn trong ZIP, bỏ qua")
                continue
            if info.file_size > MAX_MEMBER_BYTES or (
                info.compress_size and info.file_size / info.compress_size > MAX_ZIP_RATIO
            ):
                yield RawPage(member, 1, error="tệp trong ZIP quá lớn (nghi là bom giải nén), bỏ qua")
                continue
            if p.suffix.lower() not in STACK_EXTS - {".zip"}:
                yield RawPage(member, 1, error="không phải tệp ảnh hay PDF")
                continue

            def read(info=info) -> bytes:
                return zf.read(info)

            try:
                with zf.open(info) as fh:
                    head = fh.read(8)
            except (zipfile.BadZipFile, OSError, RuntimeError) as e:
                yield RawPage(member, 1, error=f"tệp trong ZIP hỏng ({e})")
                continue
            yield from _blob_pages(read, member, _sniff(head))
