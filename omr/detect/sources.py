"""Scanned stacks in, one encoded page image at a time out.

A scanner PDF usually holds one image per page (JPEG, JBIG2 or CCITT): that image is taken as it is
(JPEG bytes untouched, CCITT fax data in a TIFF header) rather than rendering the page, which costs
5–8 times more. Everything is
streamed: a 1,000-page PDF is opened lazily and only the page being handed out is in memory.

Every page in is a page out: a file, a ZIP entry or a page that cannot be read becomes one ``RawPage``
with ``error`` set (one line of plain Vietnamese saying what is wrong), and the stack goes on. What is
skipped that has no page of its own (an empty or unreadable folder) is said on the ``omr.sources``
logger, which without any set-up prints the bare line on stderr.

``iter_pages(paths, by_reference=True)`` hands out pages of PDF, TIFF and image files on disk as a
``PageRef`` only (file, kind, index), and the process that reads the page loads it with ``load``:
the scan's reader processes then extract, hash and decode in parallel, and the one process that
stores pages never touches an image.
"""

from __future__ import annotations

import errno
import io
import logging
import os
import stat
import struct
import threading
import unicodedata
import warnings
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, cast

import cv2
import numpy as np
import pikepdf
import pypdfium2 as pdfium
from PIL import Image

from omr.detect.images import native_quiet, quiet, sniff

log = logging.getLogger("omr.sources")

# A4 at 600 dpi is 35 Mpx; anything far beyond is not a scan but a decompression bomb.
MAX_PIXELS = 80_000_000
MAX_MEMBER_BYTES = 300 * 1024 * 1024  # one file inside a ZIP, uncompressed
MAX_ZIP_RATIO = 200  # uncompressed / compressed: scans compress 2–20x, bombs 1000x
RENDER_DPI = 200  # for PDF pages that are not a single image
PDF_REOPEN_PAGES = 50
# A PDF may carry junk before its header (a mail gateway's banner, a scanner's own prefix); readers
# accept 1 KB by the specification, this many bytes here.
PDF_HEADER_SEARCH = 64 * 1024
HEAD_BYTES = 1024

IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"}
STACK_EXTS = IMAGE_EXTS | {".pdf", ".zip"}

Image.MAX_IMAGE_PIXELS = MAX_PIXELS

# the reasons a page is not had (CONTRACT.md ``error``): capitalised, plain Vietnamese, one line
EMPTY_FILE = "Tệp rỗng (0 byte)"
NOT_A_STACK = "Không phải tệp ảnh (PNG, JPEG, TIFF, BMP), PDF hay ZIP"
BROKEN_IMAGE = "Ảnh hỏng, không đọc được"
BOMB = "Ảnh quá lớn (nghi là bom giải nén), bỏ qua"
BROKEN_PDF = "PDF hỏng, không mở được"
LOCKED_PDF = "PDF có đặt mật khẩu, không mở được"
EMPTY_PDF = "PDF không có trang nào"
BROKEN_PDF_PAGE = "Trang PDF hỏng, không đọc được"
BROKEN_TIFF_PAGE = "Trang TIFF hỏng, không giải mã được"
TRUNCATED_PNG = "Ảnh PNG bị cắt cụt hoặc hỏng (sai mã kiểm tra), không đọc được"


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


def display_name(name: str) -> str:
    """A file name as it can be shown, stored and written as JSON: bytes that are not UTF-8 become
    U+FFFD, control characters (a newline in a name would split the one line) their ``\\x..`` code."""
    text = name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return "".join(f"\\x{ord(c):02x}" if unicodedata.category(c) == "Cc" else c for c in text)


def os_reason(e: OSError) -> str:
    """An operating-system error in plain Vietnamese (``strerror`` is English)."""
    reasons = {
        errno.EACCES: "không có quyền đọc",
        errno.EPERM: "không có quyền đọc",
        errno.ENOENT: "không còn tồn tại",
        errno.EISDIR: "là một thư mục",
        errno.EIO: "lỗi đọc đĩa",
        errno.ELOOP: "liên kết vòng",
        errno.ENAMETOOLONG: "tên quá dài",
        errno.ENXIO: "không phải tệp thường",
    }
    return reasons.get(e.errno or 0, f"lỗi hệ thống (mã {e.errno})")


