"""``omr init``: the data directory, the signing key and the database, made now rather than on first use."""

from __future__ import annotations

from omr.cli.common import (
    EXIT_OK,
    session,
)


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
    with session() as s:
        n = s.scalar(select(func.count()).select_from(Unit))
    print(f"Thư mục dữ liệu: {home}")
    print(f"Cơ sở dữ liệu: {eng.url.render_as_string(hide_password=True)} ({n} đơn vị)")
    print(f"Khóa ký: {config.key_path()} — hãy giữ kín và sao lưu tệp này")
    return EXIT_OK


def register(sub) -> None:
    p = sub.add_parser("init", help="tạo thư mục dữ liệu, khóa ký và cơ sở dữ liệu (không bắt buộc)")
    p.set_defaults(func=_init)
