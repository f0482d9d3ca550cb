"""The ``omr`` command (CONTRACT.md): forms, units, print, scan, users, init — and room for more.

Each command group is added by a ``register(subparsers)`` function that builds its parser and sets
``func`` (``args -> exit status``). Other parts of the product add theirs by naming their module in
``COMMAND_MODULES``: a module that is not there (not written yet, or not installed) is skipped, and
none is imported to run a command of this file (``build_parser``).

A user's mistake never shows a traceback: ``main`` turns the product's own errors, template errors
and file-system errors into one Vietnamese line on stderr and a non-zero exit status.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import importlib
import json
import os
import signal
import sys
import threading
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

# modules with ``register(subparsers)``, besides the commands in this file
COMMAND_MODULES: tuple[str, ...] = (
    "omr.reports.cli",  # omr export (tallies and reports)
    "web.cli",  # omr serve
    "omr.worker_cli",  # omr worker (queue workers)
    "omr.backup_cli",  # omr backup, omr restore (the data directory in one archive)
    "omr.period_cli",  # omr batches (survey period of scan batches), omr reports (issued reports)
    "omr.reread_cli",  # omr reread (stored pages read again by the current reader)
    "omr.doctor",  # omr doctor (checks and repairs the data directory)
)

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

_ARGPARSE_VI = (
    ("the following arguments are required", "thiếu tham số bắt buộc"),
    ("unrecognized arguments", "tham số không hiểu được"),
    ("invalid choice", "lựa chọn không hợp lệ"),
    ("choose from", "chọn một trong"),
    ("invalid int value", "không phải số nguyên"),
    ("invalid float value", "không phải số"),
    ("expected one argument", "cần một giá trị"),
    ("not allowed with argument", "không dùng chung được với"),
    ("one of the arguments", "cần một trong các tham số"),
    ("is required", "là bắt buộc"),
)


class UserError(Exception):
    """A mistake in the command line itself; printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse with its complaints on one line, in Vietnamese, and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        for en, vi in _ARGPARSE_VI:
            message = message.replace(en, vi)
        self.exit(EXIT_USAGE, f"{self.prog}: lỗi: {message} (xem {self.prog} --help)\n")


def _out(obj: object) -> None:
    print(json.dumps(obj, ensure_ascii=False), flush=True)


def _session():
    from db.session import session

    return session()


# --------------------------------------------------------------------------- omr forms


def _forms_list(args) -> int:
    from omr.templates import all_forms

    forms = list(all_forms().values())
    if args.json:
        _out([{"id": f.id, "version": f.version, "title": f.title, "pages": f.pages} for f in forms])
    else:
        width = max(len(f.id) for f in forms)
        for f in forms:
            print(f"{f.id:<{width}}  v{f.version}  {f.full_title} ({f.pages} trang)")
    return EXIT_OK


def _forms_layout(args) -> int:
    from omr.layout import layout_for, layout_json
    from omr.templates import Variant

    variant = Variant(counters=args.counters, personal=args.personal)
    if args.unit:
        from omr.services.units import get_unit, variant_of

        with _session() as s:
            variant = variant_of(get_unit(s, args.unit))
    data = layout_json(layout_for(args.form_id, variant=variant))
    if args.json:
        _out(data)
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


def register_forms(sub) -> None:
    p = sub.add_parser("forms", help="các mẫu phiếu")
    fs = p.add_subparsers(dest="forms_cmd", required=True, metavar="{list,layout}", parser_class=_Parser)
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


# --------------------------------------------------------------------------- omr units


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

    with _session() as s:
        units = list_units(s, args.province)
        if args.json:
            _out([_unit_json(u) for u in units])
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
        _out(data)
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
        _out(data)
    else:
        print(f"Đã cập nhật đơn vị {data['code']} — {data['name']}: {data['counters']} quầy")
    return EXIT_OK