def _kind(head: bytes, path: Path | None = None, data: bytes | None = None) -> str | None:
    """The file's kind from its first bytes; else a PDF with junk before its header, or a ZIP with data
    before the archive (a self-extracting one): readers of both find what follows."""
    kind = sniff(head)
    if kind is not None:
        return kind
    if path is not None:
        with path.open("rb") as fh:
            if b"%PDF-" in fh.read(PDF_HEADER_SEARCH):
                return ".pdf"
        return ".zip" if zipfile.is_zipfile(path) else None
    assert data is not None
    if b"%PDF-" in data[:PDF_HEADER_SEARCH]:
        return ".pdf"
    return ".zip" if zipfile.is_zipfile(io.BytesIO(data)) else None


# --------------------------------------------------------------------------- files and folders


def iter_pages(paths: Sequence[Path], by_reference: bool = False) -> Iterator[RawPage]:
    """Every page of the stack, in order. ``by_reference``: pages of files on disk come as a ``ref``
    for ``load`` (pages inside a ZIP always come loaded)."""
    for path in paths:
        path = Path(path)
        if path.is_dir() and not path.is_symlink():
            yield from _folder(path, path, by_reference)
        elif path.is_dir():
            yield from _folder(path.resolve(), path.resolve(), by_reference)  # named by the user: followed
        else:
            yield from _entry(path, display_name(path.name), by_reference)


def _folder(root: Path, folder: Path, by_reference: bool) -> Iterator[RawPage]:
    """The files under ``folder`` in name order (as sorted paths); folders that cannot be listed,
    empty ones and links to folders (which could loop) are said on the log and skipped."""
    where = display_name(folder.relative_to(root).as_posix()) if folder != root else display_name(str(folder))
    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as e:
        log.warning("Bỏ qua thư mục %s: %s", where, os_reason(e))
        return
    if not entries:
        log.warning("Bỏ qua thư mục %s: thư mục rỗng, không có tệp nào", where)
        return
    for entry in entries:
        path = Path(entry.path)
        name = display_name(path.relative_to(root).as_posix())
        try:
            is_dir = entry.is_dir(follow_symlinks=False)
            linked_dir = not is_dir and entry.is_symlink() and entry.is_dir()
        except OSError:
            is_dir = linked_dir = False
        if is_dir:
            yield from _folder(root, path, by_reference)
        elif linked_dir:
            log.warning("Bỏ qua %s: liên kết tới một thư mục khác", name)
        else:
            yield from _entry(path, name, by_reference)


def _not_regular(mode: int) -> str | None:
    if stat.S_ISREG(mode):
        return None
    what = (
        "ống FIFO" if stat.S_ISFIFO(mode) else
        "socket" if stat.S_ISSOCK(mode) else
        "thiết bị" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else
        "thư mục" if stat.S_ISDIR(mode) else "tệp đặc biệt"
    )  # fmt: skip
    return f"Không phải tệp thường ({what}), bỏ qua"


def _entry(path: Path, name: str, by_reference: bool) -> Iterator[RawPage]:
    """One file's pages. Nothing that is not a regular file is opened: opening a FIFO would block."""
    try:
        st = path.stat()
    except FileNotFoundError:
        yield RawPage(name, 1, error="Liên kết hỏng: tệp được trỏ tới không tồn tại" if path.is_symlink()
                      else "Tệp không còn tồn tại")  # fmt: skip
        return
    except OSError as e:
        yield RawPage(name, 1, error=f"Không mở được tệp: {os_reason(e)}")
        return
    if (why := _not_regular(st.st_mode)) is not None:
        yield RawPage(name, 1, error=why)
        return
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # should it have become a FIFO since: no wait
        with os.fdopen(fd, "rb") as fh:
            if (why := _not_regular(os.fstat(fh.fileno()).st_mode)) is not None:
                yield RawPage(name, 1, error=why)
                return
            head = fh.read(HEAD_BYTES)
        kind = _kind(head, path) if head else None
    except OSError as e:
        yield RawPage(name, 1, error=f"Không mở được tệp: {os_reason(e)}")
        return
    if not head:
        yield RawPage(name, 1, error=EMPTY_FILE)
    elif kind is None:
        yield RawPage(name, 1, error=NOT_A_STACK)
    elif kind == ".zip":
        yield from _zip_pages(path, name)
    elif kind == ".pdf":
        yield from (_pdf_refs(path, name) if by_reference else _pdf_pages(path, name))
    elif kind == ".tif":
        yield from (_tiff_refs(path, name) if by_reference else _tiff_pages(path, name))
    elif by_reference:
        yield RawPage(name, 1, ext=kind, ref=PageRef(str(path), kind))
    else:
        yield _image_page(path.read_bytes(), name, kind)


