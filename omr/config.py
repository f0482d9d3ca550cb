"""Where this installation keeps its state, and how it runs: the settings read from the environment.

Everything is looked up when asked (not at import), so a test or a long-running process that changes
``OMR_HOME`` sees the new directory. Directories are created on demand: no separate init step.

A SQLite database that is missing or empty beside stored page images is refused rather than started
afresh: the message says what is missing and how to restore it (``omr restore``, docs/DEPLOYMENT.md).
The signing key is made by ``omr.services.signing_key``, which must ask the database whether anything
was signed yet; this module only says where the key lives.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

DEFAULT_HOME = "./omr-data"
DB_FILE = "omr.sqlite3"
KEY_FILE = "secret.key"
KEY_BYTES = 32


RESTORE_HINT = "khôi phục từ bản sao lưu (omr restore TỆP_SAO_LƯU, xem docs/DEPLOYMENT.md mục 6)"
# the key alone: restoring the whole backup would also put its older database back
KEY_RESTORE_HINT = (
    "chép lại tệp này từ bản sao lưu (home/secret.key trong tệp của omr backup, xem docs/DEPLOYMENT.md mục 6)"
)


class ConfigError(RuntimeError):
    """The data directory or the key cannot be used; the message says what to fix."""


def home() -> Path:
    """The data directory (``OMR_HOME``, default ``./omr-data``), created if missing.

    Creating it is said on stderr, with its absolute path, whenever the default is used: run from
    another folder, ``./omr-data`` is a new, empty installation, which must not pass unnoticed. An
    ``OMR_HOME`` set explicitly was chosen by whoever set it; there it is said only to a person at a
    terminal, so that scripts and services keep their one line per problem on stderr.
    """
    chosen = os.environ.get("OMR_HOME")
    path = Path(chosen or DEFAULT_HOME).expanduser().resolve()
    if path.is_dir():
        return path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.mkdir()
    except FileExistsError:
        pass  # another process made it at the same moment (or it is a file: the next step says so)
    except OSError as e:
        raise ConfigError(f"không tạo được thư mục dữ liệu {path}: {e.strerror or e}") from e
    else:
        if not chosen or sys.stderr.isatty():
            print(f"Đã tạo thư mục dữ liệu mới {path} (đặt OMR_HOME để dùng thư mục khác)", file=sys.stderr, flush=True)
    if not path.is_dir():
        raise ConfigError(f"không tạo được thư mục dữ liệu {path}: đã có một tệp cùng tên")
    return path


_restoring = False
_checked_databases: set[Path] = set()


@contextlib.contextmanager
def restoring() -> Iterator[None]:
    """While a backup is being restored, a missing or empty database is what is about to be replaced."""
    global _restoring
    _restoring, before = True, _restoring
    try:
        yield
    finally:
        _restoring = before


def has_stored_images(root: Path | None = None) -> bool:
    """Whether any page image is stored in the data directory (stops at the first one found)."""
    stack = [(root or home()) / "pages"]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                stack.append(Path(entry.path))
            elif not entry.name.startswith("."):
                return True
    return False


def _check_database_file(db: Path) -> None:
    """Refuse a SQLite database that is missing or empty while page images are stored beside it: a new
    database there would silently start the installation afresh, its pages and printed sheets unknown."""
    if _restoring or db in _checked_databases:
        return
    try:
        size = db.stat().st_size
    except FileNotFoundError:
        size = None
    if not size and has_stored_images(db.parent):
        state = "rỗng (0 byte)" if size == 0 else "bị thiếu"
        raise ConfigError(
            f"cơ sở dữ liệu {db} {state} trong khi thư mục dữ liệu đã có ảnh các trang đã quét: {RESTORE_HINT}, "
            "hoặc kiểm tra OMR_HOME; không tạo cơ sở dữ liệu mới"
        )
    _checked_databases.add(db)


def database_url() -> str:
    """``OMR_DATABASE_URL`` if set (any SQLAlchemy URL), else a SQLite file inside the data directory."""
    url = os.environ.get("OMR_DATABASE_URL", "").strip()
    if url:
        return url
    db = home() / DB_FILE
    _check_database_file(db)
    return f"sqlite:///{db}"


def max_upload_mb() -> int:
    """The largest upload the web accepts, in MB (``OMR_MAX_UPLOAD_MB``, default 1024)."""
    return int(os.environ.get("OMR_MAX_UPLOAD_MB", "1024"))


def insecure_cookies() -> bool:
    """Whether the web's session cookie may travel over plain HTTP (``OMR_INSECURE_COOKIES``: a LAN
    served without HTTPS)."""
    return os.environ.get("OMR_INSECURE_COOKIES", "") in ("1", "true", "yes")


def trusted_proxies() -> int:
    """How many reverse proxies stand in front of the web (``OMR_TRUSTED_PROXIES``, default 0)."""
    return int(os.environ.get("OMR_TRUSTED_PROXIES", "0") or 0)


def debug() -> bool:
    """Whether an unexpected error shows its traceback (``OMR_DEBUG``)."""
    return bool(os.environ.get("OMR_DEBUG"))


def pages_dir() -> Path:
    """Where scanned page images are stored (paths in the database are relative to ``home()``)."""
    path = home() / "pages"
    path.mkdir(exist_ok=True)
    return path


def key_path() -> Path:
    return home() / KEY_FILE
