"""The PDF report a unit sends to the level above, in the form Nghị định 30/2020/NĐ-CP sets for an
administrative document (Phụ lục I; Mẫu 1.1 Phụ lục III):

- the issuing unit top-left (its managing body above it, or "ỦY BAN NHÂN DÂN" above a ward), a short
  rule, and "Số: …/BC-UBND"; QUỐC HIỆU and TIÊU NGỮ top-right with a rule as long as the motto, and
  the place (the administrative place, never a school's name) and date in italics below;
- the title "BÁO CÁO" and the subject, the plan carried out ("Thực hiện Kế hoạch số …"), the body;
- at the end, "Nơi nhận:" at the left and the signature block (TM./KT./Q., the signer's title and
  name) at the right on the same level, kept on one page with the last paragraph;
- a serif metric-compatible with Times New Roman (the shipped Tinos, every Vietnamese diacritic),
  13 pt body, margins 20/20/30/15 mm, page numbers from the second page, top centre.

Page 1 carries a headline a leader reads in ten seconds: the index, the target met or not, sheets
against the quota, the change from the previous period. Every figure comes from ``omr.services.tally``; what is
shown first and what is left out (pooled counters) from ``omr.reports.rollup``; the unit's way of
signing from ``omr.reports.settings``. Every user-supplied text passes ``fmt.markup`` before it
becomes a paragraph.
"""

from __future__ import annotations

import io
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
    BaseDocTemplate,
    CondPageBreak,
    Flowable,
    Frame,
    Image,
    KeepTogether,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)
from sqlalchemy.orm import Session

from omr import config
from omr.reports import rollup
from omr.reports import settings as report_settings
from omr.reports.fmt import NO_DATA, long_date, markup, num, pct, points
from omr.reports.settings import ADMIN_KINDS, ReportSettings
from omr.services import tally
from omr.services.tally import FormTally, Index, QuestionTally, TallyResult
from omr.sheet.fonts import serif_name, text_width
from omr.vocab import COUNTED_STATUSES, PAGE_STATUS, VN_TZ

PAGE_W, PAGE_H = A4
# margins of an administrative document: 20–25 mm top and bottom, 30–35 mm left (binding), 15–20 mm right
MARGIN_L, MARGIN_R, MARGIN_T, MARGIN_B = 30 * mm, 15 * mm, 20 * mm, 20 * mm
WIDTH = PAGE_W - MARGIN_L - MARGIN_R
BODY_PT = 13  # the decree: 13–14 pt
GRID = colors.HexColor("#9e9e9e")
HEAD_BG = colors.HexColor("#e8eef7")
LOW_BG = colors.HexColor("#fdebd9")
OK_TEXT, LOW_TEXT = "#1b5e20", "#b71c1c"
LEFT_W = WIDTH * 0.42  # the issuing unit's column of the header and the "Nơi nhận" column


class _Styles:
    def __init__(self) -> None:
        reg, bold, ital = serif_name(), serif_name(bold=True), serif_name(italic=True)

        def st(name: str, **kw) -> ParagraphStyle:
            base = {"fontName": reg, "fontSize": BODY_PT, "leading": BODY_PT * 1.25}
            base.update(kw)
            return ParagraphStyle(name, **base)

        self.body = st("body", alignment=TA_JUSTIFY, firstLineIndent=10 * mm, spaceAfter=6)
        self.small = st("small", fontSize=11, leading=14)
        self.cell = st("cell", fontSize=10.5, leading=12.5)
        self.cell_c = st("cell_c", fontSize=10.5, leading=12.5, alignment=TA_CENTER)
        self.head = st("head", fontName=bold, fontSize=10, leading=12, alignment=TA_CENTER)
        self.h1 = st("h1", fontName=bold, spaceBefore=8, spaceAfter=4)
        self.h2 = st("h2", fontName=bold, fontSize=12, spaceBefore=5, spaceAfter=3, leading=15)
        self.title = st("title", fontName=bold, fontSize=14, leading=18, alignment=TA_CENTER)
        self.subject = st("subject", fontName=bold, fontSize=14, leading=18, alignment=TA_CENTER)
        self.center = st("center", alignment=TA_CENTER)
        self.center_b = st("center_b", fontName=bold, alignment=TA_CENTER)
        self.nation = st("nation", fontName=bold, fontSize=12, alignment=TA_CENTER)
        self.italic_c = st("italic_c", fontName=ital, alignment=TA_CENTER)
        self.caption = st("caption", fontName=ital, fontSize=10, leading=12, alignment=TA_LEFT)
        self.recv_head = st("recv_head", fontName=serif_name(bold=True, italic=True), fontSize=12, leading=14)
        self.recv = st("recv", fontSize=11, leading=13)
        self.box_label = st("box_label", fontSize=10, leading=12, alignment=TA_CENTER, textColor="#424242")
        self.box_value = st("box_value", fontName=bold, fontSize=20, leading=24, alignment=TA_CENTER)
        self.box_note = st("box_note", fontSize=10.5, leading=13, alignment=TA_CENTER)


