"""Excel workbook: a summary sheet, the units ranked by index (for a roll-up), one sheet per form
(tables of counts and the index; the unit's main form first), the raw responses (every final answer
in words) and the codebook, each on a sheet of its own named in words.

Every column has a width; the tables of one row per item (units, responses, codebook) have a frozen
header and an autofilter. Text is always text: a cell that begins with "=" (a unit named
"=HYPERLINK(…)") is stored as a string, never as a formula, and codes keep their leading zeros.

Written in openpyxl's write-only mode: a year of a province (100,000 rows) streams to the file
instead of building every cell in memory first. Shares are real numbers with a percent format, so
the reader can compute with them.
"""

from __future__ import annotations

import re
from typing import BinaryIO

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy.orm import Session

from omr.reports import responses as resp
from omr.reports import rollup
from omr.reports import settings as report_settings
from omr.reports.csv_export import codebook_rows
from omr.reports.fmt import FORMULA_START, answer_label, page_status_line
from omr.services.tally import Index, TallyResult
from omr.vocab import PENDING_TEXT, RESPONSE_STATUS

PCT = "0.0%"
THIN = Side(style="thin", color="BDBDBD")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
HEAD_FILL = PatternFill("solid", fgColor="DCE6F1")
LOW_FILL = PatternFill("solid", fgColor="FDE9D9")
OK_FILL = PatternFill("solid", fgColor="E2EFDA")
RAW_SHEET = "Phiếu"
FONT = "Arial"
SUMMARY_SHEET = "Tổng hợp"
UNITS_SHEET = "Xếp hạng đơn vị"
CODEBOOK_SHEET = "Bảng mã"


def _text(ws: WriteOnlyWorksheet, value: object) -> object:
    """A value as a cell: text that a spreadsheet would take for a formula is typed as a string."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        c = WriteOnlyCell(ws, value=None)
        c.value, c.data_type = value, "s"
        return c
    return value


class _Sheet:
    """A write-only sheet with the few cell styles a report table needs."""

    def __init__(self, ws: WriteOnlyWorksheet, landscape: bool = False):
        self.ws = ws
        # printed from Excel: as wide as the page, as many pages down as it takes
        ws.page_setup.orientation = "landscape" if landscape else "portrait"
        ws.page_setup.paperSize = Worksheet.PAPERSIZE_A4
        ws.page_setup.fitToWidth = 1
        ws.page_setup.fitToHeight = 0
        ws.sheet_properties.pageSetUpPr.fitToPage = True

    def cell(
        self,
        value: object,
        *,
        bold: bool = False,
        fmt: str | None = None,
        head: bool = False,
        fill: PatternFill | None = None,
        wrap: bool = False,
        size: float | None = None,
        border: bool = True,
    ) -> WriteOnlyCell:
        c = WriteOnlyCell(self.ws, value=None if isinstance(value, str) else value)
        if isinstance(value, str):  # always a string, even "=…": a name never becomes a formula
            c.value, c.data_type = value, "s"
        if bold or head or size:
            # a named font with every Vietnamese letter (the default's bold may lack some elsewhere)
            c.font = Font(name=FONT, bold=bold or head, size=size or 11)
        if head:
            c.fill = HEAD_FILL
        if fill is not None:
            c.fill = fill
        if border and (head or fmt or fill is not None):
            c.border = BORDER
        if fmt:
            c.number_format = fmt
        if wrap or head:
            c.alignment = Alignment(wrap_text=True, vertical="top")
        return c

    def row(self, *values: object) -> None:
        self.ws.append([_text(self.ws, v) for v in values])

    def head(self, *labels: str) -> None:
        self.ws.append([self.cell(v, head=True) for v in labels])

    def title(self, text: str, size: float = 13) -> None:
        self.ws.append([self.cell(text, bold=True, size=size)])

    def blank(self) -> None:
        self.ws.append([])

    def index_cells(self, ix: Index, previous: bool = True) -> list[WriteOnlyCell]:
        fill = None if ix.meets_target is None else (OK_FILL if ix.meets_target else LOW_FILL)
        met = "" if ix.meets_target is None else ("Đạt" if ix.meets_target else "Chưa đạt")
        cells = [
            self.cell(ix.value, fmt=PCT, fill=fill),
            self.cell(ix.answered, fmt="#,##0"),
            self.cell(ix.satisfied, fmt="#,##0"),
        ]
        if previous:
            cells += [self.cell(ix.previous, fmt=PCT), self.cell(ix.change, fmt="+0.0%;-0.0%;0.0%")]
        return [*cells, self.cell(met, fmt="@")]


INDEX_HEAD = ("Chỉ số hài lòng", "Số câu trả lời", "Số câu hài lòng", "Kỳ trước", "Thay đổi", "So với mục tiêu")


def _index_head(previous: bool) -> tuple[str, ...]:
    return INDEX_HEAD if previous else (*INDEX_HEAD[:3], INDEX_HEAD[5])


def _any_previous(ixs: list[Index]) -> bool:
    """Whether a table's "Kỳ trước / Thay đổi" columns would hold anything (else they are left out)."""
    return any(ix.previous is not None for ix in ixs)


