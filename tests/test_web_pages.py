"""Upload (background reading, progress, per-page results, bad files), print, start page, results, admin."""

from __future__ import annotations

import io
import time

import pytest
from sqlalchemy import func, select

from db.models import AuditLog, PrintBatch, ScanBatch, Sheet, Unit, User
from db.session import session
from web.testing import UNIT, Home, app_for_tests, csrf_from, fill_clear, login, make_users, print_sheets, save_pdf


@pytest.fixture
def home(tmp_path):
    with Home(tmp_path / "home"):
        make_users({"admin": ("admin", UNIT), "staff": ("staff", UNIT), "viewer": ("viewer", UNIT)})
        yield tmp_path


def token(c) -> str:
    return csrf_from(c.get("/").get_data(as_text=True))


def stack_bytes(tmp, n=2) -> bytes:
    _, pages = print_sheets(tmp, n, name="up.pdf", by="staff")
    for p in pages:
        fill_clear(p)
    return save_pdf(pages, tmp / "up-stack.pdf").read_bytes()


def test_upload_in_background_with_progress(home):
    app = app_for_tests(SCAN_INLINE=False)
    c = app.test_client()
    login(c, "staff")
    data = stack_bytes(home)
    r = c.post(
        "/upload/",
        data={
            "csrf_token": token(c),
            "files": [(io.BytesIO(data), "stack.pdf"), (io.BytesIO(b"not a scan"), "notes.txt")],
        },
        content_type="multipart/form-data",
    )
    assert r.status_code == 302  # returns at once; reading goes on in the background
    batch_url = r.headers["Location"]
    batch_id = int(batch_url.rstrip("/").split("/")[-1])
    page = c.get(batch_url).get_data(as_text=True)
    assert "notes.txt" in page  # the rejected file is named with a clear message
    for _ in range(200):
        p = c.get(f"/upload/api/{batch_id}").get_json()
        if not p["running"]:
            break
        time.sleep(0.1)
    assert p["done"] == p["total"] == 2 and p["status"] == "done"
    page = c.get(batch_url).get_data(as_text=True)
    assert page.count("Đã nhận") >= 2 and "Xem trang" in page


def test_unreadable_file_keeps_what_was_stored(home):
    app = app_for_tests()
    c = app.test_client()
    login(c, "staff")
    data = stack_bytes(home)
    broken = b"%PDF-1.4\n" + b"garbage" * 100
    r = c.post(
        "/upload/",
        data={"csrf_token": token(c), "files": [(io.BytesIO(data), "good.pdf"), (io.BytesIO(broken), "broken.pdf")]},
        content_type="multipart/form-data",
    )
    page = c.get(r.headers["Location"]).get_data(as_text=True)
    assert "broken.pdf" in page and "Lỗi đọc" in page
    assert page.count("Đã nhận") >= 2
    with session() as s:
        assert s.scalar(select(func.count()).select_from(ScanBatch)) == 1


def test_upload_limits(home):
    app = app_for_tests(MAX_CONTENT_LENGTH=1024)
    c = app.test_client()
    login(c, "staff")
    r = c.post(
        "/upload/",
        data={"csrf_token": token(c), "files": [(io.BytesIO(b"x" * 4096), "big.pdf")]},
        content_type="multipart/form-data",
    )
    assert r.status_code == 413 and "quá lớn" in r.get_data(as_text=True)
    r = c.post("/upload/", data={"csrf_token": token(c)}, content_type="multipart/form-data")
    assert r.status_code == 302


def test_print_download_is_recorded(home):
    app = app_for_tests()
    c = app.test_client()
    login(c, "staff")
    assert "Kiến Hưng" in c.get("/print/").get_data(as_text=True)
    r = c.post("/print/", data={"csrf_token": token(c), "unit": UNIT, "form": "kien-hung-2020", "count": "3"})
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/pdf"
    assert r.data.startswith(b"%PDF") and "attachment" in r.headers["Content-Disposition"]
    with session() as s:
        b = s.scalar(select(PrintBatch))
        assert b.count == 3 and b.created_by == "staff" and b.unit_code == UNIT
        assert s.scalar(select(func.count()).select_from(Sheet)) == 3
    assert c.get(f"/print/{b.id}.pdf").data.startswith(b"%PDF")
    r = c.post("/print/", data={"csrf_token": token(c), "unit": UNIT, "form": "kien-hung-2020", "count": "0"})
    assert r.status_code == 302
    r = c.post("/print/", data={"csrf_token": token(c), "unit": "26506", "form": "kien-hung-2020", "count": "1"})
    assert r.status_code == 404  # another unit's sheets cannot be printed


