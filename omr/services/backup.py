"""Backup and restore of a data directory: the database, the page images and the signing keys in one
archive (``omr backup``, ``omr restore``).
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path, PurePosixPath
from typing import IO, Any, cast

from omr.services import atomic_file

# An archive holds ``manifest.json``, the database under ``database/`` and the files of the data directory
# under ``home/`` (signing keys, page images and crops, web upload results). The database is copied
# FIRST, then the files: a page's image is written before its row is committed, so every page the
# copied database knows has its image in the archive (an image whose row came later is merely extra).

FORMAT = 1
MANIFEST = "manifest.json"
DB_DIR = "database"
HOME_DIR = "home"
KEY_FILES = ("secret.key", "web-session.key")
# a target holding rows in any of these is not replaced without --force
DATA_TABLES = ("sheets", "print_batches", "pages", "scan_batches", "users", "audit_log")
CHUNK = 1000
_SUFFIXES = {".tar": "tar", ".tar.gz": "tar.gz", ".tgz": "tar.gz", ".zip": "zip"}


def _warn(msg: str) -> None:
    """Warnings go to the operator on stderr unless the caller hears them itself."""
    print(f"Lưu ý: {msg}", file=sys.stderr, flush=True)


def _errors() -> type[Exception]:
    from omr.config import ConfigError

    return ConfigError


def _fail(msg: str) -> Exception:
    return _errors()(msg)


def _archive_kind(path: Path) -> str:
    name = path.name.lower()
    for suffix, kind in sorted(_SUFFIXES.items(), key=lambda kv: -len(kv[0])):
        if name.endswith(suffix):
            return kind
    raise _fail(f"không biết tạo tệp sao lưu loại nào từ tên {path.name} (dùng .tar, .tar.gz, .tgz hoặc .zip)")


def backup(out: Path, *, portable: bool = False, warn: Callable[[str], None] = _warn) -> dict:
    """Write a consistent copy of the database and the data directory's files into ``out``."""
    from db import session as dbs
    from omr import config

    kind = _archive_kind(out)
    eng = dbs.engine()
    home = config.home()
    out = out.resolve()
    if out.is_relative_to(home / "pages"):
        raise _fail("không ghi tệp sao lưu vào trong thư mục ảnh các trang")
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".omr-backup-", dir=out.parent))
    try:
        db_dir = work / DB_DIR
        db_dir.mkdir()
        db_info = _dump_database(eng, db_dir, portable, warn)
        partial = work / f"archive.{kind}"
        files = size = 0
        with _ArchiveWriter(partial, kind) as ar:
            for f in sorted(db_dir.iterdir()):
                ar.add(f, f"{DB_DIR}/{f.name}")
            for path, rel in _home_files(home):
                try:
                    ar.add(path, f"{HOME_DIR}/{rel}", compress=False)
                except FileNotFoundError:
                    continue  # a temporary file renamed away while we looked
                files += 1
                size += path.stat().st_size
            manifest = {
                "format": FORMAT,
                "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "database": db_info,
                "files": files,
                "bytes": size,
            }
            ar.add_bytes(json.dumps(manifest, ensure_ascii=False, indent=1).encode(), MANIFEST)
        os.replace(partial, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"database": db_info["kind"], "files": files, "bytes": size}


def _home_files(home: Path) -> Iterator[tuple[Path, str]]:
    for name in KEY_FILES:
        if (home / name).is_file():
            yield home / name, name
    for sub in ("pages", "uploads"):
        root = home / sub
        if not root.is_dir():
            continue
        for dirpath, _dirs, names in os.walk(root):
            for n in sorted(names):
                if n.startswith("."):
                    continue  # a file being written (atomic_file)
                if sub == "uploads" and n != "results.jsonl":
                    continue  # uploaded stacks are deleted once read; their results are what the web shows
                p = Path(dirpath) / n
                yield p, p.relative_to(home).as_posix()


def _revision(conn) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