def register_units(sub) -> None:
    from omr.services.units import ADDED_KINDS

    p = sub.add_parser("units", help="đơn vị (tỉnh, phường/xã, điểm phục vụ)")
    us = p.add_subparsers(dest="units_cmd", required=True, metavar="{list,add,set}", parser_class=_Parser)
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


# --------------------------------------------------------------------------- omr print


def _print(args) -> int:
    from omr.services.print_runs import print_sheets

    out = Path(args.out)
    with _session() as s:
        manifest = print_sheets(s, args.form, args.unit, args.count, out, args.by)
    if args.json:
        for line in manifest:
            _out(line)
    else:
        serials = [m["serial"] for m in manifest]
        print(f"Đã in {args.count} phiếu (số {serials[0]}–{serials[-1]}, {len(manifest)} trang) vào {out}")
    return EXIT_OK


def register_print(sub) -> None:
    p = sub.add_parser("print", help="in phiếu, mỗi phiếu một số mới")
    p.add_argument("--form", required=True, metavar="FORM_ID", help="mã mẫu phiếu (omr forms list)")
    p.add_argument("--unit", required=True, metavar="UNIT_CODE", help="mã đơn vị (omr units list)")
    p.add_argument("--count", required=True, type=int, metavar="N", help="số phiếu")
    p.add_argument("--out", required=True, metavar="FILE.pdf", help="tệp PDF để in")
    p.add_argument("--by", help="người in (ghi vào đợt in)")
    p.add_argument("--json", action="store_true", help="một dòng JSON cho mỗi trang in")
    p.set_defaults(func=_print)


# --------------------------------------------------------------------------- omr scan


def _scan(args) -> int:
    from omr import queue
    from omr.services import ingest, survey_period, watched_folder
    from omr.vocab import PAGE_STATUS as STATUS_LABELS  # the words the web and the exports use
    from omr.vocab_counts import from_scan_lines

    if not args.paths and not args.watch:
        raise UserError("cần ít nhất một tệp/thư mục để quét, hoặc --watch THƯ_MỤC")
    if args.period and args.watch:
        raise UserError("--period không dùng với --watch: mỗi tệp thuộc tháng quét (sửa sau: omr batches period)")
    period = survey_period.parse_month(args.period) if args.period else survey_period.current_month()
    paths = [Path(p) for p in args.paths]
    for p in paths:
        if not p.exists():
            raise UserError(f"không có tệp hay thư mục {p}")
    if args.watch and not Path(args.watch).is_dir():
        raise UserError(f"không có thư mục {args.watch} để theo dõi")
    progress = not args.json or sys.stderr.isatty()
    counts: Counter[str] = Counter()
    lines: list[dict] = []  # for the summary's sheet counts (omr.vocab_counts)
    write = _tqdm_write if progress else _plain_write  # tqdm's write keeps the bar below the text
    stop = threading.Event()
    out = _Output(on_gone=stop.set if args.watch else None)

    def emit(line: dict) -> None:
        counts[line["status"]] += 1
        if not args.watch:  # a watcher runs for months: no summary, nothing kept
            lines.append({k: line.get(k) for k in ("status", "serial", "answers")})
        if line["status"] == "error":
            out.err(
                lambda: write(f"Lỗi: {line['source']} trang {line['page']}: {_sentence(line['error'])}", sys.stderr)
            )
        if args.json:
            out.put(lambda: _out(line))
        elif line["status"] != "error":
            label = STATUS_LABELS.get(line["status"], line["status"])
            ident = f" (phiếu {line['serial']}, trang {line['sheet_page']})" if line["serial"] else ""
            out.put(lambda: write(f"{line['source']} trang {line['page']}: {label}{ident}"))

    opts = {"workers": args.workers, "progress": progress, "created_by": args.by}
    try:
        if paths:
            from omr.detect.sources import display_name  # a file name that is not UTF-8, escaped

            label = ", ".join(display_name(p.name) for p in paths)[:300]
            batch_id = ingest.start_batch(label, args.by, 0, period)
            # in this process, or through the workers' queue when OMR_BROKER_URL is set
            for line in queue.scan(paths, batch_id=batch_id, **opts):
                emit(line)
        if args.watch and not stop.is_set():
            _stop_on_signals()
            print(f"Đang theo dõi {args.watch} (Ctrl-C để dừng)…", file=sys.stderr, flush=True)
            stable = args.stable if args.stable is not None else watched_folder.stable_seconds()
            watching = watched_folder.watch(
                Path(args.watch),
                scan=queue.scan,  # through the workers' queue when OMR_BROKER_URL is set
                interval=args.interval,
                stable=stable,
                stop=stop,
                notify=lambda m: out.err(lambda: write(m, sys.stderr)),
                **opts,
            )
            for line in watching:
                emit(line)
    except KeyboardInterrupt:
        print("Đã dừng. Các trang đã lưu vẫn giữ nguyên; quét lại sẽ tiếp tục phần còn lại.", file=sys.stderr)
        return EXIT_OK if args.watch else 130
    if not args.json:
        summary = ", ".join(f"{STATUS_LABELS.get(k, k)}: {v}" for k, v in sorted(counts.items()))
        out.put(
            lambda: print(f"Tổng cộng {sum(counts.values())} trang — {summary or 'không có trang nào'}", flush=True)
        )
        out.put(lambda: print(from_scan_lines(lines).words().capitalize(), flush=True))
    if out.gone_after is not None:
        # every page was read and stored; only the lines could not all be given to the reader
        out.err(
            lambda: print(
                f"omr scan: Lỗi: đầu ra bị đóng sau {out.gone_after} dòng (ví dụ bởi | head); đã đọc hết "
                f"{sum(counts.values())} trang và lưu mọi trang đọc được, các dòng còn lại không được in",
                file=sys.stderr,
                flush=True,
            )
        )
        return EXIT_FAILED
    if counts["error"]:
        return EXIT_FAILED  # the error lines are all stderr says: one line per unreadable page
    if paths:
        out.err(lambda: print(_period_note(batch_id, period, explicit=bool(args.period)), file=sys.stderr))
    return EXIT_OK


