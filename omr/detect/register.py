"""Find the page in the scan: the four corner markers, the page's orientation, and the homography
from page millimetres to scan pixels.

Works on any rotation (0/90/180/270), skew of ±10° and a few millimetres cropped by the scanner,
because it looks for solid squares of the printed size wherever they are, takes the outermost four,
and tells top-left from the rest by the small orientation square printed beside it alone.

Phone photos (``register_photo``) are searched differently, and only when the scan search finds no
evenly lit page: the sheet lies anywhere in the frame at any size and angle, seen in perspective and
under uneven light, so the markers are dark squares relative to the paper around them, of any size
in a range, and the four that frame a page are told from the rest by their sizes agreeing with the
page their positions imply.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import cv2
import numpy as np

from omr.layout import MARKER_SIZE, PAGE_H, PAGE_W, markers

# Markers are found on a copy of the scan this many px long (about 1.7 px/mm: 12 px a marker). The
# accuracy targets hold from 500 up; 700 cost 1 ms more per page.
WORK_LONG_SIDE = 500


# The orientation square must be this much darker (0..1) than the same spot of the opposite corner.
ORIENT_CONTRAST_MIN = 0.3


@dataclass(frozen=True)
class PhotoQuality:
    """How finely a photo shows the sheet: the reader sends a photo too coarse or too blurred to a person."""

    px_per_mm: float  # image pixels per page millimetre at the page's middle
    edge_mm: float  # how wide (in page mm) the markers' edges are smeared by blur and coarse pixels


@dataclass(frozen=True)
class Registration:
    homography: np.ndarray  # 3x3, page mm -> scan px
    rotation: int  # how far the page was turned clockwise in the scan: 0, 90, 180 or 270
    photo: PhotoQuality | None = None  # found by the photo search: uneven light, perspective


def _candidates(gray: np.ndarray) -> tuple[list[tuple[float, float]], float]:
    """Centres (in full-resolution px) of solid dark squares of about the marker's size."""
    h, w = gray.shape
    f = WORK_LONG_SIDE / max(h, w)
    # linear is 10x faster than area averaging here, and solid 7 mm squares survive it intact
    small = cv2.resize(gray, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_LINEAR)
    _, bw = cv2.threshold(small, 0, 255, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    # the long side of the scan is (at most a few mm less than) the page's long side
    px_per_mm = max(small.shape) / PAGE_H
    side = MARKER_SIZE * px_per_mm
    _, _, stats, cents = cv2.connectedComponentsWithStats(bw, connectivity=8)
    bw_, bh, area = stats[1:, 2].astype(float), stats[1:, 3].astype(float), stats[1:, 4].astype(float)
    ok = (
        # a square tilted by up to 10 degrees has a bounding box up to 1.16x its side
        (bw_ >= 0.7 * side)
        & (bw_ <= 1.45 * side)
        & (bh >= 0.7 * side)
        & (bh <= 1.45 * side)
        # solid, not a ring or a cluster of letters
        & (area >= 0.55 * side * side)
        & (area >= 0.7 * bw_ * bh / 1.35)
        & (bw_ >= 0.75 * bh)
        & (bw_ <= 1.33 * bh)
    )
    out = [(float(x) / f, float(y) / f) for x, y in cents[1:][ok]]
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
    n, lab, stats, cents = cv2.connectedComponentsWithStats(bw, connectivity=8)
    if n < 2:
        return pt
    cx, cy = pt[0] - x0, pt[1] - y0
    best = min(range(1, n), key=lambda i: (cents[i][0] - cx) ** 2 + (cents[i][1] - cy) ** 2)
    return cents[best][0] + x0, cents[best][1] + y0


# A square is sampled at a 5x5 grid of page points: the same pixels at any angle of the page.
_GRID = np.stack(np.meshgrid(np.linspace(-1, 1, 5), np.linspace(-1, 1, 5)), axis=-1).reshape(-1, 2)


def _darkness(gray: np.ndarray, H: np.ndarray, centres_mm: np.ndarray, r_mm: float) -> np.ndarray:
    """Mean darkness (0 white .. 1 black) of a small square around each page point."""
    pts = page_to_image(H, (centres_mm[:, None, :] + _GRID * r_mm).reshape(-1, 2))
    h, w = gray.shape
    xs = np.clip(np.rint(pts[:, 0]), 0, w - 1).astype(np.intp)
    ys = np.clip(np.rint(pts[:, 1]), 0, h - 1).astype(np.intp)
    return 1.0 - gray[ys, xs].reshape(len(centres_mm), -1).mean(axis=1) / 255.0


def _orientation_contrast(gray: np.ndarray, H: np.ndarray) -> float:
    """How much darker the orientation square's place is than the same place by the opposite corner:
    high when ``H`` has the page the right way round."""
    o = markers().orient.center
    mark, mirror = _darkness(gray, H, np.array([o, (o[0], PAGE_H - o[1])]), 1.0)
    return float(mark - mirror)


def _page_homography(corners: np.ndarray) -> np.ndarray:
    """Page mm -> image px, from the markers' centres in the image in page order TL, TR, BR, BL."""
    return cv2.getPerspectiveTransform(np.array(markers().centers, dtype=np.float32), corners.astype(np.float32))


def register(gray: np.ndarray, photos: bool = False) -> Registration | None:
    """The page in a flatbed scan, or (``photos``) in a phone photo when the scan search finds none."""
    return register_scan(gray) or (register_photo(gray) if photos else None)


def register_scan(gray: np.ndarray) -> Registration | None:
    """The page in a flatbed scan (it fills the image, evenly lit), or None."""
    h, w = gray.shape
    cands, px_per_mm = _candidates(gray)
    corners = _outermost(cands, w, h)
    if corners is None:
        return None
    corners = [_refine(gray, p, px_per_mm) for p in corners]
    if not _plausible(np.array(corners, dtype=np.float32)):
        return None
    best: tuple[float, Registration] | None = None
    for k in range(4):
        # hypothesis k: the page's top-left marker is image corner k (image corners run clockwise)
        H = _page_homography(np.array([corners[(k + i) % 4] for i in range(4)]))
        contrast = _orientation_contrast(gray, H)
        if best is None or contrast > best[0]:
            best = (contrast, Registration(H, 90 * k))
    assert best is not None
    if best[0] < ORIENT_CONTRAST_MIN:  # no corner has the orientation mark: not our page, or badly damaged
        return None
    if not _evenly_lit(gray, best[1].homography):
        return None  # a photo that happens to fill the frame: the photo search measures its light
    return best[1]


# Blank paper (page mm, inside any scanner's crop) where the paper's grey is compared: the side margins,
# and beside the corner markers (between them and the heading or the footer), where vignetting shows.
MARGIN_SPOTS_MM = np.array(
    [(x, y) for x in (5.0, PAGE_W - 5.0) for y in (60.0, 150.0, 240.0)]
    + [(x, y) for x in (30.0, PAGE_W - 30.0) for y in (12.0, PAGE_H - 13.0)]
)
# A scanner lights the page evenly (its paper differs by 1-2 % from spot to spot: noise, JPEG); a photo's
# light falls off across the sheet by 5-40 %. Up to this difference the page is read as a scan.
SCAN_LIGHT_SPREAD_MAX = 0.05


def _evenly_lit(gray: np.ndarray, H: np.ndarray) -> bool:
    paper = 1.0 - _darkness(gray, H, MARGIN_SPOTS_MM, 1.5)
    return paper.max() - paper.min() <= SCAN_LIGHT_SPREAD_MAX * max(paper.max(), 1e-3)


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
    return abs(ratio - expect) < 0.06


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


# A flatbed scan has no perspective: its homography is affine but for the markers' measuring noise.
# Resampling with the best affine fit is a third cheaper than with the homography; it is used when it
# stays this close to the homography everywhere on the output (measured on generated 200-dpi scans:
# 0.015 px median, 0.1 px at worst; a phone photo's perspective is far beyond).
AFFINE_MAX_ERROR_PX = 0.25


def _affine_fit(M: np.ndarray, size: tuple[int, int]) -> np.ndarray | None:
    """The least-squares affine map (2x3) closest to homography ``M`` over an output of ``size``, or None
    if it strays more than ``AFFINE_MAX_ERROR_PX`` from it."""
    xs, ys = np.meshgrid(np.linspace(0, size[0], 5), np.linspace(0, size[1], 5))
    P = np.stack([xs.ravel(), ys.ravel(), np.ones(xs.size)])
    q = M @ P
    target = (q[:2] / q[2]).T
    A, *_ = np.linalg.lstsq(P.T, target, rcond=None)
    if np.abs(P.T @ A - target).max() > AFFINE_MAX_ERROR_PX:
        return None
    return A.T


# --- phone photos ---------------------------------------------------------------------------------
# Markers are looked for on a copy of the photo this many px long: a sheet filling half the frame
# has 14-px markers here, and the copy costs a few ms to make from 12 Mpx.
PHOTO_WORK_LONG_SIDE = 1200
# A marker's side as a share of the frame's long side: from a sheet filling 40 % of the frame's long
# side to the near edge of a sheet filling all of it, tilted by 20°.
PHOTO_MARKER_SHARE = (0.008, 0.045)
# Local paper white: the brightest pixel within this many of the largest markers' sides. Wider than a
# marker, so its middle still sees paper; narrow enough to follow the light across the sheet.
PAPER_WINDOW_MARKERS = 1.5
# Under this share of the local paper white a pixel is dark: printed black is below 0.3 in any light,
# the grain of a desk stays above 0.7.
DARK_SHARE = 0.5
SQUARE_MIN_FILL = 0.75  # pixels over their tightest rectangle: a solid quadrilateral, not a ring or a glyph
SQUARE_MAX_ASPECT = 1.6  # the tightest rectangle's sides: a square seen 20° off and in perspective
# Sets of four are tried among this many of the largest squares (1,001 sets): markers are the largest
# solid squares of the sheet; filled answer boxes have 0.4 of their area.
PHOTO_MAX_CANDIDATES = 14
# A marker's measured side within this factor of the side the four markers' positions imply.
MARKER_SIDE_TOLERANCE = 1.35


@dataclass(frozen=True)
class _Square:
    x: float
    y: float
    side: float  # sqrt of the area, px of the work copy


def register_photo(gray: np.ndarray) -> Registration | None:
    """The page in a phone photo: anywhere in the frame, any size, any angle, perspective, uneven light."""
    h, w = gray.shape
    f = min(1.0, PHOTO_WORK_LONG_SIDE / max(h, w))
    small = cv2.resize(gray, (round(w * f), round(h * f)), interpolation=cv2.INTER_AREA) if f < 1 else gray
    lo, hi = (share * max(small.shape) for share in PHOTO_MARKER_SHARE)
    even = _even_light(small, hi * PAPER_WINDOW_MARKERS)
    found = _frame(even, _dark_squares(even, lo, hi))
    if found is None:
        return None
    Hs, squares = found
    px_per_mm = [q.side / f / MARKER_SIZE for q in squares]
    corners = np.array([_refine(gray, (q.x / f, q.y / f), k) for q, k in zip(squares, px_per_mm, strict=True)])
    H = _page_homography(corners)
    quality = PhotoQuality(
        _scale_at_middle(H), float(np.median([_edge_mm(gray, p, k) for p, k in zip(corners, px_per_mm, strict=True)]))
    )
    return Registration(H, _quarter_turn(H), quality)


def _even_light(small: np.ndarray, window: float) -> np.ndarray:
    """The image over its local paper white (255 = paper): light that varies across the sheet divided out."""
    k = max(3, int(window) | 1)
    paper = cv2.dilate(small, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))
    return cv2.divide(small, np.maximum(paper, 1), scale=255)