def _counts(conn) -> dict[str, int]:
    from sqlalchemy import func, select

    from db.models import Base

    return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one() for t in Base.metadata.sorted_tables}


def _dump_database(eng, out: Path, portable: bool, warn: Callable[[str], None]) -> dict:
    dialect = eng.dialect.name
    if dialect == "sqlite" and not portable:
        target = out / "omr.sqlite3"
        # SQLite's online backup API: one step, under a read lock, so the copy is one consistent moment
        # even while scans write (WAL lets them go on)
        src = sqlite3.connect(f"file:{eng.url.database}?mode=ro", uri=True)
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            src.close()
            dst.close()
        from sqlalchemy import create_engine

        copy = create_engine(f"sqlite:///{target}")
        try:
            with copy.connect() as conn:
                info = {"kind": "sqlite", "file": target.name, "revision": _revision(conn), "rows": _counts(conn)}
        finally:
            copy.dispose()
        return info
    if dialect == "postgresql" and not portable:
        exe = shutil.which("pg_dump")
        if exe is None:
            warn("không có pg_dump (gói postgresql-client); sao lưu bằng cách xuất dữ liệu qua SQLAlchemy")
        else:
            try:
                return _pg_dump(exe, eng, out / "omr.pgdump")
            except RuntimeError as e:
                warn(f"pg_dump không chạy được ({e}); sao lưu bằng cách xuất dữ liệu qua SQLAlchemy")
                (out / "omr.pgdump").unlink(missing_ok=True)
    return _export_portable(eng, out)


def _libpq(eng) -> tuple[str, dict[str, str]]:
    """A libpq URI for pg_dump/pg_restore, with the password in the environment, not on the command line."""
    url = eng.url.set(drivername="postgresql")
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return url.set(password=None).render_as_string(hide_password=False), env


def _run_pg(cmd: list[str], env: dict[str, str]) -> None:
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        lines = [x for x in r.stderr.strip().splitlines() if x.strip()]
        raise RuntimeError(lines[-1] if lines else f"mã thoát {r.returncode}")


def _pg_dump(exe: str, eng, target: Path) -> dict:
    uri, env = _libpq(eng)
    # pg_dump takes its own snapshot: the dump is one consistent moment while workers keep writing
    _run_pg([exe, "--format=custom", "--no-owner", "--no-privileges", f"--file={target}", f"--dbname={uri}"], env)
    with eng.connect() as conn:
        return {"kind": "pg_dump", "file": target.name, "revision": _revision(conn), "rows": _counts(conn)}


def _jsonable(v: Any) -> Any:
    if isinstance(v, datetime | date):
        return v.isoformat()
    if isinstance(v, bytes | memoryview):
        return base64.b64encode(bytes(v)).decode()
    return v


def _export_portable(eng, out: Path) -> dict:
    """Every table as JSON lines, read in one snapshot (PostgreSQL: REPEATABLE READ, read only; SQLite: one
    read transaction, which WAL keeps at one moment)."""
    from sqlalchemy import select

    from db.models import Base

    conn = eng.connect()
    if eng.dialect.name == "postgresql":
        conn = conn.execution_options(
            isolation_level="REPEATABLE READ", postgresql_readonly=True, postgresql_deferrable=True
        )
    rows: dict[str, int] = {}
    try:
        with conn.begin():
            revision = _revision(conn)
            for t in Base.metadata.sorted_tables:
                n = 0
                with open(out / f"{t.name}.jsonl", "w", encoding="utf-8") as f:
                    stmt = select(t).order_by(*t.primary_key.columns).execution_options(yield_per=CHUNK)
                    for row in conn.execute(stmt):
                        f.write(json.dumps({k: _jsonable(v) for k, v in row._mapping.items()}, ensure_ascii=False))
                        f.write("\n")
                        n += 1
                rows[t.name] = n
    finally:
        conn.close()
    return {"kind": "portable", "dialect": eng.dialect.name, "revision": revision, "rows": rows}


