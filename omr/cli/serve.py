"""``omr serve`` (the web application) and ``omr demo`` (sample data, demo logins, then serve)."""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 5000
DEMO_UNIT = "09552"
DEMO_FORM = "kien-hung-2020"
DEMO_SHEETS = 20
DEMO_USERS = (("admin", "admin"), ("reviewer", "reviewer"), ("staff", "staff"))
DEMO_PASSWORD = "demo-2025"


def register(sub) -> None:
    p = sub.add_parser("serve", help="chạy ứng dụng web")
    _server_args(p)
    p.add_argument(
        "--production",
        action="store_true",
        help="chạy bằng gunicorn với nhiều tiến trình (cho máy chủ thật; cần gói gunicorn)",
    )
    p.add_argument("--workers", type=int, metavar="N", help="số tiến trình web với --production (mặc định 2×nhân+1)")
    p.set_defaults(func=_serve)
    d = sub.add_parser("demo", help="dữ liệu mẫu (in, điền, quét phiếu), tài khoản thử, rồi chạy ứng dụng web")
    _server_args(d)
    d.add_argument("--no-serve", action="store_true", help="chỉ tạo dữ liệu mẫu, không chạy ứng dụng")
    d.add_argument("--sheets", type=int, default=DEMO_SHEETS, help=f"số phiếu mẫu (mặc định {DEMO_SHEETS})")
    d.set_defaults(func=_demo)


def _server_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default=DEFAULT_HOST, help=f"địa chỉ lắng nghe (mặc định {DEFAULT_HOST})")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"cổng (mặc định {DEFAULT_PORT})")
    p.add_argument(
        "--insecure-cookies",
        action="store_true",
        help="cho phép đăng nhập qua HTTP thường trong mạng nội bộ (không có HTTPS)",
    )


def _loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _serve(args) -> int:
    from werkzeug.serving import run_simple

    from db.session import engine
    from web import create_app, warm_up

    if args.insecure_cookies:
        os.environ["OMR_INSECURE_COOKIES"] = "1"
    engine()  # create or migrate the database before the first request, and fail here if it cannot
    app = create_app()
    warm_up()
    if not _loopback(args.host) and app.config["SESSION_COOKIE_SECURE"]:
        print(
            "Lưu ý: cookie phiên chỉ gửi qua HTTPS. Đặt ứng dụng sau một máy chủ HTTPS, "
            "hoặc chạy với --insecure-cookies trong mạng nội bộ tin cậy.",
            file=sys.stderr,
        )
    shown = "127.0.0.1" if args.host in ("0.0.0.0", "") else args.host
    if getattr(args, "production", False):
        return _serve_production(args, shown)
    print(f"Ứng dụng web: http://{shown}:{args.port}/  (Ctrl-C để dừng)", flush=True)
    run_simple(
        args.host,
        args.port,
        app,
        threaded=True,
        use_reloader=False,
        use_debugger=False,
        request_handler=_quiet_handler(),
    )
    return 0


def _quiet_handler() -> type:
    """Werkzeug's request handler without its ``Server: Werkzeug/… Python/…`` header (which tells an
    attacker what to look up); the class is made here so werkzeug is imported only to serve."""
    from werkzeug.serving import WSGIRequestHandler

    class Handler(WSGIRequestHandler):
        def send_response(self, code: int, message: str | None = None) -> None:
            # BaseHTTPRequestHandler.send_response without its Server header
            self.log_request(code)
            self.send_response_only(code, message)
            self.send_header("Date", self.date_time_string())

    return Handler


def _serve_production(args, shown: str) -> int:
    """The same application under gunicorn: several processes, each with a few threads (uploads and
    slow report downloads do not hold up other users). Each process builds its own app and database
    connections after the fork; the master has already created the keys and migrated the database."""
    try:
        from gunicorn.app.base import BaseApplication
    except ImportError:
        from omr.config import ConfigError

        raise ConfigError("chưa cài gunicorn: pip install 'omr-hailong[scale]'") from None
    from db import session as dbs
    from web import create_app, warm_up

    dbs.dispose()  # no connection of the master's may be shared by the forked processes
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    options = {
        "bind": f"{args.host}:{args.port}",
        "workers": args.workers or 2 * cores + 1,
        "worker_class": "gthread",
        "threads": 4,
        # a large upload is received by a thread while the process keeps answering its heartbeat
        "timeout": 120,
        "graceful_timeout": 60,
        "accesslog": "-",
        "errorlog": "-",
        "proc_name": "omr-web",
        # never max_requests: a process recycled mid-way would stop the background reading of an upload
    }

    class _App(BaseApplication):
        def load_config(self) -> None:
            for k, v in options.items():
                self.cfg.set(k, v)
            if "control_socket_disable" in self.cfg.settings:
                # gunicorn ≥ 23's control socket is one per user: two instances on a machine would clash
                self.cfg.set("control_socket_disable", True)

        def load(self):
            app = create_app()
            warm_up()  # in each process, before it takes a request
            return app

    print(
        f"Ứng dụng web (gunicorn, {options['workers']} tiến trình): http://{shown}:{args.port}/  (Ctrl-C để dừng)",
        flush=True,
    )
    _App().run()
    return 0


def _demo(args) -> int:
    from sqlalchemy import select

    from db.models import User
    from db.session import session, transaction
    from omr import config
    from omr.services import ingest, signing_key
    from omr.services.print_runs import print_sheets
    from omr.services.users import add_user

    home = config.home()
    demo_dir = home / "demo"
    demo_dir.mkdir(exist_ok=True)
    marker = demo_dir / "scanned"
    with transaction() as s:
        for name, role in DEMO_USERS:
            if s.scalar(select(User.id).where(User.username == name)) is None:
                add_user(s, name, DEMO_PASSWORD, role, DEMO_UNIT, by="omr demo")
    if not marker.exists():
        from samples.demo import make_demo_stack

        pdf = demo_dir / "phieu-mau.pdf"
        with session() as s:
            manifest = print_sheets(s, DEMO_FORM, DEMO_UNIT, args.sheets, pdf, created_by="admin")
        serials = sorted({m["serial"] for m in manifest})
        print(f"Đã in {len(serials)} phiếu mẫu: {pdf}")
        make_demo_stack(demo_dir, serials, signing_key.secret_key())
        stacks = sorted(p for p in demo_dir.glob("demo-stack*") if p.suffix.lower() in (".pdf", ".tif", ".zip"))
        counts: dict[str, int] = {}
        for line in ingest.scan(stacks, created_by="admin", label="Tập phiếu mẫu (demo)"):
            counts[line["status"]] = counts.get(line["status"], 0) + 1
        marker.write_text("ok\n")
        from omr.vocab import PAGE_STATUS as STATUS_LABELS

        summary = ", ".join(f"{STATUS_LABELS.get(k, k)}: {v}" for k, v in sorted(counts.items()))
        print(f"Đã quét tập phiếu mẫu: {summary}")
    _print_logins(args)
    if args.no_serve:
        return 0
    return _serve(args)


def _print_logins(args) -> None:
    shown = "127.0.0.1" if args.host in ("0.0.0.0", "") else args.host
    print()
    print(f"Mở trình duyệt: http://{shown}:{args.port}/")
    print("Tài khoản thử (đơn vị 09552 – Phường Kiến Hưng):")
    for name, role in DEMO_USERS:
        print(f"  {name:<9} mật khẩu {DEMO_PASSWORD}   ({role})")
    print()


__all__ = ["register"]
