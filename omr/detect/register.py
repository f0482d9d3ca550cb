"""Find the page in the scan: the four corner markers, the page's orientation, and the homography
from page millimetres to scan pixels.

Works on any rotation (0/90/180/270), skew of ±10° and a few millimetres cropped by the scanner,
because it looks for solid squares of the printed size wherever they are, takes the outermost four,
and tells top-left from the rest by the small orientation square printed beside it alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from omr.detect import thresholds as T
from omr.detect.clean import Shrunk
from omr.detect.components import Components
from omr.sheet.layout import MARKER_SIZE, PAGE_H, PAGE_W, markers


@dataclass(frozen=True)
class Registration:
    homography: np.ndarray  # 3x3, page mm -> scan px
    rotation: int  # how far the page was turned clockwise in the scan: 0, 90, 180 or 270
    # how dark the printed black is against the paper on this scan (0..1): a washed-out or
    # overexposed scan prints black as grey, and every mark on it is as much lighter
    contrast: float = 1.0


def _candidates(shrunk: Shrunk) -> tuple[list[tuple[float, float]], float]:
    """Centres (in full-resolution px) of solid dark squares of about the marker's size."""
    # from the scan's halvings (made for the blank check already): the smallest as long as the work
    # copy, brought to its size by a linear resize, which solid 7 mm squares survive intact
    copy, halvings = shrunk.at_least(T.MARKER_WORK_LONG_SIDE)
    h, w = copy.shape
    f = T.MARKER_WORK_LONG_SIDE / max(h, w)
    small = cv2.resize(copy, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_LINEAR)
    f /= 1 << halvings  # small's pixels per full-resolution pixel
    # the long side of the scan is (at most a few mm less than) the page's long side
    px_per_mm = max(small.shape) / PAGE_H
    if shrunk.millimetre is None:
        return [], px_per_mm / f  # smaller than a millimetre of the page
    # markers are solid print: dark against the paper around them even where the light falls off
    # or washes out (one global threshold splits a lighting gradient instead); the paper of the
    # scan's 1 mm cells (Shrunk.millimetre), brought to the small copy's size
    paper = cv2.resize(shrunk.millimetre.paper, (small.shape[1], small.shape[0]), interpolation=cv2.INTER_LINEAR)
    dark = cv2.divide(cv2.subtract(paper, small), paper, scale=255)
    _, bw = cv2.threshold(dark, 255 * T.MARKER_DARKNESS, 255, cv2.THRESH_BINARY)
    # a copier drum's or roller's dirt (blobs, bands of specks) can touch a marker: an opening by a
    # square half the marker's side keeps every solid square whole and drops what is thinner
    k = max(1, round(T.MARKER_OPENING * MARKER_SIZE * px_per_mm))
    bw = cv2.morphologyEx(bw, cv2.MORPH_OPEN, np.ones((k, k), np.uint8))
    side = MARKER_SIZE * px_per_mm
    found = Components(bw)
    stats, cents = found.stats, found.centroids
    bw_, bh, area = stats[:, 2].astype(float), stats[:, 3].astype(float), stats[:, 4].astype(float)
    lo, hi = T.MARKER_SIDE_RANGE
    narrow, wide = T.MARKER_ASPECT_RANGE
    ok = (
        (bw_ >= lo * side)
        & (bw_ <= hi * side)
        & (bh >= lo * side)
        & (bh <= hi * side)
        & (area >= T.MARKER_SOLID_MIN * side * side)
        & (area >= T.MARKER_BOX_FILL_MIN * bw_ * bh)
        & (bw_ >= narrow * bh)
        & (bw_ <= wide * bh)
    )
    out = [(float(x) / f, float(y) / f) for x, y in cents[ok]]
    return out, px_per_mm / f


