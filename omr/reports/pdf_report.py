"""The PDF report a unit sends to the level above, laid out like an official Vietnamese report
(Nghị định 30/2020/NĐ-CP): the issuing unit top-left, the national motto top-right, the place and
date line, the title, the figures of ``omr.tally`` in tables and charts, an automatic assessment,
the signature block, and an annex with the period's handwritten comments as scanned.

Text is set in the shipped Noto Sans, so every diacritic prints on any machine. Numbers are
written the Vietnamese way ("81,3 %", "1.234").
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import BinaryIO

from PIL import Image as PILImage
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY, TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import (
    CondPageBreak,
    Flowable,
    Image,
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)
from sqlalchemy.orm import Session

from omr import config, tally
from omr.reports import charts
from omr.reports.fmt import NO_DATA, PAGE_STATUS_TEXT, long_date, num, pct, points, unit_place
from omr.tally import FormTally, Index, QuestionTally, TallyResult
from printing.fonts import font_name

PAGE_W, PAGE_H = A4
# margins of an administrative document: 30 mm left (binding), 15–20 mm right, 20 mm top and bottom
MARGIN_L, MARGIN_R, MARGIN_T, MARGIN_B = 30 * mm, 15 * mm, 20 * mm, 20 * mm
WIDTH = PAGE_W - MARGIN_L - MARGIN_R
MAX_COMMENTS = 40  # images in the annex; the rest are counted, and shown on the web pages
GRID = colors.HexColor("#9e9e9e")
HEAD_BG = colors.HexColor("#e8eef7")
LOW_BG = colors.HexColor("#fdebd9")
ADMIN_KINDS = ("province", "ward", "commune", "special")


@dataclass(frozen=True)
class _Styles:
    body: ParagraphStyle
    small: ParagraphStyle
    cell: ParagraphStyle
    cell_c: ParagraphStyle
    cell_r: ParagraphStyle
    head: ParagraphStyle
    h1: ParagraphStyle
    h2: ParagraphStyle
    title: ParagraphStyle
    subtitle: ParagraphStyle
    center: ParagraphStyle
    center_b: ParagraphStyle
    italic_r: ParagraphStyle
    caption: ParagraphStyle


def _styles() -> _Styles:
    reg, bold, ital = font_name(), font_name(bold=True), font_name(italic=True)

    def st(name: str, **kw) -> ParagraphStyle:
        base = {"fontName": reg, "fontSize": 11, "leading": 15}
        base.update(kw)
        return ParagraphStyle(name, **base)

    return _Styles(
        body=st("body", alignment=TA_JUSTIFY, firstLineIndent=10 * mm, spaceAfter=4),
        small=st("small", fontSize=9, leading=12),
        cell=st("cell", fontSize=8.5, leading=10.5),
        cell_c=st("cell_c", fontSize=8.5, leading=10.5, alignment=TA_CENTER),
        cell_r=st("cell_r", fontSize=8.5, leading=10.5, alignment=2),
        head=st("head", fontName=bold, fontSize=8, leading=10, alignment=TA_CENTER),
        h1=st("h1", fontName=bold, fontSize=11.5, spaceBefore=8, spaceAfter=4),
        h2=st("h2", fontName=bold, fontSize=10.5, spaceBefore=5, spaceAfter=3, leading=14),
        title=st("title", fontName=bold, fontSize=14, leading=18, alignment=TA_CENTER),
        subtitle=st("subtitle", fontName=bold, fontSize=12, leading=16, alignment=TA_CENTER),
        center=st("center", alignment=TA_CENTER, fontSize=11),
        center_b=st("center_b", fontName=bold, alignment=TA_CENTER, fontSize=11, leading=14),
        italic_r=st("italic_r", fontName=ital, alignment=TA_CENTER, fontSize=11),
        caption=st("caption", fontName=ital, fontSize=8, leading=10, alignment=TA_LEFT),
    )


class _Rule(Flowable):
    """A short centred line, as under the issuing unit's name and under the motto."""

    def __init__(self, width: float, above: float = 4, below: float = 3):
        super().__init__()
        self.line_w, self.above, self.below = width, above, below

    def wrap(self, avail_w: float, avail_h: float) -> tuple[float, float]:
        self.avail_w = avail_w
        return avail_w, self.above + self.below

    def draw(self) -> None:
        # the gap above clears the descenders of the line of text it underlines
        x0 = (self.avail_w - self.line_w) / 2
        self.canv.setLineWidth(0.6)
        self.canv.line(x0, self.below, x0 + self.line_w, self.below)


