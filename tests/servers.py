"""Real PostgreSQL and Redis servers from Debian's packages, started for the tests on loopback only.

Each server runs from a throw-away directory on a free port of 127.0.0.1 and is stopped at the end.
As root (CI), PostgreSQL runs as the ``postgres`` system user, since it refuses to run as root.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class ServerUnavailable(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise ServerUnavailable(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f}s")


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise ServerUnavailable("PostgreSQL is not installed (Debian package postgresql)")
    return found[-1]


@contextmanager
def postgres() -> Iterator[str]:
    """A fresh PostgreSQL cluster; yields a SQLAlchemy URL for database ``omr``."""
    root = os.geteuid() == 0
    base = Path(tempfile.mkdtemp(prefix="omr-pg-"))
    data = base / "data"
    port = free_port()

    def run(*cmd: str) -> None:
        full = ["runuser", "-u", "postgres", "--", *cmd] if root else list(cmd)
        subprocess.run(full, check=True, capture_output=True)

    if root:
        shutil.chown(base, "postgres", "postgres")
    run(_pg_bin("initdb"), "-D", str(data), "-U", "omr", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8")
    opts = f"-c listen_addresses=127.0.0.1 -p {port} -k {base} -c fsync=off -c full_page_writes=off"
    run(_pg_bin("pg_ctl"), "-D", str(data), "-o", opts, "-l", str(base / "log"), "-w", "start")
    try:
        _wait_port(port)
        run(_pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "omr", "omr")
        yield f"postgresql+psycopg://omr@127.0.0.1:{port}/omr"
    finally:
        subprocess.run(
            (["runuser", "-u", "postgres", "--"] if root else [])
            + [_pg_bin("pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(base, ignore_errors=True)


@contextmanager
def redis() -> Iterator[str]:
    """A fresh Redis server without persistence; yields its URL."""
    exe = shutil.which("redis-server")
    if exe is None:
        raise ServerUnavailable("Redis is not installed (Debian package redis-server)")
    port = free_port()
    base = Path(tempfile.mkdtemp(prefix="omr-redis-"))
    proc = subprocess.Popen(
        [exe, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no", "--dir", str(base)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_port(port)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(base, ignore_errors=True)


def new_database(server_url: str) -> str:
    """A fresh empty database on a running server (one server serves many tests): its URL."""
    import uuid

    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = server_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return server_url.rsplit("/", 1)[0] + f"/{name}"