def _period_note(batch_id: int, period: str, explicit: bool) -> str:
    """Which survey month the stack counted in; in the first days of a month, when a stack is most
    likely last month's box, how to move it there."""
    from omr.services import survey_period as sp

    note = f"Đợt quét #{batch_id}: phiếu tính vào kỳ khảo sát {sp.month_label(period)}"
    if explicit:
        return note + "."
    note += " (tháng quét; chọn tháng khác bằng --period YYYY-MM)."
    if sp.is_early():
        last = sp.month_code(sp.previous_month(sp.local_today()))
        note += f" Nếu đây là phiếu của {sp.month_label(last)}: omr batches period {batch_id} {last}"
    return note


class _Output:
    """Standard output of a scan, whose reader may go away (``omr scan --json stack.pdf | head -1``). Then
    the scan goes on, storing every page, and only its output stops: the caller says so at the end and
    exits non-zero, never a silent success. ``on_gone``: called once when that happens (a watcher stops)."""

    def __init__(self, on_gone: Callable[[], object] | None = None):
        self.on_gone = on_gone
        self.written = 0
        self.gone_after: int | None = None  # lines written before the reader went away

    def put(self, write: Callable[[], object]) -> None:
        if self.gone_after is not None:
            return
        try:
            write()
        except BrokenPipeError:
            self.gone_after = self.written
            _to_devnull(sys.stdout)  # what is still buffered, and Python's own flush at exit, go nowhere
            if self.on_gone is not None:
                self.on_gone()
            return
        self.written += 1

    @staticmethod
    def err(write: Callable[[], object]) -> None:
        """A line on stderr, which may have gone with stdout (``2>&1 | head``): then there is no one to tell."""
        try:
            write()
        except BrokenPipeError:
            _to_devnull(sys.stderr)


