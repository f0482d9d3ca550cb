"""The checks of ``omr doctor`` (omr.cli.doctor): the data directory, and with ``repair`` what can be put right.

Checks, each giving at most one line (a finding) in the report:

- the signing key: present (once anything was signed with it), of the right size, and the one the
  stored pages were signed with (the QR codes of a few stored sheets are verified with it);
- the database: it opens, and SQLite's ``PRAGMA integrity_check`` finds nothing;
- scan batches left ``running`` by a scan that was killed (its process is dead: ``services.running``):
  marked failed, with a note saying the scan was interrupted;
- image files no stored page points at (a killed scan's pages read but never stored, a writer's
  temporary file): removed, but only while no scan runs and only once they are ``ORPHAN_MIN_AGE`` old;
- the queue's spool folders of scans no longer running: removed;
- pages whose image file is missing: reported (restore them from the backup).

A scan starting after a killed one repairs the batches and files it left (``recover_interrupted``), so
that nothing is left behind even if nobody runs the doctor. The report is one line per finding
(``--json``: one JSON object per line); the exit status is 0 when nothing is left wrong.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from omr import config
from omr.services import signing_key

ORPHAN_MIN_AGE = 60.0  # seconds: a file younger than this may belong to a page being stored right now
KEY_SAMPLE = 5  # stored sheets whose QR code is verified with the key
INTERRUPTED = "bị gián đoạn: tiến trình quét đã dừng đột ngột"


@dataclass
class Finding:
    check: str  # key, database, batches, orphans, spool, images
    message: str  # one line, for a person
    repairable: bool = False
    repaired: bool = False
    items: list[str] = field(default_factory=list)  # what it is about (batch ids, file paths), for --json


# --------------------------------------------------------------------------- the checks


def check_key_present(database_opens: bool) -> Iterator[Finding]:
    path = config.key_path()
    try:
        key = path.read_bytes()
    except FileNotFoundError:
        # a new installation makes its key on first use; one that has signed something has lost it
        signed = signing_key.signed_so_far() if database_opens else None
        if signed or not database_opens:
            yield Finding(
                "key",
                f"thiếu khóa ký {path}" + (f" (đã có {signed})" if signed else "") + f": {config.KEY_RESTORE_HINT}",
            )
        return
    if len(key) != config.KEY_BYTES:
        yield Finding("key", f"khóa ký {path} hỏng (cần đúng {config.KEY_BYTES} byte): {config.KEY_RESTORE_HINT}")


def check_key_matches() -> Iterator[Finding]:
    path = config.key_path()
    matched, failed = _verify_stored_codes(path.read_bytes())
    if failed and not matched:
        yield Finding(
            "key",
            f"khóa ký {path} không khớp: mã QR của {failed} trang đã lưu không xác thực được bằng khóa này "
            f"(khóa bị thay?): {config.KEY_RESTORE_HINT}",
        )


def _verify_stored_codes(key: bytes) -> tuple[int, int]:
    """Verify the QR codes of a few stored, identified pages with ``key``: (matched, did not match)."""
    import numpy as np
    from sqlalchemy import select

    from db import session as dbs
    from db.models import Page
    from omr.detect.qr import read_qr
    from omr.detect.read import decode
    from omr.sheet import identity
    from omr.vocab import ACCEPTED, CONFLICT, NEEDS_REVIEW

    with dbs.session() as s:
        rows = s.execute(
            select(Page.image_path, Page.transform)
            .where(Page.status.in_((ACCEPTED, NEEDS_REVIEW, CONFLICT)), Page.transform.is_not(None))
            .order_by(Page.id.desc())
            .limit(KEY_SAMPLE)
        ).all()
    matched = failed = 0
    for image_path, transform in rows:
        try:
            gray = decode((config.home() / image_path).read_bytes())
        except (OSError, ValueError):
            continue  # a missing image is its own finding
        text = read_qr(gray, np.array(transform))
        if text is None:
            continue
        try:
            ident, sig = identity.decode(text)
        except identity.BadPayload:
            continue
        if identity.verify(ident, sig, key):
            matched += 1
        else:
            failed += 1
    return matched, failed


def check_database() -> Iterator[Finding]:
    from sqlalchemy import text

    from db import session as dbs

    eng = dbs.engine()
    if eng.dialect.name != "sqlite":
        with eng.connect() as conn:
            conn.execute(text("SELECT 1"))
        return
    with eng.connect() as conn:
        problems = [r[0] for r in conn.exec_driver_sql("PRAGMA integrity_check").all()]
    if problems != ["ok"]:
        yield Finding(
            "database",
            f"cơ sở dữ liệu {eng.url.database} hỏng ({len(problems)} lỗi, đầu tiên: {problems[0]}): "
            + config.RESTORE_HINT,
            items=problems[:100],
        )


def interrupted_batches() -> list[tuple[int, str]]:
    """Batches marked running whose scan process is dead: (id, who ran it)."""
    from sqlalchemy import select

    from db import session as dbs
    from db.models import ScanBatch
    from omr.services import running
    from omr.vocab import SCAN_RUNNING

    with dbs.session() as s:
        ids = list(s.scalars(select(ScanBatch.id).where(ScanBatch.status == SCAN_RUNNING).order_by(ScanBatch.id)))
    out = []
    for batch_id in ids:
        if not running.alive(batch_id):
            who = running.owner(batch_id) or {}
            out.append((batch_id, f"pid {who['pid']} trên máy {who.get('host', '?')}" if who.get("pid") else ""))
    return out


def mark_interrupted(batches: list[tuple[int, str]]) -> None:
    from sqlalchemy import update

    from db import session as dbs
    from db.models import ScanBatch
    from omr.services import running
    from omr.vocab import SCAN_FAILED, SCAN_RUNNING

    for batch_id, who in batches:
        with dbs.transaction() as s:
            s.execute(
                update(ScanBatch)
                .where(ScanBatch.id == batch_id, ScanBatch.status == SCAN_RUNNING)
                .values(status=SCAN_FAILED, note=f"{INTERRUPTED} ({who})" if who else INTERRUPTED)
            )
        running.release(batch_id)


def check_batches(repair: bool) -> Iterator[Finding]:
    stuck = interrupted_batches()
    if not stuck:
        return
    if repair:
        mark_interrupted(stuck)
    ids = ", ".join(str(i) for i, _ in stuck)
    yield Finding(
        "batches",
        f"{len(stuck)} đợt quét còn ghi 'đang đọc' nhưng tiến trình quét đã dừng (đợt {ids})"
        + ("; đã đánh dấu bị gián đoạn, quét lại xấp phiếu để đọc nốt" if repair else ""),
        repairable=True,
        repaired=repair,
        items=[str(i) for i, _ in stuck],
    )


def orphan_files(min_age: float = ORPHAN_MIN_AGE) -> list[Path]:
    """Files under ``pages/`` that no stored page or comment crop points at, at least ``min_age`` old."""
    from sqlalchemy import select

    from db import session as dbs
    from db.models import Page, TextArea

    home = config.home()
    root = home / "pages"
    if not root.is_dir():
        return []
    with dbs.session() as s:
        known = set(s.scalars(select(Page.image_path)))
        known.update(s.scalars(select(TextArea.image_path)))
    now = time.time()
    out = []
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            p = Path(dirpath) / name
            if p.relative_to(home).as_posix() in known:
                continue
            try:
                if now - p.stat().st_mtime >= min_age:
                    out.append(p)
            except FileNotFoundError:
                continue
    return sorted(out)


def check_orphans(repair: bool, min_age: float = ORPHAN_MIN_AGE) -> Iterator[Finding]:
    from omr.services import running

    with running.no_scan_running() as idle:
        found = orphan_files(min_age)
        if not found:
            return
        size = sum(p.stat().st_size for p in found if p.exists())
        what = f"{len(found)} tệp ảnh trong pages/ không thuộc trang nào đã lưu ({size / 1e6:.1f} MB)"
        done = repair and idle
        if done:
            for p in found:
                p.unlink(missing_ok=True)
        note = "; đã xóa" if done else ("; chưa xóa vì đang có lượt quét chạy" if repair else "")
        yield Finding("orphans", what + note, repairable=True, repaired=done, items=[str(p) for p in found])


def check_spool(repair: bool) -> Iterator[Finding]:
    from omr.services import spool

    found = spool.stale()
    if not found:
        return
    if repair:
        for p in found:
            shutil.rmtree(p, ignore_errors=True)
    yield Finding(
        "spool",
        f"{len(found)} thư mục hàng đợi (spool/) của các đợt quét đã dừng" + ("; đã xóa" if repair else ""),
        repairable=True,
        repaired=repair,
        items=[str(p) for p in found],
    )


def check_images() -> Iterator[Finding]:
    from sqlalchemy import select

    from db import session as dbs
    from db.models import Page

    home = config.home()
    missing = []
    with dbs.session() as s:
        for page_id, image_path in s.execute(select(Page.id, Page.image_path).execution_options(yield_per=1000)):
            if not (home / image_path).is_file():
                missing.append(f"{page_id}:{image_path}")
    if missing:
        yield Finding(
            "images", f"{len(missing)} trang đã lưu thiếu tệp ảnh: {config.RESTORE_HINT}", items=missing[:1000]
        )


def diagnose(repair: bool = False) -> list[Finding]:
    """Every check, in order; those that need the database only if it can be opened."""
    from sqlalchemy.exc import SQLAlchemyError

    from db.session import DatabaseError

    try:
        findings = list(check_database())
    except (config.ConfigError, DatabaseError, SQLAlchemyError) as e:
        findings = [Finding("database", f"không mở được cơ sở dữ liệu: {str(e).splitlines()[0]}")]
        return list(check_key_present(database_opens=False)) + findings
    key = list(check_key_present(database_opens=True))
    findings = key + findings
    if not key and config.key_path().exists():
        findings.extend(check_key_matches())
    findings.extend(check_batches(repair))
    findings.extend(check_orphans(repair))
    findings.extend(check_spool(repair))
    findings.extend(check_images())
    return findings


def recover_interrupted() -> int:
    """What a scan does as it starts: batches of killed scans are marked interrupted and, if there were
    any, the image files and spool they left are removed. Returns how many batches were found."""
    stuck = interrupted_batches()
    if stuck:
        mark_interrupted(stuck)
        list(check_orphans(repair=True))
        list(check_spool(repair=True))
    return len(stuck)