def _dark_squares(even: np.ndarray, lo: float, hi: float) -> list[_Square]:
    """Solid dark quadrilaterals with sides between ``lo`` and ``hi`` px, largest first."""
    _, bw = cv2.threshold(even, 255 * DARK_SHARE, 255, cv2.THRESH_BINARY_INV)
    n, labels, stats, cents = cv2.connectedComponentsWithStats(bw, connectivity=8)
    x, y, bw_, bh, area = (stats[1:, i] for i in range(5))
    # a square turned by any angle has a bounding box up to 1.42x its side and fills half of it or more
    ok = (np.maximum(bw_, bh) >= lo) & (np.maximum(bw_, bh) <= hi * 1.45) & (area >= 0.45 * bw_ * bh)
    out = []
    for i in np.flatnonzero(ok):
        pts = np.argwhere(labels[y[i] : y[i] + bh[i], x[i] : x[i] + bw_[i]] == i + 1)[:, ::-1].astype(np.float32)
        (_, _), (rw, rh), _ = cv2.minAreaRect(pts)
        rw, rh = rw + 1, rh + 1  # pixel centres: a run of n pixels is n wide
        if area[i] >= SQUARE_MIN_FILL * rw * rh and max(rw, rh) <= SQUARE_MAX_ASPECT * min(rw, rh):
            out.append(_Square(float(cents[i + 1][0]), float(cents[i + 1][1]), float(np.sqrt(area[i]))))
    return sorted(out, key=lambda q: -q.side)[:PHOTO_MAX_CANDIDATES]


