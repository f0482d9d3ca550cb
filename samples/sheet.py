"""The printed sheet as a raster: the real PDF rendered once, then each sheet's own QR code and serial.

Rendering the renderer's actual PDF (not a re-drawing of it) keeps the generated pages true to what
is printed; only what differs from sheet to sheet — the signed QR code and the serial digits — is
painted per sheet, into the places ``omr.sheet.layout`` and the renderer put them.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

import cv2
import numpy as np
import pypdfium2 as pdfium
from PIL import Image, ImageDraw, ImageFont

from omr.sheet import identity
from omr.sheet.fonts import FONT_DIR
from omr.sheet.layout import PAGE_H, PAGE_W, FormLayout, Rect, layout, qr_rect
from omr.sheet.render import UnitHeading, qr_modules, render
from omr.sheet.templates import Form, Variant

MASTER_DPI = 300  # marks are painted at this resolution, then the "scanner" resamples
SERIAL_PT = 8  # the renderer's serial label size (only used to redraw the digits)
_DUMMY_KEY = b"samples-dummy-key"


@dataclass(frozen=True)
class Master:
    """One printed page of a form at MASTER_DPI, with where its per-sheet parts are."""

    img: np.ndarray  # uint8, read-only: copy before painting
    kx: float  # px per mm, horizontally
    ky: float
    qr_px: tuple[int, int, int, int]  # x0, y0, x1, y1
    digits_px: tuple[int, int, int, int] | None  # the serial's digits; None if not found


def rasterise(pdf: bytes | Path, dpi: int) -> list[np.ndarray]:
    """A PDF as a scanner would see it: one grey image per page."""
    doc = pdfium.PdfDocument(pdf if isinstance(pdf, bytes) else str(pdf))
    try:
        pages = []
        for i in range(len(doc)):
            bmp = doc[i].render(scale=dpi / 72, grayscale=True)
            pages.append(np.array(bmp.to_numpy()).reshape(bmp.height, bmp.width))
        return pages
    finally:
        doc.close()


def _render_sheet(fl: FormLayout, unit: str, heading: UnitHeading, serial: str) -> list[np.ndarray]:
    buf = io.BytesIO()
    render(buf, fl, unit, [serial], _DUMMY_KEY, heading)
    return rasterise(buf.getvalue(), MASTER_DPI)


def _rect_px(r: Rect, kx: float, ky: float) -> tuple[int, int, int, int]:
    return round(r.x * kx), round(r.y * ky), round((r.x + r.w) * kx), round((r.y + r.h) * ky)


@lru_cache(maxsize=8)
def masters(form: Form, variant: Variant, unit: str, heading: UnitHeading, serial_len: int) -> tuple[Master, ...]:
    """Every page of the form, rendered once per stack configuration (FormLayout is not hashable)."""
    fl = layout(form, variant)
    zeros = _render_sheet(fl, unit, heading, "0" * serial_len)
    # A second render with other digits shows where the serial is printed, wherever the renderer
    # puts it: the only differences outside the QR code are the digits.
    eights = _render_sheet(fl, unit, heading, "8" * serial_len)
    out = []
    for a, b in zip(zeros, eights, strict=True):
        h, w = a.shape
        kx, ky = w / PAGE_W, h / PAGE_H
        qx0, qy0, qx1, qy1 = _rect_px(qr_rect(), kx, ky)
        diff = cv2.absdiff(a, b) > 40
        diff[max(qy0 - 4, 0) : qy1 + 4, max(qx0 - 4, 0) : qx1 + 4] = False
        ys, xs = np.nonzero(diff)
        digits = None
        if len(xs):
            digits = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
        a.setflags(write=False)
        out.append(Master(a, kx, ky, (qx0, qy0, qx1, qy1), digits))
    return tuple(out)


def paint_qr(img: np.ndarray, m: Master, payload: str) -> None:
    """Replace the dummy QR code with this sheet's signed one, module for module."""
    x0, y0, x1, y1 = m.qr_px
    dark = qr_modules(payload)
    cells = cv2.resize(dark.astype(np.uint8), (x1 - x0, y1 - y0), interpolation=cv2.INTER_NEAREST)
    img[y0:y1, x0:x1] = np.where(cells > 0, 0, 255).astype(np.uint8)


@cache
def _digit_font(px: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT_DIR / "NotoSans-Bold.ttf"), px)


def paint_serial(img: np.ndarray, m: Master, serial: str) -> None:
    """Redraw the serial's digits where the dummy ones were (right and baseline aligned)."""
    if m.digits_px is None:
        return
    x0, y0, x1, y1 = m.digits_px
    font = _digit_font(round(SERIAL_PT / 72 * MASTER_DPI))
    left, top, right, bottom = font.getbbox(serial)
    tile = Image.new("L", (right + 4, bottom + 4), 255)
    ImageDraw.Draw(tile).text((0, 0), serial, font=font, fill=0)
    glyphs = np.asarray(tile)[top:bottom, left:right]
    img[y0 - 1 : y1 + 1, x0 - 1 : x1 + 1] = 255
    gh, gw = glyphs.shape
    ty0, tx0 = max(y1 - gh, 0), max(x1 - gw, 0)
    region = img[ty0:y1, tx0:x1]
    np.minimum(region, glyphs[gh - region.shape[0] :, gw - region.shape[1] :], out=region)


def sheet_page(
    m: Master, fl: FormLayout, unit: str, serial: str, page: int, key: bytes
) -> tuple[np.ndarray, identity.SheetIdentity]:
    """A fresh, unfilled raster of one page of one sheet, as printed."""
    ident = identity.SheetIdentity(fl.form.id, fl.form.version, unit, serial, page, fl.variant.code())
    img = m.img.copy()
    paint_qr(img, m, identity.encode(ident, key))
    paint_serial(img, m, serial)
    return img, ident
