"""Pen and pencil on a page raster: strokes given in page millimetres, painted with anti-aliasing.

Ink darkens what is under it (multiplicatively), so a stroke over a printed box border or over
another stroke looks the way it does on paper: never lighter than either.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

SHIFT = 4  # cv2 fixed-point bits: sub-pixel stroke positions at any dpi
_ONE = 1 << SHIFT


@dataclass(frozen=True)
class Tool:
    """What a person writes with."""

    name: str  # "pen" | "pencil" | "felt"
    level: float  # grey of a fully covered pixel, 0 black .. 255 paper
    width_mm: float  # stroke width
    grain: float  # 0: even ink; up to 1: pencil graphite that skips over the paper's tooth


def pen(rng: np.random.Generator, width: float | None = None) -> Tool:
    # ballpoint and gel pens scan between near-black and dark blue-grey
    return Tool("pen", float(rng.uniform(15, 70)), width or float(rng.uniform(0.3, 0.8)), 0.0)


def pencil(rng: np.random.Generator, width: float | None = None) -> Tool:
    # HB pencil: a lighter grey, a thinner line, grainy
    level, grain = float(rng.uniform(80, 120)), float(rng.uniform(0.3, 0.6))
    return Tool("pencil", level, width or float(rng.uniform(0.3, 0.55)), grain)


def felt_pen(rng: np.random.Generator) -> Tool:
    # a marker or felt-tip: a broad, dark line
    return Tool("felt", float(rng.uniform(10, 45)), float(rng.uniform(1.0, 1.6)), 0.0)


def faint_pencil(rng: np.random.Generator) -> Tool:
    # a hard pencil pressed lightly: pale and grainy, still a deliberate mark a person can see
    return Tool("pencil", float(rng.uniform(125, 150)), float(rng.uniform(0.3, 0.45)), float(rng.uniform(0.2, 0.4)))


class Canvas:
    """A grey page raster (uint8, paper = 255) addressed in page millimetres."""

    def __init__(self, img: np.ndarray, px_per_mm_x: float, px_per_mm_y: float):
        self.img = img
        self.kx, self.ky = px_per_mm_x, px_per_mm_y

    def to_px(self, pts_mm: np.ndarray) -> np.ndarray:
        return np.asarray(pts_mm, dtype=np.float64) * (self.kx, self.ky)

    def stroke(self, pts_mm: np.ndarray, tool: Tool, rng: np.random.Generator, width_mm: float | None = None) -> None:
        """One pen-down polyline through ``pts_mm`` (N x 2)."""
        w_px = max(1.0, (width_mm or tool.width_mm) * self.kx)
        self._paint(self.to_px(pts_mm), w_px, tool, rng, fill=False)

    def fill(self, poly_mm: np.ndarray, tool: Tool, rng: np.random.Generator) -> None:
        """A filled polygon (a box blacked out)."""
        self._paint(self.to_px(poly_mm), 1.0, tool, rng, fill=True)

    def _paint(self, pts: np.ndarray, w_px: float, tool: Tool, rng: np.random.Generator, fill: bool) -> None:
        h, w = self.img.shape
        pad = int(w_px) + 3
        x0 = max(int(pts[:, 0].min()) - pad, 0)
        y0 = max(int(pts[:, 1].min()) - pad, 0)
        x1 = min(int(pts[:, 0].max()) + pad + 1, w)
        y1 = min(int(pts[:, 1].max()) + pad + 1, h)
        if x1 <= x0 or y1 <= y0:
            return
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        fixed = np.round((pts - (x0, y0)) * _ONE).astype(np.int32).reshape(-1, 1, 2)
        if fill:
            cv2.fillPoly(mask, [fixed], 255, cv2.LINE_AA, SHIFT)
        else:
            cv2.polylines(mask, [fixed], False, 255, max(1, round(w_px)), cv2.LINE_AA, SHIFT)
        alpha = mask.astype(np.float32) / 255.0
        if tool.grain:
            # graphite leaves specks of paper inside the line; blur keeps the speckle finer than a mm
            tooth = rng.uniform(1 - tool.grain, 1.0, alpha.shape).astype(np.float32)
            alpha *= cv2.GaussianBlur(tooth, (0, 0), 0.7)
        roi = self.img[y0:y1, x0:x1].astype(np.float32)
        roi *= 1.0 - alpha * (1.0 - tool.level / 255.0)
        self.img[y0:y1, x0:x1] = np.clip(roi + 0.5, 0, 255).astype(np.uint8)


def smooth(pts: np.ndarray, n: int = 8) -> np.ndarray:
    """A hand-drawn curve through control points (Catmull-Rom), ``n`` samples per segment."""
    p = np.asarray(pts, dtype=np.float64)
    if len(p) < 3:
        t = np.linspace(0, 1, n + 1)[:, None]
        return p[0] + t * (p[-1] - p[0])
    ext = np.vstack([2 * p[0] - p[1], p, 2 * p[-1] - p[-2]])
    out = []
    t = np.linspace(0, 1, n, endpoint=False)[:, None]
    for i in range(1, len(ext) - 2):
        a, b, c, d = ext[i - 1], ext[i], ext[i + 1], ext[i + 2]
        out.append(
            0.5 * ((2 * b) + (-a + c) * t + (2 * a - 5 * b + 4 * c - d) * t**2 + (-a + 3 * b - 3 * c + d) * t**3)
        )
    out.append(p[-1:])
    return np.vstack(out)


def wobble(pts: np.ndarray, rng: np.random.Generator, amount_mm: float) -> np.ndarray:
    """Hand tremor: a small, smooth random displacement along a stroke."""
    n = len(pts)
    if n < 3 or amount_mm <= 0:
        return pts
    knots = rng.normal(0, amount_mm, (max(2, n // 6), 2))
    idx = np.linspace(0, len(knots) - 1, n)
    dx = np.interp(idx, np.arange(len(knots)), knots[:, 0])
    dy = np.interp(idx, np.arange(len(knots)), knots[:, 1])
    return pts + np.column_stack([dx, dy])
