"""Connected components of a black-and-white image: their labels, bounding boxes, areas and centres.

The same figures as ``cv2.connectedComponentsWithStats``, taken from ``cv2.connectedComponents``'s
labels: OpenCV 5's statistics pass costs ten to fifteen times its labelling (1.1 ms against 0.09 ms on
the markers' 500-px copy of a page, and it runs on every box and comment area too), while the pixels
the statistics are made of, the ink, are a few per cent of an image. Each figure is computed when
first asked for: finding a marker's centre needs no bounding boxes, a comment area's strokes no centres.
"""

from __future__ import annotations

from functools import cached_property

import cv2
import numpy as np


class Components:
    """The 8-connected components of an image's non-zero pixels. Row i - 1 of ``stats`` and
    ``centroids`` is component i (``labels`` == i); the background (0) has no row."""

    def __init__(self, bw: np.ndarray):
        n, self.labels = cv2.connectedComponents(bw, connectivity=8, ltype=cv2.CV_32S)
        self.count = n - 1
        # the labelled pixels, row by row (OpenCV's search is ten times numpy.nonzero's here)
        found = cv2.findNonZero(bw)
        self._xs, self._ys = np.zeros((2, 0), np.int32) if found is None else found.reshape(-1, 2).T
        self._of = self.labels[self._ys, self._xs] - 1  # each labelled pixel's row

    @cached_property
    def areas(self) -> np.ndarray:
        return np.bincount(self._of, minlength=self.count)

    def share_in(self, mask: np.ndarray) -> np.ndarray:
        """(n,) share of each component's pixels where ``mask`` (same shape) is non-zero."""
        inside = np.bincount(self._of, weights=mask[self._ys, self._xs] > 0, minlength=self.count)
        return inside / np.maximum(self.areas, 1)

    @cached_property
    def stats(self) -> np.ndarray:
        """(n, 5) int32 in the columns of ``cv2.CC_STAT_*``: left, top, width, height, area."""
        stats = np.empty((self.count, 5), np.int32)
        stats[:, cv2.CC_STAT_AREA] = self.areas
        for start, end, coord in (
            (cv2.CC_STAT_LEFT, cv2.CC_STAT_WIDTH, self._xs),
            (cv2.CC_STAT_TOP, cv2.CC_STAT_HEIGHT, self._ys),
        ):
            lo = np.full(self.count, np.iinfo(np.int32).max, np.int32)
            hi = np.full(self.count, -1, np.int32)
            np.minimum.at(lo, self._of, coord)
            np.maximum.at(hi, self._of, coord)
            stats[:, start], stats[:, end] = lo, hi - lo + 1
        return stats

    @cached_property
    def centroids(self) -> np.ndarray:
        """(n, 2) float64 x, y: coordinates summed exactly (whole numbers far below 2**53), then
        divided once, as OpenCV does."""
        sums = [np.bincount(self._of, weights=c, minlength=self.count) for c in (self._xs, self._ys)]
        return (np.stack(sums) / np.maximum(self.areas, 1)).T
