"""Raw measurements of ink in each box, its surroundings and each free-text area.

All zones are rectangles in page millimetres from ``omr.sheet.layout``, measured on the page warped
upright at ``PX_PER_MM``. Three things make the measurements hold on pages nobody tuned them on:

- ink is judged against the paper under it (``clean.local_paper``), not one grey for the page;
- every box is found again by its own printed border near where the layout puts it
  (``locate``): a folded or wavy sheet moves mid-page boxes by a millimetre or two after the
  corner markers fixed the page as a whole, and the border would otherwise be measured as ink;
- specks (dust, toner, a copier's grain) are dropped from the box interiors: a cluster of ink too
  small to be anything a pen or pencil leaves is not a mark.
"""

from __future__ import annotations

import cv2
import numpy as np

from omr.detect import thresholds as T
from omr.detect.clean import SheetMasks, local_paper
from omr.detect.components import Components
from omr.detect.result import BoxMeasure
from omr.sheet.layout import FieldPlacement, PageLayout, Rect


def _clamp(a: np.ndarray, lo: np.ndarray | int, hi: np.ndarray | int) -> np.ndarray:
    """``np.clip`` without its overhead: numpy's clip costs 10 us a call on the small arrays here,
    some 85 calls a page; a maximum and a minimum cost 2."""
    return np.minimum(np.maximum(a, lo), hi)


def _pixel_bounds(p: np.ndarray, h: int, w: int) -> np.ndarray:
    """(N, 4) pixel rectangles x, y, w, h -> (N, 4) whole-pixel bounds x0, y0, x1, y1 within (h, w)."""
    x0 = _clamp(np.rint(p[:, 0]), 0, w)
    y0 = _clamp(np.rint(p[:, 1]), 0, h)
    x1 = _clamp(np.rint(p[:, 0] + p[:, 2]), x0, w)
    y1 = _clamp(np.rint(p[:, 1] + p[:, 3]), y0, h)
    return np.stack([x0, y0, x1, y1], axis=1).astype(np.intp)