class _ArchiveWriter:
    def __init__(self, path: Path, kind: str):
        self.kind = kind
        if kind == "zip":
            self.zf = zipfile.ZipFile(path, "w", allowZip64=True)
        else:
            # kept open across add() calls and closed in __exit__
            if kind == "tar.gz":
                self.tf = tarfile.open(path, "w:gz", compresslevel=6)  # noqa: SIM115
            else:
                self.tf = tarfile.open(path, "w")  # noqa: SIM115

    def add(self, path: Path, arcname: str, compress: bool = True) -> None:
        if self.kind == "zip":
            # page images are JPEG/PNG already: storing them is as small and much quicker
            self.zf.write(path, arcname, zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED)
        else:
            self.tf.add(path, arcname, recursive=False)

    def add_bytes(self, data: bytes, arcname: str) -> None:
        if self.kind == "zip":
            self.zf.writestr(arcname, data, zipfile.ZIP_DEFLATED)
        else:
            info = tarfile.TarInfo(arcname)
            info.size = len(data)
            info.mtime = int(datetime.now().timestamp())
            info.mode = 0o600
            self.tf.addfile(info, io.BytesIO(data))

    def __enter__(self) -> _ArchiveWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        (self.zf if self.kind == "zip" else self.tf).close()


class _ArchiveReader:
    """The regular files of a backup archive, by safe relative name."""

    def __init__(self, path: Path):
        try:
            if zipfile.is_zipfile(path):
                self.zf: zipfile.ZipFile | None = zipfile.ZipFile(path)
                self.tf: tarfile.TarFile | None = None
                self.names: dict[str, zipfile.ZipInfo | tarfile.TarInfo] = {
                    i.filename: i for i in self.zf.infolist() if not i.is_dir()
                }
            else:
                self.zf, self.tf = None, tarfile.open(path, "r:*")  # noqa: SIM115  (closed by close())
                self.names = {m.name: m for m in self.tf.getmembers() if m.isfile()}
        except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as e:
            raise _fail(f"{path.name} không phải tệp sao lưu đọc được ({e})") from e
        for name in self.names:
            p = PurePosixPath(name)
            if p.is_absolute() or ".." in p.parts:
                raise _fail(f"tệp sao lưu có đường dẫn không an toàn: {name}")

    def open(self, name: str) -> IO[bytes]:
        member = self.names[name]
        if self.zf is not None:
            return self.zf.open(cast(zipfile.ZipInfo, member))  # a zip's names are its ZipInfos
        assert self.tf is not None
        f = self.tf.extractfile(cast(tarfile.TarInfo, member))
        assert f is not None
        return f

    def manifest(self) -> dict:
        if MANIFEST not in self.names:
            raise _fail("tệp này không phải bản sao lưu của omr backup (thiếu manifest.json)")
        data = json.loads(self.open(MANIFEST).read())
        if data.get("format") != FORMAT:
            raise _fail(f"bản sao lưu định dạng {data.get('format')} không được hỗ trợ (cần {FORMAT})")
        return data

    def under(self, prefix: str) -> Iterator[tuple[str, str]]:
        for name in sorted(self.names):
            if name.startswith(prefix + "/"):
                yield name, name[len(prefix) + 1 :]

    def extract(self, name: str, target: Path) -> None:
        with self.open(name) as src, atomic_file.replacing(target) as dst:
            shutil.copyfileobj(src, dst, 1 << 20)

    def close(self) -> None:
        (self.zf or self.tf).close()  # type: ignore[union-attr]


def _data_counts(eng) -> dict[str, int]:
    from sqlalchemy import func, select

    from db.models import Base

    tables = {t.name: t for t in Base.metadata.sorted_tables}
    with eng.connect() as conn:
        return {n: conn.execute(select(func.count()).select_from(tables[n])).scalar_one() for n in DATA_TABLES}