# --------------------------------------------------------------------------- loading one page


def load(raw: RawPage) -> RawPage:
    """The page with its bytes, or with ``error`` saying why it cannot be had."""
    ref = raw.ref
    if ref is None:
        return raw
    with native_quiet():
        try:
            if ref.kind == ".pdf":
                return _open.pdf(ref.path).page(ref.index, raw.source)
            if ref.kind == ".tif":
                return _tiff_frame(_open.tiff(ref.path), ref.index, raw.source)
            return _image_page(Path(ref.path).read_bytes(), raw.source, ref.kind)
        except UnreadableFile as e:
            return RawPage(raw.source, raw.page, error=str(e))
        except OSError as e:
            if e.errno:  # the file itself (Pillow's decoders raise OSError without one for broken data)
                return RawPage(raw.source, raw.page, error=f"Không đọc được tệp: {os_reason(e)}")
            return RawPage(raw.source, raw.page, error=_broken(ref.kind))
        except Exception:  # the libraries raise many types for a broken page
            return RawPage(raw.source, raw.page, error=_broken(ref.kind))


def _broken(kind: str) -> str:
    return BROKEN_PDF_PAGE if kind == ".pdf" else BROKEN_TIFF_PAGE if kind == ".tif" else BROKEN_IMAGE


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


# --------------------------------------------------------------------------- images


def _image_page(data: bytes, name: str, kind: str) -> RawPage:
    """A PNG, JPEG or BMP file as one page, checked before any pixel is decoded."""
    try:
        _check_image(data)
        if kind == ".png":
            _check_png(data)
    except UnreadableFile as e:
        return RawPage(name, 1, error=str(e))
    return RawPage(name, 1, data, ".jpg" if kind == ".jpg" else kind)