# --------------------------------------------------------------------------- pieces


def _issuer(result: TallyResult, unit_parent: str | None) -> tuple[str, str]:
    """(upper line, unit line) of the issuing unit, in capitals as on an official document."""
    u = result.unit
    if u is None:
        return "", "TỔNG HỢP TOÀN HỆ THỐNG"
    if u.kind in ADMIN_KINDS:
        return "ỦY BAN NHÂN DÂN", u.name.upper()
    return (unit_parent or "").upper(), u.name.upper()


def _header(result: TallyResult, s: _Styles, today: date) -> list[Flowable]:
    top, name = _issuer(result, result.unit.parent_name if result.unit else None)
    blank = "&nbsp;" * 10  # the number is written by hand when the report is registered
    number = f"Số:{blank}/BC-UBND" if result.unit and result.unit.kind in ADMIN_KINDS else f"Số:{blank}/BC"
    place = unit_place(result.unit_name) if result.unit else ""
    dated = f"{place}, {long_date(today)}" if place else long_date(today).capitalize()
    left = [
        Paragraph(top, s.center),
        Paragraph(f"<b>{name}</b>", s.center_b),
        _Rule(28 * mm),
        Paragraph(number, s.center),
    ]
    right = [
        Paragraph("<b>CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM</b>", s.center_b),
        Paragraph("<b>Độc lập - Tự do - Hạnh phúc</b>", s.center_b),
        _Rule(52 * mm),
        Spacer(1, 2),
        Paragraph(f"<i>{dated}</i>", s.italic_r),
    ]
    t = Table([[left, right]], colWidths=[WIDTH * 0.42, WIDTH * 0.58])
    t.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 0),
            ]
        )
    )
    period = result.period.label
    subject = result.unit_name if result.unit else "các đơn vị"
    return [
        t,
        Spacer(1, 8 * mm),
        Paragraph("BÁO CÁO", s.title),
        Paragraph(
            f"Kết quả khảo sát mức độ hài lòng của người dân, tổ chức đối với sự phục vụ của {subject}",
            s.subtitle,
        ),
        Paragraph(f"<b>{period[0].upper() + period[1:]}</b>", s.center_b),
        _Rule(40 * mm),
        Spacer(1, 4 * mm),
    ]


def _table(
    rows: list[list], widths: list[float], s: _Styles, *, highlight: list[int] | None = None, head_rows: int = 1
) -> Table:
    """A grid table; strings become paragraphs (first column left, the rest centred)."""
    data = []
    for r, row in enumerate(rows):
        out = []
        for c, v in enumerate(row):
            if isinstance(v, str):
                style = s.head if r < head_rows else (s.cell if c <= 1 and not v[:1].isdigit() else s.cell_c)
                out.append(Paragraph(v, style))
            else:
                out.append(v)
        data.append(out)
    t = Table(data, colWidths=widths, repeatRows=head_rows)
    style = [
        ("GRID", (0, 0), (-1, -1), 0.4, GRID),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("BACKGROUND", (0, 0), (-1, head_rows - 1), HEAD_BG),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]
    for r in highlight or []:
        style.append(("BACKGROUND", (0, r), (-1, r), LOW_BG))
    t.setStyle(TableStyle(style))
    return t


def _png(data: bytes, width: float) -> Image:
    w, h = PILImage.open(io.BytesIO(data)).size
    return Image(io.BytesIO(data), width=width, height=width * h / w)


def _verdict(ix: Index) -> str:
    if ix.meets_target is None:
        return NO_DATA
    return "Đạt" if ix.meets_target else "Chưa đạt"


