"""Images cut from stored scans for people: a question's crop with its boxes drawn, a whole page.

Crops are made by warping the stored scan with the page's homography (page mm -> image px), so the
question comes out upright whatever the scan's rotation or skew, and every box is drawn where
``omr.layout`` says it is — the same positions the reader measured.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from omr import config
from omr.detect.read import decode
from omr.detect.register import warp
from omr.layout import PAGE_H, PAGE_W, Rect, layout_for
from omr.templates import Variant

CROP_PX_PER_MM = 8.0  # sharp enough to tell a faint dot from dust on a laptop screen
PAGE_PX_PER_MM = 5.0
MARGIN_MM = 3.0
BOX_COLOUR = (200, 120, 40)  # BGR: blue outline on every box
GUESS_COLOUR = (0, 140, 255)  # orange: the machine's guess
FINAL_COLOUR = (40, 160, 40)  # green: the decided answer
MAX_PLAIN_SIDE = 1600


class ImageUnavailable(Exception):
    pass


def _load(image_path: str) -> np.ndarray:
    path = config.home() / image_path
    try:
        return decode(path.read_bytes())
    except (OSError, ValueError) as e:
        raise ImageUnavailable(str(e)) from e


def _png(img: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", img, [cv2.IMWRITE_PNG_COMPRESSION, 3])
    if not ok:
        raise ImageUnavailable("không mã hóa được ảnh")
    return buf.tobytes()


def _jpeg(img: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        raise ImageUnavailable("không mã hóa được ảnh")
    return buf.tobytes()


@lru_cache(maxsize=128)
def question_crop(
    image_path: str,
    transform: tuple[tuple[float, ...], ...],
    form_id: str,
    form_version: int,
    variant: str,
    field_id: str,
    guess: str | None,
    final: str | None,
) -> bytes:
    """PNG of the question's area, every box outlined, the guess in orange and the decision in green."""
    fp = layout_for(form_id, form_version, Variant.parse(variant)).placement(field_id)
    k = CROP_PX_PER_MM
    b = fp.bbox
    x0, y0 = max(0.0, b.x - MARGIN_MM), max(0.0, b.y - MARGIN_MM)
    x1, y1 = min(PAGE_W, b.x + b.w + MARGIN_MM), min(PAGE_H, b.y + b.h + MARGIN_MM)
    gray = _load(image_path)
    crop = warp(gray, np.array(transform, dtype=np.float64), k, (x0, y0, x1 - x0, y1 - y0))
    img = cv2.cvtColor(crop, cv2.COLOR_GRAY2BGR)
    guessed = set((guess or "").split(",")) - {""}
    chosen = set((final or "").split(",")) - {""}

    def px(r: Rect, grow: float) -> tuple[tuple[int, int], tuple[int, int]]:
        return (
            (round((r.x - x0 - grow) * k), round((r.y - y0 - grow) * k)),
            (round((r.x + r.w - x0 + grow) * k), round((r.y + r.h - y0 + grow) * k)),
        )

    for i, o in enumerate(fp.options, start=1):
        p0, p1 = px(o.box, 0.35)
        cv2.rectangle(img, p0, p1, BOX_COLOUR, 1, cv2.LINE_AA)
        if o.value in guessed:
            q0, q1 = px(o.box, 1.0)
            cv2.rectangle(img, q0, q1, GUESS_COLOUR, 3, cv2.LINE_AA)
        if o.value in chosen:
            q0, q1 = px(o.box, 1.6)
            cv2.rectangle(img, q0, q1, FINAL_COLOUR, 3, cv2.LINE_AA)
        # the digit key that chooses this option, just left of and above its box
        cv2.putText(img, str(i), (p0[0] - 2, p0[1] - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.45, BOX_COLOUR, 1, cv2.LINE_AA)
    return _png(img)


@lru_cache(maxsize=32)
def page_image(image_path: str, transform: tuple[tuple[float, ...], ...] | None) -> bytes:
    """JPEG of the whole page, upright when the page was registered, else as scanned (scaled down)."""
    gray = _load(image_path)
    if transform is not None:
        img = warp(gray, np.array(transform, dtype=np.float64), PAGE_PX_PER_MM)
    else:
        h, w = gray.shape
        f = min(1.0, MAX_PLAIN_SIDE / max(h, w))
        img = cv2.resize(gray, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
    return _jpeg(img)


def as_key(transform: list | None) -> tuple[tuple[float, ...], ...] | None:
    """A hashable copy of a stored homography (for the caches above)."""
    if not transform:
        return None
    return tuple(tuple(float(v) for v in row) for row in transform)