class _Rule(Flowable):
    """A centred line, as under the issuing unit's name, under the motto and under the subject."""

    def __init__(self, width: float, above: float = 2, below: float = 3):
        super().__init__()
        self.line_w, self.above, self.below = width, above, below

    def wrap(self, avail_w: float, avail_h: float) -> tuple[float, float]:
        self.avail_w = avail_w
        return avail_w, self.above + self.below

    def draw(self) -> None:
        x0 = (self.avail_w - self.line_w) / 2
        self.canv.setLineWidth(0.6)
        self.canv.line(x0, self.below, x0 + self.line_w, self.below)


def _plain_table(rows: list[list], widths: list[float], valign: str = "TOP") -> Table:
    t = Table(rows, colWidths=widths)
    t.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), valign),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 0),
            ]
        )
    )
    return t


# --------------------------------------------------------------------------- the official parts


def issuer_lines(result: TallyResult) -> tuple[str | None, str]:
    """(managing body or None, issuing unit) in capitals. A ward's or province's People's Committee
    writes "ỦY BAN NHÂN DÂN" above its place; another office writes the unit it belongs to."""
    u = result.unit
    if u is None:
        return None, "TỔNG HỢP TOÀN HỆ THỐNG"
    if u.kind in ADMIN_KINDS:
        return "ỦY BAN NHÂN DÂN", u.name.upper()
    return (u.parent_name.upper() if u.parent_name else None), u.name.upper()


def subject_name(result: TallyResult) -> str:
    """The unit in a sentence: "UBND phường Kiến Hưng", "Trường Tiểu học Kiến Hưng"."""
    u = result.unit
    if u is None:
        return "các đơn vị"
    if u.kind in ADMIN_KINDS:
        return "UBND " + u.name[:1].lower() + u.name[1:]
    return u.name


def number_line(cfg: ReportSettings, number: str | None) -> str:
    """ "Số: 15/BC-UBND" as paragraph markup, or room for the number the clerk writes by hand."""
    if number:
        return f"Số: {markup(number)}/{markup(cfg.symbol)}"
    return f"Số:{'&nbsp;' * 12}/{markup(cfg.symbol)}"


def date_line(cfg: ReportSettings, day: date) -> str:
    return f"{cfg.place}, {long_date(day)}" if cfg.place else long_date(day).capitalize()


def _header(result: TallyResult, s: _Styles, cfg: ReportSettings, day: date, number: str | None) -> list[Flowable]:
    body, name = issuer_lines(result)
    left: list[Flowable] = []
    if body is not None:
        # a People's Committee's name is one name on two lines, all bold; a managing body is not
        admin = result.unit is not None and result.unit.kind in ADMIN_KINDS
        left.append(Paragraph(markup(body), s.center_b if admin else s.center))
    left.append(Paragraph(markup(name), s.center_b))
    name_w = min(text_width(name, BODY_PT, bold=True), LEFT_W)
    left += [_Rule(max(name_w / 3, 20 * mm)), Spacer(1, 2), Paragraph(number_line(cfg, number), s.center)]
    motto = "Độc lập - Tự do - Hạnh phúc"
    right: list[Flowable] = [
        Paragraph("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", s.nation),
        Paragraph(motto, s.center_b),
        _Rule(text_width(motto, BODY_PT, bold=True)),
        Spacer(1, 4),
        Paragraph(markup(date_line(cfg, day)), s.italic_c),
    ]
    return [_plain_table([[left, right]], [LEFT_W, WIDTH - LEFT_W])]


