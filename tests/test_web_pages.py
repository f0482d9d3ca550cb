"""Upload (background reading, progress, per-page results, bad files), print, start page, results, admin."""

from __future__ import annotations

import io
import time

import pytest
from sqlalchemy import func, select

from db.models import AuditLog, PrintBatch, ScanBatch, Sheet, Unit, User
from db.session import session
from tests.support.web import (
    UNIT,
    Home,
    app_for_tests,
    csrf_from,
    fill_clear,
    login,
    make_users,
    print_sheets,
    save_pdf,
)


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
    assert page.count("Đọc xong") >= 2 and "Xem trang" in page


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
    assert page.count("Đọc xong") >= 2
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
    assert "phiếu đã nhận" in page and "câu chờ duyệt" in page
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
    for action in ("user.add", "unit.add", "user.role"):
        assert f'data-action="{action}"' in audit
    # words, not JSON: Vietnamese labels, old → new
    assert "Đổi vai trò, đơn vị" in audit and "Thêm đơn vị" in audit and "Tạo người dùng" in audit
    assert "Người duyệt → <strong>Người xem</strong>" in audit
    assert "Trường THCS Kiến Hưng (KH-TRUONG1)</strong>" in audit
    assert "{&#34;" not in audit and '{"' not in audit and "final_value" not in audit
    with session() as s:
        e = s.scalar(select(AuditLog).where(AuditLog.action == "user.role"))
        assert e.old == {"role": "reviewer", "unit": UNIT} and e.new == {"role": "viewer", "unit": "KH-TRUONG1"}
    # filters: who, what, when, unit
    only_units = c.get("/admin/audit?what=unit.add").get_data(as_text=True)
    assert 'data-action="unit.add"' in only_units and 'data-action="user.role"' not in only_units
    assert 'data-action="user.add"' in c.get("/admin/audit?who=admin").get_data(as_text=True)
    assert "data-action=" not in c.get("/admin/audit?who=viewer").get_data(as_text=True)
    assert "data-action=" not in c.get("/admin/audit?until=2020-01-01").get_data(as_text=True)
    assert 'data-action="user.role"' in c.get("/admin/audit?since=2020-01-01").get_data(as_text=True)
    assert 'data-action="unit.add"' in c.get("/admin/audit?unit=KH-TRUONG1").get_data(as_text=True)
    # the new service point is inside the administrator's scope at once
    assert c.get("/?unit=KH-TRUONG1").status_code == 200


def test_rename_and_retire_a_unit(home):
    """A unit renamed and retired keeps its history (its sheets, its results) and leaves the pickers."""
    app = app_for_tests()
    c = app.test_client()
    login(c, "admin")
    t = token(c)
    c.post("/admin/units", data={"csrf_token": t, "code": "KH-TRAM", "name": "Trạm y tế", "parent": UNIT})
    print_sheets(home, 2, unit="KH-TRAM", name="tram.pdf")
    r = c.post(
        "/admin/units/KH-TRAM",
        data={
            "csrf_token": t,
            "action": "settings",
            "name": "Trạm y tế phường Kiến Hưng",
            "counters": "2",
            "usual_form": "hn-y-te",
        },
    )
    assert r.status_code == 302
    page = c.get("/print/?unit=KH-TRAM").get_data(as_text=True)
    assert "Trạm y tế phường Kiến Hưng (KH-TRAM)" in page
    first_form = page.split('id="form"')[1].split("<option")[1]
    assert 'value="hn-y-te"' in first_form  # its usual form first, and chosen
    c.post("/admin/units/KH-TRAM", data={"csrf_token": t, "action": "retire"})
    with session() as s:
        u = s.get(Unit, "KH-TRAM")
        assert u.retired and u.name == "Trạm y tế phường Kiến Hưng"
        assert s.scalar(select(func.count()).select_from(Sheet).where(Sheet.unit_code == "KH-TRAM")) == 2
        actions = [a for (a,) in s.execute(select(AuditLog.action).where(AuditLog.object == "unit:KH-TRAM"))]
        assert actions == ["unit.add", "unit.set", "unit.set"]
    for url in ("/print/", "/admin/users", "/"):
        assert 'value="KH-TRAM"' not in c.get(url).get_data(as_text=True), url
    assert c.get("/?unit=KH-TRAM").status_code == 200  # its history is still there to look at
    r = c.post("/print/", data={"csrf_token": t, "unit": "KH-TRAM", "form": "hn-y-te", "count": "1"})
    assert r.status_code == 302  # no new sheets for a retired unit
    with session() as s:
        assert s.scalar(select(func.count()).select_from(Sheet).where(Sheet.unit_code == "KH-TRAM")) == 2
    c.post("/admin/units/KH-TRAM", data={"csrf_token": t, "action": "restore"})
    assert 'value="KH-TRAM"' in c.get("/print/").get_data(as_text=True)
    # one's own unit cannot be retired
    c.post(f"/admin/units/{UNIT}", data={"csrf_token": t, "action": "retire"})
    with session() as s:
        assert not s.get(Unit, UNIT).retired


