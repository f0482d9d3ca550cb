"""What the scanner added that is not on the paper: streaks along the feed, thin lines across the
sheet, and local paper shade.

Automatic document feeders and copier drums leave thin lines that run the whole length of the
scan (a speck of dirt on the glass or the roller draws a line through every page fed past it).
Such a line crosses printed boxes and reads as ink. Nothing printed on a sheet, and nothing a hand
draws on it, is a thin line darker than its neighbours along most of the page's length: that is
the test, and the line is painted over with the lighter of its two neighbours, in the scan's own
frame (the feed direction is the scan's vertical or horizontal, whatever the page's skew).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np

from omr.detect import thresholds as T
from omr.sheet.layout import PAGE_H


def _darker(sample: np.ndarray, far: int) -> np.ndarray:
    """1 where a pixel of ``sample`` is darker than both pixels ``far`` to its left and right (white
    beyond the edge) by ``STREAK_CONTRAST``: what a thin line across the rows looks like. In OpenCV's
    saturating 8-bit arithmetic, a third of numpy's time."""
    beside = cv2.copyMakeBorder(sample, 0, 0, far, far, cv2.BORDER_CONSTANT, value=255)
    lighter = cv2.min(beside[:, : -2 * far], beside[:, 2 * far :])
    _, darker = cv2.threshold(cv2.subtract(lighter, sample), T.STREAK_CONTRAST, 1, cv2.THRESH_BINARY)
    return darker


def _along(img: np.ndarray, axis: int, step: int) -> np.ndarray:
    """Every ``step``-th line across ``img``'s columns (axis 0) or rows (axis 1), as rows: gathered in
    the image's own memory order (a gather down the columns of a page costs five times as much)."""
    return np.ascontiguousarray(img[::step] if axis == 0 else np.ascontiguousarray(img[:, ::step]).T)


def _streak_lines(gray: np.ndarray, axis: int) -> np.ndarray:
    """Indices of the lines (columns for axis 0, rows for axis 1) that are streaks."""
    px_per_mm = max(gray.shape) / PAGE_H  # the scan's long side is about the page's long side
    # every few mm along the line: plenty for "most of its length"
    sample = _along(gray, axis, max(1, round(T.STREAK_SAMPLE_MM * px_per_mm)))
    darker = _darker(sample, _far(px_per_mm))
    share = cv2.reduce(darker, 0, cv2.REDUCE_SUM, dtype=cv2.CV_32S)[0] / len(sample)
    return np.flatnonzero(share >= T.STREAK_LENGTH_SHARE)


def _far(px_per_mm: float) -> int:
    return max(2, round(T.STREAK_MAX_WIDTH_MM * px_per_mm))


def _paint(gray: np.ndarray, axis: int, lines: np.ndarray, far: int, keep: np.ndarray | None = None) -> np.ndarray:
    """Paint each run of ``lines`` (columns for axis 0, rows for axis 1) and a pixel of its soft edge
    with the lighter of its two neighbours, in place; not where ``keep`` is 1. A run wider than a
    streak is a band, left to the paper estimate. Returns which columns (rows) were painted."""
    g = gray if axis == 0 else gray.T  # a view: writing into it writes into gray
    kept = None if keep is None else (keep if axis == 0 else keep.T)
    n = g.shape[1]
    painted = np.zeros(n, bool)
    for run in np.split(lines, np.flatnonzero(np.diff(lines) > 1) + 1):
        a, b = int(run[0]) - 1, int(run[-1]) + 1  # the run and one pixel of its soft edge each side
        if b - a > 2 * far:
            continue
        fill = np.maximum(g[:, max(0, a - 1)], g[:, min(n - 1, b + 1)])[:, None]
        cols = slice(max(0, a), min(n, b + 1))
        g[:, cols] = fill if kept is None else np.where(kept[:, cols] > 0, g[:, cols], fill)
        painted[cols] = True
    return painted


def repair_streaks(gray: np.ndarray) -> np.ndarray:
    """The scan with its streaks painted over: ``gray`` itself when it has none, or when it could
    be written in place; otherwise a repaired copy."""
    for axis in (0, 1):
        lines = _streak_lines(gray, axis)
        if not lines.size:
            continue
        if not gray.flags.writeable:
            gray = gray.copy()
        _paint(gray, axis, lines, _far(max(gray.shape) / PAGE_H))
    return gray


@dataclass(frozen=True)
class SheetMasks:
    """Where an upright page (or a band of it) shows what, from its layout; each mask is 1 where said."""

    free: np.ndarray  # blank paper, well away from print and boxes
    unboxed: np.ndarray  # away from the checkboxes (as far as blank paper is)
    unbordered: np.ndarray  # anywhere but about a checkbox's border
    borders: np.ndarray  # about a checkbox's border