def _title(result: TallyResult, s: _Styles, as_of: date | None) -> list[Flowable]:
    out: list[Flowable] = [
        Spacer(1, 8 * mm),
        Paragraph("BÁO CÁO", s.title),
        Paragraph(
            "Kết quả khảo sát mức độ hài lòng của người dân, tổ chức đối với sự phục vụ của "
            f"{markup(subject_name(result))} {markup(result.period.label)}",
            s.subject,
        ),
    ]
    if as_of is not None:
        out.append(Paragraph(f"(Số liệu tính đến ngày {as_of:%d/%m/%Y})", s.italic_c))
    out += [_Rule(45 * mm, above=8, below=4), Spacer(1, 4 * mm)]
    return out


def _citation(result: TallyResult, s: _Styles, cfg: ReportSettings) -> Paragraph:
    plan = markup(cfg.plan) if cfg.plan else "kế hoạch khảo sát mức độ hài lòng của người dân, tổ chức"
    last = tally.Period.parse(result.period.code).last_day
    return Paragraph(
        f"Thực hiện {plan}, {markup(subject_name(result))} báo cáo kết quả khảo sát "
        f"{markup(result.period.label)} (từ ngày {result.period.start:%d/%m/%Y} đến ngày {last:%d/%m/%Y}) như sau:",
        s.body,
    )


def _ending(result: TallyResult, s: _Styles, cfg: ReportSettings, signer: str | None) -> Flowable:
    """The last paragraph, then "Nơi nhận:" at the left and the signature at the right on one level,
    all on one page: a signature is never alone on a page."""
    closing = Paragraph(
        "Trên đây là báo cáo kết quả khảo sát mức độ hài lòng của người dân, tổ chức "
        f"{markup(result.period.label)} của {markup(subject_name(result))}./.",
        s.body,
    )
    left: list[Flowable] = [Paragraph("Nơi nhận:", s.recv_head)]
    left += [Paragraph(markup(f"- {line}"), s.recv) for line in cfg.recipient_lines()]
    right: list[Flowable] = [Paragraph(markup(line), s.center_b) for line in cfg.signature_lines()]
    right.append(Spacer(1, 26 * mm))  # room for the signature and the seal
    name = signer or cfg.signer_name
    if name:
        right.append(Paragraph(markup(name), s.center_b))
    return KeepTogether([closing, Spacer(1, 4 * mm), _plain_table([[left, right]], [LEFT_W, WIDTH - LEFT_W])])


# --------------------------------------------------------------------------- figures


def _table(
    rows: list[list], widths: list[float], s: _Styles, *, highlight: list[int] | None = None, head_rows: int = 1
) -> Table:
    """A grid table. Strings are paragraph markup (user text already escaped by the caller): the
    first two columns left, the rest centred."""
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


def _prev(result: TallyResult) -> tally.Period:
    return tally.Period.parse(result.period.previous)


