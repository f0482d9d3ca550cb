"""Which scan batches are being read right now, and whether the process reading each one is alive.

A batch is ``running`` in the database from its start until its scan finishes; a scan killed outright
(SIGKILL, a power cut) leaves it so for ever. So that a later scan or ``omr doctor`` can tell a batch
still being read from one left behind, the process reading a batch holds a claim on it: the file
``OMR_HOME/running/<batch>.json`` (which process, on which machine), locked with ``flock`` for as long as
that process lives, and touched every ``HEARTBEAT`` seconds. The kernel drops a dead process's locks
however it died, so on the same machine a claim whose lock can be taken is dead; a claim made on
another machine sharing the data directory is dead once it has not been touched for ``STALE`` seconds.

Every claim also holds ``running/scans.lock`` shared. Removing image files no page points at takes it
exclusively (``no_scan_running``): a scan on this machine may be about to store a row pointing at a file
that looks orphaned, since a page image already on disk is not written again.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from omr import config

DIR = "running"
SCANS_LOCK = "scans.lock"
HEARTBEAT = 10.0  # seconds between touches of a claim
STALE = 60.0  # a claim from another machine untouched this long belongs to a dead process


@dataclass
class _Held:
    path: Path
    fd: int
    scans_fd: int


_held: dict[tuple[Path, int], _Held] = {}
_lock = threading.Lock()
_beating: threading.Thread | None = None


def _dir() -> Path:
    path = config.home() / DIR
    path.mkdir(exist_ok=True)
    return path


def claim_path(batch_id: int) -> Path:
    return _dir() / f"{batch_id}.json"


def claim(batch_id: int) -> None:
    """Mark ``batch_id`` as being read by this process, until ``release`` or this process's end."""
    path = claim_path(batch_id)
    key = (config.home(), batch_id)
    with _lock:
        if key in _held:
            return
        scans_fd = os.open(_dir() / SCANS_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(scans_fd, fcntl.LOCK_SH)  # waits while orphan files are being removed
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        with contextlib.suppress(BlockingIOError):  # held by another live process: it reads the batch too
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}).encode())
        _held[key] = _Held(path, fd, scans_fd)
        _start_heartbeat()


def release(batch_id: int) -> None:
    """The batch is no longer being read (finished, failed or stopped)."""
    key = (config.home(), batch_id)
    with _lock:
        held = _held.pop(key, None)
    path = held.path if held else claim_path(batch_id)
    path.unlink(missing_ok=True)
    if held:
        os.close(held.fd)
        os.close(held.scans_fd)


def owner(batch_id: int) -> dict | None:
    """What the claim on ``batch_id`` says (pid, host, started), or None if there is none."""
    try:
        return json.loads(claim_path(batch_id).read_text() or "{}")
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}


def alive(batch_id: int) -> bool:
    """Whether a live process is reading ``batch_id``."""
    path = claim_path(batch_id)
    if (config.home(), batch_id) in _held:
        return True
    who = owner(batch_id)
    if who is None:
        return False
    if who.get("host", socket.gethostname()) != socket.gethostname():
        try:
            return time.time() - path.stat().st_mtime < STALE
        except FileNotFoundError:
            return False
    if not _pid_alive(int(who.get("pid") or 0)):
        return False  # even if a child it forked, dying with it, still holds the lock for a moment
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return False  # released while we looked
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops the lock if we took it
    return False  # the process id lives on in another process; the lock's holder is gone


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return True  # a claim without its process id: the lock alone tells
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie has released everything; only its parent has not yet collected it
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


@contextlib.contextmanager
def no_scan_running() -> Iterator[bool]:
    """Yields whether no scan holds a claim on this machine; while it is True none can start."""
    fd = os.open(_dir() / SCANS_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def _start_heartbeat() -> None:
    global _beating
    if _beating is not None and _beating.is_alive():
        return

    def beat() -> None:
        while True:
            time.sleep(HEARTBEAT)
            with _lock:
                paths = [h.path for h in _held.values()]
            for p in paths:
                with contextlib.suppress(OSError):
                    os.utime(p)

    _beating = threading.Thread(target=beat, name="omr-scan-heartbeat", daemon=True)
    _beating.start()