def _outermost(cands: list[tuple[float, float]], w: int, h: int) -> list[tuple[float, float]] | None:
    """The candidate nearest each image corner: TL, TR, BR, BL of the image."""
    if len(cands) < 4:
        return None
    pts = np.array(cands)
    picked = []
    for cx, cy in ((0, 0), (w, 0), (w, h), (0, h)):
        d = np.hypot(pts[:, 0] - cx, pts[:, 1] - cy)
        picked.append(tuple(pts[int(np.argmin(d))]))
    if len(set(picked)) < 4:
        return None
    return picked


def _refine(gray: np.ndarray, pt: tuple[float, float], px_per_mm: float) -> tuple[float, float]:
    """Centroid of the marker at full resolution: sub-pixel accuracy where the box reading needs it."""
    r = int(MARKER_SIZE * px_per_mm)
    x0, y0 = max(0, int(pt[0]) - r), max(0, int(pt[1]) - r)
    roi = gray[y0 : int(pt[1]) + r, x0 : int(pt[0]) + r]
    if roi.size == 0:
        return pt
    _, bw = cv2.threshold(roi, 0, 255, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    cents = Components(bw).centroids
    if not len(cents):
        return pt
    cx, cy = pt[0] - x0, pt[1] - y0
    best = min(range(len(cents)), key=lambda i: (cents[i][0] - cx) ** 2 + (cents[i][1] - cy) ** 2)
    return cents[best][0] + x0, cents[best][1] + y0


def _dark_at(gray: np.ndarray, H: np.ndarray, centres_mm: np.ndarray, r_mm: np.ndarray | float) -> np.ndarray:
    """Mean darkness (0 white .. 1 black) of a small square around each of N page points (N x 2 mm),
    of half-side ``r_mm`` (one for all, or N): their corners mapped onto the scan in one call."""
    c = np.asarray(centres_mm, dtype=np.float64).reshape(-1, 2)
    r = np.broadcast_to(np.asarray(r_mm, dtype=np.float64).reshape(-1, 1), (len(c), 1))
    corners = cv2.perspectiveTransform(np.concatenate([c - r, c + r]).reshape(-1, 1, 2), H).reshape(2, -1, 2)
    return np.array([_square_darkness(gray, a, b) for a, b in zip(*corners, strict=True)])


def _square_darkness(gray: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    x0, x1 = sorted((int(a[0]), int(b[0])))
    y0, y1 = sorted((int(a[1]), int(b[1])))
    roi = gray[max(0, y0) : max(0, y1) + 1, max(0, x0) : max(0, x1) + 1]
    if roi.size == 0:
        return 0.0
    # the exact sum over the count, as numpy's mean has it, at a tenth of its cost on a small square
    return 1.0 - cv2.sumElems(roi)[0] / roi.size / 255.0


def register(scan: np.ndarray | Shrunk) -> Registration | None:
    """The page's place in the scan from its corner markers. ``scan``: the scan, or the scan with its
    halvings if they were made already."""
    shrunk = scan if isinstance(scan, Shrunk) else Shrunk(scan)
    gray = shrunk.levels[0]
    h, w = gray.shape
    cands, px_per_mm = _candidates(shrunk)
    corners = _outermost(cands, w, h)
    if corners is None:
        return None
    corners = [_refine(gray, p, px_per_mm) for p in corners]
    page_pts = markers().centers  # TL, TR, BR, BL on the page
    o = markers().orient.center
    if not _plausible(np.array(corners, dtype=np.float32)):
        return None
    best: tuple[float, Registration] | None = None
    for k in range(4):
        # hypothesis k: the page's top-left marker is image corner k (image corners run clockwise)
        img = np.array([corners[(k + i) % 4] for i in range(4)], dtype=np.float32)
        H = cv2.getPerspectiveTransform(np.array(page_pts, dtype=np.float32), img)
        mark, corner = _dark_at(gray, H, np.array([o, (o[0], PAGE_H - o[1])]), 1.0)
        contrast = mark - corner
        if best is None or contrast > best[0]:
            best = (contrast, Registration(H, 90 * k))
    assert best is not None
    reg = best[1]
    contrast = _print_contrast(gray, reg.homography)
    if best[0] < T.ORIENT_CONTRAST_MIN * contrast:
        return None  # no corner has the orientation mark: not our page, or badly damaged
    return Registration(reg.homography, reg.rotation, contrast)


def _print_contrast(gray: np.ndarray, H: np.ndarray) -> float:
    """Darkness of the markers' centres against the paper just outside them (median of the four)."""
    squares = markers().squares
    gaps = [sq.w / 2 + T.CONTRAST_PAPER_GAP_MM for sq in squares]
    centres = np.array([sq.center for sq in squares])
    around = np.array(
        [
            (cx + dx, cy + dy)
            for (cx, cy), g in zip(centres, gaps, strict=True)
            for dx, dy in ((g, 0), (-g, 0), (0, g), (0, -g))
        ]
    )
    inks = 1.0 - _dark_at(gray, H, centres, np.array([sq.w / 4 for sq in squares]))
    papers = (1.0 - _dark_at(gray, H, around, T.CONTRAST_PAPER_HALF_MM)).reshape(len(squares), 4).max(axis=1)
    out = [max(0.0, 1.0 - ink / paper) if paper > 0 else 0.0 for ink, paper in zip(inks, papers, strict=True)]
    return float(np.clip(np.median(out), T.CONTRAST_FLOOR, 1.0))


def _plausible(img: np.ndarray) -> bool:
    """The four markers must frame a page of the printed proportions (within scan distortion)."""
    tl, tr, br, bl = img
    a = (np.linalg.norm(tr - tl) + np.linalg.norm(br - bl)) / 2
    b = (np.linalg.norm(bl - tl) + np.linalg.norm(br - tr)) / 2
    if min(a, b) < 1:
        return False
    ratio = min(a, b) / max(a, b)
    centres = markers().centers
    expect = (centres[1][0] - centres[0][0]) / (centres[3][1] - centres[0][1])
    return bool(abs(ratio - expect) < T.PAGE_RATIO_TOLERANCE)


def page_to_image(H: np.ndarray, pts_mm: np.ndarray) -> np.ndarray:
    return cv2.perspectiveTransform(pts_mm.reshape(-1, 1, 2).astype(np.float64), H).reshape(-1, 2)


def warp(gray: np.ndarray, H: np.ndarray, px_per_mm: float, rect_mm: tuple[float, float, float, float] | None = None):
    """The page (or a rectangle of it) resampled upright at ``px_per_mm``."""
    x, y, w, h = rect_mm or (0.0, 0.0, PAGE_W, PAGE_H)
    S = np.array([[1 / px_per_mm, 0, x], [0, 1 / px_per_mm, y], [0, 0, 1]])
    M = H @ S  # output px -> page mm -> scan px
    size = (max(1, round(w * px_per_mm)), max(1, round(h * px_per_mm)))
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    affine = _affine_fit(M, size)
    if affine is not None:
        return cv2.warpAffine(gray, affine, size, flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=255)
    return cv2.warpPerspective(gray, M, size, flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=255)


def _affine_fit(M: np.ndarray, size: tuple[int, int]) -> np.ndarray | None:
    """The least-squares affine map (2x3) closest to homography ``M`` over an output of ``size``, or None
    if it strays more than ``T.AFFINE_MAX_ERROR_PX`` from it."""
    xs, ys = np.meshgrid(np.linspace(0, size[0], 5), np.linspace(0, size[1], 5))
    P = np.stack([xs.ravel(), ys.ravel(), np.ones(xs.size)])
    q = M @ P
    target = (q[:2] / q[2]).T
    A, *_ = np.linalg.lstsq(P.T, target, rcond=None)
    if np.abs(P.T @ A - target).max() > T.AFFINE_MAX_ERROR_PX:
        return None
    return A.T
