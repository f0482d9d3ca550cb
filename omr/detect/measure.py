"""Raw measurements of ink in each box, its surroundings and each free-text area.

All zones are rectangles in page millimetres from ``omr.layout``; they are measured on the page
warped upright at ``PX_PER_MM`` using summed-area tables, so each zone costs four lookups.
"""

from __future__ import annotations

import cv2
import numpy as np

from omr.detect import thresholds as T
from omr.detect.result import BoxMeasure
from omr.layout import FieldPlacement, Rect


class InkMap:
    """Darkness of an upright page relative to its paper, with summed-area tables for fast zone sums."""

    def __init__(self, canon: np.ndarray, px_per_mm: float = T.PX_PER_MM, origin: tuple[float, float] = (0.0, 0.0)):
        self.k, self.origin = px_per_mm, np.array([origin[0], origin[1], 0.0, 0.0])  # page mm of canon's (0, 0)
        hist = cv2.calcHist([canon[::4, ::4]], [0], None, [256], [0, 256]).ravel().cumsum()
        # the paper's grey: most of a sheet is paper, so a high percentile of its pixels
        paper = float(np.searchsorted(hist, 0.92 * hist[-1]))
        self.paper = max(paper, 60.0)  # a black page is no paper: avoid dividing by ~0
        self.h, self.w = canon.shape
        _, ink = cv2.threshold(canon, self.paper * (1 - T.INK_DARKNESS), 1, cv2.THRESH_BINARY_INV)
        self.ink_sum = cv2.integral(ink)
        self.grey_sum = cv2.integral(canon)

    def _px_many(self, mm: np.ndarray) -> np.ndarray:
        """(N, 4) rectangles x, y, w, h in mm -> (N, 4) pixel bounds x0, y0, x1, y1 inside the page."""
        k = self.k
        mm = mm - self.origin
        x0 = np.clip(np.rint(mm[:, 0] * k), 0, self.w)
        y0 = np.clip(np.rint(mm[:, 1] * k), 0, self.h)
        x1 = np.clip(np.rint((mm[:, 0] + mm[:, 2]) * k), x0, self.w)
        y1 = np.clip(np.rint((mm[:, 1] + mm[:, 3]) * k), y0, self.h)
        return np.stack([x0, y0, x1, y1], axis=1).astype(np.intp)

    @staticmethod
    def _sums(table: np.ndarray, b: np.ndarray) -> np.ndarray:
        x0, y0, x1, y1 = b.T
        return (table[y1, x1] - table[y0, x1] - table[y1, x0] + table[y0, x0]).astype(np.float64)

    def ink_many(self, mm: np.ndarray, holes: np.ndarray | None = None) -> np.ndarray:
        """Share of ink pixels in each rectangle (less the part of its hole inside it)."""
        a = self._px_many(mm)
        n = ((a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])).astype(np.float64)
        s = self._sums(self.ink_sum, a)
        if holes is not None:
            b = self._px_many(holes)
            b = np.concatenate([np.maximum(a[:, :2], b[:, :2]), np.minimum(a[:, 2:], b[:, 2:])], axis=1)
            b[:, 2:] = np.maximum(b[:, 2:], b[:, :2])
            n -= (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
            s -= self._sums(self.ink_sum, b)
        return np.divide(s, n, out=np.zeros_like(s), where=n > 0)

    def darkness_many(self, mm: np.ndarray) -> np.ndarray:
        """Mean darkness of each rectangle relative to the paper: 0 paper-white, 1 black."""
        a = self._px_many(mm)
        n = ((a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])).astype(np.float64)
        mean = np.divide(self._sums(self.grey_sum, a), n, out=np.full_like(n, self.paper), where=n > 0)
        return np.maximum(0.0, (self.paper - mean) / self.paper)


def _inset(r: np.ndarray, d: np.ndarray | float) -> np.ndarray:
    d = np.asarray(d, dtype=np.float64).reshape(-1, 1)
    return r + np.hstack([d, d, -2 * d, -2 * d])


def _rects(rs) -> np.ndarray:
    return np.array([(r.x, r.y, r.w, r.h) for r in rs], dtype=np.float64).reshape(-1, 4)


def measure_page(ink: InkMap, fields: list[FieldPlacement]) -> dict[str, dict[str, BoxMeasure]]:
    """Every option box of a page at once: one vectorised pass of summed-area lookups."""
    opts = [(fp.field.id, o) for fp in fields for o in fp.options]
    if not opts:
        return {}
    box = _rects(o.box for _, o in opts)
    inner = _inset(box, T.BOX_INSET_MM)
    core = _inset(box, box[:, 2] / 4)
    a, b = T.SPILL_RING_MM
    spill = ink.ink_many(_inset(box, -b), _inset(box, -a))
    label = ink.ink_many(_rects(o.zone for _, o in opts), _rects(o.hole for _, o in opts))
    # reach: the interior cut into 3x3 cells, each cell's ink
    w, h = inner[:, 2] / 3, inner[:, 3] / 3
    cells = np.concatenate(
        [np.stack([inner[:, 0] + i * w, inner[:, 1] + j * h, w, h], axis=1) for i in range(3) for j in range(3)]
    )
    reach = (ink.ink_many(cells).reshape(9, -1) >= T.REACH_CELL_INK).sum(axis=0) / 9
    cols = np.stack([ink.ink_many(inner), ink.ink_many(core), ink.darkness_many(inner), spill, label, reach], 1)
    out: dict[str, dict[str, BoxMeasure]] = {}
    for (fid, o), row in zip(opts, cols.tolist(), strict=True):
        out.setdefault(fid, {})[o.value] = BoxMeasure(*row)
    return out


def text_ink(ink: InkMap, area: Rect) -> float:
    return float(ink.ink_many(_inset(_rects([area]), T.TEXT_INSET_MM))[0])