def test_start_page_and_results(home):
    app = app_for_tests()
    c = app.test_client()
    login(c, "staff")
    data = stack_bytes(home, 3)
    c.post(
        "/upload/",
        data={"csrf_token": token(c), "files": [(io.BytesIO(data), "s.pdf")]},
        content_type="multipart/form-data",
    )
    login(v := app.test_client(), "viewer")
    page = v.get("/").get_data(as_text=True)
    assert 'id="printed">3<' in page and 'id="received">3<' in page and "100,0 %" in page
    res = v.get("/results/").get_data(as_text=True)
    assert 'id="result-responses">3<' in res and "Rất hài lòng" in res
    assert v.get("/results/?period=2026-13").status_code == 302  # a bad period: a message, no traceback
    v.post("/lang", data={"lang": "en", "csrf_token": token(v), "next": "/"})
    assert "100.0 %" in v.get("/").get_data(as_text=True)


def test_admin_users_units_audit(home):
    app = app_for_tests()
    c = app.test_client()
    login(c, "admin")
    t = token(c)
    r = c.post(
        "/admin/users",
        data={
            "csrf_token": t,
            "username": "duyet2",
            "role": "reviewer",
            "unit": UNIT,
            "password": "mat-khau-99",
            "password2": "mat-khau-99",
        },
    )
    assert r.status_code == 302
    r = c.post(
        "/admin/users",
        data={"csrf_token": t, "username": "ngan", "role": "reviewer", "unit": UNIT, "password": "x", "password2": "x"},
    )
    assert "ít nhất" in c.get("/admin/users").get_data(as_text=True)
    c.post(
        "/admin/units",
        data={"csrf_token": t, "code": "KH-TRUONG1", "name": "Trường THCS Kiến Hưng", "parent": UNIT, "counters": "3"},
    )
    with session() as s:
        assert s.scalar(select(User).where(User.username == "duyet2")).role == "reviewer"
        assert s.get(Unit, "KH-TRUONG1").parent_code == UNIT
        uid = s.scalar(select(User.id).where(User.username == "duyet2"))
    c.post(f"/admin/users/{uid}", data={"csrf_token": t, "action": "role", "role": "viewer", "unit": "KH-TRUONG1"})
    audit = c.get("/admin/audit").get_data(as_text=True)
    for action in ("user.add", "unit.create", "user.role"):
        assert action in audit
    with session() as s:
        e = s.scalar(select(AuditLog).where(AuditLog.action == "user.role"))
        assert e.old == {"role": "reviewer", "unit": UNIT} and e.new == {"role": "viewer", "unit": "KH-TRUONG1"}
    # the new service point is inside the administrator's scope at once
    assert c.get("/?unit=KH-TRUONG1").status_code == 200


def test_exports_scoped(home):
    """The results page's three downloads are the same exporters as ``omr export``, inside the user's units."""
    app = app_for_tests()
    c = app.test_client()
    login(c, "viewer")
    page = c.get(f"/results/?unit={UNIT}").get_data(as_text=True)
    signatures = {"csv": b"PK", "xlsx": b"PK", "pdf": b"%PDF"}  # CSV: answers and tally, zipped together
    for fmt, magic in signatures.items():
        assert f"/results/export.{fmt}" in page
        r = c.get(f"/results/export.{fmt}?unit={UNIT}")
        assert r.status_code == 200, fmt
        assert r.headers["Content-Disposition"].startswith("attachment")
        assert r.data.startswith(magic), fmt
        assert c.get(f"/results/export.{fmt}?unit=26506").status_code == 404
    assert c.get(f"/results/export.txt?unit={UNIT}").status_code == 404