@quiet
def _check_image(data: bytes | Path) -> None:
    """Open lazily to read the header only: refuse bombs before any pixel is decoded."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data) if isinstance(data, bytes) else data) as im:
                w, h = im.size
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise UnreadableFile(BOMB) from None
        except Exception:  # PIL raises many types for broken files
            raise UnreadableFile(BROKEN_IMAGE) from None
    _check_size(w, h)


def _check_size(w: int, h: int) -> None:
    if w * h > MAX_PIXELS:
        raise UnreadableFile(f"Ảnh quá lớn ({w}×{h} điểm ảnh, nghi là bom giải nén), bỏ qua")


def _check_png(data: bytes) -> None:
    """Every chunk whole, its checksum right, and the end chunk there: a PNG cut short or damaged is
    refused here with its reason, not decoded half-way by the reader (zlib's CRC runs at gigabytes a
    second: a fraction of a millisecond for a page)."""
    pos = 8
    while pos + 12 <= len(data):
        length, tag = struct.unpack(">I4s", data[pos : pos + 8])
        end = pos + 12 + length
        if end > len(data):
            break
        if zlib.crc32(data[pos + 4 : end - 4]) != struct.unpack(">I", data[end - 4 : end])[0]:
            raise UnreadableFile(TRUNCATED_PNG)
        if tag == b"IEND":
            return
        pos = end
    raise UnreadableFile(TRUNCATED_PNG)


# --------------------------------------------------------------------------- TIFF


@quiet
def _open_tiff(src: Path | bytes) -> Image.Image:
    _check_image(src)
    try:
        return Image.open(io.BytesIO(src) if isinstance(src, bytes) else src)
    except Exception:
        raise UnreadableFile(BROKEN_IMAGE) from None


def _tiff_count(im: Image.Image) -> tuple[int, str | None]:
    """How many frames can be reached, and why no more can if the chain of frames is broken."""
    n = 0
    with native_quiet():
        while True:
            try:
                im.seek(n)
            except EOFError:
                return n, None
            except Exception:
                return n, f"Tệp TIFF hỏng: không đọc được các trang sau trang {n}" if n else BROKEN_TIFF_PAGE
            n += 1


def _tiff_refs(path: Path, name: str) -> Iterator[RawPage]:
    """Every frame of a TIFF file as a reference, decoded later by whoever reads it."""
    return _tiff_frames(path, name, lambda _im, i: RawPage(name, i + 1, ref=PageRef(str(path), ".tif", i)))


def _tiff_pages(src: Path | bytes, name: str) -> Iterator[RawPage]:
    """Every frame of a TIFF in memory (or read whole), each page under its own number."""
    return _tiff_frames(src, name, lambda im, i: _tiff_page(im, i, name))


def _tiff_frames(src: Path | bytes, name: str, page: Callable[[Image.Image, int], RawPage]) -> Iterator[RawPage]:
    """``page(image, index)`` for each frame that opens; a file that does not open is one error page,
    and frames past a broken one one more error page after them."""
    try:
        im = _open_tiff(src)
    except UnreadableFile as e:
        yield RawPage(name, 1, error=str(e))
        return
    with im:
        count, broken = _tiff_count(im)
        for i in range(count):
            yield page(im, i)
    if broken:
        yield RawPage(name, count + 1, error=broken)


def _tiff_page(im: Image.Image, index: int, name: str) -> RawPage:
    """Frame ``index`` as page ``index + 1``, or that page's error."""
    try:
        return _tiff_frame(im, index, name)
    except UnreadableFile as e:
        return RawPage(name, index + 1, error=str(e))
    except Exception:  # the libraries raise many types for a broken frame
        return RawPage(name, index + 1, error=BROKEN_TIFF_PAGE)


def _tiff_frame(im: Image.Image, index: int, name: str) -> RawPage:
    im.seek(index)
    _check_size(*im.size)
    return _encode_frame(im, name, index + 1)