def _change_words(ix: Index, prev_label: str) -> str:
    if ix.previous is None or ix.change is None:
        return f"kỳ trước ({prev_label}) chưa có số liệu để so sánh"
    if abs(ix.change) < 0.0005:
        return f"bằng kỳ trước ({prev_label}: {pct(ix.previous)})"
    way = "tăng" if ix.change > 0 else "giảm"
    return f"{way} {points(abs(ix.change)).lstrip('+')} điểm % so với kỳ trước ({prev_label}: {pct(ix.previous)})"


def _prev_label(result: TallyResult) -> str:
    return tally.Period.parse(result.period.previous).label


def _overview(result: TallyResult, s: _Styles) -> list[Flowable]:
    sh, ix = result.sheets, result.index
    out: list[Flowable] = [Paragraph("I. KẾT QUẢ CHUNG", s.h1)]
    rows = [
        [
            "Phiếu in trong kỳ",
            "Phiếu thu về trong kỳ",
            "Tỉ lệ thu về",
            "Thu về từ đầu năm",
            "Chỉ tiêu năm",
            "Đạt so với chỉ tiêu năm",
        ],
        [
            num(sh.printed),
            num(sh.returned),
            pct(sh.response_rate),
            num(sh.year_returned),
            num(sh.yearly_quota),
            pct(sh.quota_progress),
        ],
    ]
    out.append(Paragraph("1. Số phiếu khảo sát", s.h2))
    out.append(_table(rows, [WIDTH / 6] * 6, s))
    if sh.yearly_quota:
        behind = sh.quota_progress is not None and sh.quota_progress + 1e-9 < sh.expected_progress
        out.append(Spacer(1, 2))
        out.append(
            Paragraph(
                f"Đến hết kỳ báo cáo, tiến độ cần đạt theo thời gian là {pct(sh.expected_progress)} chỉ tiêu năm; "
                f"số phiếu thu về {'chưa đạt' if behind else 'đạt'} tiến độ.",
                s.small,
            )
        )
    out.append(Paragraph("2. Chỉ số hài lòng chung", s.h2))
    if ix.value is None:
        out.append(
            Paragraph(
                f"Trong kỳ chưa có câu trả lời nào về mức độ hài lòng ({num(result.responses)} phiếu được tính) "
                "nên chưa tính được chỉ số hài lòng.",
                s.body,
            )
        )
    else:
        target_words = f"{'đạt' if ix.meets_target else 'chưa đạt'} mục tiêu {pct(result.target, 0)}"
        out.append(
            Paragraph(
                "Chỉ số hài lòng chung (tỉ lệ câu trả lời “Rất hài lòng” và “Hài lòng” trên tổng số câu trả lời về "
                f"mức độ hài lòng) là <b>{pct(ix.value)}</b>, tính trên {num(ix.answered)} câu trả lời của "
                f"{num(result.responses)} phiếu; {target_words}; {_change_words(ix, _prev_label(result))}.",
                s.body,
            )
        )
    notes = []
    if result.pending_responses:
        notes.append(
            f"Còn <b>{num(result.pending_responses)}</b> phiếu có câu trả lời <b>đang chờ duyệt</b>; các câu này "
            "chưa được tính và sẽ được tính khi người duyệt quyết định."
        )
    left_out = {k: v for k, v in result.pages_by_status.items() if k not in ("accepted", "needs_review") and v}
    if left_out:
        parts = ", ".join(f"{num(n)} trang {PAGE_STATUS_TEXT.get(k, k)}" for k, n in left_out.items())
        notes.append(f"Không tính vào kết quả: {parts}.")
    for w in result.warnings:
        notes.append(f"Lưu ý: {w}.")
    for n in notes:
        out.append(Paragraph(n, s.body))
    return out


