"""Encoded page images to pixels, without a word from the image libraries.

The C libraries under OpenCV, Pillow and pdfium (libjpeg, libpng, libtiff, pdfium) print their own
complaints about a damaged file straight to file descriptor 2, where Python cannot catch them; the
product says what is wrong in its own one line instead. ``native_quiet`` points descriptor 2 at
/dev/null around such calls, and this module turns OpenCV's own logging off.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from typing import ParamSpec, TypeVar

os.environ.setdefault("OPENCV_LOG_LEVEL", "SILENT")  # read by OpenCV when it first logs

import cv2  # noqa: E402  (after the log level above)
import numpy as np  # noqa: E402
import simplejpeg  # noqa: E402
from PIL import Image  # noqa: E402

cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
# Pillow warns (UserWarning) about odd but readable files: bad EXIF, truncated metadata. The page is
# read anyway; a user needs no word about it. (DecompressionBombWarning is turned into an error where
# images are opened, omr.detect.sources._check_image.)
warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL(\.|$)")


class UndecodableImage(ValueError):
    pass


_quiet_lock = threading.Lock()
_quiet_depth = 0
_saved_fd: int | None = None


@contextlib.contextmanager
def native_quiet() -> Iterator[None]:
    """Descriptor 2 goes to /dev/null inside the block (nested and threaded use: the first entry
    redirects, the last exit restores). Python's own ``sys.stderr`` is flushed first, so nothing the
    product wrote before is lost."""
    global _quiet_depth, _saved_fd
    with _quiet_lock:
        if _quiet_depth == 0:
            with contextlib.suppress(Exception):
                sys.stderr.flush()
            _saved_fd = os.dup(2)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 2)
            os.close(devnull)
        _quiet_depth += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet_depth -= 1
            if _quiet_depth == 0 and _saved_fd is not None:
                os.dup2(_saved_fd, 2)
                os.close(_saved_fd)
                _saved_fd = None


def _after_fork_in_child() -> None:
    """A reader process forked while another thread had descriptor 2 silenced starts with it restored."""
    global _quiet_lock, _quiet_depth, _saved_fd
    _quiet_lock = threading.Lock()
    if _saved_fd is not None:
        os.dup2(_saved_fd, 2)
        os.close(_saved_fd)
    _quiet_depth, _saved_fd = 0, None


os.register_at_fork(after_in_child=_after_fork_in_child)

P = ParamSpec("P")
T = TypeVar("T")


def quiet(fn: Callable[P, T]) -> Callable[P, T]:
    """``fn`` run inside ``native_quiet`` (for plain functions, not generators)."""

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> T:
        with native_quiet():
            return fn(*args, **kwargs)

    return run


def sniff(head: bytes) -> str | None:
    """A file's kind from its first bytes (at least 4): the extension of what it is (".pdf", ".jpg", ".png",
    ".tif", ".zip", ".bmp"), or None."""
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


UNDECODABLE = "Ảnh hỏng hoặc bị cắt cụt, không giải mã được"


@quiet
def decode(data: bytes) -> np.ndarray:
    """Encoded page image (JPEG, PNG, TIFF incl. CCITT G4) to 8-bit grey."""
    kind = sniff(data)
    if kind == ".jpg":
        # Decoding is the largest single cost of reading a page. simplejpeg's libjpeg-turbo with its
        # fast integer IDCT decodes a 200-dpi page in about 3.9 ms against OpenCV's 4.7
        # (benchmarks/bench_libraries.py); the IDCT's rounding is far below what a mark changes.
        try:
            return simplejpeg.decode_jpeg(data, colorspace="GRAY", fastdct=True)[:, :, 0]
        except ValueError:
            pass  # a JPEG variant libjpeg-turbo's fast path refuses (e.g. arithmetic coding): OpenCV below
    if kind == ".tif":
        # a fax page (CCITT G4 in a TIFF header): Pillow's libtiff decodes it in half OpenCV's
        # time (benchmarks/bench_reading.py)
        try:
            with Image.open(io.BytesIO(data)) as im:
                return np.asarray(im.convert("L"))
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
            raise UndecodableImage(UNDECODABLE) from e
    gray = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    if gray is None or gray.size == 0:
        raise UndecodableImage(UNDECODABLE)
    return gray