def headline(result: TallyResult) -> list[tuple[str, str, str]]:
    """The four facts of the page-1 box as (label, value, note): index, target, sheets, change."""
    ix, sh = result.index, result.sheets
    verdict = "CHƯA CÓ SỐ LIỆU" if ix.value is None else "ĐẠT" if ix.meets_target else "CHƯA ĐẠT"
    if sh.yearly_quota:
        sheets = f"{num(sh.year_returned)}/{num(sh.yearly_quota)}"
        sheets_note = f"phiếu từ đầu năm so với chỉ tiêu năm ({pct(sh.quota_progress)}); trong kỳ: {num(sh.returned)}"
    else:
        sheets = num(sh.returned)
        sheets_note = "phiếu thu về trong kỳ (chưa đặt chỉ tiêu năm)"
    prev = _prev(result).short_label
    if ix.change is None:
        change, change_note = NO_DATA, f"kỳ trước ({prev}) chưa có số liệu"
    else:
        change = f"{points(ix.change)} điểm %"
        change_note = f"so với kỳ trước ({prev}: {pct(ix.previous)})"
    return [
        ("Chỉ số hài lòng chung", pct(ix.value), f"{num(ix.answered)} câu trả lời, {num(result.responses)} phiếu"),
        (f"Mục tiêu ≥ {pct(result.target, 0)}", verdict, "Rất hài lòng + Hài lòng trên số câu đã trả lời"),
        ("Số phiếu", sheets, sheets_note),
        ("Thay đổi", change, change_note),
    ]


def _headline_box(result: TallyResult, s: _Styles) -> Table:
    facts = headline(result)
    cells = []
    for label, value, note in facts:
        color = ""
        if label.startswith("Mục tiêu") and result.index.meets_target is not None:
            color = OK_TEXT if result.index.meets_target else LOW_TEXT
        shown = f'<font color="{color}">{value}</font>' if color else value
        cells.append(
            [Paragraph(label.upper(), s.box_label), Paragraph(shown, s.box_value), Paragraph(note, s.box_note)]
        )
    t = Table([cells[:2], cells[2:]], colWidths=[WIDTH / 2] * 2)
    t.setStyle(
        TableStyle(
            [
                ("BOX", (0, 0), (-1, -1), 1.2, colors.HexColor("#37474f")),
                ("INNERGRID", (0, 0), (-1, -1), 0.4, GRID),
                ("BACKGROUND", (0, 0), (-1, -1), colors.HexColor("#f5f7fa")),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("TOPPADDING", (0, 0), (-1, -1), 5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 6),
            ]
        )
    )
    return t


def _overview(result: TallyResult, s: _Styles, number: str) -> list[Flowable]:
    sh, ix = result.sheets, result.index
    out: list[Flowable] = [Paragraph(f"{number}. KẾT QUẢ CHUNG", s.h1)]
    rows = [
        ["Phiếu in trong kỳ", "Phiếu thu về trong kỳ", "Tỉ lệ thu về", "Thu về từ đầu năm", "Chỉ tiêu năm",
         "Đạt so với chỉ tiêu năm"],
        [num(sh.printed), num(sh.returned), pct(sh.response_rate), num(sh.year_returned), num(sh.yearly_quota),
         pct(sh.quota_progress)],
    ]  # fmt: skip
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
                f"{num(result.responses)} phiếu; {target_words}; {_change_words(ix, _prev(result).label)}.",
                s.body,
            )
        )
    notes = []
    if result.pending_responses:
        notes.append(
            f"Còn <b>{num(result.pending_responses)}</b> phiếu có câu trả lời <b>đang chờ duyệt</b>; các câu này "
            "chưa được tính và sẽ được tính khi người duyệt quyết định."
        )
    left_out = {k: v for k, v in result.pages_by_status.items() if k not in COUNTED_STATUSES and v}
    if left_out:
        parts = ", ".join(f"{num(n)} trang {PAGE_STATUS.get(k, k)}" for k, n in left_out.items())
        notes.append(f"Không tính vào kết quả: {parts}.")
    for w in result.warnings:
        notes.append(f"Lưu ý: {markup(w)}.")
    for n in notes:
        out.append(Paragraph(n, s.body))
    return out


