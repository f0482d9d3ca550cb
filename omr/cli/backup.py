"""``omr backup`` and ``omr restore``: the commands over ``omr.services.backup``."""

from __future__ import annotations

import argparse
from pathlib import Path

from omr.services.backup import backup, restore


def register(sub) -> None:
    b = sub.add_parser("backup", help="sao lưu cơ sở dữ liệu, ảnh các trang và khóa ký vào một tệp")
    b.add_argument("out", metavar="OUT", help="tệp sao lưu: .tar, .tar.gz (.tgz) hoặc .zip")
    b.add_argument(
        "--portable",
        action="store_true",
        help="xuất dữ liệu dạng trung lập (khôi phục được vào cả SQLite lẫn PostgreSQL) thay vì pg_dump/tệp SQLite",
    )
    b.set_defaults(func=_backup)

    r = sub.add_parser("restore", help="khôi phục từ một tệp sao lưu của omr backup")
    r.add_argument("backup", metavar="BACKUP", help="tệp do omr backup tạo")
    r.add_argument("--force", action="store_true", help="thay thế cả khi cơ sở dữ liệu đích đã có dữ liệu")
    r.set_defaults(func=_restore)


def _backup(args: argparse.Namespace) -> int:
    summary = backup(Path(args.out), portable=args.portable)
    print(
        f"Đã sao lưu vào {args.out}: cơ sở dữ liệu ({summary['database']}), {summary['files']} tệp "
        f"({summary['bytes'] / 1e6:.1f} MB). Giữ tệp này kín như khóa ký: nó chứa secret.key."
    )
    return 0


def _restore(args: argparse.Namespace) -> int:
    summary = restore(Path(args.backup), force=args.force)
    print(
        f"Đã khôi phục từ {args.backup}: {summary['pages']} trang, {summary['sheets']} phiếu đã in, "
        f"{summary['files']} tệp vào {summary['home']}"
    )
    return 0