def _elements(result: TallyResult, s: _Styles) -> list[Flowable]:
    out: list[Flowable] = [CondPageBreak(60 * mm), Paragraph("II. CHỈ SỐ HÀI LÒNG THEO YẾU TỐ", s.h1)]
    if not any(f.elements for f in result.forms):
        out.append(Paragraph("Không có số liệu trong kỳ.", s.body))
    prev_label = tally.Period.parse(result.period.previous).short_label
    for f in result.forms:
        if len(result.forms) > 1:
            out.append(Paragraph(f"Mẫu phiếu: {f.title} ({num(f.responses)} phiếu)", s.h2))
        rows = [
            [
                "STT",
                "Yếu tố",
                "Số câu trả lời",
                "Chỉ số hài lòng",
                f"Kỳ trước ({prev_label})",
                "Thay đổi (điểm %)",
                "So với mục tiêu",
            ]
        ]
        low = []
        for i, e in enumerate(f.elements, 1):
            rows.append(
                [
                    str(i),
                    e.element,
                    num(e.index.answered),
                    pct(e.index.value),
                    pct(e.index.previous),
                    points(e.index.change),
                    _verdict(e.index),
                ]
            )
            if e.index.meets_target is False:
                low.append(i)
        rows.append(
            [
                "",
                "<b>Chung</b>",
                num(f.index.answered),
                f"<b>{pct(f.index.value)}</b>",
                pct(f.index.previous),
                points(f.index.change),
                _verdict(f.index),
            ]
        )
        w = [10 * mm, WIDTH - 10 * mm - 5 * 22 * mm, 22 * mm, 22 * mm, 22 * mm, 22 * mm, 22 * mm]
        out.append(_table(rows, w, s, highlight=low))
        if f.elements:
            out.append(Spacer(1, 3))
            out.append(_png(charts.index_chart_png(result, f.form_id, width_in=6.4), WIDTH * 0.85))
            out.append(
                Paragraph(
                    f"Biểu đồ: chỉ số hài lòng theo yếu tố, {result.period.label}; đường nét đứt là mục tiêu "
                    f"{pct(result.target, 0)}; n là số câu trả lời.",
                    s.caption,
                )
            )
    return out


def _scale_matrix(f: FormTally, qs: list[QuestionTally], s: _Styles) -> Table:
    """Index questions that share a scale: one row each, a column per option ("n (x %)")."""
    labels = [o.label for o in qs[0].options]
    head = ["Câu hỏi", *labels, "Để trống", "Chờ duyệt", "Chỉ số"]
    rows: list[list] = [head]
    low = []
    for r, q in enumerate(qs, 1):
        cells = [f"{num(o.count)}<br/>({pct(o.share)})" for o in q.options]
        rows.append([q.label, *cells, num(q.blank), num(q.pending), pct(q.index.value if q.index else None)])
        if q.index is not None and q.index.meets_target is False:
            low.append(r)
    n = len(labels) + 3
    col = 15.5 * mm
    return _table(rows, [WIDTH - n * col, *([col] * n)], s, highlight=low)


def _questions(result: TallyResult, s: _Styles) -> list[Flowable]:
    out: list[Flowable] = [CondPageBreak(50 * mm), Paragraph("III. KẾT QUẢ THEO TỪNG CÂU HỎI", s.h1)]
    if not result.forms:
        out.append(Paragraph("Không có số liệu trong kỳ.", s.body))
    for f in result.forms:
        if len(result.forms) > 1:
            out.append(Paragraph(f"Mẫu phiếu: {f.title}", s.h2))
        scaled: dict[tuple[str, ...], list[QuestionTally]] = {}
        others = []
        for q in f.questions:
            if q.index is not None:
                scaled.setdefault(tuple(o.value for o in q.options), []).append(q)
            else:
                others.append(q)
        for qs in scaled.values():
            out.append(Paragraph("Mức độ hài lòng (số câu trả lời và tỉ lệ trên số câu đã trả lời)", s.h2))
            out.append(_scale_matrix(f, qs, s))
        for q in others:
            rows = [["Lựa chọn", "Số lượng", "Tỉ lệ"]]
            for o in q.options:
                rows.append([o.label, num(o.count), pct(o.share)])
            rows.append(
                ["Đã trả lời / để trống / đang chờ duyệt", f"{num(q.answered)} / {num(q.blank)} / {num(q.pending)}", ""]
            )
            note = " (chọn được nhiều lựa chọn; tỉ lệ trên số phiếu có trả lời)" if q.kind == "multi" else ""
            out.append(
                KeepTogether(
                    [Paragraph(f"{q.label}{note}", s.h2), _table(rows, [WIDTH - 60 * mm, 30 * mm, 30 * mm], s)]
                )
            )
    return out