def _to_devnull(stream) -> None:
    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())


def _interrupt(*_) -> None:
    raise KeyboardInterrupt


def _stop_on_signals() -> None:
    """Ctrl-C and SIGTERM (systemd stopping the service) both end a watcher cleanly: the pages in hand
    are dropped unstored, the next start reads that file again and reports what it had as duplicates.
    Set explicitly because a watcher started in the background inherits SIGINT ignored."""
    with contextlib.suppress(ValueError):  # not the main thread (e.g. called from tests)
        signal.signal(signal.SIGINT, _interrupt)
        signal.signal(signal.SIGTERM, _interrupt)


def _plain_write(text: str, file=None) -> None:
    print(text, file=file or sys.stdout, flush=True)


def _tqdm_write(text: str, file=None) -> None:
    from tqdm import tqdm

    tqdm.write(text, file=file or sys.stdout)


def register_scan(sub) -> None:
    p = sub.add_parser("scan", help="đọc các xấp phiếu đã quét vào cơ sở dữ liệu")
    p.add_argument("paths", nargs="*", metavar="PATH", help="PDF, TIFF, PNG/JPEG, thư mục hoặc ZIP")
    p.add_argument("--json", action="store_true", help="một dòng JSON cho mỗi trang (CONTRACT.md)")
    p.add_argument("--watch", metavar="DIR", help="theo dõi thư mục, đọc mỗi tệp mới một lần khi đã ghi xong")
    p.add_argument("--interval", type=float, default=2.0, help="giây giữa hai lần xem thư mục (mặc định 2)")
    p.add_argument(
        "--stable",
        type=float,
        metavar="GIÂY",
        help="với --watch: chỉ đọc tệp khi cỡ và giờ sửa không đổi chừng ấy giây và tệp đã ghi đến cuối "
        "(mặc định OMR_WATCH_STABLE hoặc 5)",
    )
    p.add_argument("--workers", type=int, help="số tiến trình đọc (mặc định: số nhân CPU)")
    p.add_argument("--by", help="người quét (ghi vào đợt quét)")
    p.add_argument("--period", metavar="YYYY-MM", help="tháng khảo sát của xấp phiếu (mặc định: tháng quét)")
    p.set_defaults(func=_scan)


# --------------------------------------------------------------------------- omr users


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
        _out({"username": name, "role": role, "unit": unit})
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


def register_users(sub) -> None:
    from omr.vocab import ROLES

    p = sub.add_parser("users", help="người dùng ứng dụng web")
    us = p.add_subparsers(dest="users_cmd", required=True, metavar="{add,disable,enable,unlock}", parser_class=_Parser)
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


# --------------------------------------------------------------------------- omr init


def _init(args) -> int:
    from sqlalchemy import func, select

    from db.models import Unit
    from db.session import engine
    from omr import config
    from omr.services import signing_key

    home = config.home()
    signing_key.secret_key()
    config.pages_dir()
    eng = engine()
    with _session() as s:
        n = s.scalar(select(func.count()).select_from(Unit))
    print(f"Thư mục dữ liệu: {home}")
    print(f"Cơ sở dữ liệu: {eng.url.render_as_string(hide_password=True)} ({n} đơn vị)")
    print(f"Khóa ký: {config.key_path()} — hãy giữ kín và sao lưu tệp này")
    return EXIT_OK


def register_init(sub) -> None:
    p = sub.add_parser("init", help="tạo thư mục dữ liệu, khóa ký và cơ sở dữ liệu (không bắt buộc)")
    p.set_defaults(func=_init)


# --------------------------------------------------------------------------- main

BUILTIN: tuple[Callable, ...] = (
    register_forms,
    register_units,
    register_print,
    register_scan,
    register_users,
    register_init,
)