def _units(result: TallyResult, s: _Styles, number: str) -> list[Flowable]:
    """The units under the report's unit, ranked by index, and those below target named."""
    ranked = rollup.ranked_units(result)
    prev = _prev(result).short_label
    rows: list[list] = [
        ["Hạng", "Đơn vị", "Phiếu được tính", "Chỉ số hài lòng", f"Kỳ trước ({prev})", "Thay đổi (điểm %)",
         "So với mục tiêu", "Thu về từ đầu năm / chỉ tiêu"],
    ]  # fmt: skip
    low = []
    rank = 0
    for i, u in enumerate(ranked, 1):
        rank = rank + 1 if u.index.value is not None else rank
        name = markup(u.name) + (" (trực tiếp)" if u.own else "")
        quota = f"{num(u.sheets.year_returned)}/{num(u.sheets.yearly_quota)}" if u.sheets.yearly_quota else NO_DATA
        rows.append(
            [
                str(rank) if u.index.value is not None else NO_DATA,
                name,
                num(u.responses),
                pct(u.index.value),
                pct(u.index.previous),
                points(u.index.change),
                _verdict(u.index),
                quota,
            ]
        )
        if u.index.meets_target is False:
            low.append(i)
    w = [12 * mm, WIDTH - 12 * mm - 6 * 19 * mm, *([19 * mm] * 6)]
    out: list[Flowable] = [
        CondPageBreak(40 * mm),
        Paragraph(f"{number}. KẾT QUẢ THEO ĐƠN VỊ (XẾP THEO CHỈ SỐ HÀI LÒNG)", s.h1),
        _table(rows, w, s, highlight=low),
        Spacer(1, 3),
    ]
    below = rollup.below_target(result)
    if below:
        names = "; ".join(f"{markup(u.name)} ({pct(u.index.value)})" for u in below)
        out.append(
            Paragraph(
                f"Đơn vị chưa đạt mục tiêu {pct(result.target, 0)} ({num(len(below))}/{num(len(ranked))}): {names}.",
                s.body,
            )
        )
    else:
        out.append(Paragraph(f"Không có đơn vị nào dưới mục tiêu {pct(result.target, 0)}.", s.body))
    return out


def _elements(result: TallyResult, s: _Styles, forms: list[FormTally], number: str) -> list[Flowable]:
    out: list[Flowable] = [CondPageBreak(60 * mm), Paragraph(f"{number}. CHỈ SỐ HÀI LÒNG THEO YẾU TỐ", s.h1)]
    if not any(f.elements for f in forms):
        out.append(Paragraph("Không có số liệu trong kỳ.", s.body))
    prev_label = _prev(result).short_label
    for f in forms:
        if len(forms) > 1:
            out.append(Paragraph(f"Mẫu phiếu: {markup(f.title)} ({num(f.responses)} phiếu)", s.h2))
        rows = [
            ["STT", "Yếu tố", "Số câu trả lời", "Chỉ số hài lòng", f"Kỳ trước ({prev_label})", "Thay đổi (điểm %)",
             "So với mục tiêu"],
        ]  # fmt: skip
        low = []
        for i, e in enumerate(f.elements, 1):
            ix = e.index
            rows.append(
                [str(i), markup(e.element), num(ix.answered), pct(ix.value), pct(ix.previous), points(ix.change),
                 _verdict(ix)]
            )  # fmt: skip
            if ix.meets_target is False:
                low.append(i)
        fx = f.index
        rows.append(
            ["", "<b>Chung</b>", num(fx.answered), f"<b>{pct(fx.value)}</b>", pct(fx.previous), points(fx.change),
             _verdict(fx)]
        )  # fmt: skip
        w = [10 * mm, WIDTH - 10 * mm - 5 * 22 * mm, 22 * mm, 22 * mm, 22 * mm, 22 * mm, 22 * mm]
        out.append(_table(rows, w, s, highlight=low))
        if f.elements:
            from omr.reports import charts  # matplotlib: only for a report (the sheet annex's cover has no chart)

            out.append(Spacer(1, 3))
            out.append(_png(charts.index_chart_png(result, f.form_id, width_in=6.4), WIDTH * 0.85))
            out.append(
                Paragraph(
                    f"Biểu đồ: chỉ số hài lòng theo yếu tố, {markup(result.period.label)}; đường nét đứt là mục tiêu "
                    f"{pct(result.target, 0)}; n là số câu trả lời.",
                    s.caption,
                )
            )
    return out


