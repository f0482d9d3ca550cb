"""``omr users add|disable|enable|unlock``: the web application's users."""

from __future__ import annotations

import getpass
import sys
import warnings

from omr.cli.common import (
    EXIT_OK,
    Parser,
    UserError,
    print_json,
)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise UserError("không đọc được mật khẩu từ đầu vào chuẩn")
        return line.rstrip("\r\n")
    try:
        with warnings.catch_warnings():
            # no terminal to turn echo off on: refuse rather than show the password
            warnings.simplefilter("error", getpass.GetPassWarning)
            first = getpass.getpass("Mật khẩu: ")
            second = getpass.getpass("Nhập lại mật khẩu: ")
    except (EOFError, getpass.GetPassWarning):
        raise UserError("không có terminal để nhập mật khẩu (dùng --password-stdin để đọc từ đầu vào chuẩn)") from None
    if first != second:
        raise UserError("hai lần nhập mật khẩu không khớp")
    return first


def _users_add(args) -> int:
    from db.session import transaction
    from omr.services.users import add_user, check_password

    password = _read_password(args.password_stdin)
    check_password(password)
    with transaction() as s:
        user = add_user(s, args.name, password, args.role, args.unit, args.by)
        name, role, unit = user.username, user.role, user.unit_code
    if args.json:
        print_json({"username": name, "role": role, "unit": unit})
    else:
        print(f"Đã tạo người dùng {name} (vai trò {role}, đơn vị {unit})")
    return EXIT_OK


def _users_disable(args) -> int:
    from db.session import transaction
    from omr.services.users import set_disabled

    disable = args.users_cmd == "disable"
    with transaction() as s:
        set_disabled(s, args.name, disable, args.by)
    print(
        f"Đã {'vô hiệu hóa' if disable else 'mở lại'} người dùng {args.name}"
        + (" (mọi phiên đăng nhập kết thúc)" if disable else "")
    )
    return EXIT_OK


def _users_unlock(args) -> int:
    from db.session import transaction
    from omr.services.users import get_user, unlock

    with transaction() as s:
        get_user(s, args.name)
        unlock(s, args.name, args.by)
    print(f"Đã bỏ khóa đăng nhập sai nhiều lần của {args.name} (từ mọi địa chỉ)")
    return EXIT_OK


def register(sub) -> None:
    from omr.vocab import ROLES

    p = sub.add_parser("users", help="người dùng ứng dụng web")
    us = p.add_subparsers(dest="users_cmd", required=True, metavar="{add,disable,enable,unlock}", parser_class=Parser)
    add = us.add_parser("add", help="tạo người dùng")
    add.add_argument("name", metavar="NAME")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--unit", required=True, metavar="CODE", help="đơn vị của người dùng")
    add.add_argument("--password-stdin", action="store_true", help="đọc mật khẩu (một dòng) từ đầu vào chuẩn")
    add.add_argument("--by", help="người thực hiện (ghi nhật ký)")
    add.add_argument("--json", action="store_true", help="in dạng JSON")
    add.set_defaults(func=_users_add)
    for cmd, what in (
        ("disable", "vô hiệu hóa người dùng (không đăng nhập được nữa)"),
        ("enable", "mở lại người dùng"),
    ):
        d = us.add_parser(cmd, help=what)
        d.add_argument("name", metavar="NAME")
        d.add_argument("--by", help="người thực hiện (ghi nhật ký)")
        d.set_defaults(func=_users_disable)
    u = us.add_parser("unlock", help="bỏ khóa đăng nhập sai nhiều lần của người dùng")
    u.add_argument("name", metavar="NAME")
    u.add_argument("--by", help="người thực hiện (ghi nhật ký)")
    u.set_defaults(func=_users_unlock)