def _breakdowns(result: TallyResult, s: _Styles) -> list[Flowable]:
    out: list[Flowable] = []
    for f in result.forms:
        for b in f.breakdowns:
            if not b.rows:
                continue
            rows = [[b.label, "Số phiếu", "Số câu trả lời", "Chỉ số hài lòng", "So với mục tiêu"]]
            low = []
            for i, r in enumerate(b.rows, 1):
                rows.append([r.label, num(r.responses), num(r.index.answered), pct(r.index.value), _verdict(r.index)])
                if r.index.meets_target is False:
                    low.append(i)
            out.append(
                KeepTogether(
                    [
                        Paragraph(f"Chỉ số hài lòng theo {b.label[0].lower() + b.label[1:]}", s.h2),
                        _table(rows, [WIDTH - 4 * 25 * mm] + [25 * mm] * 4, s, highlight=low),
                    ]
                )
            )
    if out:
        out.insert(0, Paragraph("IV. CHỈ SỐ HÀI LÒNG THEO LĨNH VỰC VÀ QUẦY GIAO DỊCH", s.h1))
    return out


def _units(result: TallyResult, s: _Styles, number: str) -> list[Flowable]:
    if len(result.units) < 2 and not (result.units and not result.units[0].own):
        return []
    rows = [
        [
            "STT",
            "Đơn vị",
            "Phiếu được tính",
            "Chỉ số hài lòng",
            f"Kỳ trước ({tally.Period.parse(result.period.previous).short_label})",
            "Phiếu in trong kỳ",
            "Thu về từ đầu năm",
            "Chỉ tiêu năm",
            "Đạt so với chỉ tiêu",
        ]
    ]
    low = []
    for i, u in enumerate(result.units, 1):
        name = u.name + (" (trực tiếp)" if u.own else "")
        rows.append(
            [
                str(i),
                name,
                num(u.responses),
                pct(u.index.value),
                pct(u.index.previous),
                num(u.sheets.printed),
                num(u.sheets.year_returned),
                num(u.sheets.yearly_quota),
                pct(u.sheets.quota_progress),
            ]
        )
        if u.index.meets_target is False:
            low.append(i)
    w = [9 * mm, WIDTH - 9 * mm - 7 * 16.5 * mm, *([16.5 * mm] * 7)]
    return [
        CondPageBreak(40 * mm),
        Paragraph(f"{number}. KẾT QUẢ THEO ĐƠN VỊ", s.h1),
        _table(rows, w, s, highlight=low),
    ]


def _trend(result: TallyResult, s: _Styles, number: str) -> list[Flowable]:
    return [
        CondPageBreak(70 * mm),
        Paragraph(f"{number}. DIỄN BIẾN CHỈ SỐ HÀI LÒNG 12 THÁNG GẦN NHẤT", s.h1),
        _png(charts.trend_chart_png(result, width_in=6.4), WIDTH * 0.9),
        Paragraph(
            "Biểu đồ: chỉ số hài lòng chung từng tháng (dưới tên tháng là số phiếu của tháng); "
            "đường nét đứt là mục tiêu.",
            s.caption,
        ),
    ]


