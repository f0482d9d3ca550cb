"""The one place that decides where everything sits on a sheet.

``layout(form, variant)`` turns a template into absolute positions, in millimetres from the top-left
corner of the page as printed at 100 %: alignment markers, the QR code, every text line, every
checkbox and every free-text area. The PDF renderer draws exactly these items, the reader measures
exactly these boxes, and the review page outlines exactly these boxes: nobody else computes a
position.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache, cached_property

from omr.sheet.fonts import text_width
from omr.sheet.templates import Field, Form, Section, Variant, get_form

PT = 25.4 / 72  # millimetres per point

PAGE_W, PAGE_H = 210.0, 297.0
MARGIN_X = 15.0
CONTENT_W = PAGE_W - 2 * MARGIN_X

# Alignment markers: four solid squares near the corners (the page's frame of reference, 8.5 mm in
# from each edge so a scanner cropping a few millimetres keeps them), plus one small square just
# right of the top-left marker that no other corner has, so the page's orientation is never in doubt.
MARKER_SIZE = 7.0
MARKER_INSET = 8.5
ORIENT_SIZE = 3.5
ORIENT_GAP = 3.0

# QR code with the sheet's identity, top right under the marker; the serial in digits below it.
QR_SIZE = 22.0
QR_X, QR_Y = PAGE_W - MARGIN_X - QR_SIZE, 17.0

BOX = 4.5  # checkbox side
BOX_LINE = 0.3  # checkbox border width, mm
BODY_TOP = 72.0
BODY_BOTTOM = PAGE_H - MARKER_INSET - MARKER_SIZE - 3.0

LABEL_PT = 9.0
OPTION_PT = 8.5
HEADING_PT = 10.0
ROW_H = 6.5  # one row of options
MATRIX_COL_W = 15.0
MATRIX_ROW_MIN = 7.0
CIRCLE_BAND = 1.0  # height of the bands above and below a label where a drawn circle shows
INLINE_TEXT_MAX_H = 10.0  # text areas this short sit beside their label


class LayoutError(ValueError):
    pass


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    w: float
    h: float

    @property
    def center(self) -> tuple[float, float]:
        return self.x + self.w / 2, self.y + self.h / 2

    def union(self, other: Rect) -> Rect:
        x0, y0 = min(self.x, other.x), min(self.y, other.y)
        x1 = max(self.x + self.w, other.x + other.w)
        y1 = max(self.y + self.h, other.y + other.h)
        return Rect(x0, y0, x1 - x0, y1 - y0)

    def as_list(self) -> list[float]:
        return [round(self.x, 2), round(self.y, 2), round(self.w, 2), round(self.h, 2)]


@dataclass(frozen=True)
class Text:
    text: str
    x: float
    y: float  # baseline
    size: float
    bold: bool = False
    italic: bool = False
    align: str = "left"  # left | center | right


@dataclass(frozen=True)
class OptionPlacement:
    value: str
    label: str
    box: Rect
    # Where a circle drawn round the option (instead of a mark in its box) would leave ink: the band
    # ``zone`` minus the printed matter inside ``hole``. Nothing is printed in zone - hole.
    zone: Rect
    hole: Rect


@dataclass(frozen=True)
class FieldPlacement:
    field: Field
    options: tuple[OptionPlacement, ...] = ()
    area: Rect | None = None  # free-text area
    bbox: Rect = Rect(0, 0, 0, 0)  # the question with its options: the review crop


@dataclass
class PageLayout:
    number: int
    texts: list[Text] = field(default_factory=list)
    lines: list[tuple[float, float, float, float]] = field(default_factory=list)  # x0, y0, x1, y1
    fields: list[FieldPlacement] = field(default_factory=list)
    examples: list[tuple[str, Rect]] = field(default_factory=list)  # ("tick"|"cross"|"fill", box)

    @cached_property
    def printed(self) -> tuple[Rect, ...]:
        """Rectangles covering what the renderer inks on this page besides the checkboxes: each text
        line by its font's metrics, rules, free-text areas, the drawn examples, the markers and the
        QR code (the unit's name and the footer lie above and below every question). The rest,
        less the boxes, is blank paper: any ink there was put by someone or something else."""
        out = [*markers().squares, markers().orient, qr_rect(), *(r for _, r in self.examples)]
        for t in self.texts:
            w = text_width(t.text, t.size, t.bold, t.italic) * PT
            x = {"left": t.x, "center": t.x - w / 2, "right": t.x - w}[t.align]
            em = t.size * PT  # stacked Vietnamese accents reach about an em above the baseline
            out.append(Rect(x, t.y - em, w, 1.3 * em))
        out += [Rect(min(x0, x1), min(y0, y1), abs(x1 - x0), abs(y1 - y0)) for x0, y0, x1, y1 in self.lines]
        out += [fp.area for fp in self.fields if fp.area is not None]
        return tuple(out)


@dataclass(frozen=True)
class Markers:
    squares: tuple[Rect, Rect, Rect, Rect]  # top-left, top-right, bottom-right, bottom-left
    orient: Rect

    @property
    def centers(self) -> list[tuple[float, float]]:
        return [r.center for r in self.squares]


@dataclass
class FormLayout:
    form: Form
    variant: Variant
    pages: list[PageLayout]

    def fields_on(self, page: int) -> list[FieldPlacement]:
        return self.pages[page - 1].fields

    def placement(self, field_id: str) -> FieldPlacement:
        for p in self.pages:
            for fp in p.fields:
                if fp.field.id == field_id:
                    return fp
        raise KeyError(field_id)


def markers() -> Markers:
    a, s = MARKER_INSET, MARKER_SIZE
    squares = (
        Rect(a, a, s, s),
        Rect(PAGE_W - a - s, a, s, s),
        Rect(PAGE_W - a - s, PAGE_H - a - s, s, s),
        Rect(a, PAGE_H - a - s, s, s),
    )
    orient = Rect(a + s + ORIENT_GAP, a + (s - ORIENT_SIZE) / 2, ORIENT_SIZE, ORIENT_SIZE)
    return Markers(squares, orient)


def qr_rect() -> Rect:
    return Rect(QR_X, QR_Y, QR_SIZE, QR_SIZE)


def wrap(text: str, width_mm: float, size: float, bold: bool = False) -> list[str]:
    """Greedy word wrap with the printed font's real metrics."""
    words, lines, cur = text.split(), [], ""
    for w in words:
        cand = f"{cur} {w}".strip()
        if cur and text_width(cand, size, bold) * PT > width_mm:
            lines.append(cur)
            cur = w
        else:
            cur = cand
    if cur:
        lines.append(cur)
    return lines or [""]


class _Flow:
    """Places items top-down on one page, failing loudly instead of running off the bottom."""

    def __init__(self, form: Form, page: PageLayout, top: float):
        self.form, self.page, self.y = form, page, top

    def need(self, h: float) -> None:
        if self.y + h > BODY_BOTTOM:
            raise LayoutError(
                f"{self.form.id}: trang {self.page.number} không đủ chỗ (cần thêm {self.y + h - BODY_BOTTOM:.0f} mm)"
            )

    def text_lines(self, text: str, size: float, *, bold=False, italic=False, x=MARGIN_X, width=CONTENT_W):
        lines = wrap(text, width, size, bold)
        lh = size * PT * 1.3
        self.need(lh * len(lines))
        for ln in lines:
            self.y += lh
            self.page.texts.append(Text(ln, x, self.y - lh * 0.25, size, bold, italic))
        return Rect(x, self.y - lh * len(lines), width, lh * len(lines))


def _list_field(flow: _Flow, f: Field) -> FieldPlacement:
    top = flow.y
    if f.kind == "text" and f.height_mm <= INLINE_TEXT_MAX_H:
        # a short answer (name, phone): label and writing line side by side
        flow.need(f.height_mm + 1)
        lw = text_width(f.label, LABEL_PT) * PT + 3
        flow.page.texts.append(Text(f.label, MARGIN_X, top + f.height_mm * 0.7, LABEL_PT))
        area = Rect(MARGIN_X + lw, top, CONTENT_W - lw, f.height_mm)
        flow.y += f.height_mm + 1
        return FieldPlacement(f, area=area, bbox=Rect(MARGIN_X, top, CONTENT_W, f.height_mm))
    label_rect = flow.text_lines(f.label, LABEL_PT)
    if f.kind == "text":
        flow.need(f.height_mm + 2)
        area = Rect(MARGIN_X, flow.y + 0.5, CONTENT_W, f.height_mm)
        flow.y += f.height_mm + 3
        return FieldPlacement(f, area=area, bbox=label_rect.union(area))
    widths = [BOX + 1.5 + text_width(o.label, OPTION_PT) * PT + 4 for o in f.options]
    indent = 4.0
    avail = CONTENT_W - indent
    cols = f.columns or max(1, min(len(widths), int(avail // max(widths))))
    col_w = avail / cols
    if max(widths) > col_w:
        raise LayoutError(f"{flow.form.id}: câu {f.id}: nhãn lựa chọn quá dài cho {cols} cột")
    rows = -(-len(f.options) // cols)
    flow.need(rows * ROW_H + 1)
    opts = []
    for i, o in enumerate(f.options):
        r, c = divmod(i, cols)
        bx = MARGIN_X + indent + c * col_w
        by = flow.y + 1 + r * ROW_H
        box = Rect(bx, by, BOX, BOX)
        lx = bx + BOX + 1.5
        base = by + BOX / 2 + OPTION_PT * PT * 0.35
        flow.page.texts.append(Text(o.label, lx, base, OPTION_PT))
        lw = text_width(o.label, OPTION_PT) * PT
        text = Rect(lx - 0.3, by - 0.3, lw + 0.6, BOX + 0.6)
        zone = Rect(text.x, text.y - CIRCLE_BAND, text.w + CIRCLE_BAND, text.h + 2 * CIRCLE_BAND)
        opts.append(OptionPlacement(o.value, o.label, box, zone, text))
    flow.y += rows * ROW_H + 2
    bbox = label_rect.union(Rect(MARGIN_X, top, CONTENT_W, flow.y - top))
    return FieldPlacement(f, tuple(opts), bbox=bbox)


def _matrix(flow: _Flow, s: Section) -> list[FieldPlacement]:
    assert s.scale is not None
    n = len(s.scale.options)
    label_w = CONTENT_W - n * MATRIX_COL_W
    col_x = [MARGIN_X + label_w + i * MATRIX_COL_W for i in range(n)]
    head_lines = [wrap(o.label, MATRIX_COL_W - 1, 7.0, True) for o in s.scale.options]
    head_h = max(len(h) for h in head_lines) * 7.0 * PT * 1.25 + 1.5
    flow.need(head_h + MATRIX_ROW_MIN)
    for x, lines in zip(col_x, head_lines, strict=True):
        for j, ln in enumerate(lines):
            flow.page.texts.append(
                Text(ln, x + MATRIX_COL_W / 2, flow.y + (j + 1) * 7.0 * PT * 1.25, 7.0, bold=True, align="center")
            )
    flow.y += head_h
    placements = []
    for f in s.fields:
        lines = wrap(f.label, label_w - 2, OPTION_PT)
        lh = OPTION_PT * PT * 1.25
        row_h = max(MATRIX_ROW_MIN, len(lines) * lh + 2.5)
        flow.need(row_h)
        top = flow.y
        flow.page.lines.append((MARGIN_X, top, MARGIN_X + CONTENT_W, top))
        text_top = top + (row_h - len(lines) * lh) / 2
        for j, ln in enumerate(lines):
            flow.page.texts.append(Text(ln, MARGIN_X + 1, text_top + (j + 0.78) * lh, OPTION_PT))
        opts = []
        for x, o in zip(col_x, f.options, strict=True):
            box = Rect(x + (MATRIX_COL_W - BOX) / 2, top + (row_h - BOX) / 2, BOX, BOX)
            # In a matrix the option's label is the column header; a circle round the box inside its
            # cell is what a person draws, so the cell (less the box) is where we look for one.
            cell = Rect(x + 1.0, top + 1.0, MATRIX_COL_W - 2.0, row_h - 2.0)
            hole = Rect(box.x - 1.0, box.y - 1.0, BOX + 2.0, BOX + 2.0)
            opts.append(OptionPlacement(o.value, o.label, box, cell, hole))
        flow.y += row_h
        placements.append(FieldPlacement(f, tuple(opts), bbox=Rect(MARGIN_X, top, CONTENT_W, row_h)))
    flow.page.lines.append((MARGIN_X, flow.y, MARGIN_X + CONTENT_W, flow.y))
    flow.y += 2
    return placements


INSTRUCTIONS = (
    "Cách đánh dấu: đánh dấu tích hoặc dấu X vào trong ô, như mẫu:",
    "Muốn bỏ một ô đã đánh dấu: tô kín ô đó rồi đánh dấu ô khác, như mẫu:",
)


def _header(form: Form, page: PageLayout) -> None:
    t = page.texts
    t.append(Text("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", 112, 22, 9.5, bold=True, align="center"))
    t.append(Text("Độc lập - Tự do - Hạnh phúc", 112, 27, 9.5, bold=True, align="center"))
    page.lines.append((90, 28.5, 134, 28.5))
    if page.number == 1:
        t.append(Text(form.title, PAGE_W / 2, 46, 13, bold=True, align="center"))
        if form.subtitle:
            t.append(Text(form.subtitle, PAGE_W / 2, 51.5, 10, italic=True, align="center"))
    else:
        t.append(Text(f"{form.title} (tiếp theo, trang {page.number})", PAGE_W / 2, 46, 11, bold=True, align="center"))
    # the marking instructions, with drawn examples, on every page
    y = 60.0
    t.append(Text(INSTRUCTIONS[0], MARGIN_X, y, 8.5, italic=True))
    ex_x = MARGIN_X + text_width(INSTRUCTIONS[0], 8.5, italic=True) * PT + 3
    for i, kind in enumerate(("tick", "cross")):
        page.examples.append((kind, Rect(ex_x + i * 8, y - 3.6, 4.0, 4.0)))
    t.append(Text(INSTRUCTIONS[1], MARGIN_X, y + 5.5, 8.5, italic=True))
    ex_x = MARGIN_X + text_width(INSTRUCTIONS[1], 8.5, italic=True) * PT + 3
    page.examples.append(("fill", Rect(ex_x, y + 5.5 - 3.6, 4.0, 4.0)))
    page.examples.append(("tick", Rect(ex_x + 8, y + 5.5 - 3.6, 4.0, 4.0)))


@cache
def layout(form: Form, variant: Variant = Variant()) -> FormLayout:
    resolved = form.resolved(variant)
    pages = [PageLayout(n) for n in range(1, form.pages + 1)]
    flows = {p.number: _Flow(form, p, BODY_TOP) for p in pages}
    for p in pages:
        _header(form, p)
    if form.intro:
        flows[1].text_lines(form.intro, LABEL_PT, italic=True)
        flows[1].y += 2
    for s in resolved.sections:
        flow = flows[s.page]
        if s.heading:
            flow.need(12)
            flow.y += 1.5
            flow.text_lines(s.heading, HEADING_PT, bold=True)
            flow.y += 1
        if s.layout == "matrix":
            flow.page.fields.extend(_matrix(flow, s))
        else:
            for f in s.fields:
                flow.page.fields.append(_list_field(flow, f))
                flow.y += 1
    last = flows[form.pages]
    if last.y + 8 <= BODY_BOTTOM:
        thanks = Text("Xin chân thành cảm ơn Ông/Bà!", PAGE_W / 2, BODY_BOTTOM - 1, 9.5, italic=True, align="center")
        last.page.texts.append(thanks)
    return FormLayout(resolved, variant, pages)


@cache
def layout_for(form_id: str, version: int | None = None, variant: Variant = Variant()) -> FormLayout:
    # cached by name as well: hashing a whole Form to find its cached layout costs a millisecond a page
    return layout(get_form(form_id, version), variant)


def layout_json(fl: FormLayout) -> dict:
    """The contract's ``omr forms layout --json`` shape."""
    fields = []
    for p in fl.pages:
        for fp in p.fields:
            f = fp.field
            item: dict = {"id": f.id, "page": p.number, "kind": f.kind, "label": f.label}
            if f.element:
                item["element"] = f.element
            if f.kind == "text":
                item["box_mm"] = fp.area.as_list() if fp.area else None
            else:
                item["options"] = [{"value": o.value, "label": o.label, "box_mm": o.box.as_list()} for o in fp.options]
            fields.append(item)
    return {
        "form": fl.form.id,
        "version": fl.form.version,
        "title": fl.form.title,
        "page_size_mm": [round(PAGE_W), round(PAGE_H)],  # whole millimetres, as CONTRACT.md writes them
        "pages": fl.form.pages,
        "variant": fl.variant.code(),
        "fields": fields,
    }
