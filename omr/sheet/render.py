"""Draw survey sheets as an A4 PDF, exactly where ``omr.sheet.layout`` puts things.

The parts that are the same on every sheet (text, boxes, markers) are drawn once per page number as
a PDF form XObject and reused, so a thousand-sheet print run costs little more than its QR codes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import zxingcpp
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from omr.sheet import identity
from omr.sheet.fonts import font_name, text_width
from omr.sheet.layout import BOX_LINE, PAGE_H, PAGE_W, QR_SIZE, FormLayout, PageLayout, Rect, markers, qr_rect

SHEET_FOOTER = "Phiếu được máy đọc: xin đừng gấp, ghim hay viết đè lên các ô vuông đen ở góc phiếu."


@dataclass(frozen=True)
class UnitHeading:
    name: str  # "Phường Kiến Hưng"
    parent: str = ""  # "Thành phố Hà Nội"


def _y(y_mm: float) -> float:
    """reportlab measures from the bottom; the layout from the top."""
    return (PAGE_H - y_mm) * mm


def _rect(c: Canvas, r: Rect, fill: bool = False, stroke: bool = True) -> None:
    c.rect(r.x * mm, _y(r.y + r.h), r.w * mm, r.h * mm, stroke=int(stroke), fill=int(fill))


def _draw_static(c: Canvas, page: PageLayout, unit: UnitHeading) -> None:
    c.setFillGray(0)
    c.setStrokeGray(0)
    for r in markers().squares:
        _rect(c, r, fill=True, stroke=False)
    _rect(c, markers().orient, fill=True, stroke=False)  # top-left only: fixes orientation
    # unit heading, top left
    heading = [s for s in (unit.parent.upper(), unit.name.upper()) if s]
    for i, line in enumerate(heading):
        c.setFont(font_name(bold=i == len(heading) - 1), 9)
        c.drawCentredString(52 * mm, _y(22 + 5 * i), line)
    for t in page.texts:
        c.setFont(font_name(t.bold, t.italic), t.size)
        draw = {"left": c.drawString, "center": c.drawCentredString, "right": c.drawRightString}[t.align]
        draw(t.x * mm, _y(t.y), t.text)
    c.setLineWidth(0.25)
    for x0, y0, x1, y1 in page.lines:
        c.line(x0 * mm, _y(y0), x1 * mm, _y(y1))
    c.setLineWidth(BOX_LINE * mm)
    for fp in page.fields:
        for o in fp.options:
            _rect(c, o.box)
        if fp.area is not None:
            c.setStrokeGray(0.55)
            c.setLineWidth(0.2)
            c.setDash(1, 2)
            _rect(c, fp.area)
            c.setDash()
            c.setStrokeGray(0)
            c.setLineWidth(BOX_LINE * mm)
    for kind, r in page.examples:
        _rect(c, r)
        _example_mark(c, kind, r)
    c.setFont(font_name(italic=True), 7)
    c.setFillGray(0.35)
    c.drawCentredString(PAGE_W / 2 * mm, _y(PAGE_H - 4.5), SHEET_FOOTER)
    c.setFillGray(0)


def _example_mark(c: Canvas, kind: str, r: Rect) -> None:
    x0, y0, x1, y1 = r.x * mm, _y(r.y + r.h), (r.x + r.w) * mm, _y(r.y)
    c.saveState()
    c.setLineWidth(0.5)
    if kind == "fill":
        c.rect(x0, y0, x1 - x0, y1 - y0, stroke=0, fill=1)
    elif kind == "cross":
        c.line(x0 + 1, y0 + 1, x1 - 1, y1 - 1)
        c.line(x0 + 1, y1 - 1, x1 - 1, y0 + 1)
    else:  # tick
        p = c.beginPath()
        p.moveTo(x0 + 1.5, (y0 + y1) / 2)
        p.lineTo(x0 + (x1 - x0) * 0.4, y0 + 1.5)
        p.lineTo(x1 - 1, y1 - 1)
        c.drawPath(p, stroke=1, fill=0)
    c.restoreState()


def qr_modules(text: str) -> np.ndarray:
    """The QR symbol as a boolean module grid (True = dark), error correction level M."""
    code = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode, ec_level="M")
    return np.asarray(zxingcpp.write_barcode_to_image(code, scale=1, add_quiet_zones=False)) < 128


def _draw_qr(c: Canvas, text: str) -> None:
    dark = qr_modules(text)
    n = dark.shape[0]
    r = qr_rect()
    cell = QR_SIZE / n
    c.setFillGray(0)
    # one rectangle per horizontal run of dark modules keeps the PDF small and fast to draw
    for row in range(n):
        line = dark[row]
        edges = np.flatnonzero(np.diff(np.concatenate(([0], line.view(np.int8), [0]))))
        for start, stop in zip(edges[::2], edges[1::2], strict=True):
            c.rect(
                (r.x + start * cell) * mm,
                _y(r.y + (row + 1) * cell),
                (stop - start) * cell * mm,
                cell * mm + 0.01,
                stroke=0,
                fill=1,
            )


def render(
    out: Path | BinaryIO,
    fl: FormLayout,
    unit_code: str,
    serials: Iterable[str],
    key: bytes,
    unit: UnitHeading,
) -> int:
    """Write one sheet per serial (each sheet ``fl.form.pages`` pages); returns the number of PDF pages."""
    c = Canvas(str(out) if isinstance(out, Path) else out, pagesize=(PAGE_W * mm, PAGE_H * mm))
    c.setTitle(f"{fl.form.title} — {unit.name}")
    c.setAuthor(unit.name)
    for page in fl.pages:
        c.beginForm(f"static{page.number}")
        _draw_static(c, page, unit)
        c.endForm()
    n = 0
    qr = qr_rect()
    for serial in serials:
        for page in fl.pages:
            c.doForm(f"static{page.number}")
            ident = identity.SheetIdentity(
                fl.form.id, fl.form.version, unit_code, serial, page.number, fl.variant.code()
            )
            _draw_qr(c, identity.encode(ident, key))
            c.setFont(font_name(bold=True), 8)
            label = f"Số phiếu {serial}" + (f" · trang {page.number}/{fl.form.pages}" if fl.form.pages > 1 else "")
            w = text_width(label, 8, bold=True) / mm
            c.drawString((qr.x + qr.w - w) * mm, _y(qr.y + qr.h + 3.5), label)
            c.showPage()
            n += 1
    c.save()
    return n