def test_new_user_defaults_to_viewer(home):
    app = app_for_tests()
    c = app.test_client()
    login(c, "admin")
    page = c.get("/admin/users").get_data(as_text=True)
    form = page.split('id="new-role"')[1].split("</select>")[0]
    assert 'value="viewer" selected' in form and form.count("selected") == 1


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
    # the scanned sheets themselves (the iOffice annex): not for a viewer, offered to staff
    assert "/results/export.sheets-pdf" not in page
    assert c.get(f"/results/export.sheets-pdf?unit={UNIT}").status_code == 403
    staff = app.test_client()
    login(staff, "staff")
    page = staff.get(f"/results/?unit={UNIT}").get_data(as_text=True)
    r = staff.get(f"/results/export.sheets-pdf?unit={UNIT}")
    assert "/results/export.sheets-pdf" in page and r.status_code == 200 and r.data.startswith(b"%PDF")


def test_one_vocabulary_for_received_and_waiting(home):
    """ "phiếu đã nhận", "câu chờ duyệt", "phiếu còn câu chờ duyệt": one count each, the same on the
    command line's summary, the start page, the results page and in the tally the exports use."""
    import re
    import subprocess
    import sys

    from omr.services import sheet_counts, tally
    from tests.support.web import cross, pale_stroke
    from web.tallies import this_month

    _, pages = print_sheets(home, 4, name="vocab.pdf", by="staff")
    for p in pages:
        fill_clear(p, result="5")
    cross(pages[1], "q_result", "2")  # sheet 2: two answers waiting
    pale_stroke(pages[1], "q_staff", "2")
    cross(pages[2], "q_counter", "4")  # sheet 3: one
    stack = save_pdf(pages, home / "vocab-stack.pdf")
    r = subprocess.run([sys.executable, "-m", "omr.cli", "scan", str(stack)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "Phiếu đã nhận: 4, câu chờ duyệt: 3, phiếu còn câu chờ duyệt: 2" in r.stdout, r.stdout
    assert "đã nhận:" not in r.stdout.split("\n")[-3]  # page statuses have words of their own
    with session() as s:
        c = sheet_counts.counts(s, [UNIT])
        res = tally.compute(s, this_month(), UNIT)
    assert (c.received, c.waiting_answers, c.waiting_sheets) == (4, 3, 2)
    assert (res.responses, res.pending_responses) == (c.received, c.waiting_sheets)
    assert sum(q.pending for f in res.forms for q in f.questions) == c.waiting_answers
    app = app_for_tests()
    login(v := app.test_client(), "viewer")
    start = v.get("/").get_data(as_text=True)
    assert 'id="received">4<' in start and 'id="waiting">3<' in start
    assert re.search(r'id="waiting-sheets">thuộc 2 phiếu còn câu chờ duyệt<', start)
    results = v.get("/results/").get_data(as_text=True)
    assert 'id="result-responses">4<' in results and 'id="result-waiting">3<' in results
    assert re.search(r'id="result-waiting-sheets">thuộc 2 phiếu còn câu chờ duyệt<', results)


def test_every_audit_action_written_has_a_label():
    """The audit page names each action in words: every action the product writes (the second
    argument of ``audit.record`` anywhere in omr/ and web/) is in web.audit_log.ACTIONS."""
    import re
    from pathlib import Path

    from web import audit_log

    root = Path(__file__).resolve().parents[1]
    call = re.compile(r"audit\.record\(\s*[^,]+,\s*[^,]+,\s*\"([^\"]+)\"")
    written = set()
    for path in [*(root / "omr").rglob("*.py"), *(root / "web").rglob("*.py")]:
        written |= set(call.findall(path.read_text(encoding="utf-8")))
    assert {"review.answer", "user.unlock", "unit.add", "reread"} <= written  # the pattern finds them
    assert sorted(written - set(audit_log.ACTIONS)) == []


def test_every_message_has_an_english_translation():
    """Every message the web application words (templates, views, labels) is in en.json, so the English
    pages are English throughout."""
    import json
    import re
    from pathlib import Path

    from omr import reports, vocab
    from web import audit_log, auth, crops, labels

    web = Path(__file__).resolve().parents[1] / "web"
    en = json.loads((web / "translations" / "en.json").read_text(encoding="utf-8"))
    literal = re.compile(r"""_\(\s*(?:"((?:[^"\\]|\\.)+)"|'((?:[^'\\]|\\.)+)')\s*\)""")
    words = set()
    for path in [*web.rglob("*.html"), *web.rglob("*.py")]:
        for m in literal.finditer(path.read_text(encoding="utf-8")):
            words.add(m.group(1) or m.group(2))
    words.discard("…")  # i18n.py's docstring
    for table in (labels.STATUS, labels.STATE, labels.REJECTED, audit_log.ACTIONS, audit_log.FIELDS):
        words |= set(table.values())
    words |= set(crops.READING_NAMES.values()) | {crops.FINAL_NAME}
    words |= set(auth._MESSAGES.values())  # the login's refusals, translated where shown
    words |= {vocab.RECEIVED, vocab.WAITING_ANSWERS, vocab.WAITING_SHEETS}
    words |= {e.button for e in reports.EXPORTERS.values()}  # the results page's download buttons
    words |= set(vocab.ANSWER_REASON.values())  # why the machine sent an answer to the reviewer
    missing = sorted(w for w in words if w not in en)
    assert not missing, missing
