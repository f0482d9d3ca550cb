"""``omr batches`` (the survey month of scan batches) and ``omr reports`` (the register of issued reports).

omr batches list [--json]
omr batches period BATCH_ID YYYY-MM [--by NAME]
omr reports issue --period P --unit CODE --number 12/BC-UBND --signer "…" [--form F] [--date D]
                  [--as-of D] [--format pdf|xlsx] [--out FILE] [--by NAME]
omr reports list [--unit CODE] [--period P] [--json]
omr reports show ID [--json]        (checks the figures again and says what changed)
omr reports download ID --out FILE
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path
from typing import Any

from omr.cli.common import print_json


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"ngày không hợp lệ: {text!r} (ghi dạng 2026-12-05)") from None


# --------------------------------------------------------------------------- omr batches


def _batches_list(args) -> int:
    from sqlalchemy import select

    from db.models import ScanBatch
    from db.session import session
    from omr.services.survey_period import month_label

    with session() as s:
        batches = list(s.scalars(select(ScanBatch).order_by(ScanBatch.id.desc()).limit(args.limit)))
        rows: list[dict[str, Any]] = [
            {
                "id": b.id,
                "created_at": b.created_at.isoformat(),
                "period": b.period,
                "label": b.label,
                "pages": b.done_pages,
                "status": b.status,
                "by": b.created_by,
            }
            for b in batches
        ]
    if args.json:
        for r in rows:
            print_json(r)
        return 0
    for r in rows:
        period = month_label(r["period"]) if r["period"] else "tháng quét"
        print(f"#{r['id']:<5} {r['created_at'][:16]}  kỳ {period:<15} {r['pages']:>5} trang  {r['label'] or ''}")
    return 0


def _batches_period(args) -> int:
    from db.session import transaction
    from omr.services.survey_period import month_label, set_period

    with transaction() as s:
        moved = set_period(s, args.batch_id, args.period, args.by)
    if args.json:
        print_json(moved)
    else:
        print(
            f"Đợt quét #{moved['batch']}: kỳ khảo sát {month_label(moved['old'])} → {month_label(moved['new'])} "
            f"({moved['pages']} trang chuyển kỳ)"
        )
    return 0


# --------------------------------------------------------------------------- omr reports


def _report_json(r, changes=None) -> dict:
    d = {
        "id": r.id,
        "number": r.number,
        "issued_on": r.issued_on.isoformat(),
        "signer": r.signer,
        "unit": r.unit_code,
        "period": r.period,
        "form": r.form_id,
        "as_of": r.as_of.isoformat(),
        "format": r.fmt,
        "sha256": r.sha256,
        "file_name": r.file_name,
    }
    if changes is not None:
        d["changed"] = bool(changes)
        d["changes"] = [{"figure": c.figure, "key": c.key, "old": c.old, "new": c.new} for c in changes]
    return d


def _reports_issue(args) -> int:
    from db.session import transaction
    from omr.reports import issued as issued_reports

    with transaction() as s:
        report = issued_reports.issue(
            s,
            period=args.period,
            unit_code=args.unit,
            number=args.number,
            signer=args.signer,
            form_id=args.form,
            issued_on=args.date,
            as_of=args.as_of,
            fmt=args.fmt,
            user=args.by,
        )
        data = issued_reports.file_bytes(report)
        info = _report_json(report)
    if args.out:
        Path(args.out).write_bytes(data)
    if args.json:
        print_json(info)
    else:
        print(f"Đã ban hành báo cáo số {info['number']} (#{info['id']}, kỳ {info['period']}, đơn vị {info['unit']})")
        if args.out:
            print(args.out)
    return 0


def _reports_list(args) -> int:
    from db.session import session
    from omr.reports import issued as issued_reports

    with session() as s:
        rows = [
            _report_json(r, issued_reports.changes_of(r))
            for r in issued_reports.listed(s, {args.unit} if args.unit else None, args.period)
        ]
    for r in rows:
        if args.json:
            print_json(r)
        else:
            flag = "ĐÃ THAY ĐỔI" if r["changed"] else "khớp"
            print(f"#{r['id']:<4} số {r['number']:<16} {r['issued_on']}  {r['unit']:<8} kỳ {r['period']:<8} {flag}")
    return 0


def _reports_show(args) -> int:
    from db.session import transaction
    from omr.reports import issued as issued_reports

    with transaction() as s:
        report = issued_reports.get(s, args.report_id)
        changes = issued_reports.check(s, report)
        info = _report_json(report, changes)
    if args.json:
        print_json(info)
        return 0
    print(
        f"Báo cáo số {info['number']} ngày {info['issued_on']}, người ký {info['signer']}, đơn vị {info['unit']}, "
        f"kỳ {info['period']}" + (f", mẫu {info['form']}" if info["form"] else "") + f", số liệu đến {info['as_of']}"
    )
    if not changes:
        print("Số liệu vẫn khớp với báo cáo đã gửi.")
    for c in changes:
        print(f"  thay đổi: {c.text}")
    return 0


def _reports_download(args) -> int:
    from db.session import session
    from omr.reports import issued as issued_reports

    with session() as s:
        data = issued_reports.file_bytes(issued_reports.get(s, args.report_id))
    Path(args.out).write_bytes(data)
    print(args.out)
    return 0


def register(subparsers) -> None:
    from omr.cli.common import Parser
    from omr.reports.issued import ISSUE_FORMATS

    b = subparsers.add_parser("batches", help="các đợt quét và kỳ khảo sát của chúng")
    bs = b.add_subparsers(dest="batches_cmd", required=True, metavar="{list,period}", parser_class=Parser)
    ls = bs.add_parser("list", help="các đợt quét gần đây")
    ls.add_argument("--limit", type=int, default=50)
    ls.add_argument("--json", action="store_true", help="một dòng JSON cho mỗi đợt")
    ls.set_defaults(func=_batches_list)
    pe = bs.add_parser("period", help="sửa tháng khảo sát của một đợt quét (ghi nhật ký)")
    pe.add_argument("batch_id", type=int, metavar="BATCH_ID")
    pe.add_argument("period", metavar="YYYY-MM")
    pe.add_argument("--by", help="người sửa (ghi nhật ký)")
    pe.add_argument("--json", action="store_true")
    pe.set_defaults(func=_batches_period)

    r = subparsers.add_parser("reports", help="sổ báo cáo đã ban hành")
    rs = r.add_subparsers(dest="reports_cmd", required=True, metavar="{issue,list,show,download}", parser_class=Parser)
    iss = rs.add_parser("issue", help="ban hành một báo cáo: ghi số, ngày, người ký và mọi số liệu")
    iss.add_argument("--period", required=True, help="kỳ báo cáo: 2026-11, 2026-Q4, 2026…")
    iss.add_argument("--unit", required=True, metavar="CODE", help="đơn vị ban hành")
    iss.add_argument("--number", required=True, help="số văn bản, ví dụ 12/BC-UBND")
    iss.add_argument("--signer", required=True, help="họ tên người ký")
    iss.add_argument("--form", help="chỉ một mẫu phiếu")
    iss.add_argument("--date", type=_day, help="ngày ban hành (mặc định: hôm nay)")
    iss.add_argument("--as-of", type=_day, dest="as_of", help="số liệu tính đến ngày (mặc định: hôm nay/cuối kỳ)")
    iss.add_argument("--format", choices=ISSUE_FORMATS, default="pdf", dest="fmt")
    iss.add_argument("--out", type=Path, help="ghi thêm một bản tệp đã ban hành ra đây")
    iss.add_argument("--by", help="người thực hiện (ghi nhật ký)")
    iss.add_argument("--json", action="store_true")
    iss.set_defaults(func=_reports_issue)
    li = rs.add_parser("list", help="các báo cáo đã ban hành (theo lần kiểm tra gần nhất)")
    li.add_argument("--unit", metavar="CODE")
    li.add_argument("--period")
    li.add_argument("--json", action="store_true")
    li.set_defaults(func=_reports_list)
    sh = rs.add_parser("show", help="một báo cáo đã ban hành, so lại số liệu với hiện nay")
    sh.add_argument("report_id", type=int, metavar="ID")
    sh.add_argument("--json", action="store_true")
    sh.set_defaults(func=_reports_show)
    dl = rs.add_parser("download", help="tải lại đúng tệp đã ban hành")
    dl.add_argument("report_id", type=int, metavar="ID")
    dl.add_argument("--out", required=True, type=Path)
    dl.set_defaults(func=_reports_download)