def _encode_frame(frame: Image.Image, name: str, n: int) -> RawPage:
    """One TIFF frame as its own file, deterministically (the same page in the same file hashes the
    same): bilevel as a one-bit PNG, a JPEG-compressed frame as JPEG again at high quality (the
    scanner already chose lossy; PNG of it would be 10 times bigger and slower), anything else PNG.
    How the frame was compressed is taken before decoding it: decoding empties ``frame.tile``."""
    jpeg = frame.info.get("compression") == "jpeg"
    bilevel = frame.mode == "1"
    grey = _grey(frame)
    if bilevel:
        ok, buf = cv2.imencode(".png", grey, [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_BILEVEL, 1])
    elif jpeg:
        ok, buf = cv2.imencode(".jpg", grey, [cv2.IMWRITE_JPEG_QUALITY, 95])
    else:
        ok, buf = cv2.imencode(".png", grey, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise UnreadableFile(BROKEN_TIFF_PAGE)
    return RawPage(name, n, buf.tobytes(), ".jpg" if jpeg and not bilevel else ".png")


def _grey(frame: Image.Image) -> np.ndarray:
    """The frame as 8-bit grey. Pillow's own conversion clips 16-bit samples at 255 (a 16-bit scan
    would come out white): those are scaled to 8 bits here."""
    if frame.mode.startswith("I;16") or frame.mode == "I":
        arr = np.asarray(frame)
        if frame.mode == "I":
            arr = np.clip(arr, 0, 65535)
        return (arr.astype(np.uint32) >> 8).astype(np.uint8)
    return np.asarray(frame.convert("L"))


# --------------------------------------------------------------------------- PDF


def _repaired(src: Path | bytes) -> bytes | None:
    """A damaged PDF (cut short, junk before its header, a broken cross-reference table) rewritten by
    qpdf, which rebuilds what it can; None if even that fails."""
    try:
        with pikepdf.open(io.BytesIO(src) if isinstance(src, bytes) else src) as pdf:
            out = io.BytesIO()
            pdf.save(out)
            return out.getvalue()
    except pikepdf.PasswordError:
        raise UnreadableFile(LOCKED_PDF) from None
    except Exception:  # qpdf raises several types for a file it cannot make sense of
        return None


@quiet
def _open_pdf(src: Path | bytes) -> tuple[pdfium.PdfDocument, Path | bytes]:
    """pdfium's document and what it was opened from (the file, or the repaired bytes)."""
    try:
        return pdfium.PdfDocument(src if isinstance(src, bytes) else str(src)), src
    except pdfium.PdfiumError as e:
        if "password" in str(e).lower():
            raise UnreadableFile(LOCKED_PDF) from None
    fixed = _repaired(src)
    if fixed is None:
        raise UnreadableFile(BROKEN_PDF)
    try:
        return pdfium.PdfDocument(fixed), fixed
    except pdfium.PdfiumError:
        # pdfium refuses a document with no pages at all; qpdf has read it, so that is what it is
        with pikepdf.open(io.BytesIO(fixed)) as pdf:
            raise UnreadableFile(EMPTY_PDF if len(pdf.pages) == 0 else BROKEN_PDF) from None


def _pdf_refs(path: Path, name: str) -> Iterator[RawPage]:
    try:
        pdf, opened = _open_pdf(path)
    except UnreadableFile as e:
        yield RawPage(name, 1, error=str(e))
        return
    try:
        count = len(pdf)
    finally:
        pdf.close()
    if count == 0:
        yield RawPage(name, 1, error=EMPTY_PDF)
        return
    if isinstance(opened, bytes):
        # repaired in memory: each reader would repair it again, so its pages are handed out loaded
        yield from _pdf_pages(opened, name)
        return
    for i in range(count):
        yield RawPage(name, i + 1, ref=PageRef(str(path), ".pdf", i))


def _pdf_pages(src: Path | bytes, name: str) -> Iterator[RawPage]:
    try:
        pdf = _Pdf(src)
        count = len(pdf.doc)
    except UnreadableFile as e:
        yield RawPage(name, 1, error=str(e))
        return
    if count == 0:
        pdf.close()
        yield RawPage(name, 1, error=EMPTY_PDF)
        return
    try:
        for i in range(count):
            if i and i % PDF_REOPEN_PAGES == 0:
                pdf.renew()
            try:
                page = pdf.page(i, name)
            except UnreadableFile as e:
                page = RawPage(name, i + 1, error=str(e))
            except Exception:  # pdfium and numpy raise several types for a damaged page
                page = RawPage(name, i + 1, error=BROKEN_PDF_PAGE)
            yield page
    finally:
        pdf.close()


# Entries by which a PDF changes what its fax data means (inverted, a mask): left to pdfium to apply.
_FAX_ALTERED_BY = ("/Decode", "/ImageMask", "/Mask", "/SMask")


class _Pdf:
    """An open PDF: pdfium for its pages, and pikepdf, opened at the first page scanned as a fax
    (CCITT G3/G4, what office scanners write in black and white), to take that page out whole."""

    def __init__(self, src: Path | bytes):
        self.doc, self.src = _open_pdf(src)  # ``src`` becomes the repaired bytes if it needed repair
        self._pike: pikepdf.Pdf | None = None

    def renew(self) -> None:
        """Open pdfium's document again: it keeps every object it has parsed (each page's image data
        included) until closed, so this bounds memory on a 1,000-page stack. pikepdf reads a page's
        data from the file when asked and keeps its handle (opening it costs 10–40 ms on such a stack)."""
        self.doc.close()
        self.doc, self.src = _open_pdf(self.src)

    @quiet
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
            image = cast(pikepdf.Stream, images[0])  # an image XObject is a stream
            if pikepdf.PdfImage(image).extract_to(stream=buf) != ".tif":
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
            raise UnreadableFile(f"Ảnh trong trang PDF quá lớn ({w}×{h} điểm ảnh), bỏ qua")
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
        raise UnreadableFile("Trang PDF quá lớn, bỏ qua")
    bmp = page.render(scale=RENDER_DPI / 72, grayscale=True)
    return RawPage(name, n, _png(bmp.to_numpy()), ".png")


def _png(arr: np.ndarray, bilevel: bool = False) -> bytes:
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    elif arr.ndim == 3:
        arr = cv2.cvtColor(arr[:, :, :3], cv2.COLOR_BGR2GRAY)
    ok, buf = cv2.imencode(".png", arr, [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_BILEVEL, int(bilevel)])
    if not ok:
        raise UnreadableFile("Không mã hóa được ảnh của trang")
    return buf.tobytes()


# --------------------------------------------------------------------------- ZIP


def _zip_pages(path: Path, name: str) -> Iterator[RawPage]:
    """The pages of every entry, in name order; an entry that cannot be had is that entry's error, and
    the others are read all the same."""
    try:
        zf = zipfile.ZipFile(path)
        infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        yield RawPage(name, 1, error="Tệp ZIP hỏng, không mở được")
        return
    with zf:
        files = sorted((i for i in infos if not i.is_dir()), key=lambda i: i.filename)
        if not files:
            yield RawPage(name, 1, error="Tệp ZIP không chứa tệp nào" + (" (chỉ có thư mục)" if infos else ""))
            return
        for info in files:
            member = display_name(info.filename)
            why = _unsafe_member(info)
            if why is not None:
                yield RawPage(member, 1, error=f"{why} (trong {name})")
                continue
            try:
                data = zf.read(info)
            except Exception as e:  # zipfile and zlib raise many types for a damaged entry
                yield RawPage(member, 1, error=f"{_member_reason(info, e)} (trong {name})")
                continue
            if not data:
                yield RawPage(member, 1, error=f"{EMPTY_FILE} (trong {name})")
                continue
            kind = _kind(data[:HEAD_BYTES], data=data)
            if kind == ".zip":
                yield RawPage(member, 1, error=f"Tệp ZIP lồng trong {name}: hãy giải nén ra trước, bỏ qua")
            elif kind is None:
                yield RawPage(member, 1, error=f"{NOT_A_STACK} (trong {name})")
            else:
                for page in _blob_pages(data, member, kind):
                    if page.error:  # the entry's name alone does not say which ZIP it is in
                        page.error = f"{page.error} (trong {name})"
                    yield page


def _blob_pages(data: bytes, name: str, kind: str) -> Iterator[RawPage]:
    """The pages of a PDF, TIFF or image file held in memory."""
    if kind == ".pdf":
        yield from _pdf_pages(data, name)
    elif kind == ".tif":
        yield from _tiff_pages(data, name)
    else:
        yield _image_page(data, name, kind)


def _unsafe_member(info: zipfile.ZipInfo) -> str | None:
    p = PurePosixPath(info.filename.replace("\\", "/"))
    if p.is_absolute() or ".." in p.parts:
        return "Đường dẫn không an toàn trong ZIP, bỏ qua"
    ratio = info.file_size / info.compress_size if info.compress_size else 0
    if info.file_size > MAX_MEMBER_BYTES or ratio > MAX_ZIP_RATIO:
        return "Tệp trong ZIP quá lớn (nghi là bom giải nén), bỏ qua"
    if info.flag_bits & 0x1:
        return "Tệp trong ZIP có đặt mật khẩu, không giải nén được"
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA):
        return f"Tệp trong ZIP nén theo cách không hỗ trợ (mã {info.compress_type}), bỏ qua"
    return None


def _member_reason(info: zipfile.ZipInfo, e: Exception) -> str:
    if isinstance(e, zipfile.BadZipFile) and "CRC" in str(e):
        return "Tệp trong ZIP hỏng (sai mã kiểm tra CRC)"
    if isinstance(e, OSError) and not isinstance(e, zipfile.BadZipFile) and e.errno:
        return f"Không đọc được tệp trong ZIP: {os_reason(e)}"
    return "Tệp trong ZIP hỏng hoặc bị cắt cụt, không giải nén được"
