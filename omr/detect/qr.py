"""The sheet's QR code, looked for first where the layout printed it, then anywhere."""

from __future__ import annotations

import cv2
import numpy as np
import zxingcpp

from omr.detect.register import page_to_image
from omr.layout import qr_rect

QR_MARGIN_MM = 5.0  # around the printed symbol: quiet zone plus registration error
FULL_SEARCH_LONG_SIDE = 1400  # px: a whole-page search on a copy this big


def _decode(img: np.ndarray) -> str | None:
    for res in zxingcpp.read_barcodes(img, formats=zxingcpp.BarcodeFormat.QRCode):
        if res.valid and res.text:
            return res.text
    return None


def read_qr(gray: np.ndarray, H: np.ndarray | None) -> str | None:
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