def _assessment(result: TallyResult, s: _Styles, number: str) -> list[Flowable]:
    """Plain sentences drawn from the figures, so the report can go out as it is."""
    lines = []
    ix = result.index
    if ix.value is None:
        lines.append("Trong kỳ chưa có câu trả lời về mức độ hài lòng.")
    else:
        lines.append(
            f"Chỉ số hài lòng chung đạt {pct(ix.value)}, "
            f"{'đạt' if ix.meets_target else 'chưa đạt'} mục tiêu {pct(result.target, 0)}."
        )
    elements = [(e, f) for f in result.forms for e in f.elements if e.index.value is not None]
    low = [e for e, _f in elements if e.index.meets_target is False]
    if low:
        lines.append("Các yếu tố chưa đạt mục tiêu: " + _lowest([(e.element, e.index) for e in low]) + ".")
    elif elements:
        lines.append("Tất cả các yếu tố đều đạt mục tiêu.")
    if len(elements) > 1:
        best = max(elements, key=lambda ef: ef[0].index.value or 0)[0]
        worst = min(elements, key=lambda ef: ef[0].index.value or 0)[0]
        lines.append(
            f"Yếu tố có chỉ số cao nhất: {best.element} ({pct(best.index.value)}); thấp nhất: "
            f"{worst.element} ({pct(worst.index.value)})."
        )
    for f in result.forms:
        for b in f.breakdowns:
            rated = [r for r in b.rows if r.index.value is not None]
            below = [r for r in rated if r.index.meets_target is False]
            if below:
                lines.append(
                    f"{b.label}: {num(len(below))}/{num(len(rated))} chưa đạt mục tiêu, thấp nhất là "
                    + _lowest([(r.label, r.index) for r in below])
                    + "."
                )
    sh = result.sheets
    if sh.printed:
        lines.append(f"Số phiếu thu về bằng {pct(sh.response_rate)} số phiếu in trong kỳ.")
    if result.comments:
        lines.append(f"Có {num(result.comments)} ý kiến viết tay của người dân, tổ chức (xem Phụ lục).")
    out: list[Flowable] = [CondPageBreak(40 * mm), Paragraph(f"{number}. ĐÁNH GIÁ CHUNG", s.h1)]
    out += [Paragraph(f"- {line}", s.body) for line in lines]
    out.append(
        Paragraph(
            "Trên đây là báo cáo kết quả khảo sát mức độ hài lòng của người dân, tổ chức "
            f"{result.period.label} của {result.unit_name if result.unit else 'các đơn vị'}.",
            s.body,
        )
    )
    return out


def _lowest(items: list[tuple[str, Index]], shown: int = 5) -> str:
    """The lowest few, lowest first: "A (71,4 %); B (80,0 %) và 3 mục khác"."""
    items = sorted(items, key=lambda it: it[1].value or 0)
    text = "; ".join(f"{name} ({pct(ix.value)})" for name, ix in items[:shown])
    return text + (f" và {num(len(items) - shown)} mục khác" if len(items) > shown else "")


def _signatures(s: _Styles) -> Flowable:
    cell = ParagraphStyle("sig", parent=s.center_b)
    note = ParagraphStyle("sign", parent=s.italic_r, fontSize=10)
    left = [Paragraph("NGƯỜI LẬP BIỂU", cell), Paragraph("(Ký, ghi rõ họ tên)", note), Spacer(1, 24 * mm)]
    right = [Paragraph("THỦ TRƯỞNG ĐƠN VỊ", cell), Paragraph("(Ký tên, đóng dấu)", note), Spacer(1, 24 * mm)]
    t = Table([[left, right]], colWidths=[WIDTH / 2, WIDTH / 2])
    t.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
    recipients = [
        Paragraph("<b><i>Nơi nhận:</i></b>", s.small),
        Paragraph("- Cơ quan cấp trên (để báo cáo);", s.small),
        Paragraph("- Lưu: VT.", s.small),
    ]
    return KeepTogether([Spacer(1, 6 * mm), t, *recipients])


