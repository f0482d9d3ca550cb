"""``omr doctor [--repair] [--json]``: check the data directory, and repair what can be repaired."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

from omr import config
from omr.services.doctor import diagnose


def register(sub) -> None:
    p = sub.add_parser("doctor", help="kiểm tra thư mục dữ liệu (khóa ký, cơ sở dữ liệu, đợt quét, tệp thừa)")
    p.add_argument("--repair", action="store_true", help="sửa những gì sửa được (mặc định: chỉ báo cáo)")
    p.add_argument("--json", action="store_true", help="mỗi vấn đề một dòng JSON")
    p.set_defaults(func=_doctor)


def _doctor(args: argparse.Namespace) -> int:
    findings = diagnose(repair=args.repair)
    for f in findings:
        if args.json:
            print(json.dumps(asdict(f), ensure_ascii=False), flush=True)
        else:
            mark = "đã sửa" if f.repaired else ("sửa được" if f.repairable else "lỗi")
            print(f"{mark}: {f.message}", flush=True)
    left = [f for f in findings if not f.repaired]
    if not args.json:
        if not findings:
            print(f"Không thấy vấn đề gì trong {config.home()}")
        elif left and any(f.repairable for f in left):
            print("Chạy omr doctor --repair để sửa những gì sửa được.", file=sys.stderr)
    return 1 if left else 0
