"""``omr backup`` and ``omr restore``: a round trip gives back every row, every page image and the key.

SQLite (the online backup API), PostgreSQL (pg_dump / pg_restore on a real server), and the portable
export that moves an installation between the two.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tarfile
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from db import session as dbs
from db.models import Base

FORM, UNIT = "kien-hung-2020", "09552"


def _omr(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "omr.cli", *args], env=env, capture_output=True, text=True, timeout=120
    )


def _env(home: Path, db_url: str | None = None) -> dict:
    env = {**os.environ, "OMR_HOME": str(home)}
    env.pop("OMR_BROKER_URL", None)
    if db_url:
        env["OMR_DATABASE_URL"] = db_url
    else:
        env.pop("OMR_DATABASE_URL", None)
    return env


def _norm(v):
    if isinstance(v, datetime) and v.tzinfo is None:
        return v.replace(tzinfo=UTC)  # SQLite gives back UTC times without their zone
    return v


def _everything(monkeypatch, home: Path, db_url: str | None = None) -> dict:
    """Every row of every table (ordered by key) and every file of the data directory, by content."""
    monkeypatch.setenv("OMR_HOME", str(home))
    if db_url:
        monkeypatch.setenv("OMR_DATABASE_URL", db_url)
    else:
        monkeypatch.delenv("OMR_DATABASE_URL", raising=False)
    dbs.dispose()
    rows = {}
    with dbs.engine().connect() as conn:
        for t in Base.metadata.sorted_tables:
            stmt = select(t).order_by(*t.primary_key.columns)
            rows[t.name] = [{k: _norm(v) for k, v in r._mapping.items()} for r in conn.execute(stmt)]
    dbs.dispose()
    files = {
        p.relative_to(home).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for sub in ("pages", "uploads")
        for p in sorted((home / sub).rglob("*"))
        if p.is_file()
    }
    files["secret.key"] = hashlib.sha256((home / "secret.key").read_bytes()).hexdigest()
    return {"rows": rows, "files": files}


def _fill(home: Path, tmp: Path, scan_tools, monkeypatch, db_url: str | None = None) -> Path:
    """An installation with printed sheets, a scanned stack (one page for review), a user."""
    from db.session import session, transaction
    from omr.services import ingest
    from omr.services.print_runs import print_sheets
    from omr.services.users import add_user

    monkeypatch.setenv("OMR_HOME", str(home))
    if db_url:
        monkeypatch.setenv("OMR_DATABASE_URL", db_url)
    dbs.dispose()
    with session() as s:
        print_sheets(s, FORM, UNIT, 4, tmp / f"printed-{home.name}.pdf", "tester")
    imgs = scan_tools.render(tmp / f"printed-{home.name}.pdf")
    scan_tools.cross(imgs[0], FORM, "q_result", "5")
    scan_tools.cross(imgs[1], FORM, "q_result", "5")
    scan_tools.cross(imgs[1], FORM, "q_result", "1")  # two marks: waits for a reviewer
    stack = scan_tools.jpeg_pdf(imgs, tmp / f"stack-{home.name}.pdf")
    lines = list(ingest.scan([stack], workers=1))
    assert [x["status"] for x in lines] == ["accepted", "needs_review", "accepted", "accepted"]
    with transaction() as s:
        add_user(s, f"chi.{home.name}", "mat-khau-rat-dai-1", "reviewer", UNIT, by="tester")
    dbs.dispose()
    return stack


def _rescan_is_all_duplicates(monkeypatch, home: Path, stack: Path, db_url: str | None = None) -> None:
    from omr.services import ingest

    monkeypatch.setenv("OMR_HOME", str(home))
    if db_url:
        monkeypatch.setenv("OMR_DATABASE_URL", db_url)
    else:
        monkeypatch.delenv("OMR_DATABASE_URL", raising=False)
    dbs.dispose()
    assert [x["status"] for x in ingest.scan([stack], workers=1)] == ["duplicate"] * 4
    dbs.dispose()


def _one_line(r: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in r.stderr, r.stderr
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert len(lines) == 1, r.stderr
    return lines[0]


@pytest.mark.parametrize("name", ["backup.tar.gz", "backup.zip"])
def test_sqlite_round_trip(tmp_path, scan_tools, monkeypatch, name):
    home, other = tmp_path / "home", tmp_path / "restored"
    stack = _fill(home, tmp_path, scan_tools, monkeypatch)
    before = _everything(monkeypatch, home)
    out = tmp_path / name
    r = _omr(_env(home), "backup", str(out))
    assert r.returncode == 0, r.stderr
    assert "Đã sao lưu" in r.stdout
    r = _omr(_env(other), "restore", str(out))
    assert r.returncode == 0, r.stderr
    assert "4 trang" in r.stdout and "4 phiếu" in r.stdout
    assert _everything(monkeypatch, other) == before
    _rescan_is_all_duplicates(monkeypatch, other, stack)

    # a database with data is not overwritten by accident
    r = _omr(_env(other), "restore", str(out))
    assert r.returncode != 0 and "--force" in _one_line(r)
    r = _omr(_env(other), "restore", "--force", str(out))
    assert r.returncode == 0, r.stderr
    assert _everything(monkeypatch, other) == before


def test_backup_taken_while_scanning_is_consistent(tmp_path, scan_tools, monkeypatch):
    """Every page the copied database knows has its image in the archive, even mid-scan."""
    from samples.generate import generate_stack

    home = tmp_path / "home"
    _fill(home, tmp_path, scan_tools, monkeypatch)
    from db.session import session
    from omr.services import ingest
    from omr.services.print_runs import print_sheets

    with session() as s:
        manifest = print_sheets(s, FORM, UNIT, 40, tmp_path / "more.pdf", "tester")
    key = (home / "secret.key").read_bytes()
    generate_stack(tmp_path / "big", form_id=FORM, unit=UNIT, serials=[m["serial"] for m in manifest], key=key,
                   fmt="pdf", dpi=200, seed=5, degrade="light")  # fmt: skip
    done = threading.Event()

    def scan() -> None:
        try:
            for _ in ingest.scan([tmp_path / "big" / "stack.pdf"], workers=1):
                pass
        finally:
            done.set()

    th = threading.Thread(target=scan)
    th.start()
    backups = []
    while not done.is_set() and len(backups) < 3:
        out = tmp_path / f"during-{len(backups)}.tar"
        r = _omr(_env(home), "backup", str(out))
        assert r.returncode == 0, r.stderr
        backups.append(out)
    th.join()
    assert backups
    for i, out in enumerate(backups):
        target = tmp_path / f"restored-{i}"
        assert _omr(_env(target), "restore", str(out)).returncode == 0
        state = _everything(monkeypatch, target)
        pages = state["rows"]["pages"]
        assert 4 <= len(pages) <= 44
        assert all(p["image_path"] in state["files"] for p in pages)
        with tarfile.open(out) as tf:
            assert "manifest.json" in tf.getnames()


def test_bad_archives_and_names_are_one_line_errors(tmp_path):
    home = tmp_path / "home"
    r = _omr(_env(home), "backup", str(tmp_path / "backup.rar"))
    assert r.returncode != 0 and ".tar" in _one_line(r)
    junk = tmp_path / "junk.tar"
    with tarfile.open(junk, "w") as tf:
        tf.add(__file__, "something.py")
    r = _omr(_env(home), "restore", str(junk))
    assert r.returncode != 0 and "manifest" in _one_line(r)
    r = _omr(_env(home), "restore", str(tmp_path / "missing.tar"))
    assert r.returncode != 0 and "missing.tar" in _one_line(r)


# --------------------------------------------------------------------------- PostgreSQL


@pytest.fixture
def pg(_postgres_server: str) -> str:
    """The run's PostgreSQL server (tests/conftest.py); each test makes its own databases on it."""
    return _postgres_server


