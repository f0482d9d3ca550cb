"""Where this installation keeps its state: one data directory, read from the environment.

Everything is looked up when asked (not at import), so a test or a long-running process that changes
``OMR_HOME`` sees the new directory. Directories are created on demand: no separate init step.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

DEFAULT_HOME = "./omr-data"
DB_FILE = "omr.sqlite3"
KEY_FILE = "secret.key"
KEY_BYTES = 32


class ConfigError(RuntimeError):
    """The data directory or the key cannot be used; the message says what to fix."""


def home() -> Path:
    """The data directory (``OMR_HOME``, default ``./omr-data``), created if missing."""
    path = Path(os.environ.get("OMR_HOME") or DEFAULT_HOME).expanduser().resolve()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"không tạo được thư mục dữ liệu {path}: {e.strerror or e}") from e
    return path


def database_url() -> str:
    """``OMR_DATABASE_URL`` if set (any SQLAlchemy URL), else a SQLite file inside the data directory."""
    url = os.environ.get("OMR_DATABASE_URL", "").strip()
    if url:
        return url
    return f"sqlite:///{home() / DB_FILE}"


def pages_dir() -> Path:
    """Where scanned page images are stored (paths in the database are relative to ``home()``)."""
    path = home() / "pages"
    path.mkdir(exist_ok=True)
    return path


def key_path() -> Path:
    return home() / KEY_FILE


def secret_key() -> bytes:
    """This installation's signing key for sheet QR codes, made on first use.

    The key is created with ``O_EXCL`` so two processes starting at once agree on one key: the loser of
    the race reads the winner's file instead of writing its own.
    """
    path = key_path()
    for _ in range(50):
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            data = None
        except OSError as e:
            raise ConfigError(f"không đọc được khóa ký {path}: {e.strerror or e}") from e
        if data is not None:
            if len(data) == KEY_BYTES:
                return data
            if data:
                raise ConfigError(f"khóa ký {path} hỏng (cần đúng {KEY_BYTES} byte)")
            # empty: another process has created it and is writing right now
        else:
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                continue
            except OSError as e:
                raise ConfigError(f"không tạo được khóa ký {path}: {e.strerror or e}") from e
            key = secrets.token_bytes(KEY_BYTES)
            with os.fdopen(fd, "wb") as f:
                f.write(key)
                f.flush()
                os.fsync(f.fileno())
            return key
        time.sleep(0.02)
    raise ConfigError(f"khóa ký {path} rỗng; xóa tệp này nếu chưa in phiếu nào")