def _scale_matrix(qs: list[QuestionTally], s: _Styles) -> Table:
    """Index questions that share a scale: one row each, a column per option ("n (x %)")."""
    labels = [markup(o.label) for o in qs[0].options]
    rows: list[list] = [["Câu hỏi", *labels, "Để trống", "Chờ duyệt", "Chỉ số"]]
    low = []
    for r, q in enumerate(qs, 1):
        cells = [f"{num(o.count)}<br/>({pct(o.share)})" for o in q.options]
        rows.append([markup(q.label), *cells, num(q.blank), num(q.pending), pct(q.index.value if q.index else None)])
        if q.index is not None and q.index.meets_target is False:
            low.append(r)
    n = len(labels) + 3
    col = 15.5 * mm
    return _table(rows, [WIDTH - n * col, *([col] * n)], s, highlight=low)


def _questions(result: TallyResult, s: _Styles, forms: list[FormTally], number: str) -> list[Flowable]:
    out: list[Flowable] = [CondPageBreak(50 * mm), Paragraph(f"{number}. KẾT QUẢ THEO TỪNG CÂU HỎI", s.h1)]
    if not forms:
        out.append(Paragraph("Không có số liệu trong kỳ.", s.body))
    for f in forms:
        if len(forms) > 1:
            out.append(Paragraph(f"Mẫu phiếu: {markup(f.title)}", s.h2))
        scaled: dict[tuple[str, ...], list[QuestionTally]] = {}
        others = []
        for q in rollup.shown_questions(result, f):
            if q.index is not None:
                scaled.setdefault(tuple(o.value for o in q.options), []).append(q)
            else:
                others.append(q)
        for qs in scaled.values():
            out.append(Paragraph("Mức độ hài lòng (số câu trả lời và tỉ lệ trên số câu đã trả lời)", s.h2))
            out.append(_scale_matrix(qs, s))
        for q in others:
            rows = [["Lựa chọn", "Số lượng", "Tỉ lệ"]]
            for o in q.options:
                rows.append([markup(o.label), num(o.count), pct(o.share)])
            rows.append(
                ["Đã trả lời / để trống / đang chờ duyệt", f"{num(q.answered)} / {num(q.blank)} / {num(q.pending)}", ""]
            )
            note = " (chọn được nhiều lựa chọn; tỉ lệ trên số phiếu có trả lời)" if q.kind == "multi" else ""
            out.append(
                KeepTogether(
                    [Paragraph(f"{markup(q.label)}{note}", s.h2), _table(rows, [WIDTH - 60 * mm, 30 * mm, 30 * mm], s)]
                )
            )
    return out


def _breakdowns(result: TallyResult, s: _Styles, forms: list[FormTally], number: str) -> list[Flowable]:
    out: list[Flowable] = []
    for f in forms:
        for b in rollup.shown_breakdowns(result, f):
            rows = [[markup(b.label), "Số phiếu", "Số câu trả lời", "Chỉ số hài lòng", "So với mục tiêu"]]
            low = []
            for i, r in enumerate(b.rows, 1):
                rows.append(
                    [markup(r.label), num(r.responses), num(r.index.answered), pct(r.index.value), _verdict(r.index)]
                )
                if r.index.meets_target is False:
                    low.append(i)
            out.append(
                KeepTogether(
                    [
                        Paragraph(f"Chỉ số hài lòng theo {markup(b.label[:1].lower() + b.label[1:])}", s.h2),
                        _table(rows, [WIDTH - 4 * 25 * mm] + [25 * mm] * 4, s, highlight=low),
                    ]
                )
            )
    if out:
        out.insert(0, Paragraph(f"{number}. CHỈ SỐ HÀI LÒNG THEO LĨNH VỰC VÀ QUẦY GIAO DỊCH", s.h1))
    return out


def _trend(result: TallyResult, s: _Styles, number: str) -> list[Flowable]:
    from omr.reports import charts

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


