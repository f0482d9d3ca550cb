"""Storage: migrations, built-in units, session helpers, the signing key; SQLite and PostgreSQL."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, func, inspect, select

from db import session as dbs
from db.models import Base, Counter, Unit
from omr import config
from omr.services import signing_key

REPO = Path(__file__).resolve().parents[1]


def test_migrations_create_every_table(omr_home):
    eng = dbs.engine()
    tables = set(inspect(eng).get_table_names())
    assert set(Base.metadata.tables) <= tables
    assert "alembic_version" in tables
    assert (omr_home / config.DB_FILE).is_file()


def test_migrations_match_the_models(omr_home):
    """A model changed without a migration would make new and old databases differ."""
    with dbs.engine().connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_builtin_units(omr_home):
    with dbs.session() as s:
        kinds = dict(s.execute(select(Unit.kind, func.count()).group_by(Unit.kind)).all())
        assert kinds["province"] == 34
        assert kinds["ward"] + kinds["commune"] + kinds["special"] == 3321
        kh = s.get(Unit, "09552")
        assert kh is not None and kh.name == "Phường Kiến Hưng" and kh.kind == "ward"
        assert kh.parent_code == "01" and s.get(Unit, "01").name == "Thành phố Hà Nội"
        assert kh.counters == 6 and kh.personal_fields is False
        assert s.get(Counter, "sheet_serial").value == 0


def test_engine_is_migrated_once_and_reused(omr_home):
    e1 = dbs.engine()
    assert dbs.engine() is e1
    dbs.dispose()
    e2 = dbs.engine()  # a new process on an existing database: nothing to do, same data
    with dbs.session() as s:
        assert s.scalar(select(func.count()).select_from(Unit)) == 34 + 3321
    assert e2 is not e1


def test_head_revision_is_alembics_head():
    """``db.session`` tells a database at head without Alembic, by comparing it with HEAD_REVISION."""
    from alembic.script import ScriptDirectory

    assert ScriptDirectory.from_config(dbs.alembic_config()).get_current_head() == dbs.HEAD_REVISION


def _opens_without_alembic() -> bool:
    """Whether a new process opens this installation's database, already migrated, without Alembic."""
    code = "import sys; from db.session import engine; engine(); print('alembic' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    r = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip() == "False"


def test_database_at_head_opens_without_alembic(omr_home):
    dbs.engine()
    assert _opens_without_alembic()


def test_database_behind_head_is_migrated(omr_home):
    """A database made by the previous version is brought to the newest revision on first use."""
    from alembic import command
    from alembic.script import ScriptDirectory

    previous = ScriptDirectory.from_config(dbs.alembic_config()).get_revision(dbs.HEAD_REVISION).down_revision
    old = create_engine(config.database_url())
    with old.connect() as conn:
        with conn.begin():
            command.upgrade(dbs.alembic_config(conn), previous)
        assert MigrationContext.configure(conn).get_current_revision() == previous
    old.dispose()
    with dbs.engine().connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == dbs.HEAD_REVISION
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def test_sqlite_runs_in_wal_mode(omr_home):
    with dbs.engine().connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_transaction_rolls_back_on_error(omr_home):
    with pytest.raises(RuntimeError), dbs.transaction() as s:
        s.add(Unit(code="X1", name="Thử", kind="service_point"))
        s.flush()
        raise RuntimeError
    with dbs.session() as s:
        assert s.get(Unit, "X1") is None


def test_several_processes_starting_at_once_migrate_once(omr_home):
    code = "from db.session import engine; engine()"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [
        subprocess.Popen([sys.executable, "-c", code], env=env, cwd=REPO, stderr=subprocess.PIPE) for _ in range(4)
    ]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
    with dbs.session() as s:
        assert s.scalar(select(func.count()).select_from(Unit)) == 34 + 3321


def test_secret_key_is_made_once_and_private(omr_home):
    key = signing_key.secret_key()
    assert len(key) == 32 and signing_key.secret_key() == key
    mode = stat.S_IMODE(config.key_path().stat().st_mode)
    assert mode == 0o600


def test_database_url_override(omr_home, monkeypatch, tmp_path):
    url = f"sqlite:///{tmp_path / 'other.db'}"
    monkeypatch.setenv("OMR_DATABASE_URL", url)
    assert config.database_url() == url
    dbs.engine()
    assert (tmp_path / "other.db").is_file()


def test_unusable_database_url_is_one_clear_error(omr_home, monkeypatch):
    monkeypatch.setenv("OMR_DATABASE_URL", "nosuchdb://x/y")
    with pytest.raises(dbs.DatabaseError):
        dbs.engine()


@pytest.mark.postgres
def test_postgresql(omr_home, pg_url, tmp_path):
    """The same migrations, units and print run against a real PostgreSQL server."""
    from omr.services.print_runs import print_sheets

    with dbs.session() as s:
        assert s.get(Unit, "09552").name == "Phường Kiến Hưng"
        a = print_sheets(s, "kien-hung-2020", "09552", 3, tmp_path / "a.pdf")
        b = print_sheets(s, "sipas-tthc", "09552", 2, tmp_path / "b.pdf")
    serials = [m["serial"] for m in a] + sorted({m["serial"] for m in b})
    assert serials == ["000001", "000002", "000003", "000004", "000005"]
    with dbs.engine().connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    assert _opens_without_alembic()