def _form_sheet_name(title: str, form_id: str) -> str:
    """A sheet name in words, from what the form is about: "Sự phục vụ tại Bộ phận Một cửa"."""
    about = title.split("đối với ", 1)[1] if "đối với " in title else ""
    words, name = about.split(), ""
    for w in words:
        if len(name) + len(w) + 1 > 31:
            break
        name = f"{name} {w}".strip()
    return name[:1].upper() + name[1:] if name else form_id


def _widths(ws: WriteOnlyWorksheet, *widths: float) -> None:
    for i, w in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(i)].width = w


def _sheet_name(text: str, taken: set[str]) -> str:
    name = re.sub(r"[\[\]:*?/\\]", "-", text)[:31]
    base, n = name, 2
    while name in taken:
        name = f"{base[:28]}-{n}"
        n += 1
    taken.add(name)
    return name


def _summary(wb: Workbook, result: TallyResult, forms: list) -> None:
    s = _Sheet(wb.create_sheet(SUMMARY_SHEET))
    _widths(s.ws, 44, 16, 16, 16, 14, 12, 16, 16, 14, 14)
    s.title("KẾT QUẢ KHẢO SÁT MỨC ĐỘ HÀI LÒNG CỦA NGƯỜI DÂN, TỔ CHỨC", 14)
    s.row("Đơn vị", result.unit_name)
    s.row("Kỳ báo cáo", result.period.label)
    s.row("Mục tiêu chỉ số hài lòng", s.cell(result.target, fmt=PCT))
    s.blank()
    sh = result.sheets
    s.head("Phiếu", "Số lượng", "Tỉ lệ")
    s.row("Phiếu được tính", s.cell(result.responses, fmt="#,##0"))
    s.row("Phiếu còn câu đang chờ duyệt (chưa tính các câu đó)", s.cell(result.pending_responses, fmt="#,##0"))
    s.row("Phiếu in trong kỳ", s.cell(sh.printed, fmt="#,##0"))
    s.row("Phiếu thu về trong kỳ / tỉ lệ thu về", s.cell(sh.returned, fmt="#,##0"), s.cell(sh.response_rate, fmt=PCT))
    s.row(
        "Phiếu thu về từ đầu năm / so với chỉ tiêu năm",
        s.cell(sh.year_returned, fmt="#,##0"),
        s.cell(sh.quota_progress, fmt=PCT),
    )
    s.row(
        "Chỉ tiêu cả năm / tiến độ cần đạt đến cuối kỳ",
        s.cell(sh.yearly_quota, fmt="#,##0"),
        s.cell(sh.expected_progress, fmt=PCT),
    )
    for status, n in result.pages_by_status.items():
        s.row(page_status_line(status), s.cell(n, fmt="#,##0"))
    s.blank()
    prev = _any_previous([result.index, *(f.index for f in forms)])
    s.head("Phạm vi", *_index_head(prev))
    s.ws.append([s.cell("Chung", bold=True), *s.index_cells(result.index, prev)])
    for f in forms:
        s.ws.append([s.cell(f.title, wrap=True), *s.index_cells(f.index, prev)])
    if result.units:
        s.blank()
        s.title("Theo đơn vị")
        s.head(
            "Đơn vị",
            "Mã",
            "Phiếu được tính",
            "Chỉ số hài lòng",
            "Số câu trả lời",
            "Kỳ trước",
            "Phiếu in trong kỳ",
            "Thu về từ đầu năm",
            "Chỉ tiêu năm",
            "Tiến độ chỉ tiêu",
        )
        for u in rollup.ranked_units(result):
            ix = u.index
            fill = None if ix.meets_target is None else (OK_FILL if ix.meets_target else LOW_FILL)
            s.row(
                u.name + (" (trực tiếp)" if u.own else ""),
                s.cell(u.code, fmt="@", border=False),
                s.cell(u.responses, fmt="#,##0"),
                s.cell(ix.value, fmt=PCT, fill=fill),
                s.cell(ix.answered, fmt="#,##0"),
                s.cell(ix.previous, fmt=PCT),
                s.cell(u.sheets.printed, fmt="#,##0"),
                s.cell(u.sheets.year_returned, fmt="#,##0"),
                s.cell(u.sheets.yearly_quota, fmt="#,##0"),
                s.cell(u.sheets.quota_progress, fmt=PCT),
            )
    s.blank()
    s.title("Xu hướng 12 tháng")
    s.head("Tháng", "Phiếu", "Chỉ số hài lòng", "Số câu trả lời")
    for t in result.trend:
        s.row(
            t.label,
            s.cell(t.responses, fmt="#,##0"),
            s.cell(t.index.value, fmt=PCT),
            s.cell(t.index.answered, fmt="#,##0"),
        )
    if result.warnings:
        s.blank()
        for w in result.warnings:
            s.row(f"Lưu ý: {w}")