def repair_sheet_lines(canon: np.ndarray, masks: SheetMasks, px_per_mm: float) -> np.ndarray:
    """An upright page (or a band of it) with the thin lines drawn across the sheet itself painted
    over: a copier drum's scratch on a copied form, a fax's broken line, which the page's skew tilts
    against the scan's own rows so that ``repair_streaks`` cannot see them.

    Such a line runs straight along the page, broken or not, and is judged as a streak is, where it
    crosses nothing that could be mistaken for it: on the blank paper along it, both ways
    (``SHEET_LINE_SHARE``), and down the page (``SHEET_LINE_DOWN_SHARE``) on all but the checkboxes
    or on all but their borders, as no form prints a rule down the page, and print, writing and the
    marks in a column of boxes are no thin vertical line. Between the boxes of a table's column
    there is no blank paper at all, and in the band of questions only short gaps between sections:
    the boxes' insides are where such a line shows. A broken line can show more of itself on either,
    and is a line on either. It is not painted about the checkboxes' borders, by which the boxes are
    found: measuring a box leaves out what is left there of a line down the page, inside the border
    as found (``measure.measure_page``). Painted in place; returns which columns (w,) hold a line
    down the page."""
    far = _far(px_per_mm)
    step = max(1, round(T.STREAK_SAMPLE_MM * px_per_mm))
    least = T.SHEET_LINE_PAPER_MM / T.STREAK_SAMPLE_MM  # samples a line is judged on

    def judged(darker: np.ndarray, mask: np.ndarray, axis: int, share: float) -> np.ndarray:
        where = _along(mask, axis, step)
        seen = cv2.reduce(cv2.bitwise_and(darker, where), 0, cv2.REDUCE_SUM, dtype=cv2.CV_32S)[0]
        n = cv2.reduce(where, 0, cv2.REDUCE_SUM, dtype=cv2.CV_32S)[0]
        return (n >= least) & (seen >= share * np.maximum(n, 1))

    down = np.zeros(canon.shape[1], bool)
    for axis in (0, 1):
        darker = _darker(_along(canon, axis, step), far)
        line = judged(darker, masks.free, axis, T.SHEET_LINE_SHARE)
        if axis == 0:
            for mask in (masks.unboxed, masks.unbordered):
                line |= judged(darker, mask, axis, T.SHEET_LINE_DOWN_SHARE)
        if line.any():
            painted = _paint(canon, axis, np.flatnonzero(line), far, masks.borders)
            if axis == 0:
                down = painted
    return down


def block_means(img: np.ndarray, k: int) -> np.ndarray:
    """The exact means of ``img``'s whole k x k blocks (the last rows and columns short of a block are
    left out): three times faster than an area resize by a fractional factor. ``img`` must hold a block."""
    h, w = img.shape[0] // k, img.shape[1] // k
    return cv2.resize(img[: h * k, : w * k], (w, h), interpolation=cv2.INTER_AREA)


def _halved(img: np.ndarray) -> np.ndarray:
    """The means of ``img``'s whole 2 x 2 blocks: OpenCV's fast path, about three times faster per
    pixel than any other block size. Each halving rounds to a whole grey level."""
    h, w = img.shape[0] // 2, img.shape[1] // 2
    return cv2.resize(img[: 2 * h, : 2 * w], (w, h), interpolation=cv2.INTER_AREA)


@dataclass(frozen=True)
class Millimetre:
    """A page in cells of about 1 mm: their greys, and the paper's grey under each."""

    cells: np.ndarray
    paper: np.ndarray


class Shrunk:
    """An image and its copies halved again and again, each made once when first asked for: the
    blank check's 1 mm cells and the markers' small copy of a page come from the same halvings
    instead of each from the whole scan."""

    def __init__(self, img: np.ndarray):
        self.levels = [img]

    def level(self, i: int) -> np.ndarray:
        """The image halved ``i`` times (the image itself for 0)."""
        while len(self.levels) <= i:
            self.levels.append(_halved(self.levels[-1]))
        return self.levels[i]

    def block_means(self, k: int) -> np.ndarray:
        """``block_means`` of the image, from its halvings while k is even, then one mean of the odd
        rest: five times faster on a whole scan, each mean within a grey level or two of the exact one
        (each halving rounds). The image must hold a block."""
        i = 0
        while k % 2 == 0:
            k //= 2
            i += 1
        return self.level(i) if k == 1 else block_means(self.level(i), k)

    @cached_property
    def millimetre(self) -> Millimetre | None:
        """The image in cells of a whole number of pixels about 1 mm a side (its long side taken for
        the page's), and the paper's grey under each cell (``local_paper``); None for an image smaller
        than a cell. The blank check judges the cells (against the paper a millimetre away: ``read.is_blank``);
        the markers are found against this paper."""
        img = self.levels[0]
        px_per_mm = max(img.shape) / PAGE_H
        k = max(1, round(px_per_mm))
        if min(img.shape) < k:
            return None
        cells = self.block_means(k)
        return Millimetre(cells, local_paper(cells, px_per_mm / k))

    def at_least(self, long_side: int) -> tuple[np.ndarray, int]:
        """The smallest copy whose long side is at least ``long_side`` px (or the image itself), and
        how many times it was halved."""
        i = 0
        while max(self.levels[0].shape) >> (i + 1) >= long_side:
            i += 1
        return self.level(i), i


def local_paper(canon: np.ndarray, px_per_mm: float, window_mm: float = T.PAPER_WINDOW_MM) -> np.ndarray:
    """The paper's own grey under every pixel of an upright page: the brightest shade within
    ``window_mm`` around it, smoothed over as much.

    Uneven light (a page not flat on the glass, a copier's falling lamp) and toner background shift
    the paper's grey by tens of levels across a page; ink is judged against the paper it is on."""
    h, w = canon.shape
    f = T.PAPER_CELL_MM * px_per_mm
    k = round(f)
    if k == f and h >= k and w >= k:
        small = block_means(canon, k)
    else:
        small = cv2.resize(canon, (max(1, round(w / f)), max(1, round(h / f))), interpolation=cv2.INTER_AREA)
    r = max(1, round(window_mm / T.PAPER_CELL_MM / 2))
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * r + 1, 2 * r + 1))
    brightest = cv2.dilate(small, kernel)
    smooth = cv2.blur(brightest, (2 * r + 1, 2 * r + 1))
    paper = cv2.resize(smooth, (w, h), interpolation=cv2.INTER_LINEAR)
    # in place (the resize made it uint8 already), against an array of the floor: numpy takes seven
    # times as long to broadcast a scalar (and OpenCV takes a 1 x 1 image for a scalar itself)
    return np.maximum(paper, np.full_like(paper, T.PAPER_MIN_GREY), out=paper)
