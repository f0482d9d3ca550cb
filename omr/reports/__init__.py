"""Exports of a tally: CSV (responses and tally), an Excel workbook, and the PDF report.

    from omr.reports import export
    paths = export(session, "2026-11", "09552", None, "pdf", Path("bao-cao.pdf"))

Each format also writes to a file-like object (``csv_export.write_responses`` / ``write_tally``,
``xlsx_export.write_xlsx``, ``pdf_report.write_pdf``) for the web application's downloads; charts
are ``charts.index_chart_png`` and ``charts.trend_chart_png``. Every number comes from one
``omr.tally.compute`` call.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy.orm import Session

from omr.tally import DEFAULT_TARGET, Period, TallyError, TallyResult, compute

FORMATS = ("csv", "xlsx", "pdf")


def export(
    session: Session,
    period: Period | str,
    unit_code: str | None,
    form_id: str | None,
    fmt: str,
    out: Path,
    *,
    target: float = DEFAULT_TARGET,
    report_date: date | None = None,
    result: TallyResult | None = None,
) -> list[Path]:
    """Compute the tally (unless given) and write it as ``fmt`` to ``out``; returns the files
    written (CSV writes the responses to ``out`` and the tally beside it)."""
    if fmt not in FORMATS:
        raise TallyError(f"định dạng {fmt!r} không hỗ trợ (chọn: {', '.join(FORMATS)})")
    out = Path(out)
    if out.is_dir():
        raise TallyError(f"{out} là một thư mục: cần tên tệp để ghi, ví dụ {out / ('bao-cao.' + fmt)}")
    if not out.parent.is_dir():
        raise TallyError(f"không có thư mục {out.parent} để ghi tệp")
    if result is None:
        result = compute(session, period, unit_code, form_id, target=target)
    if fmt == "csv":
        from omr.reports import csv_export

        return csv_export.export(session, result, out)
    if fmt == "xlsx":
        from omr.reports import xlsx_export

        with out.open("wb") as f:
            xlsx_export.write_xlsx(session, result, f)
        return [out]
    from omr.reports import pdf_report

    with out.open("wb") as f:
        pdf_report.write_pdf(session, result, f, report_date=report_date)
    return [out]
