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


def _positive_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else default


# --------------------------------------------------------------------------- scanning


def scan_workers() -> int | None:
    """How many reader processes a scan runs (``OMR_SCAN_WORKERS``); None: one per core."""
    value = _positive_int("OMR_SCAN_WORKERS", 0)
    return value or None


WATCH_STABLE_ENV = "OMR_WATCH_STABLE"
DEFAULT_WATCH_STABLE = 5.0  # seconds a file's size and time must stay the same: a scanner's pause between pages


def watch_stable_seconds() -> float:
    """How long a watched file must stay unchanged before it is looked at (``OMR_WATCH_STABLE``)."""
    try:
        value = float(os.environ.get(WATCH_STABLE_ENV, "").strip())
    except ValueError:
        return DEFAULT_WATCH_STABLE
    return value if value >= 0 else DEFAULT_WATCH_STABLE


# --------------------------------------------------------------------------- the workers' queue (omr.queue)

BROKER_ENV = "OMR_BROKER_URL"
# A page takes well under a second to read; a task unacknowledged this long belonged to a worker that
# died. Shorter brings a lost machine's pages back sooner, at the price of reading a page twice when a
# worker is merely slow (harmless: storage is exactly once).
DEFAULT_QUEUE_VISIBILITY = 120
# Pages in flight per scan: enough to keep many workers busy, bounded so the spool stays small
# (a 200-dpi JPEG page is 0.2–0.5 MB).
DEFAULT_QUEUE_WINDOW = 256
# Pages per task: the queue's own work per task (sending, acknowledging, the result) is a few
# milliseconds, a tenth of reading a page; shared by four pages it is lost in the noise, while a stack
# still spreads over many workers and a killed worker puts back at most four pages.
DEFAULT_QUEUE_CHUNK = 4


def broker_url() -> str | None:
    """The Redis URL of the workers' queue (``OMR_BROKER_URL``); None: scans read in this process."""
    return os.environ.get(BROKER_ENV, "").strip() or None


def result_backend() -> str | None:
    """Where workers leave their results (``OMR_RESULT_BACKEND``); None: the broker's Redis."""
    return os.environ.get("OMR_RESULT_BACKEND", "").strip() or None


def queue_visibility() -> int:
    """Seconds before an unacknowledged task is delivered again (``OMR_QUEUE_VISIBILITY``)."""
    return _positive_int("OMR_QUEUE_VISIBILITY", DEFAULT_QUEUE_VISIBILITY)


def queue_window() -> int:
    """Pages of one scan in the queue at once (``OMR_QUEUE_WINDOW``)."""
    return _positive_int("OMR_QUEUE_WINDOW", DEFAULT_QUEUE_WINDOW)


def queue_chunk() -> int:
    """Pages per queue task (``OMR_QUEUE_CHUNK``)."""
    return _positive_int("OMR_QUEUE_CHUNK", DEFAULT_QUEUE_CHUNK)
