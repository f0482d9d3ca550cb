"""``omr units list|add|set``: the units (provinces, wards, service points) and their sheets' settings."""

from __future__ import annotations

import argparse

from omr.cli.common import (
    EXIT_OK,
    Parser,
    print_json,
    session,
)


def _unit_json(u) -> dict:
    return {
        "code": u.code,
        "name": u.name,
        "kind": u.kind,
        "parent": u.parent_code,
        "counters": u.counters,
        "personal_fields": u.personal_fields,
        "yearly_quota": u.yearly_quota,
    }


def _units_list(args) -> int:
    from omr.services.units import list_units

    with session() as s:
        units = list_units(s, args.province)
        if args.json:
            print_json([_unit_json(u) for u in units])
            return EXIT_OK
        for u in units:
            parent = f"  (thuộc {u.parent_code})" if u.parent_code else ""
            print(f"{u.code:<8} {u.name}{parent}")
    return EXIT_OK


def _units_add(args) -> int:
    from db.session import transaction
    from omr.services.units import add_unit

    with transaction() as s:
        unit = add_unit(
            s, args.code, args.name, args.parent, args.counters, args.personal, args.quota, args.kind, by=args.by
        )
        data = _unit_json(unit)
    if args.json:
        print_json(data)
    else:
        print(
            f"Đã thêm đơn vị {data['code']} — {data['name']}" + (f" (thuộc {data['parent']})" if data["parent"] else "")
        )
    return EXIT_OK


def _units_set(args) -> int:
    from db.session import transaction
    from omr.reports import settings as report_settings
    from omr.services import audit
    from omr.services.units import update_unit

    with transaction() as s:
        unit = update_unit(
            s,
            args.code,
            args.by,
            name=args.name or None,  # an empty --name leaves the name as it is
            counters=args.counters,
            personal_fields=args.personal,
            yearly_quota=args.quota,
        )
        if (report := report_settings.apply_options(s, unit, args)) is not None:
            audit.record(s, args.by, "unit.report_settings", f"unit:{unit.code}", report["old"], report["new"])
        data = _unit_json(unit)
    if args.json:
        print_json(data)
    else:
        print(f"Đã cập nhật đơn vị {data['code']} — {data['name']}: {data['counters']} quầy")
    return EXIT_OK


def register(sub) -> None:
    from omr.services.units import ADDED_KINDS

    p = sub.add_parser("units", help="đơn vị (tỉnh, phường/xã, điểm phục vụ)")
    us = p.add_subparsers(dest="units_cmd", required=True, metavar="{list,add,set}", parser_class=Parser)
    ls = us.add_parser("list", help="các đơn vị đã biết")
    ls.add_argument("--json", action="store_true", help="in dạng JSON")
    ls.add_argument("--province", metavar="CODE", help="chỉ một tỉnh/thành và các đơn vị trực thuộc")
    ls.set_defaults(func=_units_list)
    add = us.add_parser("add", help="thêm một điểm phục vụ (trường học, trạm y tế, chi nhánh…)")
    add.add_argument("code", metavar="CODE")
    add.add_argument("name", metavar="NAME")
    add.add_argument("--parent", metavar="CODE", help="đơn vị cấp trên")
    add.add_argument("--counters", type=int, default=6, help="số quầy in trên phiếu (mặc định 6)")
    add.add_argument("--personal", action="store_true", help="in ô họ tên, điện thoại, địa chỉ")
    add.add_argument("--quota", type=int, help="chỉ tiêu số phiếu mỗi năm")
    add.add_argument(
        "--kind",
        choices=ADDED_KINDS,
        default="service_point",
        help="service_point: điểm phục vụ (chỉ tiêu 0 nếu không đặt); office: bộ phận một cửa cấp huyện (200/năm)",
    )
    add.add_argument("--by", help="người thực hiện (ghi nhật ký)")
    add.add_argument("--json", action="store_true", help="in dạng JSON")
    add.set_defaults(func=_units_add)
    st = us.add_parser("set", help="đổi cấu hình phiếu của một đơn vị")
    st.add_argument("code", metavar="CODE")
    st.add_argument("--name")
    st.add_argument("--counters", type=int, help="số quầy in trên phiếu")
    st.add_argument("--personal", action=argparse.BooleanOptionalAction, help="in ô thông tin cá nhân")
    st.add_argument("--quota", type=int, help="chỉ tiêu số phiếu mỗi năm (0: bỏ)")
    st.add_argument("--by", help="người thực hiện (ghi nhật ký)")
    st.add_argument("--json", action="store_true", help="in dạng JSON")
    from omr.reports.settings import add_options as add_report_options

    add_report_options(st)
    st.set_defaults(func=_units_set)
