"""The sheet's QR code, looked for first where the layout printed it, then anywhere."""

from __future__ import annotations

import cv2
import numpy as np
import zxingcpp

from omr.detect.register import page_to_image, warp
from omr.layout import qr_rect

QR_MARGIN_MM = 5.0  # around the printed symbol: quiet zone plus registration error
FULL_SEARCH_LONG_SIDE = 1400  # px: a whole-page search on a copy this big
# A phone photo's code can be too soft for the decoder as it is: it is resampled upright at this
# resolution (4 px a module) and sharpened by an unsharp mask of this radius and strength.
PHOTO_QR_PX_PER_MM = 6.0
PHOTO_QR_SHARPEN = (0.4, 1.0)  # Gaussian sigma in mm, weight of the detail added back


def _decode(img: np.ndarray) -> str | None:
    for res in zxingcpp.read_barcodes(img, formats=zxingcpp.BarcodeFormat.QRCode):
        if res.valid and res.text:
            return res.text
    return None


def _decode_sharpened(gray: np.ndarray, H: np.ndarray) -> str | None:
    """The code resampled upright (perspective removed) and sharpened: for a soft phone photo."""
    r, m = qr_rect(), QR_MARGIN_MM
    k = PHOTO_QR_PX_PER_MM
    upright = warp(gray, H, k, (r.x - m, r.y - m, r.w + 2 * m, r.h + 2 * m))
    sigma, weight = PHOTO_QR_SHARPEN
    soft = cv2.GaussianBlur(upright, (0, 0), sigma * k)
    return _decode(cv2.addWeighted(upright, 1 + weight, soft, -weight, 0))


def read_qr(gray: np.ndarray, H: np.ndarray | None, photo: bool = False) -> str | None:
    """The code's text, or None. ``photo``: the image is a phone photo (``H`` found by the photo search)."""
    if H is not None and photo:
        text = _decode_sharpened(gray, H)
        if text:
            return text
    if H is not None:
        r = qr_rect()
        m = QR_MARGIN_MM
        corners = np.array(
            [[r.x - m, r.y - m], [r.x + r.w + m, r.y - m], [r.x + r.w + m, r.y + r.h + m], [r.x - m, r.y + r.h + m]]
        )
        pts = page_to_image(H, corners)
        x0, y0 = np.floor(pts.min(axis=0)).astype(int)
        x1, y1 = np.ceil(pts.max(axis=0)).astype(int)
        crop = gray[max(0, y0) : max(0, y1), max(0, x0) : max(0, x1)]
        if crop.size:
            text = _decode(np.ascontiguousarray(crop))
            if text:
                return text
    h, w = gray.shape
    f = min(1.0, FULL_SEARCH_LONG_SIDE / max(h, w))
    small = gray if f == 1.0 else cv2.resize(gray, (round(w * f), round(h * f)), interpolation=cv2.INTER_AREA)
    return _decode(small) or (None if f == 1.0 else _decode(gray))
