"""``omr forms list`` and ``omr forms layout``: the forms there are, and where each box is printed (CONTRACT.md)."""

from __future__ import annotations

from omr.cli.common import (
    EXIT_OK,
    Parser,
    print_json,
    session,
)


def _forms_list(args) -> int:
    from omr.sheet.templates import all_forms

    forms = list(all_forms().values())
    if args.json:
        print_json([{"id": f.id, "version": f.version, "title": f.title, "pages": f.pages} for f in forms])
    else:
        width = max(len(f.id) for f in forms)
        for f in forms:
            print(f"{f.id:<{width}}  v{f.version}  {f.full_title} ({f.pages} trang)")
    return EXIT_OK


def _forms_layout(args) -> int:
    from omr.sheet.layout import layout_for, layout_json
    from omr.sheet.templates import Variant

    variant = Variant(counters=args.counters, personal=args.personal)
    if args.unit:
        from omr.services.units import get_unit, variant_of

        with session() as s:
            variant = variant_of(get_unit(s, args.unit))
    data = layout_json(layout_for(args.form_id, variant=variant))
    if args.json:
        print_json(data)
        return EXIT_OK
    print(f"{data['form']} v{data['version']}: {data['title']} — {data['pages']} trang, khổ 210×297 mm")
    for f in data["fields"]:
        print(f"  trang {f['page']}  {f['id']}  [{f['kind']}]  {f['label']}")
        for o in f.get("options", []):
            x, y, w, h = o["box_mm"]
            print(f"      {o['value']:>3}  ô tại ({x}, {y}) mm  {o['label']}")
        if f["kind"] == "text" and f.get("box_mm"):
            x, y, w, h = f["box_mm"]
            print(f"      vùng viết tại ({x}, {y}) mm, {w}×{h} mm")
    return EXIT_OK


def register(sub) -> None:
    p = sub.add_parser("forms", help="các mẫu phiếu")
    fs = p.add_subparsers(dest="forms_cmd", required=True, metavar="{list,layout}", parser_class=Parser)
    ls = fs.add_parser("list", help="các mẫu phiếu có sẵn")
    ls.add_argument("--json", action="store_true", help="in dạng JSON")
    ls.set_defaults(func=_forms_list)
    lay = fs.add_parser("layout", help="vị trí các ô trên phiếu (mm từ góc trên bên trái)")
    lay.add_argument("form_id", metavar="FORM_ID")
    lay.add_argument("--json", action="store_true", help="in dạng JSON (CONTRACT.md)")
    lay.add_argument("--counters", type=int, default=6, help="số quầy (mặc định 6)")
    lay.add_argument("--personal", action="store_true", help="có in ô họ tên, điện thoại, địa chỉ")
    lay.add_argument("--unit", help="dùng cấu hình phiếu của đơn vị này")
    lay.set_defaults(func=_forms_layout)