def _frame(even: np.ndarray, squares: list[_Square]) -> tuple[np.ndarray, list[_Square]] | None:
    """The four squares that frame a page the right way round, and its homography (page mm -> work px):
    of all sets of four whose sizes agree with the page they imply, the one with the clearest
    orientation square."""
    best: tuple[float, np.ndarray, list[_Square]] | None = None
    for four in combinations(squares, 4):
        sides = [q.side for q in four]
        if max(sides) > MARKER_SIDE_TOLERANCE**2 * min(sides):
            continue
        cx, cy = np.mean([q.x for q in four]), np.mean([q.y for q in four])
        # clockwise on the image (y runs down), as the page's TL, TR, BR, BL run
        ring = sorted(four, key=lambda q: np.arctan2(q.y - cy, q.x - cx))
        pts = np.array([(q.x, q.y) for q in ring], dtype=np.float32)
        if not cv2.isContourConvex(pts):
            continue
        for k in range(4):
            order = ring[k:] + ring[:k]
            H = _page_homography(np.roll(pts, -k, axis=0))
            if not _sizes_agree(H, order):
                continue
            contrast = _orientation_contrast(even, H)
            if contrast >= ORIENT_CONTRAST_MIN and (best is None or contrast > best[0]):
                best = (contrast, H, order)
    return None if best is None else (best[1], best[2])


