"""Engine and session helpers; the schema is brought to the newest migration on first use.

    from db.session import session, transaction
    with session() as s:                 # reads (web pages, tallies)
        s.scalars(select(Page)).all()
    with transaction() as s:             # writes: committed on success, rolled back on error
        s.add(...)

SQLite: WAL mode (readers never wait for the writer), a generous busy timeout, foreign keys on,
and real transactions (pysqlite's own implicit BEGIN would run DDL outside them). A writer that
reads before writing should use ``transaction()`` (``BEGIN IMMEDIATE`` on SQLite): a deferred
transaction that read first cannot wait for the lock, it fails at once with "database is locked".
PostgreSQL: ordinary transactions; concurrent writers are ordered by row locks (``with_for_update``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, create_engine, event, inspect
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from omr import config

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
BUSY_TIMEOUT_MS = 60_000
PG_MIGRATION_LOCK = 0x4F4D52  # any fixed number: serialises concurrent first starts on PostgreSQL

# The newest migration's revision. Every process start compares the database with it in plain SQL
# (``_at_head``): a database already at head costs one small query, and Alembic (a tenth of a second
# or more to import it and load the migration scripts) is imported only to migrate. A new migration
# must set this to its revision: tests/test_db.py fails until it equals Alembic's own head.
HEAD_REVISION = "0007"

_lock = threading.Lock()
_engines: dict[str, Engine] = {}
_makers: dict[str, sessionmaker[Session]] = {}


class DatabaseError(RuntimeError):
    """The database cannot be opened or migrated; the message is for the operator."""


def alembic_config(connection=None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, below
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")  # safe with WAL: a crash loses no committed structure
        cur.execute("PRAGMA foreign_keys = ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn) -> None:
        immediate = conn.get_execution_options().get("sqlite_immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _make_engine(url: str) -> Engine:
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
            _sqlite_setup(engine)
        else:
            engine = create_engine(url, pool_pre_ping=True)
    except (ArgumentError, ImportError, ValueError) as e:
        raise DatabaseError(f"địa chỉ cơ sở dữ liệu không dùng được ({url.split('://')[0]}): {e}") from e
    return engine


def _at_head(conn: Connection) -> bool:
    """Whether the schema is at ``HEAD_REVISION``, read as Alembic reads it: the one row of its version
    table (a new database has no table; several rows, i.e. several branches, are left to Alembic)."""
    if not inspect(conn).has_table("alembic_version"):
        return False
    return conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalars().all() == [HEAD_REVISION]


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision, once, even with several processes starting at once."""
    with engine.connect() as conn:
        if _at_head(conn):
            return
    from alembic import command

    # Take the migration lock inside the migration's own transaction: on SQLite BEGIN IMMEDIATE
    # (one writer at a time), on PostgreSQL an advisory lock released at commit. The loser of a race
    # then finds the schema already at head and Alembic does nothing.
    with engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({PG_MIGRATION_LOCK})")
        command.upgrade(alembic_config(conn), "head")


def engine(url: str | None = None) -> Engine:
    """The engine for ``url`` (default: this installation's database), migrated on first use."""
    url = url or config.database_url()
    with _lock:
        eng = _engines.get(url)
        if eng is None:
            eng = _make_engine(url)
            try:
                migrate(eng)
            except OperationalError as e:
                eng.dispose()
                raise DatabaseError(f"không mở được cơ sở dữ liệu: {str(e.orig).splitlines()[0]}") from e
            _engines[url] = eng
            _makers[url] = sessionmaker(eng, expire_on_commit=False)
    return eng


def session(url: str | None = None, *, immediate: bool = False) -> Session:
    """A new session (use it as a context manager). ``immediate``: take SQLite's write lock at BEGIN."""
    eng = engine(url)
    url = url or config.database_url()
    if immediate:
        return Session(eng.execution_options(sqlite_immediate=True), expire_on_commit=False)
    return _makers[url]()


@contextmanager
def transaction(url: str | None = None) -> Iterator[Session]:
    """A writing session: committed when the block ends, rolled back if it raises."""
    with session(url, immediate=True) as s, s.begin():
        yield s


def dispose() -> None:
    """Close every pooled connection (tests switching OMR_HOME; a process about to fork)."""
    with _lock:
        for eng in _engines.values():
            eng.dispose()
        _engines.clear()
        _makers.clear()
