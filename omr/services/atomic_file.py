"""Files under OMR_HOME written whole or not at all.

A file is written to a hidden temporary beside it (``.name.host.tmp``) and renamed over it, so a
row never points at half a file. The writer holds a lock on the temporary while it writes: a second
process of the same host writing the same file waits for it, and a process killed mid-write (a
power cut, ``kill -9``) loses its lock with its life, so the next writer of that file takes the
temporary it left over. Nothing lists a directory: a write costs the same beside ten files or a
province's million. Each host has its own temporary: OMR_HOME may be shared over NFS by a second
machine, whose writers this host's locks need not reach.
"""

from __future__ import annotations

import fcntl
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


def temporary(path: Path) -> Path:
    """Where this host writes ``path`` before renaming it into place."""
    return path.with_name(f".{path.name}.{socket.gethostname()}.tmp")


@contextmanager
def _locked(tmp: Path) -> Iterator[int]:
    """A descriptor of the temporary ``tmp``, locked by this process alone. A lock taken on a file
    that another writer has meanwhile renamed into place (or removed) is no lock on ``tmp``: then
    open it again."""
    while True:
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                ours = os.fstat(fd).st_ino == os.stat(tmp).st_ino
            except FileNotFoundError:
                ours = False
            if ours:
                yield fd
                return
        finally:
            os.close(fd)  # and with it the lock


@contextmanager
def _writing(path: Path) -> Iterator[tuple[int, Path]]:
    """The locked, emptied temporary of ``path``; removed if the block fails or does not rename it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary(path)
    with _locked(tmp) as fd:
        try:
            os.ftruncate(fd, 0)
            yield fd, tmp
        finally:
            try:
                left = os.stat(tmp).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                left = False  # renamed into place
            if left:
                os.unlink(tmp)  # a failed write, or nothing to write


@contextmanager
def replacing(path: Path) -> Iterator[BinaryIO]:
    """A file to write that replaces ``path`` when the block ends without an exception."""
    with _writing(path) as (fd, tmp), os.fdopen(fd, "wb", closefd=False) as f:
        yield f
        f.flush()
        os.replace(tmp, path)


def _holds(path: Path, data: bytes) -> bool:
    try:
        return path.stat().st_size == len(data)
    except FileNotFoundError:
        return False


def write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` whole. A file already there of the same size is kept: callers name
    files by their content's sha256, so same name and size is the same content (a rescan): then
    the temporary is only taken, to be removed, if a killed writer left one."""
    if _holds(path, data) and not temporary(path).exists():
        return
    with _writing(path) as (fd, tmp):
        if _holds(path, data):
            return
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.replace(tmp, path)