def _extensions() -> list[Callable]:
    found = []
    for name in COMMAND_MODULES:
        try:
            mod = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name and (name == e.name or name.startswith(e.name + ".")):
                continue  # that part of the product is not there: its commands are simply absent
            raise
        if hasattr(mod, "register"):
            found.append(mod.register)
    return found


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser for every command; given the ``command`` about to run, only what it needs.

    A built-in command does not need the other modules' parsers, and importing them costs every run
    (Flask for ``omr serve``, the tally for ``omr export``): they are added for any other command, for
    ``--help`` and for a mistyped command, whose error lists them all."""
    parser = _Parser(prog="omr", description="In phiếu khảo sát, đọc phiếu quét, tổng hợp kết quả.")
    parser.add_argument("--version", action="version", version=f"omr {_version()}", help="phiên bản của omr")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    for register in BUILTIN:
        register(sub)
    if command not in sub.choices:
        for register in _extensions():
            register(sub)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("omr-hailong")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "(chưa cài đặt)"


def _message(e: BaseException) -> str:
    if isinstance(e, OSError):
        where = f"{e.filename}: " if e.filename else ""
        return _sentence(f"{where}{e.strerror or e}")
    text = str(e).strip() or type(e).__name__
    return _sentence(text.splitlines()[0])


def _sentence(text: str) -> str:
    """Every message a person reads starts with a capital letter."""
    return text[:1].upper() + text[1:]


def main(argv: Sequence[str] | None = None) -> int:
    from sqlalchemy.exc import DatabaseError as SQLDatabaseError
    from sqlalchemy.exc import OperationalError

    from db.session import DatabaseError
    from omr.config import ConfigError
    from omr.layout import LayoutError
    from omr.services import ServiceError
    from omr.templates import TemplateError, UnknownForm

    argv = sys.argv[1:] if argv is None else list(argv)
    # ``omr`` itself takes no option but --help, so a command line that runs a command begins with it
    command = argv[0] if argv and not argv[0].startswith("-") else None
    try:
        parser = build_parser(command)
    except TemplateError as e:  # a broken form file stops every command, with its name and line
        print(f"omr: {_message(e)}", file=sys.stderr)
        return EXIT_FAILED
    args = parser.parse_args(argv)
    expected = (UserError, ServiceError, UnknownForm, TemplateError, LayoutError, ConfigError, DatabaseError, OSError)
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:
        # the reader of our output went away (e.g. ``| head``): not an error of ours; keep Python from
        # complaining when it flushes stdout at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except OperationalError as e:
        print(f"omr {args.command}: Lỗi cơ sở dữ liệu: {_message(e.orig or e)}", file=sys.stderr)
        return EXIT_FAILED
    except SQLDatabaseError:
        # e.g. a database file overwritten or cut short: nothing a retry or OMR_DEBUG would change
        from sqlalchemy.engine import make_url

        from omr import config

        where = make_url(config.database_url()).render_as_string(hide_password=True)
        print(f"omr {args.command}: lỗi: cơ sở dữ liệu hỏng, không đọc được ({where}); hãy khôi phục từ bản sao lưu",
              file=sys.stderr)  # fmt: skip
        return EXIT_FAILED
    except expected as e:
        code = EXIT_USAGE if isinstance(e, UserError | ServiceError | UnknownForm) else EXIT_FAILED
        print(f"omr {args.command}: {_message(e)}", file=sys.stderr)
        return code
    except KeyboardInterrupt:
        print("Đã dừng.", file=sys.stderr)
        return 130
    except Exception as e:
        # a fault of ours, not the user's: still one line, with the way to get the details
        from omr import config

        if config.debug():
            raise
        print(
            f"omr {args.command}: Lỗi không mong đợi ({type(e).__name__}: {_message(e)}); "
            "chạy lại với OMR_DEBUG=1 để xem chi tiết",
            file=sys.stderr,
        )
        return EXIT_FAILED


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