class InkMap:
    """An upright page (or a band of it): darkness relative to the local paper, the ink it makes,
    and summed-area tables for fast zone sums."""

    def __init__(
        self,
        canon: np.ndarray,
        px_per_mm: float = T.PX_PER_MM,
        origin: tuple[float, float] = (0.0, 0.0),
        contrast: float = 1.0,
    ):
        self.k, self.origin = px_per_mm, np.array([origin[0], origin[1], 0.0, 0.0])  # page mm of canon's (0, 0)
        self.h, self.w = canon.shape
        paper = local_paper(canon, px_per_mm)
        # 0 = paper .. 255 = black, relative to the paper under each pixel
        self.dark = cv2.divide(cv2.subtract(paper, canon), paper, scale=255 / max(contrast, T.MIN_PRINT_CONTRAST))
        _, self.ink = cv2.threshold(self.dark, 255 * T.INK_DARKNESS, 1, cv2.THRESH_BINARY)
        # zones outside the boxes (spill ring, label band, text areas) are summed without specks:
        # an opening by 2x2 removes what is thinner than a pen's line
        self.opened = cv2.morphologyEx(self.ink, cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))
        self.ink_sum = cv2.integral(self.opened)
        self.dark_sum = cv2.integral(self.dark)

    def px(self, mm: np.ndarray) -> np.ndarray:
        """(N, 4) rectangles x, y, w, h in page mm -> (N, 4) float pixel x, y, w, h in this map."""
        out = (mm - self.origin) * self.k
        return out

    def _bounds(self, mm: np.ndarray) -> np.ndarray:
        """(N, 4) rectangles in mm -> (N, 4) pixel bounds x0, y0, x1, y1 clipped to the map."""
        return _pixel_bounds(self.px(mm), self.h, self.w)

    @staticmethod
    def _sums(table: np.ndarray, b: np.ndarray) -> np.ndarray:
        x0, y0, x1, y1 = b.T
        return (table[y1, x1] - table[y0, x1] - table[y1, x0] + table[y0, x0]).astype(np.float64)

    def ink_many(self, mm: np.ndarray, holes: np.ndarray | None = None) -> np.ndarray:
        """Share of ink pixels (specks removed) in each rectangle, less the part of its hole inside it."""
        a = self._bounds(mm)
        n = ((a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])).astype(np.float64)
        s = self._sums(self.ink_sum, a)
        if holes is not None:
            b = self._bounds(holes)
            b = np.concatenate([np.maximum(a[:, :2], b[:, :2]), np.minimum(a[:, 2:], b[:, 2:])], axis=1)
            b[:, 2:] = np.maximum(b[:, 2:], b[:, :2])
            n -= (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
            s -= self._sums(self.ink_sum, b)
        return np.divide(s, n, out=np.zeros_like(s), where=n > 0)


# --------------------------------------------------------------------------- finding each box


def _line_profiles(table: np.ndarray, start: np.ndarray, length: int, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """For N rectangles: the darkness summed across [lo, hi) of each of ``length`` lines from
    ``start`` (columns of the integral ``table``; pass ``table.T`` for rows). Lines outside are 0."""
    c = start[:, None] + np.arange(length + 1)[None, :]  # line j lies between table columns c_j and c_j + 1
    inside = (c[:, :-1] >= 0) & (c[:, :-1] < table.shape[1] - 1)
    c = _clamp(c, 0, table.shape[1] - 1)
    lo_, hi_ = _clamp(lo, 0, table.shape[0] - 1)[:, None], _clamp(hi, 0, table.shape[0] - 1)[:, None]
    upto = table[hi_, c] - table[lo_, c]  # summed across [lo, hi) up to each column
    return np.where(inside, upto[:, 1:] - upto[:, :-1], 0).astype(np.float64)


def _line_pairs(prof: np.ndarray, size: np.ndarray, reach: int, slack: int) -> tuple[np.ndarray, np.ndarray]:
    """The contrast of a box's two opposite border lines on its profile (``prof[i, j]`` is line
    ``start_i + j`` with start_i = expected first line - reach - pad), each line against the paper
    just outside it, away from the box: (N, D) of the first line at each offset in ±reach, and
    (E, N, D) of the second line ``size`` + e further on, e in ±slack. A line beyond the profile's
    ends counts as its end line."""
    pad = T.LOCATE_PAD_PX
    out = pad - 1  # the reference paper: this far outside each line
    span = 2 * reach + 1
    # a printed line is up to 2 px wide once resampled: take two neighbouring lines together
    two = prof[:, :-1] + prof[:, 1:]
    before = max(0, slack - pad - int(size.min()))
    after = max(0, pad + int(size.max()) + slack + span + out - two.shape[1])
    if before or after:
        two = np.pad(two, ((0, 0), (before, after)), mode="edge")
    first = before + pad  # the first line at offset -reach
    near = two[:, first : first + span] - two[:, first - out : first - out + span]
    beyond = two[:, : two.shape[1] - out] - two[:, out:]  # each line against the paper `out` further on
    # each box's second lines at every offset and slack, in one gather; windows of it per slack
    lines = first + size - slack
    seconds = beyond[np.arange(len(prof))[:, None], lines[:, None] + np.arange(2 * slack + span)[None, :]]
    return near, np.stack([seconds[:, e : e + span] for e in range(2 * slack + 1)])


def _best_edges(prof: np.ndarray, size: np.ndarray, reach: int, slack: int) -> tuple[np.ndarray, np.ndarray]:
    """Offsets (within ±reach) that put two printed lines ``size`` (± ``slack``) apart on the
    profile's dark lines, and the contrast found there (line minus the paper just outside it, both
    lines summed)."""
    # the second line a few pixels nearer or further: a border printed bold (a fax, a dark copy)
    # moves each line's outer edge out by a pixel or two, paper squeezed along a fold brings them in
    near, far = _line_pairs(prof, size, reach, slack)
    d = np.arange(-reach, reach + 1)
    apart = np.arange(-slack, slack + 1)
    wider = np.argmax(far, axis=0)
    score = near + far.max(axis=0)
    best = np.argmax(score, axis=1)
    pick = np.arange(len(best))
    # the box's middle, between the two lines as found
    return d[best] + apart[wider[pick, best]] // 2, score[pick, best]


def _search(ink: InkMap, p: np.ndarray, guess: np.ndarray, reach: int, slack: int) -> tuple[np.ndarray, np.ndarray]:
    """One-dimensional searches for N boxes at pixel rects ``p`` around pixel offsets ``guess``:
    columns for the left and right borders, then rows for the top and bottom, each over the other's
    current estimate, twice. Returns (N, 2) pixel offsets and (N,) border contrast (0..1 per side)."""
    x0 = np.rint(p[:, 0]).astype(np.intp) + guess[:, 0]
    y0 = np.rint(p[:, 1]).astype(np.intp) + guess[:, 1]
    w, h = np.rint(p[:, 2]).astype(np.intp), np.rint(p[:, 3]).astype(np.intp)
    pad = T.LOCATE_PAD_PX
    sums = ink.dark_sum
    span_x, span_y = int(w.max()) + 2 * (reach + pad) + 3, int(h.max()) + 2 * (reach + pad) + 3
    dx = np.zeros(len(p), np.intp)
    dy = np.zeros(len(p), np.intp)
    cx = cy = np.zeros(len(p))
    qy, qx = h // 4, w // 4  # the middle half of the other side: clear of the corners
    for _ in range(T.LOCATE_ROUNDS):
        prof = _line_profiles(sums, x0 - reach - pad - 1, span_x, y0 + dy + qy, y0 + dy + h - qy)
        dx, cx = _best_edges(prof, w, reach, slack)
        prof = _line_profiles(sums.T, y0 - reach - pad - 1, span_y, x0 + dx + qx, x0 + dx + w - qx)
        dy, cy = _best_edges(prof, h, reach, slack)
    # as a share of black: the two lines were summed over 2 px and two sides
    contrast = np.minimum(cx / (np.maximum(1, h - 2 * qy) * 255.0 * 4), cy / (np.maximum(1, w - 2 * qx) * 255.0 * 4))
    return guess + np.stack([dx, dy], axis=1), contrast


def _each_edge(prof: np.ndarray, size: np.ndarray, reach: int) -> tuple[np.ndarray, np.ndarray]:
    """Offsets (px, within ±reach) of each of the two lines ``size`` apart when each is looked for on
    its own: ``_best_edges`` without tying them together."""
    near, far = _line_pairs(prof, size, reach, 0)
    d = np.arange(-reach, reach + 1)
    return d[np.argmax(near, axis=1)], d[np.argmax(far[0], axis=1)]


def border_lines(ink: InkMap, rects_mm: np.ndarray, shift_mm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each found box's four border lines on their own, and how far (mm) the box is out of shape.

    Returns (N, 12) pixel positions in the map: the left, right, top and bottom border lines, then the
    left and right lines found on the top half and on the bottom half, then the top and bottom lines
    found on the left half and on the right half; and
    the bend: the larger of how far the halves of one border disagree (left and right borders found
    on the top and the bottom half, top and bottom on the left and the right half) and how far the
    box's width or height differs from the printed one beyond ``BEND_SIZE_SLACK_PX``. Paper squeezed
    near a fold changes a box's size by a pixel or two, and a fold through a box moves one half
    against the other: measuring each half inside its own borders absorbs both, up to a limit."""
    k = ink.k
    p = ink.px(rects_mm)
    x0 = np.rint(p[:, 0] + shift_mm[:, 0] * k).astype(np.intp)
    y0 = np.rint(p[:, 1] + shift_mm[:, 1] * k).astype(np.intp)
    w, h = np.rint(p[:, 2]).astype(np.intp), np.rint(p[:, 3]).astype(np.intp)
    r, pad = T.BEND_REACH_PX, T.LOCATE_PAD_PX
    sums = ink.dark_sum
    m = T.BEND_CORNER_PX  # keep clear of the corners, where the other borders run
    s = T.LOCATE_SIZE_SLACK_PX
    span_x, span_y = int(w.max()) + 2 * (r + pad) + 3, int(h.max()) + 2 * (r + pad) + 3
    top, _ = _best_edges(_line_profiles(sums, x0 - r - pad - 1, span_x, y0 + m, y0 + h // 2), w, r, s)
    bottom, _ = _best_edges(_line_profiles(sums, x0 - r - pad - 1, span_x, y0 + h // 2, y0 + h - m), w, r, s)
    left, _ = _best_edges(_line_profiles(sums.T, y0 - r - pad - 1, span_y, x0 + m, x0 + w // 2), h, r, s)
    right, _ = _best_edges(_line_profiles(sums.T, y0 - r - pad - 1, span_y, x0 + w // 2, x0 + w - m), h, r, s)
    lx, rx = _each_edge(_line_profiles(sums, x0 - r - pad - 1, span_x, y0 + m, y0 + h - m), w, r)
    ty, by = _each_edge(_line_profiles(sums.T, y0 - r - pad - 1, span_y, x0 + m, x0 + w - m), h, r)
    lines = np.stack(
        [
            x0 + lx, x0 + w + rx, y0 + ty, y0 + h + by,  # each border on its own
            x0 + top, x0 + top + w, x0 + bottom, x0 + bottom + w,  # left and right, on each half
            y0 + left, y0 + left + h, y0 + right, y0 + right + h,  # top and bottom, on each half
        ],
        axis=1,
    )  # fmt: skip
    size_error = np.maximum(np.abs(rx - lx), np.abs(by - ty))
    kink = np.maximum(np.abs(top - bottom), np.abs(left - right))
    return lines, np.maximum(kink, size_error - T.BEND_SIZE_SLACK_PX) / k


def _first_look(ink: InkMap, p: np.ndarray, reach: int, slack: int) -> tuple[np.ndarray, np.ndarray]:
    """Each of N rectangles (pixel rects ``p``) looked for on its own around where the markers put
    it: (N, 2) pixel offsets and (N,) border contrast."""
    offset, contrast = _search(ink, p, np.zeros((len(p), 2), np.intp), reach, slack)
    # a best found at the very edge of the search may lie beyond it (a fold moves a whole region
    # further than the reach): look once more from there
    edge = np.flatnonzero((np.abs(offset) >= reach).any(axis=1))
    if len(edge):
        again, c = _search(ink, p[edge], offset[edge], reach, slack)
        better = c > contrast[edge]
        offset[edge[better]], contrast[edge[better]] = again[better], c[better]
    return offset, contrast


def locate(ink: InkMap, rects_mm: np.ndarray, slack: int = T.LOCATE_SIZE_SLACK_PX) -> tuple[np.ndarray, np.ndarray]:
    """Where each printed box really is: (N, 2) offsets in mm from where the layout puts it, and
    (N,) the contrast of its border there relative to the page's clear borders (1: as clear as they
    are; a border not found is near 0).

    Every box is first looked for around where the corner markers put it. The paper bends
    smoothly, so a box whose border was not found clearly is then looked for again around the shift
    of its nearest clearly found neighbours: a sheet whose middle sits 3 mm off is followed from the
    boxes that were found, while each search stays short enough never to reach the next row's box."""
    k = ink.k
    p = ink.px(rects_mm)
    reach = round(T.LOCATE_REACH_MM * k)
    offset, contrast = _first_look(ink, p, reach, slack)
    ref = float(np.percentile(contrast, T.BORDER_REF_PERCENTILE)) if len(p) else 0.0
    if ref <= 0:
        return offset / k, np.zeros(len(p))
    for _ in range(T.LOCATE_PASSES):
        good = contrast >= T.BORDER_TRUST * ref
        if good.all() or not good.any():
            break
        bad = np.flatnonzero(~good)
        d = np.hypot(*(rects_mm[bad, None, :2] - rects_mm[None, good, :2]).transpose(2, 0, 1))
        nearest = np.argsort(d, axis=1)[:, : T.LOCATE_NEIGHBOURS]
        guess = np.rint(np.median(offset[good][nearest], axis=1)).astype(np.intp)
        again, c = _search(ink, p[bad], guess, reach, slack)
        better = c > contrast[bad]
        offset[bad[better]], contrast[bad[better]] = again[better], c[better]
    return offset / k, contrast / ref


# --------------------------------------------------------------------------- box interiors


def _windows(x0: np.ndarray, y0: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The rows, (N, size, 1), and columns, (N, 1, size), of N square windows of a map whose top left
    pixels are (``x0``, ``y0``); they may reach beyond the map."""
    r = np.arange(size)
    return y0[:, None, None] + r[None, :, None], x0[:, None, None] + r[None, None, :]


def _take(a: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """The windows ``_windows`` gave of map ``a``; beyond its edge, its edge pixels."""
    return a[_clamp(ys, 0, a.shape[0] - 1), _clamp(xs, 0, a.shape[1] - 1)]


def _interiors(
    ink: InkMap, lines: np.ndarray, size: int, ruled: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(N, size, size) crops of the ink (0/1) and darkness (0..255) maps centred between each box's
    border ``lines`` (``border_lines``), and the mask of the pixels inside the borders by
    ``BOX_INSET_MM`` (all of a crop, unless the box was found smaller than printed or broken).
    The ``ruled`` columns, (w,) bool, of lines down the sheet are not inside any box (the fourth
    crops: 1 on them): the line repair leaves them unpainted about the printed borders (a border
    moved by a fold might go with them), and inside the border as found they can only be the line,
    or a mark crossed by it. Not so across the page: there a fold's crease is such a line too, a
    shading wider than the rows it is found on, and leaving those rows out of a box makes the rest of
    the shading stand out (held-out folded: clear marks read faint)."""
    inset = T.BOX_INSET_MM * ink.k
    x0 = np.rint((lines[:, 0] + lines[:, 1]) / 2 - size / 2).astype(np.intp)
    y0 = np.rint((lines[:, 2] + lines[:, 3]) / 2 - size / 2).astype(np.intp)
    ys, xs = _windows(x0, y0, size)
    cx, cy = xs + 0.5, ys + 0.5  # pixel centres
    col = lambda i: lines[:, i][:, None, None]  # noqa: E731
    # a box broken along a fold: each half inside its own borders, and inside the whole box's
    upper = cy < (col(2) + col(3)) / 2
    leftish = cx < (col(0) + col(1)) / 2
    left = np.maximum(col(0), np.where(upper, col(4), col(6)))
    right = np.minimum(col(1), np.where(upper, col(5), col(7)))
    top = np.maximum(col(2), np.where(leftish, col(8), col(10)))
    bottom = np.minimum(col(3), np.where(leftish, col(9), col(11)))
    mask = (cx >= left + inset) & (cx <= right - inset) & (cy >= top + inset) & (cy <= bottom - inset)
    lined = np.zeros(mask.shape, bool)
    if ruled is not None and ruled.any():
        lined = np.broadcast_to(ruled[_clamp(xs, 0, ink.w - 1)], mask.shape)
        mask &= ~lined
    return _take(ink.ink, ys, xs) * mask, _take(ink.dark, ys, xs) * mask, mask, lined


def _share(crops: np.ndarray, lined: np.ndarray) -> np.ndarray:
    """(N,) the share of each crop's pixels inked, of those not on a line down the sheet."""
    n = crops.shape[1] * crops.shape[2] - lined.sum(axis=(1, 2))
    return crops.sum(axis=(1, 2)) / np.maximum(1, n)


def despeckle(crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The crops' ink (0/1) without specks, and the part of it that belongs to strokes.

    Ink is grouped in clusters (pixels within one pixel of each other). A cluster of at most
    ``SPECK_MAX_MM2`` is a speck and dropped. A cluster reaching ``STROKE_MIN_MM`` or more across is
    a stroke: ticks, crosses, slashes and fills are strokes; a copier drum's dirt and toner blobs,
    however much of a box they darken, are a scatter of small clusters. All crops are processed at
    once, laid out in one column."""
    n, h, w = crops.shape
    g = T.SPECK_GAP_PX
    tall = np.zeros((n, h + 2 * g, w + 2 * g), np.uint8)
    tall[:, g:-g, g:-g] = crops
    tall = tall.reshape(n * (h + 2 * g), w + 2 * g)
    grown = cv2.dilate(tall, np.ones((3, 3), np.uint8))
    found = Components(grown)
    labels, stats = found.labels, found.stats
    sizes = np.bincount(labels.ravel(), weights=tall.ravel(), minlength=found.count + 1)
    keep = sizes > T.SPECK_MAX_MM2 * T.PX_PER_MM**2
    keep[0] = False
    # less the growth; the background (label 0) is never kept
    across = np.concatenate([[0], np.maximum(stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]) - 2])
    stroke = keep & (across >= T.STROKE_MIN_MM * T.PX_PER_MM)
    cleaned = tall * keep[labels]
    strokes = tall * stroke[labels]

    def crops_of(a: np.ndarray) -> np.ndarray:
        return a.reshape(n, h + 2 * g, w + 2 * g)[:, g:-g, g:-g]

    return crops_of(cleaned), crops_of(strokes)


def _straight_lines(crops: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """The rows and columns of interiors that are printed lines, not marks (``_line_rows``): those
    inked from side to side (a printed border that a fold or a wavy sheet pushed inside the box, a
    crease), and the rest of a bold border at the edge. No tick, cross or slash runs straight along a
    row, and a box filled to cancel it keeps its ink (it has nothing but such rows)."""
    width = inside.sum(axis=2)  # inside pixels per row
    height = inside.sum(axis=1)  # per column
    share = np.concatenate([crops.sum(axis=2) / np.maximum(1, width), crops.sum(axis=1) / np.maximum(1, height)])
    lines = _line_rows(share, np.concatenate([width > 0, height > 0]), round(T.EDGE_LINE_MM * T.PX_PER_MM))
    rows, cols = lines[: len(crops)], lines[len(crops) :]  # rows and columns in one pass: numpy's calls cost
    filled = crops.reshape(len(crops), -1).sum(axis=1) >= T.FILLED_INK_MIN * inside.reshape(len(crops), -1).sum(axis=1)
    return (rows[:, :, None] | cols[:, None, :]) & ~filled[:, None, None]


def _line_rows(share: np.ndarray, inner: np.ndarray, depth: int) -> np.ndarray:
    """(N, S) which of each interior's S rows are lines, from the share of each row inked and
    whether it is inside the box at all: full rows anywhere, and along either edge, a border pushed
    in: a full row among the ``depth`` rows inside the edge, the rows between it and the edge and the
    one row past it, each inked along ``EDGE_LINE_SHARE``, where an empty row follows within
    ``depth + 2`` rows. Ink that runs on further in is a mark's, which keeps all its rows: a fat
    felt-pen tick inks many rows near the edge, a tick's stroke can run along it."""
    full = share >= T.STRAIGHT_LINE_SHARE
    lines = full.copy()
    some = np.flatnonzero(full.any(axis=1))  # only beside a full row is there a border (few boxes: numpy's calls cost)
    if len(some) == 0:
        return lines
    # both edges in one pass: the rows from the top edge, then the same rows from the bottom edge
    sh, inn, ful = (np.concatenate([a[some], a[some, ::-1]]) for a in (share, inner, full))
    outside = ~inn  # rows outside the box let the runs through
    run = np.logical_and.accumulate((sh >= T.EDGE_LINE_SHARE) | outside, axis=1)
    inked = np.logical_and.accumulate((sh > 0) | outside, axis=1)
    deep = np.cumsum(inn, axis=1)  # how many rows inside the edge
    thin = ~(inked & (deep > depth + 1)).any(axis=1, keepdims=True)  # an empty row follows
    at = np.arange(sh.shape[1])
    last = np.where(run & (deep <= depth) & ful, at, -2).max(axis=1, keepdims=True)  # innermost full row
    edge = run & inn & (at <= last + 1) & thin
    lines[some] |= edge[: len(some)] | edge[len(some) :, ::-1]
    return lines


def _spill(ink: InkMap, lines: np.ndarray) -> np.ndarray:
    """Share of the ring ``SPILL_RING_MM`` outside each box's border, where it was found
    (``border_lines``), that holds ink (specks removed): a stroke over the edge, or one that missed
    the box. The ring follows the border as found, not as printed: a fold squeezes a box unevenly
    and a fax prints its border bold, and a ring of the printed size, placed by the box's centre,
    then lies on the border (held-out folded faxes: most of their clear marks sent to a person
    were sent for that). A line running
    along a side of the ring, across all of it, is printed matter (a table's rule that a fold
    brought near the box, the box's own border printed bold by a fax), not a stroke: a stroke over
    the edge crosses the ring."""
    a, b = (d * ink.k for d in T.SPILL_RING_MM)
    left, right, top, bottom = (lines[:, i][:, None, None] for i in range(4))
    largest = max(float((lines[:, 1] - lines[:, 0]).max()), float((lines[:, 3] - lines[:, 2]).max()))
    size = int(np.ceil(largest + 2 * b)) + 2
    x0 = np.floor(lines[:, 0] - b).astype(np.intp)
    y0 = np.floor(lines[:, 2] - b).astype(np.intp)
    ys, xs = _windows(x0, y0, size)
    cx, cy = xs + 0.5, ys + 0.5  # pixel centres
    outer = (cx > left - b) & (cx < right + b) & (cy > top - b) & (cy < bottom + b)
    ring = outer & ~((cx > left - a) & (cx < right + a) & (cy > top - a) & (cy < bottom + a))
    across = ring & ((cy < top - a) | (cy > bottom + a))  # above and below the box: rows run along
    down = ring & ~across  # left and right of it: columns run along
    on_map = (ys >= 0) & (ys < ink.h) & (xs >= 0) & (xs < ink.w)
    got = _take(ink.opened, ys, xs).astype(bool) & on_map & ring
    row_line = (got & across).sum(axis=2) >= T.STRAIGHT_LINE_SHARE * np.maximum(1, across.sum(axis=2))
    col_line = (got & down).sum(axis=1) >= T.STRAIGHT_LINE_SHARE * np.maximum(1, down.sum(axis=1))
    stroke = got & ~((row_line[:, :, None] & across) | (col_line[:, None, :] & down))
    n = (ring & on_map).reshape(len(lines), -1).sum(axis=1)
    s = stroke.reshape(len(lines), -1).sum(axis=1).astype(np.float64)
    return np.divide(s, n, out=np.zeros_like(s), where=n > 0)


def _inset(r: np.ndarray, d: np.ndarray | float) -> np.ndarray:
    d = np.asarray(d, dtype=np.float64).reshape(-1, 1)
    return r + np.hstack([d, d, -2 * d, -2 * d])


def _rects(rs) -> np.ndarray:
    return np.array([(r.x, r.y, r.w, r.h) for r in rs], dtype=np.float64).reshape(-1, 4)


def _moved(r: np.ndarray, shift: np.ndarray) -> np.ndarray:
    return r + np.hstack([shift, np.zeros_like(shift)])


def _circle_ink(ink: InkMap, zone: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """Ink in the band round each option's printed matter (``zone`` less ``hole``) where a circle
    drawn round it shows: the less inked of the band's halves above and below the middle of the
    printed matter. A loop goes round, through both halves; the printed label itself, moved against
    its box by a wavy or folded sheet, or a band of dirt along one edge, inks one half only."""
    mid = hole[:, 1] + hole[:, 3] / 2
    top = zone[:, 1]
    bottom = zone[:, 1] + zone[:, 3]
    upper = np.stack([zone[:, 0], top, zone[:, 2], np.maximum(0.0, mid - top)], axis=1)
    lower = np.stack([zone[:, 0], mid, zone[:, 2], np.maximum(0.0, bottom - mid)], axis=1)
    return np.minimum(ink.ink_many(upper, hole), ink.ink_many(lower, hole))


# --------------------------------------------------------------------------- dirt along the feed


def _profiles(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """An 8-bit map summed down each column, (1, W), and along each row's left and right half, (2, H)."""

    def sums(part: np.ndarray, axis: int) -> np.ndarray:
        return cv2.reduce(part, axis, cv2.REDUCE_SUM, dtype=cv2.CV_32S).ravel().astype(np.int64)

    w = a.shape[1] // 2
    return sums(a, 0)[None], np.stack([sums(a[:, :w], 1), sums(a[:, w:], 1)])


# every page of a form has the same blank paper in the same band: made once per page layout and
# band (a few of each per installation), keyed by the layout's id, which it keeps alive
_BLANK: dict[tuple, tuple[PageLayout, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}


def _layout_masks(page: PageLayout, h: int, w: int, origin: tuple[float, ...], k: float) -> tuple[np.ndarray, ...]:
    """For an (h, w) map of ``page`` from ``origin`` (mm) at ``k`` px/mm: 1 where it shows blank paper,
    the blank paper's sums ((1, w) down each column, (2, h) along each row left and right of the
    middle), 1 away from the checkboxes (as far as blank paper is), 1 within ``SHEET_LINE_BORDER_MM`` of
    a checkbox's printed border, and 1 everywhere but there."""
    key = (id(page), h, w, origin, k)
    if key not in _BLANK:

        def inside(rects: np.ndarray) -> np.ndarray:
            out = np.zeros((h, w), np.uint8)
            for x0, y0, x1, y1 in _pixel_bounds((rects - [*origin, 0.0, 0.0]) * k, h, w).tolist():
                out[y0:y1, x0:x1] = 1
            return out

        boxes = _rects(o.box for fp in page.fields for o in fp.options)
        boxed = inside(_inset(boxes, -T.DIRT_BOX_PAD_MM))
        free = (1 - (inside(_inset(_rects(page.printed), -T.FREE_PAPER_MARGIN_MM)) | boxed)).astype(np.uint8)
        d = T.SHEET_LINE_BORDER_MM
        borders = inside(_inset(boxes, -d)) & (1 - inside(_inset(boxes, d))).astype(np.uint8)
        unboxed, unbordered = (1 - boxed).astype(np.uint8), (1 - borders).astype(np.uint8)
        _BLANK[key] = (page, free, *_profiles(free), unboxed, borders, unbordered)
    return _BLANK[key][1:]


def sheet_masks(page: PageLayout, h: int, w: int, origin: tuple[float, float], k: float) -> SheetMasks:
    """Blank paper, all but the checkboxes, all but their borders, and their borders on an (h, w)
    map of ``page`` from ``origin`` (mm) at ``k`` px/mm (``clean.repair_sheet_lines``)."""
    free, _, _, unboxed, borders, unbordered = _layout_masks(page, h, w, origin, k)
    return SheetMasks(free, unboxed, unbordered, borders)


class BlankPaper:
    """The ink on the paper that a page's layout leaves blank, summed along each pixel column and
    row of its ink map (each row's left and right half on their own).

    Blank paper lies ``FREE_PAPER_MARGIN_MM`` from everything printed (``PageLayout.printed``:
    registration and the print's spread) and ``DIRT_BOX_PAD_MM`` from every checkbox, which holds a tick
    begun outside its box or a cross larger than it (the boxes where the layout puts them: a fold
    moves them less than the pad). A scanner's dirty drum, rollers or glass leave bands of dirt
    along the feed (or across it) that cross everything in their way, the blank paper between the
    boxes too; what a hand writes stays in and around its box or its comment area. A band runs the
    page's length: a row is dirty only if its blank paper is inked in both the left and the right
    half of the page. The blank paper of a row through the questions is mostly the margins at its
    two ends, and a band down one margin inks every row there. A column's blank paper lies all along
    it, between the sections."""

    def __init__(self, ink: InkMap, page: PageLayout):
        free, self.col_free, self.row_free, *_ = _layout_masks(
            page, ink.h, ink.w, tuple(ink.origin[:2].tolist()), ink.k
        )
        seen = cv2.bitwise_and(ink.opened, free)
        self.col_ink, self.row_ink = _profiles(seen)
        self.enough = T.DIRT_PAPER_MIN_MM2 * ink.k**2

    def along(self, bounds: np.ndarray) -> np.ndarray:
        """(N,) for pixel bounds x0, y0, x1, y1: the dirt along their columns or their rows,
        whichever is more (a share of the blank paper there; of a row, its less inked half's)."""
        x0, y0, x1, y1 = bounds.T

        def share(inked: np.ndarray, free: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
            z = np.zeros((len(inked), 1), np.int64)
            i, n = np.cumsum(np.hstack([z, inked]), axis=1), np.cumsum(np.hstack([z, free]), axis=1)
            got, paper = i[:, b] - i[:, a], n[:, b] - n[:, a]
            return np.where(paper >= self.enough / len(inked), got / np.maximum(paper, 1), 0.0).min(axis=0)

        return np.maximum(share(self.col_ink, self.col_free, x0, x1), share(self.row_ink, self.row_free, y0, y1))

    def bands(self, k: float) -> tuple[np.ndarray, np.ndarray]:
        """Which pixel columns and which rows lie in a band of dirt: those whose millimetre (around
        them) has ``DIRT_BAND_MIN`` of its blank paper inked (a row: in both of its halves)."""
        w = max(1, round(k))

        def banded(inked: np.ndarray, free: np.ndarray) -> np.ndarray:
            kernel = np.ones(w)
            out = np.ones(inked.shape[1], bool)
            for part, paper in zip(inked, free, strict=True):
                i, n = np.convolve(part, kernel, "same"), np.convolve(paper, kernel, "same")
                out &= (n >= self.enough / 10 / len(inked)) & (i >= T.DIRT_BAND_MIN * np.maximum(n, 1))
            return out

        return banded(self.col_ink, self.col_free), banded(self.row_ink, self.row_free)


def measure_page(
    ink: InkMap,
    fields: list[FieldPlacement],
    paper: BlankPaper | None = None,
    bilevel: bool = False,
    ruled: np.ndarray | None = None,
) -> dict[str, dict[str, BoxMeasure]]:
    """Every option box of a page at once, vectorised. ``paper``: the page's blank paper, to tell
    bands of dirt through the boxes; none given, no dirt is measured. ``bilevel``: the page was
    scanned in black and white (stored with each box). ``ruled``: the columns of lines down the
    sheet (``clean.repair_sheet_lines``), left out of the boxes' insides."""
    opts = [(fp.field.id, o) for fp in fields for o in fp.options]
    if not opts:
        return {}
    box = _rects(o.box for _, o in opts)
    shift, border = locate(ink, box)
    # a box whose own border is weak (a fill over it, a fold through it) keeps the shift of its
    # question's clearly found boxes: the paper moves boxes of one question together
    fids = [fid for fid, _ in opts]
    for fid in set(fids):
        idx = np.array([i for i, f in enumerate(fids) if f == fid])
        trusted = border[idx] >= T.BORDER_TRUST
        if trusted.any() and not trusted.all():
            shift[idx[~trusted]] = np.median(shift[idx[trusted]], axis=0)
    lines, bent = border_lines(ink, box, shift)
    box = _moved(box, shift)
    size = int(round(float(np.median(_inset(box, T.BOX_INSET_MM)[:, 2])) * ink.k))
    ink_px, dark_px, inside, lined = _interiors(ink, lines, size, ruled)
    clean, strokes = despeckle(ink_px)
    specks = ink_px - clean
    straight = _straight_lines(clean, inside)
    clean, strokes = clean * ~straight, strokes * ~_straight_lines(strokes, inside)
    n = np.maximum(1.0, inside.reshape(len(opts), -1).sum(axis=1))
    ink_share = clean.reshape(len(opts), -1).sum(axis=1) / n
    stroke_share = strokes.reshape(len(opts), -1).sum(axis=1) / n
    c0 = int(round((T.CORE_INSET_MM - T.BOX_INSET_MM) * ink.k))
    core = _share(clean[:, c0 : size - c0, c0 : size - c0], lined[:, c0 : size - c0, c0 : size - c0])
    # a printed line inside the box is no mark's grey either
    darkness = (dark_px.astype(np.float64) * (1 - specks) * ~straight).reshape(len(opts), -1).sum(axis=1) / (n * 255.0)
    # reach: the interior cut into 3x3 cells, how many hold ink
    edges = np.rint(np.linspace(0, size, 4)).astype(int)
    cells = np.stack(
        [
            _share(
                clean[:, edges[i] : edges[i + 1], edges[j] : edges[j + 1]],
                lined[:, edges[i] : edges[i + 1], edges[j] : edges[j + 1]],
            )
            for i in range(3)
            for j in range(3)
        ]
    )
    reach = (cells >= T.REACH_CELL_INK).sum(axis=0) / 9
    spill = _spill(ink, lines)
    zone = _moved(_rects(o.zone for _, o in opts), shift)
    hole = _moved(_rects(o.hole for _, o in opts), shift)
    label = ink.ink_many(zone, hole)
    circle = _circle_ink(ink, zone, hole)
    moved = np.hypot(*shift.T)
    speck_share = specks.reshape(len(opts), -1).sum(axis=1) / n
    dirt = paper.along(ink._bounds(_inset(box, T.BOX_INSET_MM))) if paper is not None else np.zeros(len(opts))
    cols = np.stack(
        [ink_share, core, darkness, spill, label, reach, border, moved, stroke_share, speck_share, bent, circle, dirt]
        + [np.full(len(opts), float(bilevel))],
        1,
    )
    out: dict[str, dict[str, BoxMeasure]] = {}
    for (fid, o), row in zip(opts, cols.tolist(), strict=True):
        out.setdefault(fid, {})[o.value] = BoxMeasure(*row)
    return out


def text_ink(ink: InkMap, areas: list[Rect], paper: BlankPaper | None = None) -> list[float]:
    """Share of each free-text area (inside its dotted border, found again on the page) covered by
    writing: strokes of a pen, not specks (a copier's grain), not straight lines running along the
    area (a crease, a border pushed inside by a fold), not the border's dashes reaching in from
    its edge, and not the columns or rows where a band of dirt crosses the page (``paper``)."""
    if not areas:
        return []
    r = _rects(areas)
    # each area on its own, by its own border (areas are far apart: no neighbour guides another);
    # an area's dotted border is not printed bold, and allowing for it moved empty areas onto ink
    # (held-out folded pages: 92.6 % of empty areas called empty with the slack, 96.3 % without)
    shift, _ = _first_look(ink, ink.px(r), round(T.LOCATE_REACH_MM * ink.k), slack=0)
    bounds = ink._bounds(_inset(_moved(r, shift / ink.k), T.TEXT_INSET_MM))
    cols, rows = paper.bands(ink.k) if paper is not None else (np.zeros(ink.w, bool), np.zeros(ink.h, bool))
    return [
        _writing(ink.ink[y0:y1, x0:x1] * ~(rows[y0:y1, None] | cols[None, x0:x1]), ink.k, rows[y0:y1], cols[x0:x1])
        for x0, y0, x1, y1 in bounds
    ]


def _writing(crop: np.ndarray, k: float, rows_out: np.ndarray, cols_out: np.ndarray) -> float:
    """The share of an area's ink map ``crop`` (px per mm ``k``) in strokes of writing; ``rows_out``
    and ``cols_out`` are its rows and columns left out (a band of dirt across them)."""
    if crop.size == 0:
        return 0.0
    found = Components(crop)
    stats = found.stats
    x, y = stats[:, cv2.CC_STAT_LEFT], stats[:, cv2.CC_STAT_TOP]
    w, h, area_px = stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT], stats[:, cv2.CC_STAT_AREA]
    longest = np.maximum(w, h)
    stroke = longest >= T.STROKE_MIN_MM * k
    thin = np.minimum(w, h) <= T.TEXT_LINE_MAX_THICK_MM * k
    line = thin & (longest >= T.TEXT_LINE_MIN_LONG_MM * k)
    # a cluster cut across by the area's edge or a row left out may be thin only because it is cut:
    # the top of a line of words whose rows a fold's crease had left out is not a broken line
    whole_rows, whole_cols = ~_cut(y, h, rows_out), ~_cut(x, w, cols_out)
    line |= _in_broken_line(x, w, y + h / 2, stroke & thin & (w > h) & whole_rows, k)
    line |= _in_broken_line(y, h, x + w / 2, stroke & thin & (h >= w) & whole_cols, k)
    at_edge = (x == 0) | (y == 0) | (x + w == crop.shape[1]) | (y + h == crop.shape[0])
    dash = at_edge & (longest <= T.TEXT_EDGE_DASH_MAX_MM * k)
    return float(area_px[stroke & ~line & ~dash & ~_blots(crop, found, k)].sum()) / crop.size


def _cut(start: np.ndarray, length: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Which clusters (``start`` and ``length`` in px along an axis of a crop whose lines ``out`` are
    left out) end against the crop's edge or a line left out on that axis."""
    beyond = np.concatenate([[True], out, [True]])  # index i + 1 is line i; the crop's edges are out
    return beyond[start] | beyond[start + length + 1]


def _in_broken_line(
    start: np.ndarray, length: np.ndarray, centre: np.ndarray, thin: np.ndarray, k: float
) -> np.ndarray:
    """Which of the ``thin`` clusters (start and length along a line, centre across it, in px) lie in
    a row with others that together span TEXT_LINE_MIN_LONG_MM: the pieces of one broken line."""
    out = np.zeros_like(thin)
    idx = np.flatnonzero(thin)
    if len(idx) < 2:
        return out
    together = np.abs(centre[idx, None] - centre[None, idx]) <= T.TEXT_LINE_MAX_THICK_MM * k
    lo = np.where(together, start[None, idx], np.inf).min(axis=1)
    hi = np.where(together, (start + length)[None, idx], -np.inf).max(axis=1)
    out[idx] = hi - lo >= T.TEXT_LINE_MIN_LONG_MM * k
    return out


def _blots(crop: np.ndarray, found: Components, k: float) -> np.ndarray:
    """Which clusters lie TEXT_SOLID_SHARE_MIN or more in solid patches wider than a pen's stroke."""
    side = round(T.TEXT_STROKE_MAX_MM * k)
    stats = found.stats
    if not (np.minimum(stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]) >= side).any():
        return np.zeros(found.count, bool)  # no cluster wide enough to hold a patch
    solid = cv2.morphologyEx(crop, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (side, side)))
    return found.share_in(solid) >= T.TEXT_SOLID_SHARE_MIN