def _sizes_agree(H: np.ndarray, squares: list[_Square]) -> bool:
    """Each square is as large as a marker would be where it lies on the page ``H`` implies."""
    s = MARKER_SIZE / 2
    for (mx, my), q in zip(markers().centers, squares, strict=True):
        quad = page_to_image(H, np.array([[mx - s, my - s], [mx + s, my - s], [mx + s, my + s], [mx - s, my + s]]))
        side = np.sqrt(abs(cv2.contourArea(quad.astype(np.float32))))
        if not side / MARKER_SIDE_TOLERANCE <= q.side <= side * MARKER_SIDE_TOLERANCE:
            return False
    return True


def _scale_at_middle(H: np.ndarray) -> float:
    """Image px per page mm around the page's middle (the geometric mean of both directions)."""
    c = np.array([[PAGE_W / 2 - 5, PAGE_H / 2 - 5], [PAGE_W / 2 + 5, PAGE_H / 2 - 5], [PAGE_W / 2 + 5, PAGE_H / 2 + 5]])
    a, b, d = page_to_image(H, c)
    return float(np.sqrt(np.linalg.norm(b - a) * np.linalg.norm(d - b))) / 10


def _quarter_turn(H: np.ndarray) -> int:
    """The page's turn in the image (clockwise), to the nearest quarter: how to show it upright."""
    a, b = page_to_image(H, np.array([[PAGE_W / 2, PAGE_H / 2], [PAGE_W / 2 + 10, PAGE_H / 2]]))
    angle = np.degrees(np.arctan2(b[1] - a[1], b[0] - a[0]))  # image y runs down: positive is clockwise
    return int(round(angle / 90)) % 4 * 90


# The blur a marker's edge shows is measured between these shares of the way from its black to the paper.
EDGE_LEVELS = (0.25, 0.75)


def _edge_mm(gray: np.ndarray, pt: np.ndarray, px_per_mm: float) -> float:
    """How wide, in page mm, the marker's edge is smeared: its pixels between black and paper over its
    perimeter. Under 0.1 mm for a sharp photo of enough pixels; grows with blur and with coarse pixels."""
    r = int(MARKER_SIZE * px_per_mm)
    x0, y0 = max(0, int(pt[0]) - r), max(0, int(pt[1]) - r)
    roi = gray[y0 : int(pt[1]) + r, x0 : int(pt[0]) + r]
    _, bw = cv2.threshold(roi, 0, 1, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    n, labels = cv2.connectedComponents(bw, connectivity=8)
    if n < 2 or roi.size == 0:
        return float("inf")
    cy, cx = min(int(pt[1]) - y0, roi.shape[0] - 1), min(int(pt[0]) - x0, roi.shape[1] - 1)
    if labels[cy, cx] == 0:
        return float("inf")
    marker = (labels == labels[cy, cx]).astype(np.uint8)
    k = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * round(px_per_mm) + 1,) * 2)  # 1 mm either way
    inside, outside = cv2.erode(marker, k), cv2.dilate(marker, k)
    black = float(np.median(roi[inside > 0])) if inside.any() else 0.0
    paper = float(np.median(roi[(outside == 0) & (bw == 0)])) if ((outside == 0) & (bw == 0)).any() else 255.0
    lo, hi = (black + share * (paper - black) for share in EDGE_LEVELS)
    smeared = int(((roi > lo) & (roi < hi) & (outside > inside)).sum())
    perimeter = 4 * np.sqrt(marker.sum())
    return smeared / perimeter / px_per_mm
