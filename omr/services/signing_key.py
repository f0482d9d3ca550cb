"""This installation's signing key for sheet QR codes: made once, while nothing has been signed.

The key lives in the data directory (``omr.config.key_path``). What cannot be made again is never
made again silently: once sheets are printed or pages stored, a missing key is lost, not new, and a
new one would make every genuine sheet ``invalid``; the message says how to restore it.
"""

from __future__ import annotations

import os
import secrets
import time

from sqlalchemy import func, select

from db import session as dbs
from db.models import Page, Sheet
from omr import config


def signed_so_far() -> str | None:
    """What this installation has made with its key (printed sheets, stored pages), or None if nothing:
    only then may a missing key be created."""
    with dbs.engine().connect() as conn:
        sheets = conn.scalar(select(func.count()).select_from(Sheet)) or 0
        pages = conn.scalar(select(func.count()).select_from(Page)) or 0
    found = [f"{n} {what}" for n, what in ((sheets, "phiếu đã in"), (pages, "trang đã quét")) if n]
    if not found and config.has_stored_images():
        found = ["ảnh các trang đã quét"]
    return ", ".join(found) or None


def secret_key() -> bytes:
    """This installation's signing key for sheet QR codes, made on first use.

    Made only while the installation has signed nothing: once sheets are printed or pages stored, a
    missing key is lost, not new, and a new one would make every genuine sheet ``invalid``.

    The key is created with ``O_EXCL`` so two processes starting at once agree on one key: the loser of
    the race reads the winner's file instead of writing its own.
    """
    path = config.key_path()
    for _ in range(50):
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            data = None
        except OSError as e:
            raise config.ConfigError(f"không đọc được khóa ký {path}: {e.strerror or e}") from e
        if data is not None:
            if len(data) == config.KEY_BYTES:
                return data
            if data:
                raise config.ConfigError(f"khóa ký {path} hỏng (cần đúng {config.KEY_BYTES} byte)")
            # empty: another process has created it and is writing right now
        else:
            signed = signed_so_far()
            if signed is not None:
                raise config.ConfigError(
                    f"thiếu khóa ký {path} trong khi dữ liệu đã có {signed}: {config.KEY_RESTORE_HINT} hoặc đặt đúng "
                    "OMR_HOME; không tạo khóa mới vì mọi phiếu đã in sẽ thành không hợp lệ"
                )
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                continue
            except OSError as e:
                raise config.ConfigError(f"không tạo được khóa ký {path}: {e.strerror or e}") from e
            key = secrets.token_bytes(config.KEY_BYTES)
            with os.fdopen(fd, "wb") as f:
                f.write(key)
                f.flush()
                os.fsync(f.fileno())
            return key
        time.sleep(0.02)
    raise config.ConfigError(f"khóa ký {path} rỗng; xóa tệp này nếu chưa in phiếu nào")