def _lowest(items: list[tuple[str, Index]], shown: int = 5) -> str:
    """The lowest few, lowest first: "A (71,4 %); B (80,0 %) và 3 mục khác" (names escaped)."""
    items = sorted(items, key=lambda it: it[1].value or 0)
    text = "; ".join(f"{markup(name)} ({pct(ix.value)})" for name, ix in items[:shown])
    return text + (f" và {num(len(items) - shown)} mục khác" if len(items) > shown else "")


def _assessment(result: TallyResult, s: _Styles, forms: list[FormTally], number: str) -> list[Flowable]:
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
    elements = [e for f in forms for e in f.elements if e.index.value is not None]
    low = [e for e in elements if e.index.meets_target is False]
    if low:
        lines.append("Các yếu tố chưa đạt mục tiêu: " + _lowest([(e.element, e.index) for e in low]) + ".")
    elif elements:
        lines.append("Tất cả các yếu tố đều đạt mục tiêu.")
    if len(elements) > 1:
        best = max(elements, key=lambda e: e.index.value or 0)
        worst = min(elements, key=lambda e: e.index.value or 0)
        lines.append(
            f"Yếu tố có chỉ số cao nhất: {markup(best.element)} ({pct(best.index.value)}); thấp nhất: "
            f"{markup(worst.element)} ({pct(worst.index.value)})."
        )
    for f in forms:
        for b in rollup.shown_breakdowns(result, f):
            rated = [r for r in b.rows if r.index.value is not None]
            below = [r for r in rated if r.index.meets_target is False]
            if below:
                lines.append(
                    f"{markup(b.label)}: {num(len(below))}/{num(len(rated))} chưa đạt mục tiêu, thấp nhất là "
                    + _lowest([(r.label, r.index) for r in below])
                    + "."
                )
    if rollup.is_rollup(result) and (below_units := rollup.below_target(result)):
        lines.append(
            f"Đơn vị chưa đạt mục tiêu: {num(len(below_units))}/{num(len(result.units))}, thấp nhất là "
            + _lowest([(u.name, u.index) for u in below_units])
            + "."
        )
    sh = result.sheets
    if sh.printed:
        lines.append(f"Số phiếu thu về bằng {pct(sh.response_rate)} số phiếu in trong kỳ.")
    if result.comments:
        lines.append(f"Có {num(result.comments)} ý kiến viết tay của người dân, tổ chức (toàn văn tại Phụ lục).")
    out: list[Flowable] = [CondPageBreak(40 * mm), Paragraph(f"{number}. ĐÁNH GIÁ CHUNG", s.h1)]
    out += [Paragraph(f"- {line}", s.body) for line in lines]
    return out


# --------------------------------------------------------------------------- the comment annex


def _annex(session: Session, result: TallyResult, s: _Styles) -> list[Flowable]:
    """Every handwritten comment of the period, as scanned: the recipient has no access to the web
    application, so the annex holds them all."""
    found = tally.comments(session, result.period.code, result.unit.code if result.unit else None, result.form_id)
    out: list[Flowable] = [
        PageBreak(),
        Paragraph("PHỤ LỤC", s.title),
        Paragraph(
            f"Ý kiến viết tay của người dân, tổ chức trên phiếu khảo sát, {markup(result.period.label)} "
            f"({num(len(found))} ý kiến)",
            s.subject,
        ),
        Spacer(1, 4 * mm),
    ]
    if not found:
        out.append(Paragraph("Trong kỳ không có ý kiến viết tay.", s.center))
        return out
    home = config.home()
    for i, c in enumerate(found, 1):
        where = f" · {c.unit_code}" if c.unit_code else ""
        when = f" · ngày quét {c.scanned:%d/%m/%Y}" if c.scanned else ""
        caption = Paragraph(markup(f"{i}. Phiếu số {c.serial}{where}{when} · {c.label}"), s.caption)
        try:
            img = _comment_image(home / c.image_path, WIDTH * 0.9)
            if img.drawHeight > 60 * mm:  # a tall area: keep its shape, cap its height
                img.drawWidth, img.drawHeight = img.drawWidth * 60 * mm / img.drawHeight, 60 * mm
            out.append(KeepTogether([caption, img, Spacer(1, 3 * mm)]))
        except (OSError, ValueError, PILImage.DecompressionBombError):
            out.append(Paragraph(caption.text + " — không đọc được ảnh đã lưu.", s.caption))
    return out


