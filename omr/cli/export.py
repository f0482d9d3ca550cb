"""``omr export --period P [--unit CODE] [--form FORM_ID] --format csv|xlsx|pdf|sheets-pdf|sheets-zip --out FILE``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from omr.services.tally import DEFAULT_TARGET


def _target(text: str) -> float:
    """ "90", "90%", "0.9" -> 0.9."""
    try:
        v = float(text.strip().rstrip("%").replace(",", "."))
    except ValueError:
        raise argparse.ArgumentTypeError(f"mục tiêu không hợp lệ: {text!r} (ví dụ: 90)") from None
    v = v / 100 if v > 1 else v
    if not 0 < v <= 1:
        raise argparse.ArgumentTypeError(f"mục tiêu phải trong khoảng (0, 100] %: {text!r}")
    return v


def _sep(text: str) -> str:
    """The CSV separator: "," (default) or ";" for Excel set to Vietnamese (decimal comma)."""
    value = {"tab": "\t", "\\t": "\t"}.get(text, text)
    if value not in (",", ";", "\t"):
        raise argparse.ArgumentTypeError(f"dấu phân cách không hỗ trợ: {text!r} (chọn: ',' ';' tab)")
    return value


def _day(text: str):
    from datetime import date

    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"ngày không hợp lệ: {text!r} (dạng YYYY-MM-DD)") from None


def register(subparsers) -> None:
    from omr.reports import EXPORTERS

    p = subparsers.add_parser(
        "export",
        help="xuất kết quả tổng hợp (CSV, Excel, báo cáo PDF)",
        description="Tổng hợp kết quả khảo sát của một đơn vị (gồm các đơn vị trực thuộc) trong một kỳ và ghi ra tệp.",
    )
    p.add_argument("--period", required=True, help="kỳ báo cáo: 2026-11, 2026-Q4, 2026 hoặc 2026-01-15..2026-02-10")
    p.add_argument("--unit", help="mã đơn vị (mặc định: toàn bộ hệ thống)")
    p.add_argument("--form", help="chỉ một mẫu phiếu (mặc định: mọi mẫu)")
    p.add_argument(
        "--format",
        required=True,
        choices=tuple(EXPORTERS),
        dest="fmt",
        help="; ".join(f"{k}: {e.label}" for k, e in EXPORTERS.items()),
    )
    p.add_argument("--out", required=True, type=Path, help="tệp kết quả (CSV: thêm tệp …-tong-hop.csv bên cạnh)")
    p.add_argument("--target", type=_target, default=DEFAULT_TARGET, help="mục tiêu chỉ số hài lòng, %% (mặc định 90)")
    p.add_argument(
        "--csv-sep", type=_sep, default=",", help="dấu phân cách CSV: ',' (mặc định) hoặc ';' cho Excel tiếng Việt"
    )
    p.add_argument(
        "--as-of",
        type=_day,
        help="số liệu tính đến ngày YYYY-MM-DD (mặc định: hôm nay, hoặc ngày cuối kỳ khi kỳ đã qua)",
    )
    p.add_argument(
        "--date", type=_day, dest="report_date", help="ngày ghi trên báo cáo, YYYY-MM-DD (mặc định: hôm nay)"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from db.session import session
    from omr.reports import ExportOptions, export
    from omr.services import tally

    # a bad period, unit or form raises TallyError, a ServiceError: ``omr`` prints it as one line

    with session() as s:
        result = tally.compute(s, args.period, args.unit, args.form, target=args.target, as_of=args.as_of)
        paths = export(
            s,
            args.period,
            args.unit,
            args.form,
            args.fmt,
            args.out,
            result=result,
            options=ExportOptions(report_date=args.report_date, as_of=result.period.as_of, csv_sep=args.csv_sep),
        )
    for path in paths:
        print(path)
    _notices(args.period, args.unit)
    return 0


def _notices(period: str, unit_code: str | None) -> None:
    """One line on stderr for each report issued for this unit and period whose figures have changed
    since it was sent (nothing when none)."""
    from db.session import session, transaction
    from omr.reports import issued as issued_reports

    if unit_code is None:
        return
    with session() as s:
        if not issued_reports.listed(s, {unit_code}, period):
            return  # nothing issued: no write transaction
    with transaction() as s:
        for report, changes in issued_reports.changed(s, period, unit_code):
            print(f"Lưu ý: {issued_reports.summary_line(report, changes)}", file=sys.stderr)