def _form_sheet(wb: Workbook, result: TallyResult, f, taken: set[str]) -> None:
    s = _Sheet(wb.create_sheet(_sheet_name(_form_sheet_name(f.title, f.form_id), taken)))
    _widths(s.ws, 46, 14, 14, 14, 12, 12, 16, 16)
    s.title(f.title, 13)
    s.row(f"{result.unit_name} · {result.period.label} · {f.responses:,} phiếu".replace(",", "."))
    s.blank()
    prev = _any_previous([f.index, *(e.index for e in f.elements)])
    s.head("Yếu tố", *_index_head(prev))
    for e in f.elements:
        s.ws.append([s.cell(e.element, wrap=True), *s.index_cells(e.index, prev)])
    s.ws.append([s.cell("Chỉ số chung của mẫu phiếu", bold=True), *s.index_cells(f.index, prev)])
    for q in rollup.shown_questions(result, f):
        s.blank()
        s.ws.append([s.cell(f"{q.field}. {q.label}", bold=True)])  # unwrapped: runs on over empty cells
        s.head("Lựa chọn", "Số lượng", "Tỉ lệ")
        for o in q.options:
            s.row(o.label, s.cell(o.count, fmt="#,##0"), s.cell(o.share, fmt=PCT))
        s.row("Đã trả lời", s.cell(q.answered, fmt="#,##0"))
        s.row("Để trống", s.cell(q.blank, fmt="#,##0"))
        s.row("Đang chờ duyệt (chưa tính)", s.cell(q.pending, fmt="#,##0", fill=LOW_FILL if q.pending else None))
        if q.index is not None:
            s.head("", *_index_head(q.index.previous is not None))
            s.ws.append(
                [s.cell("Chỉ số hài lòng của câu", bold=True), *s.index_cells(q.index, q.index.previous is not None)]
            )
    for b in rollup.shown_breakdowns(result, f):
        s.blank()
        s.ws.append([s.cell(f"Chỉ số hài lòng theo: {b.label}", bold=True)])
        s.head(b.label, "Số phiếu", *_index_head(False))
        for r in b.rows:
            s.ws.append([s.cell(r.label), s.cell(r.responses, fmt="#,##0"), *s.index_cells(r.index, False)])