def _comment_image(path: Path, width: float) -> Image:
    """A stored comment area. A JPEG (what the scan stores) goes by its file name: reportlab then embeds
    its bytes as they are, when the page is drawn, instead of each flowable of a province's thousands
    of comments holding the decoded pixels until the document is saved (700 MB for 2,000 comments).
    Another image is converted to PNG once."""
    with PILImage.open(path) as im:  # reads the header only
        w, h, kind = im.width, im.height, im.format
        if kind != "JPEG":
            buf = io.BytesIO()
            im.convert("L").save(buf, "PNG")
    if kind == "JPEG":
        return Image(str(path), width=width, height=width * h / w)
    return _png(buf.getvalue(), width)


def _page_number(canvas, doc) -> None:
    if doc.page > 1:  # an official document numbers its pages from the second, at the top centre
        canvas.saveState()
        canvas.setFont(serif_name(), BODY_PT)
        canvas.drawCentredString(MARGIN_L + WIDTH / 2, PAGE_H - 12 * mm, str(doc.page))
        canvas.restoreState()


def _numbers():
    yield from ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X")


def write_pdf(
    session: Session,
    result: TallyResult,
    out: BinaryIO | Path,
    report_date: date | None = None,
    *,
    as_of: date | None = None,
    number: str | None = None,
    signer: str | None = None,
    settings: ReportSettings | None = None,
) -> None:
    """The report into a binary stream or a file.

    ``report_date``: the date line (default today); ``as_of``: the "số liệu tính đến ngày" line for a
    period not yet over; ``number``: the registered number ("Số: 15/BC-UBND"), blank when None;
    ``signer``: the signer's name, else the unit's configured one; ``settings``: the unit's report
    settings, read from the database when None."""
    s = _Styles()
    cfg = settings or report_settings.load(session, result.unit.code if result.unit else None)
    day = report_date or datetime.now(VN_TZ).date()
    forms = rollup.ordered_forms(result, cfg.main_form)
    n = _numbers()
    story: list[Flowable] = []
    story += _header(result, s, cfg, day, number)
    story += _title(result, s, as_of)
    story.append(_citation(result, s, cfg))
    story += [_headline_box(result, s), Spacer(1, 4 * mm)]
    story += _overview(result, s, next(n))
    if rollup.is_rollup(result) or (result.units and not result.units[0].own):
        story += _units(result, s, next(n))
    story += _elements(result, s, forms, next(n))
    story += _questions(result, s, forms, next(n))
    if any(rollup.shown_breakdowns(result, f) for f in forms):
        story += _breakdowns(result, s, forms, next(n))
    story += _trend(result, s, next(n))
    story += _assessment(result, s, forms, next(n))
    story.append(_ending(result, s, cfg, signer))
    story += _annex(session, result, s)
    title = f"Báo cáo kết quả khảo sát mức độ hài lòng {result.period.label} - {result.unit_name}"
    doc = document(out, title, result.unit_name)
    doc.subject = "Kết quả khảo sát mức độ hài lòng của người dân, tổ chức"
    doc.build(story)


def document(out: BinaryIO | Path, title: str, author: str) -> BaseDocTemplate:
    """An A4 document whose text sits exactly at the decree's margins (a frame without reportlab's
    default 6 pt padding, which would push tables out past the text), numbered from page 2."""
    frame = Frame(MARGIN_L, MARGIN_B, WIDTH, PAGE_H - MARGIN_T - MARGIN_B, 0, 0, 0, 0, id="body")
    doc = BaseDocTemplate(str(out) if isinstance(out, Path) else out, pagesize=A4, title=title, author=author)
    doc.addPageTemplates([PageTemplate("page", [frame], onPage=_page_number)])
    return doc
