"""Images cut from stored scans for people: a question's crop with its boxes drawn, a whole page.

Crops are made by warping the stored scan with the page's homography (page mm -> image px), so the
question comes out upright whatever the scan's rotation or skew, and every box is drawn where
``omr.sheet.layout`` says it is — the same positions the reader measured.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from omr import config
from omr.detect.decide import Box, classify
from omr.detect.read import decode
from omr.detect.register import warp
from omr.detect.result import BoxMeasure
from omr.sheet.layout import PAGE_H, PAGE_W, Rect, layout_for
from omr.sheet.templates import Variant
from omr.values import split_values

# The question crop is the question's options, cut from the scan one by one (box and printed label)
# and laid out in a grid as wide as a review screen shows without shrinking: a 4.5 mm box comes out
# ~50 px (a band of the whole question shrunk to the screen gave ~20 px), and nothing of the questions
# above or below comes with it.
CROP_PX_PER_MM = 11.0
CROP_MAX_W_PX = 1240  # what the review page shows at 1:1 on a 1366 px wide laptop screen
TILE_PAD_MM = 1.0  # around each option: ink over the box's edge, a circle round the label
KEY_GUTTER_PX = 34  # left of each option: the key that chooses it
GAP_PX = 6
PAGE_PX_PER_MM = 5.0
GAP_GREY = 225
KEY_COLOUR = (90, 60, 20)  # BGR
FINAL_COLOUR = (40, 160, 40)  # green: the decided answer
# the machine's reading of each box as its outline (the review page's legend uses the same colours)
READING_COLOURS: dict[Box, tuple[int, int, int]] = {
    Box.EMPTY: (175, 175, 175),  # grey: nothing there
    Box.WEAK: (0, 165, 255),  # orange: something faint, too little to call
    Box.MARK: (200, 90, 20),  # blue: a mark
    Box.FILLED: (160, 40, 150),  # purple: filled in (a correction, or a heavy mark)
}
READING_NAMES = {Box.EMPTY: "trống", Box.WEAK: "mờ, không rõ", Box.MARK: "có dấu", Box.FILLED: "tô kín"}
FINAL_NAME = "đã chọn"
MAX_PLAIN_SIDE = 1600


def _css(bgr: tuple[int, int, int]) -> str:
    b, g, r = bgr
    return f"#{r:02x}{g:02x}{b:02x}"


def reading_legend() -> list[tuple[str, str]]:
    """(CSS colour, words) of each outline colour, for the page beside the crop."""
    return [(_css(c), READING_NAMES[k]) for k, c in READING_COLOURS.items()] + [(_css(FINAL_COLOUR), FINAL_NAME)]


def box_readings(measures: dict[str, list[float]] | None) -> dict[str, Box]:
    """The machine's reading of each box of one question, from the page's stored measurements (the
    reader's own ``classify``, against the emptiest box of the question as ``decide_field`` does)."""
    if not measures:
        return {}
    boxes = {v: BoxMeasure.from_list(m) for v, m in measures.items()}
    floor = BoxMeasure(*np.min([m.as_list() for m in boxes.values()], axis=0))
    return {v: classify(m, floor)[0] for v, m in boxes.items()}


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
    keys: tuple[str, ...],
    readings: tuple[tuple[str, str], ...],
    final: str | None,
) -> bytes:
    """PNG of the question's options in a grid: each box outlined in the colour of the machine's
    reading (``readings``: option value -> ``Box`` name), the decided answer framed in green, the key
    that chooses each option (``keys``, in option order) beside it."""
    fp = layout_for(form_id, form_version, Variant.parse(variant)).placement(field_id)
    k = CROP_PX_PER_MM
    gray = _load(image_path)
    h = np.array(transform, dtype=np.float64)
    read = {v: Box[name] for v, name in readings}
    chosen = set(split_values(final))
    tiles = []
    for opt in fp.options:
        b = opt.box
        x0, y0, x1, y1 = _tile_mm(opt)
        tile = cv2.cvtColor(warp(gray, h, k, (x0, y0, x1 - x0, y1 - y0)), cv2.COLOR_GRAY2BGR)

        def px(r: Rect, grow: float, ox: float = x0, oy: float = y0) -> tuple[tuple[int, int], tuple[int, int]]:
            return (
                (round((r.x - ox - grow) * k), round((r.y - oy - grow) * k)),
                (round((r.x + r.w - ox + grow) * k), round((r.y + r.h - oy + grow) * k)),
            )

        reading = read.get(opt.value, Box.EMPTY)
        p0, p1 = px(b, 0.45)
        cv2.rectangle(tile, p0, p1, READING_COLOURS[reading], 3 if reading is not Box.EMPTY else 2, cv2.LINE_AA)
        if opt.value in chosen:
            q0, q1 = px(b, 0.95)
            cv2.rectangle(tile, q0, q1, FINAL_COLOUR, 3, cv2.LINE_AA)
        tiles.append(tile)
    return _png(_grid(tiles, keys, _columns(fp)))


def _tile_mm(opt) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1) in page mm of one option's tile: its box and printed label with a little paper
    round them, one row of options high (nothing of the row above or below)."""
    b, z = opt.box, opt.zone
    x0, x1 = min(b.x, z.x) - TILE_PAD_MM, max(b.x + b.w, z.x + z.w) + TILE_PAD_MM
    y0, y1 = b.y - TILE_PAD_MM, b.y + b.h + TILE_PAD_MM
    return max(0.0, x0), max(0.0, y0), min(PAGE_W, x1), min(PAGE_H, y1)


def _columns(fp) -> int:
    """As many columns as the sheet prints the options in, if they fit the screen; fewer otherwise."""
    printed = len({round(o.box.x, 1) for o in fp.options}) or 1
    widest = max((round((x1 - x0) * CROP_PX_PER_MM) for x0, _, x1, _ in map(_tile_mm, fp.options)), default=1)
    fit = max(1, (CROP_MAX_W_PX + GAP_PX) // (widest + KEY_GUTTER_PX + GAP_PX))
    return max(1, min(printed, fit))


def _grid(tiles: list[np.ndarray], keys: tuple[str, ...], cols: int) -> np.ndarray:
    cw = max(t.shape[1] for t in tiles) + KEY_GUTTER_PX
    ch = max(t.shape[0] for t in tiles)
    rows = -(-len(tiles) // cols)
    out = np.full((rows * ch + (rows - 1) * GAP_PX, cols * cw + (cols - 1) * GAP_PX, 3), GAP_GREY, np.uint8)
    for i, t in enumerate(tiles):
        r, c = divmod(i, cols)
        x, y = c * (cw + GAP_PX), r * (ch + GAP_PX)
        out[y : y + ch, x : x + cw] = 255
        out[y : y + t.shape[0], x + KEY_GUTTER_PX : x + KEY_GUTTER_PX + t.shape[1]] = t
        key = keys[i] if i < len(keys) else ""
        cv2.putText(out, key, (x + 6, y + ch // 2 + 10), cv2.FONT_HERSHEY_SIMPLEX, 0.95, KEY_COLOUR, 2, cv2.LINE_AA)
    return out


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