def restore(src: Path, *, force: bool = False, warn: Callable[[str], None] = _warn) -> dict:
    """Put a backup's database and files into this installation (OMR_HOME, OMR_DATABASE_URL)."""
    from omr import config

    # a missing or empty database beside the page images, a missing key: what a restore is for
    with config.restoring():
        return _restore_into_home(src, force, warn)


def _restore_into_home(src: Path, force: bool, warn: Callable[[str], None]) -> dict:
    from db import session as dbs
    from omr import config

    if not src.is_file():
        raise _fail(f"không có tệp sao lưu {src}")
    home = config.home()
    ar = _ArchiveReader(src)
    try:
        manifest = ar.manifest()
        eng = dbs.engine()
        existing = {k: v for k, v in _data_counts(eng).items() if v}
        if existing and not force:
            what = ", ".join(f"{k}: {v}" for k, v in existing.items())
            raise _fail(f"cơ sở dữ liệu đích đã có dữ liệu ({what}); thêm --force để thay thế bằng bản sao lưu")
        work = Path(tempfile.mkdtemp(prefix=".omr-restore-", dir=home))
        try:
            for name, rel in ar.under(DB_DIR):
                ar.extract(name, work / rel)
            _restore_database(eng, manifest["database"], work)
        finally:
            dbs.dispose()
            shutil.rmtree(work, ignore_errors=True)
        files = 0
        for name, rel in ar.under(HOME_DIR):
            target = home / rel
            if rel == "secret.key" and target.is_file() and target.read_bytes() != ar.open(name).read():
                # never lose a signing key: sheets printed with it would no longer be recognised
                kept = home / f"secret.key.truoc-khoi-phuc-{datetime.now():%Y%m%d-%H%M%S}"
                os.replace(target, kept)
                warn(f"khóa ký cũ được giữ lại ở {kept}")
            ar.extract(name, target)
            files += 1
    finally:
        ar.close()
    counts = _data_counts(dbs.engine())  # also migrates a backup made by an older version
    expected = manifest["database"].get("rows") or {}
    for table in ("sheets", "pages"):
        if table in expected and counts[table] != expected[table]:
            raise _fail(f"khôi phục không khớp: bảng {table} có {counts[table]} dòng, bản sao lưu có {expected[table]}")
    return {"pages": counts["pages"], "sheets": counts["sheets"], "files": files, "home": str(home)}


def _restore_database(eng, info: dict, work: Path) -> None:
    from db import session as dbs

    kind, dialect = info.get("kind"), eng.dialect.name
    if kind == "sqlite":
        copy = work / info["file"]
        if dialect == "sqlite":
            dbs.dispose()
            src, dst = sqlite3.connect(copy), sqlite3.connect(eng.url.database)
            try:
                src.backup(dst)  # replaces the target's whole content, in one step
            finally:
                src.close()
                dst.close()
            return
        # a SQLite installation moving to PostgreSQL: bring the copy to this version's schema, then copy rows
        source = dbs.engine(f"sqlite:///{copy}")
        with source.connect() as conn:
            _copy_tables(eng, lambda t: (dict(r._mapping) for r in conn.execute(_ordered(t))))
        return
    if kind == "pg_dump":
        if dialect != "postgresql":
            raise _fail(
                "bản sao lưu này là pg_dump của PostgreSQL, chỉ khôi phục được vào PostgreSQL "
                "(để chuyển sang SQLite, sao lưu lại bằng omr backup --portable)"
            )
        exe = shutil.which("pg_restore")
        if exe is None:
            raise _fail("không có pg_restore (gói postgresql-client) để khôi phục bản sao lưu PostgreSQL")
        dbs.dispose()
        uri, env = _libpq(eng)
        try:
            _run_pg(
                [exe, "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction",
                 "--exit-on-error", f"--dbname={uri}", str(work / info["file"])],
                env,
            )  # fmt: skip
        except RuntimeError as e:
            raise _fail(f"pg_restore không khôi phục được: {e}") from e
        return
    if kind == "portable":
        from db.session import HEAD_REVISION

        if info.get("revision") != HEAD_REVISION:
            raise _fail(
                f"bản sao lưu dạng trung lập có lược đồ {info.get('revision')}, phiên bản này cần {HEAD_REVISION}: "
                "khôi phục bằng đúng phiên bản đã tạo nó"
            )
        _copy_tables(eng, lambda t: _read_jsonl(work / f"{t.name}.jsonl", t))
        return
    raise _fail(f"bản sao lưu có loại cơ sở dữ liệu không biết: {kind}")


