"""``omr print``: sheets with new serials, as a PDF to print (CONTRACT.md)."""

from __future__ import annotations

from pathlib import Path

from omr.cli.common import (
    EXIT_OK,
    print_json,
    session,
)


def _print(args) -> int:
    from omr.services.print_runs import print_sheets

    out = Path(args.out)
    with session() as s:
        manifest = print_sheets(s, args.form, args.unit, args.count, out, args.by)
    if args.json:
        for line in manifest:
            print_json(line)
    else:
        serials = [m["serial"] for m in manifest]
        print(f"Đã in {args.count} phiếu (số {serials[0]}–{serials[-1]}, {len(manifest)} trang) vào {out}")
    return EXIT_OK


def register(sub) -> None:
    p = sub.add_parser("print", help="in phiếu, mỗi phiếu một số mới")
    p.add_argument("--form", required=True, metavar="FORM_ID", help="mã mẫu phiếu (omr forms list)")
    p.add_argument("--unit", required=True, metavar="UNIT_CODE", help="mã đơn vị (omr units list)")
    p.add_argument("--count", required=True, type=int, metavar="N", help="số phiếu")
    p.add_argument("--out", required=True, metavar="FILE.pdf", help="tệp PDF để in")
    p.add_argument("--by", help="người in (ghi vào đợt in)")
    p.add_argument("--json", action="store_true", help="một dòng JSON cho mỗi trang in")
    p.set_defaults(func=_print)
