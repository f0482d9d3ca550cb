"""Exports of a tally: CSV (responses, tally and codebook), an Excel workbook, the PDF report, and the
period's scanned sheets for iOffice (one PDF, or a ZIP of the images).

    from omr.reports import export
    paths = export(session, "2026-11", "09552", None, "pdf", Path("bao-cao.pdf"))

``EXPORTERS`` is the one list of formats: ``omr export --format`` offers its keys, the web application
its keys and MIME types, and ``export`` calls the exporter a key names. Each exporter takes the tally
already computed (every number comes from one ``omr.services.tally.compute`` call) and writes one file or
several beside it. Charts are ``charts.index_chart_png`` and ``charts.trend_chart_png``.

The modules behind the formats (reportlab, openpyxl, matplotlib) are imported when a format is used:
``omr units set`` builds its options from ``omr.reports.settings`` on every command.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from omr.services.tally import Period, TallyResult


@dataclass(frozen=True)
class Exporter:
    """One format: its file name ending, MIME type, what it is, its name on a download button, the
    function that writes it (``write(session, result, out, options) -> files written``), and whether
    it holds the scanned sheets themselves (only the roles that may see ballots download those)."""

    suffix: str
    mime: str
    label: str
    button: str
    write: Callable[[Session, TallyResult, Path, ExportOptions], list[Path]]
    ballots: bool = False


@dataclass
class ExportOptions:
    """What a caller may set beyond the tally: the report's date, number and signer (the register of
    issued reports passes them), the CSV separator."""

    report_date: date | None = None
    as_of: date | None = None  # "số liệu tính đến ngày …", for a period not yet over
    number: str | None = None  # "15" in "Số: 15/BC-UBND"; blank for the clerk to write by hand
    signer: str | None = None  # overrides the unit's configured signer name
    csv_sep: str = ","


def _csv(session: Session, result: TallyResult, out: Path, opt: ExportOptions) -> list[Path]:
    from omr.reports import csv_export

    return csv_export.export(session, result, out, sep=opt.csv_sep)


def _xlsx(session: Session, result: TallyResult, out: Path, opt: ExportOptions) -> list[Path]:
    from omr.reports import xlsx_export

    with out.open("wb") as f:
        xlsx_export.write_xlsx(session, result, f)
    return [out]


def _pdf(session: Session, result: TallyResult, out: Path, opt: ExportOptions) -> list[Path]:
    from omr.reports import pdf_report

    with out.open("wb") as f:
        pdf_report.write_pdf(
            session, result, f, report_date=opt.report_date, as_of=opt.as_of, number=opt.number, signer=opt.signer
        )
    return [out]


def _sheets_pdf(session: Session, result: TallyResult, out: Path, opt: ExportOptions) -> list[Path]:
    from omr.reports import sheet_annex

    with out.open("wb") as f:
        sheet_annex.write_sheets_pdf(session, result, f, report_date=opt.report_date)
    return [out]


def _sheets_zip(session: Session, result: TallyResult, out: Path, opt: ExportOptions) -> list[Path]:
    from omr.reports import sheet_annex

    with out.open("wb") as f:
        sheet_annex.write_sheets_zip(session, result, f, report_date=opt.report_date)
    return [out]


EXPORTERS: dict[str, Exporter] = {
    "csv": Exporter(".csv", "text/csv", "phiếu, tổng hợp và bảng mã (CSV)", "CSV", _csv),
    "xlsx": Exporter(
        ".xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "sổ tính Excel", "Excel", _xlsx
    ),
    "pdf": Exporter(".pdf", "application/pdf", "báo cáo PDF", "PDF", _pdf),
    "sheets-pdf": Exporter(
        ".pdf",
        "application/pdf",
        "phiếu đã quét, một tệp PDF (gửi iOffice)",
        "Phiếu đã quét (PDF)",
        _sheets_pdf,
        ballots=True,
    ),
    "sheets-zip": Exporter(
        ".zip", "application/zip", "ảnh phiếu đã quét, một tệp ZIP", "Ảnh phiếu (ZIP)", _sheets_zip, ballots=True
    ),
}
FORMATS = tuple(EXPORTERS)


def export(
    session: Session,
    period: Period | str,
    unit_code: str | None,
    form_id: str | None,
    fmt: str,
    out: Path,
    *,
    target: float | None = None,
    report_date: date | None = None,
    result: TallyResult | None = None,
    options: ExportOptions | None = None,
) -> list[Path]:
    """Compute the tally (unless given) and write it as ``fmt`` to ``out``; returns the files
    written (CSV writes the responses to ``out`` and the tally and codebook beside it)."""
    from omr.services.tally import DEFAULT_TARGET, TallyError, compute

    exporter = EXPORTERS.get(fmt)
    if exporter is None:
        raise TallyError(f"định dạng {fmt!r} không hỗ trợ (chọn: {', '.join(FORMATS)})")
    out = Path(out)
    if out.is_dir():
        raise TallyError(f"{out} là một thư mục: cần tên tệp để ghi, ví dụ {out / ('bao-cao' + exporter.suffix)}")
    if not out.parent.is_dir():
        raise TallyError(f"không có thư mục {out.parent} để ghi tệp")
    if result is None:
        result = compute(session, period, unit_code, form_id, target=DEFAULT_TARGET if target is None else target)
    opt = options or ExportOptions()
    if report_date is not None:
        opt.report_date = report_date
    return exporter.write(session, result, out, opt)