def _annex(session: Session, result: TallyResult, s: _Styles) -> list[Flowable]:
    found = tally.comments(
        session, result.period.code, result.unit.code if result.unit else None, result.form_id, limit=MAX_COMMENTS
    )
    out: list[Flowable] = [
        PageBreak(),
        Paragraph("PHỤ LỤC", s.title),
        Paragraph(f"Ý kiến viết tay của người dân, tổ chức trên phiếu khảo sát, {result.period.label}", s.subtitle),
        Spacer(1, 4 * mm),
    ]
    if not found:
        out.append(Paragraph("Trong kỳ không có ý kiến viết tay.", s.center))
        return out
    home = config.home()
    for c in found:
        caption = Paragraph(
            f"Phiếu số {c.serial} · {c.unit_code} · ngày quét {c.scanned:%d/%m/%Y} · {c.label}"
            if c.scanned
            else f"Phiếu số {c.serial} · {c.label}",
            s.caption,
        )
        try:
            data = (home / c.image_path).read_bytes()
            img = _png(_as_png(data), WIDTH * 0.9)
            if img.drawHeight > 60 * mm:  # a tall area: keep its shape, cap its height
                img.drawWidth, img.drawHeight = img.drawWidth * 60 * mm / img.drawHeight, 60 * mm
            out.append(KeepTogether([caption, img, Spacer(1, 3 * mm)]))
        except (OSError, ValueError):
            out.append(Paragraph(f"{caption.text} — không đọc được ảnh đã lưu.", s.caption))
    if result.comments > len(found):
        out.append(
            Paragraph(
                f"… và {num(result.comments - len(found))} ý kiến khác (xem trên trang Kết quả của ứng dụng).", s.small
            )
        )
    return out


def _as_png(data: bytes) -> bytes:
    """Stored areas are PNG, but accept any image the pipeline may keep (JPEG, TIFF)."""
    img = PILImage.open(io.BytesIO(data))
    if img.format == "PNG":
        return data
    buf = io.BytesIO()
    img.convert("L").save(buf, "PNG")
    return buf.getvalue()


def _last_day(result: TallyResult) -> date:
    return tally.Period.parse(result.period.code).last_day


def _page_number(canvas, doc) -> None:
    if doc.page > 1:  # an official document numbers its pages from the second, at the top centre
        canvas.saveState()
        canvas.setFont(font_name(), 10)
        canvas.drawCentredString(MARGIN_L + WIDTH / 2, PAGE_H - 12 * mm, str(doc.page))
        canvas.restoreState()


def write_pdf(session: Session, result: TallyResult, out: BinaryIO | Path, report_date: date | None = None) -> None:
    """The report into a binary stream or a file. ``report_date``: the date line (default today)."""
    s = _styles()
    today = report_date or datetime.now(tally.VN_TZ).date()
    story: list[Flowable] = []
    story += _header(result, s, today)
    story.append(
        Paragraph(
            f"Thực hiện kế hoạch khảo sát mức độ hài lòng của người dân, tổ chức, "
            f"{result.unit_name if result.unit else 'hệ thống'} báo cáo kết quả khảo sát {result.period.label} "
            f"(từ ngày {result.period.start:%d/%m/%Y} đến ngày {_last_day(result):%d/%m/%Y}) "
            "như sau:",
            s.body,
        )
    )
    story += _overview(result, s)
    story += _elements(result, s)
    story += _questions(result, s)
    story += _breakdowns(result, s)
    sections = iter(["V", "VI", "VII", "VIII"] if any(f.breakdowns for f in result.forms) else ["IV", "V", "VI", "VII"])
    units = _units(result, s, "")
    if units:
        units = _units(result, s, next(sections))
    story += units
    story += _trend(result, s, next(sections))
    story += _assessment(result, s, next(sections))
    story.append(_signatures(s))
    story += _annex(session, result, s)
    title = f"Báo cáo kết quả khảo sát mức độ hài lòng {result.period.label} - {result.unit_name}"
    doc = SimpleDocTemplate(
        str(out) if isinstance(out, Path) else out,
        pagesize=A4,
        leftMargin=MARGIN_L,
        rightMargin=MARGIN_R,
        topMargin=MARGIN_T,
        bottomMargin=MARGIN_B,
        title=title,
        author=result.unit_name,
        subject="Kết quả khảo sát mức độ hài lòng của người dân, tổ chức",
    )
    doc.build(story, onFirstPage=_page_number, onLaterPages=_page_number)