def _ordered(t):
    from sqlalchemy import select

    return select(t).order_by(*t.primary_key.columns).execution_options(yield_per=CHUNK)


def _read_jsonl(path: Path, table) -> Iterator[dict]:
    from sqlalchemy import Date, DateTime, LargeBinary

    kinds = {c.name: c.type for c in table.columns}
    if not path.is_file():
        return
    with open(path, encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            for k, v in row.items():
                if v is None:
                    continue
                typ = kinds.get(k)
                if isinstance(typ, DateTime):
                    row[k] = datetime.fromisoformat(v)
                elif isinstance(typ, Date):  # a survey day, an issue date: written as YYYY-MM-DD
                    row[k] = date.fromisoformat(v)
                elif isinstance(typ, LargeBinary):
                    row[k] = base64.b64decode(v)
            yield row


def _parents_first(table, rows: Iterable[dict]) -> Iterator[dict]:
    """Rows of a table that refers to itself (units.parent_code, pages.duplicate_of_page_id) with every
    row after the one it points to; others pass through as they come."""
    refs = [(fk.parent.name, fk.column.name) for fk in table.foreign_keys if fk.column.table is table]
    if not refs:
        yield from rows
        return
    seen: dict[str, set] = {target: set() for _, target in refs}
    waiting: list[dict] = []

    def ready(row: dict) -> bool:
        return all(row.get(col) is None or row[col] in seen[target] for col, target in refs)

    def take(row: dict) -> dict:
        for target in seen:
            seen[target].add(row.get(target))
        return row

    for row in rows:
        if ready(row):
            yield take(row)
        else:
            waiting.append(row)
    while waiting:
        still = [r for r in waiting if not ready(r)]
        if len(still) == len(waiting):
            yield from waiting  # a reference to a row that is not there: let the database say so
            return
        for r in waiting:
            if ready(r):
                yield take(r)
        waiting = still


def _copy_tables(eng, rows_of: Callable[[Any], Iterable[dict]]) -> None:
    """Replace every table's rows with the given ones, in one transaction."""
    from sqlalchemy import DateTime, insert, text

    from db.models import Base

    tables = Base.metadata.sorted_tables
    with eng.execution_options(sqlite_immediate=True).begin() as conn:
        for t in reversed(tables):
            conn.execute(t.delete())
        for t in tables:
            aware = [c.name for c in t.columns if isinstance(c.type, DateTime) and c.type.timezone]
            names = {c.name for c in t.columns}
            chunk: list[dict] = []
            for row in _parents_first(t, rows_of(t)):
                row = {k: v for k, v in row.items() if k in names}
                for k in aware:
                    v = row.get(k)
                    if isinstance(v, datetime) and v.tzinfo is None:
                        row[k] = v.replace(tzinfo=UTC)  # SQLite keeps UTC times without their zone
                chunk.append(row)
                if len(chunk) >= CHUNK:
                    conn.execute(insert(t), chunk)
                    chunk = []
            if chunk:
                conn.execute(insert(t), chunk)
        if eng.dialect.name == "postgresql":
            # rows came with their ids: move each id sequence past the largest one
            for t in tables:
                pk = list(t.primary_key.columns)
                if len(pk) == 1 and pk[0].autoincrement in (True, "auto") and pk[0].type.python_type is int:
                    conn.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence(:t, :c), "
                            f'COALESCE((SELECT MAX("{pk[0].name}") FROM "{t.name}"), 0) + 1, false)'
                        ),
                        {"t": t.name, "c": pk[0].name},
                    )
