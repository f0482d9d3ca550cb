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

    def __init__(self, canon: np.ndarray, px_per_mm: float = T.PX_PER_MM):
        self.k = px_per_mm
        hist = cv2.calcHist([canon[::4, ::4]], [0], None, [256], [0, 256]).ravel().cumsum()
        # the paper's grey: most of a sheet is paper, so a high percentile of its pixels
        paper = float(np.searchsorted(hist, 0.92 * hist[-1]))
        self.paper = max(paper, 60.0)  # a black page is no paper: avoid dividing by ~0
        self.h, self.w = canon.shape
        _, ink = cv2.threshold(canon, self.paper * (1 - T.INK_DARKNESS), 1, cv2.THRESH_BINARY_INV)
        self.ink_sum = cv2.integral(ink)
        self.grey_sum = cv2.integral(canon)

    def _px(self, r: Rect) -> tuple[int, int, int, int]:
        x0 = min(max(round(r.x * self.k), 0), self.w)
        y0 = min(max(round(r.y * self.k), 0), self.h)
        x1 = min(max(round((r.x + r.w) * self.k), x0), self.w)
        y1 = min(max(round((r.y + r.h) * self.k), y0), self.h)
        return x0, y0, x1, y1

    @staticmethod
    def _sum(table: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> float:
        return float(table[y1, x1] - table[y0, x1] - table[y1, x0] + table[y0, x0])

    def ink(self, r: Rect, hole: Rect | None = None) -> float:
        """Share of ink pixels in ``r`` (less ``hole``)."""
        a = self._px(r)
        n = (a[2] - a[0]) * (a[3] - a[1])
        s = self._sum(self.ink_sum, *a)
        if hole is not None:
            b = self._px(hole)
            # only the part of the hole inside the zone is taken out
            b = (max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3]))
            b = (b[0], b[1], max(b[0], b[2]), max(b[1], b[3]))
            n -= (b[2] - b[0]) * (b[3] - b[1])
            s -= self._sum(self.ink_sum, *b)
        return s / n if n > 0 else 0.0

    def darkness(self, r: Rect) -> float:
        """Mean darkness relative to the paper: 0 paper-white, 1 black."""
        a = self._px(r)
        n = (a[2] - a[0]) * (a[3] - a[1])
        if n <= 0:
            return 0.0
        mean = self._sum(self.grey_sum, *a) / n
        return max(0.0, (self.paper - mean) / self.paper)


def _inset(r: Rect, d: float) -> Rect:
    return Rect(r.x + d, r.y + d, r.w - 2 * d, r.h - 2 * d)


def measure_box(ink: InkMap, box: Rect, zone: Rect, hole: Rect) -> BoxMeasure:
    inner = _inset(box, T.BOX_INSET_MM)
    core = _inset(box, box.w / 4)
    a, b = T.SPILL_RING_MM
    spill = ink.ink(_inset(box, -b), _inset(box, -a))
    return BoxMeasure(
        ink=ink.ink(inner),
        core=ink.ink(core),
        darkness=ink.darkness(inner),
        spill=spill,
        label=ink.ink(zone, hole),
        reach=_reach(ink, inner),
    )


def _reach(ink: InkMap, inner: Rect) -> float:
    w, h = inner.w / 3, inner.h / 3
    cells = [Rect(inner.x + i * w, inner.y + j * h, w, h) for i in range(3) for j in range(3)]
    return sum(ink.ink(c) >= T.REACH_CELL_INK for c in cells) / 9


def measure_field(ink: InkMap, fp: FieldPlacement) -> dict[str, BoxMeasure]:
    return {o.value: measure_box(ink, o.box, o.zone, o.hole) for o in fp.options}


def text_ink(ink: InkMap, area: Rect) -> float:
    return ink.ink(_inset(area, T.TEXT_INSET_MM))