def _units_sheet(wb: Workbook, result: TallyResult) -> None:
    """The units ranked by index, one row each: a table to sort and filter."""
    s = _Sheet(wb.create_sheet(UNITS_SHEET), landscape=True)
    head = ("Hạng", "Mã", "Đơn vị", "Phiếu được tính", "Chỉ số hài lòng", "Số câu trả lời", "Kỳ trước", "Thay đổi",
            "So với mục tiêu", "Thu về từ đầu năm", "Chỉ tiêu năm", "Tiến độ chỉ tiêu")  # fmt: skip
    _widths(s.ws, 8, 12, 40, 14, 14, 14, 12, 12, 14, 16, 14, 14)
    s.ws.freeze_panes = "A2"
    s.head(*head)
    rank = 0
    units = rollup.ranked_units(result)
    for u in units:
        ix = u.index
        rank += ix.value is not None
        met = "" if ix.meets_target is None else ("Đạt" if ix.meets_target else "Chưa đạt")
        fill = None if ix.meets_target is None else (OK_FILL if ix.meets_target else LOW_FILL)
        s.row(
            rank if ix.value is not None else None,
            s.cell(u.code, fmt="@", border=False),
            u.name + (" (trực tiếp)" if u.own else ""),
            s.cell(u.responses, fmt="#,##0"),
            s.cell(ix.value, fmt=PCT, fill=fill),
            s.cell(ix.answered, fmt="#,##0"),
            s.cell(ix.previous, fmt=PCT),
            s.cell(ix.change, fmt="+0.0%;-0.0%;0.0%"),
            met,
            s.cell(u.sheets.year_returned, fmt="#,##0"),
            s.cell(u.sheets.yearly_quota, fmt="#,##0"),
            s.cell(u.sheets.quota_progress, fmt=PCT),
        )
    s.ws.auto_filter.ref = f"A1:{get_column_letter(len(head))}{len(units) + 1}"


def _codebook_sheet(wb: Workbook, result: TallyResult) -> None:
    s = _Sheet(wb.create_sheet(CODEBOOK_SHEET))
    _widths(s.ws, 22, 16, 60, 30, 16, 40)
    s.ws.freeze_panes = "A2"
    rows = codebook_rows(result)
    s.head(*next(rows))
    n = 1
    for row in rows:
        s.row(*[s.cell(v, fmt="@", border=False) if i == 4 else v for i, v in enumerate(row)])
        n += 1
    s.ws.auto_filter.ref = f"A1:F{n}"


def _raw(wb: Workbook, session: Session, result: TallyResult) -> int:
    s = _Sheet(wb.create_sheet(RAW_SHEET), landscape=True)
    forms = resp.forms_of(result)
    cols = resp.columns(forms)
    _widths(s.ws, 12, 12, 24, 16, 12, 18, *([24] * len(cols)))
    s.ws.freeze_panes = "C2"
    s.ws.row_dimensions[1].height = 64  # the questions' labels, wrapped (no reader auto-sizes it)
    s.head("Mã phiếu", "Mã đơn vị", "Đơn vị", "Mẫu phiếu", "Ngày quét", "Trạng thái", *[f.label for f in cols])
    n = 0
    for r in resp.iter_responses(
        session, result.period.code, result.unit.code if result.unit else None, result.form_id
    ):
        pending = any(p for _v, p in r.answers.values())
        status = "pending" if pending else ("reviewed" if r.needs_review else "accepted")
        scanned = s.cell(r.scanned, fmt="dd/mm/yyyy", border=False) if r.scanned else None
        codes = [s.cell(r.serial, fmt="@", border=False), s.cell(r.unit_code, fmt="@", border=False)]
        row: list[object] = [*codes, _text(s.ws, r.unit_name), r.form_id, scanned, RESPONSE_STATUS[status]]
        for f in cols:
            if f.kind == "text":
                row.append("có ý kiến viết tay" if f.id in r.written else "")
            else:
                value, waiting = r.answers.get(f.id, (None, False))
                row.append(_text(s.ws, PENDING_TEXT if waiting else answer_label(f, value, False)))
        s.ws.append(row)
        n += 1
    s.ws.auto_filter.ref = f"A1:{get_column_letter(6 + len(cols))}{n + 1}"
    return n


def write_xlsx(session: Session, result: TallyResult, out: BinaryIO) -> int:
    """The workbook into a binary stream; returns the number of raw responses written."""
    cfg = report_settings.load(session, result.unit.code if result.unit else None)
    forms = rollup.ordered_forms(result, cfg.main_form)
    wb = Workbook(write_only=True)
    _summary(wb, result, forms)
    taken = {SUMMARY_SHEET, RAW_SHEET, UNITS_SHEET, CODEBOOK_SHEET}
    if rollup.is_rollup(result):
        _units_sheet(wb, result)
    for f in forms:
        _form_sheet(wb, result, f, taken)
    n = _raw(wb, session, result)
    _codebook_sheet(wb, result)
    wb.save(out)
    return n