def _new_database(pg: str) -> str:
    from servers import new_database

    return new_database(pg)


def _print_more(monkeypatch, home: Path, tmp: Path, db_url: str | None) -> None:
    """New rows after a restore get fresh ids (PostgreSQL's sequences moved past the restored ones)."""
    from db.session import session
    from omr.services.print_runs import print_sheets

    monkeypatch.setenv("OMR_HOME", str(home))
    if db_url:
        monkeypatch.setenv("OMR_DATABASE_URL", db_url)
    else:
        monkeypatch.delenv("OMR_DATABASE_URL", raising=False)
    dbs.dispose()
    with session() as s:
        manifest = print_sheets(s, FORM, UNIT, 2, tmp / "after-restore.pdf", "tester")
    assert len(manifest) == 2
    dbs.dispose()


@pytest.mark.postgres
@pytest.mark.xdist_group("backup-pg")
def test_postgresql_round_trip_with_pg_dump(pg, tmp_path, scan_tools, monkeypatch):
    src, dst = _new_database(pg), _new_database(pg)
    home, other = tmp_path / "home", tmp_path / "restored"
    stack = _fill(home, tmp_path, scan_tools, monkeypatch, src)
    before = _everything(monkeypatch, home, src)
    out = tmp_path / "pg.tar"
    r = _omr(_env(home, src), "backup", str(out))
    assert r.returncode == 0, r.stderr
    assert "pg_dump" in r.stdout
    r = _omr(_env(other, dst), "restore", str(out))
    assert r.returncode == 0, r.stderr
    assert _everything(monkeypatch, other, dst) == before
    _rescan_is_all_duplicates(monkeypatch, other, stack, dst)
    _print_more(monkeypatch, other, tmp_path, dst)
    # a pg_dump cannot go into SQLite: said in one line
    r = _omr(_env(tmp_path / "sqlite-home"), "restore", str(out))
    assert r.returncode != 0 and "--portable" in _one_line(r)


@pytest.mark.postgres
@pytest.mark.xdist_group("backup-pg")
def test_portable_backup_moves_between_sqlite_and_postgresql(pg, tmp_path, scan_tools, monkeypatch):
    # PostgreSQL -> SQLite through the portable export
    src = _new_database(pg)
    home = tmp_path / "home"
    stack = _fill(home, tmp_path, scan_tools, monkeypatch, src)
    before = _everything(monkeypatch, home, src)
    out = tmp_path / "portable.tar.gz"
    r = _omr(_env(home, src), "backup", "--portable", str(out))
    assert r.returncode == 0, r.stderr
    lite = tmp_path / "lite"
    r = _omr(_env(lite), "restore", str(out))
    assert r.returncode == 0, r.stderr
    assert _everything(monkeypatch, lite) == before
    _rescan_is_all_duplicates(monkeypatch, lite, stack)

    # SQLite (its own backup) -> PostgreSQL: rows copied, id sequences moved on
    out2 = tmp_path / "lite.zip"
    assert _omr(_env(lite), "backup", str(out2)).returncode == 0
    before2 = _everything(monkeypatch, lite)
    dst = _new_database(pg)
    big = tmp_path / "big"
    r = _omr(_env(big, dst), "restore", str(out2))
    assert r.returncode == 0, r.stderr
    assert _everything(monkeypatch, big, dst) == before2
    _print_more(monkeypatch, big, tmp_path, dst)
