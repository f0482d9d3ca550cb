"""Files under OMR_HOME written whole or not at all.

A file is written to a hidden temporary beside it (``.name.host-pid.tmp``) and renamed over it, so a
row never points at half a file. A process killed mid-write (a power cut, ``kill -9``) leaves its
temporary behind; the next writer of the same file removes it. Only temporaries of this host whose
process has ended are removed: OMR_HOME may be shared over NFS by a second machine, whose writers
this host cannot see.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


def _prefix(path: Path) -> str:
    return f".{path.name}.{socket.gethostname()}-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process, still running
    return True


def _remove_orphans(path: Path) -> None:
    """Remove the temporaries of ``path`` that ended processes of this host left behind."""
    prefix = _prefix(path)
    if not path.parent.is_dir():
        return
    for tmp in path.parent.glob(f"{prefix}*.tmp"):
        pid = tmp.name[len(prefix) : -len(".tmp")]
        if pid.isdigit() and not _alive(int(pid)):
            tmp.unlink(missing_ok=True)


@contextmanager
def replacing(path: Path) -> Iterator[BinaryIO]:
    """A file to write that replaces ``path`` when the block ends without an exception."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_orphans(path)
    tmp = path.with_name(f"{_prefix(path)}{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            yield f
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` whole. A file already there of the same size is kept: callers name
    files by their content's sha256, so same name and size is the same content."""
    if path.exists() and path.stat().st_size == len(data):
        _remove_orphans(path)
        return
    with replacing(path) as f:
        f.write(data)
