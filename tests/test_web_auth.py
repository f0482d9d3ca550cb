"""Logging in and out, lock-out, CSRF, cookies and security headers."""

from __future__ import annotations

import re
import subprocess
from datetime import timedelta

import pytest
from sqlalchemy import select

from db.models import AuditLog, LoginThrottle, User, utcnow
from db.session import transaction
from omr.services import users
from tests.support.web import PASSWORD, Home, app_for_tests, csrf_from, login, make_users


@pytest.fixture
def app(tmp_path):
    with Home(tmp_path / "home"):
        make_users({"admin": ("admin", "09552"), "viewer": ("viewer", "09552")})
        yield app_for_tests()


def test_pages_need_login(app):
    c = app.test_client()
    for url in ("/", "/print/", "/upload/", "/review/", "/results/", "/admin/users", "/pages/1"):
        r = c.get(url)
        assert r.status_code == 302 and "/login" in r.headers["Location"], url
    r = c.get("/review/api/next")
    assert r.status_code == 401 and "error" in r.get_json()


def test_login_logout(app):
    c = app.test_client()
    r = login(c, "admin")
    assert r.status_code == 302 and r.headers["Location"] == "/"
    home = c.get("/")
    assert home.status_code == 200 and "Phường Kiến Hưng" in home.get_data(as_text=True)
    token = csrf_from(home.get_data(as_text=True))
    r = c.post("/logout", data={"csrf_token": token})
    assert r.status_code == 302
    assert c.get("/").status_code == 302


THROTTLED = "Tạm khóa đăng nhập từ máy này"
WRONG = "Sai tên đăng nhập hoặc mật khẩu"


def from_address(app, address: str):
    c = app.test_client()
    c.environ_base["REMOTE_ADDR"] = address
    return c


def message(r) -> str:
    """The login page's error line: what a visitor learns from an attempt."""
    m = re.search(r'class="error[^"]*"[^>]*>([^<]+)<', r.get_data(as_text=True))
    assert m, r.get_data(as_text=True)[:500]
    return m.group(1).strip()


def test_wrong_passwords_throttle_the_same_for_every_name(app):
    """Five wrong passwords give the same answers whether the name exists or not, and the sixth attempt,
    even with the right password, is refused the same way: nobody learns which names exist."""
    c = from_address(app, "10.0.0.66")
    seen: dict[str, list[tuple[int, str]]] = {"admin": [], "khong-co-ai": []}
    for name in seen:
        for _ in range(users.MAX_FAILED_LOGINS):
            r = login(c, name, "sai-mat-khau")
            seen[name].append((r.status_code, message(r)))
    assert seen["admin"] == seen["khong-co-ai"]
    assert all(m == f"{WRONG}." for _, m in seen["admin"][:-1])
    assert seen["admin"][-1][1].startswith(THROTTLED)
    right, unknown = login(c, "admin", PASSWORD), login(c, "khong-co-ai", PASSWORD)
    assert right.status_code == unknown.status_code == 401
    assert message(right) == message(unknown) and message(right).startswith(THROTTLED)


def test_an_attacker_cannot_lock_a_user_out_of_her_own_desk(app):
    attacker, desk = from_address(app, "203.0.113.9"), from_address(app, "10.1.2.3")
    for _ in range(3 * users.MAX_FAILED_LOGINS):
        login(attacker, "viewer", "doan-mat-khau")
    # brute force stays throttled: the right password from the attacker's machine is refused too
    r = login(attacker, "viewer", PASSWORD)
    assert r.status_code == 401 and message(r).startswith(THROTTLED)
    # the user herself, from another address, logs in at once
    r = login(desk, "viewer", PASSWORD)
    assert r.status_code == 302 and r.headers["Location"] == "/"
    # an IPv6 attacker is one /64: changing the last bits does not buy fresh attempts
    for i in range(users.MAX_FAILED_LOGINS):
        login(from_address(app, f"2001:db8:1:2::{i + 1:x}"), "admin", "doan-mat-khau")
    r = login(from_address(app, "2001:db8:1:2::ffff"), "admin", PASSWORD)
    assert r.status_code == 401 and message(r).startswith(THROTTLED)
    assert login(from_address(app, "2001:db8:9:9::1"), "admin", PASSWORD).status_code == 302


def test_trying_many_names_from_one_address_is_throttled(app):
    c = from_address(app, "198.51.100.7")
    for i in range(users.MAX_FAILED_PER_ADDRESS):
        login(c, f"ten-{i % 10}", "doan-mat-khau")  # fewer than five tries per name
    r = login(c, "viewer", PASSWORD)
    assert r.status_code == 401 and message(r).startswith(THROTTLED)
    assert login(from_address(app, "198.51.100.8"), "viewer", PASSWORD).status_code == 302


def test_behind_a_proxy_the_forwarded_address_counts(tmp_path, monkeypatch):
    """With OMR_TRUSTED_PROXIES=1 (the app behind one reverse proxy) each client is told apart by the
    address the proxy forwards; without it a forwarded address is ignored, so nobody buys fresh attempts
    by making one up."""

    def via(app, forwarded: str):
        c = app.test_client()
        c.environ_base["HTTP_X_FORWARDED_FOR"] = forwarded
        return c

    with Home(tmp_path / "home"):
        make_users({"viewer": ("viewer", "09552")})
        direct = app_for_tests()
        for i in range(users.MAX_FAILED_LOGINS):
            login(via(direct, f"192.0.2.{i}"), "viewer", "doan-mat-khau")
        assert login(via(direct, "192.0.2.200"), "viewer", PASSWORD).status_code == 401
        monkeypatch.setenv("OMR_TRUSTED_PROXIES", "1")
        proxied = app_for_tests()
        for _ in range(users.MAX_FAILED_LOGINS):
            login(via(proxied, "203.0.113.5"), "viewer", "doan-mat-khau")
        assert login(via(proxied, "203.0.113.5"), "viewer", PASSWORD).status_code == 401
        assert login(via(proxied, "10.0.0.8"), "viewer", PASSWORD).status_code == 302


def test_the_throttle_passes(app):
    c = from_address(app, "10.9.9.9")
    for _ in range(users.MAX_FAILED_LOGINS):
        login(c, "admin", "sai-mat-khau")
    assert login(c, "admin", PASSWORD).status_code == 401
    with transaction() as s:  # the lock-out's time has passed
        for row in s.scalars(select(LoginThrottle)):
            row.locked_until = utcnow() - timedelta(seconds=1)
    assert login(c, "admin", PASSWORD).status_code == 302
    # or an administrator lifts it at once, for every address
    c = from_address(app, "10.9.9.9")
    for _ in range(users.MAX_FAILED_LOGINS):
        login(c, "admin", "sai-mat-khau")
    assert login(c, "admin", PASSWORD).status_code == 401
    r = subprocess.run(["omr", "users", "unlock", "admin"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert login(c, "admin", PASSWORD).status_code == 302


def test_an_administrator_lifts_a_lock_out_from_the_users_page(app):
    """The users page shows who is locked out, and its unlock lifts the lock-out that logins are
    refused by (the same service and audit entry as ``omr users unlock``)."""
    v = from_address(app, "10.7.7.7")
    for _ in range(users.MAX_FAILED_LOGINS):
        login(v, "viewer", "sai-mat-khau")
    assert login(v, "viewer", PASSWORD).status_code == 401
    a = from_address(app, "10.1.1.1")
    assert login(a, "admin").status_code == 302
    page = a.get("/admin/users").get_data(as_text=True)
    with transaction() as s:
        viewer_id = s.scalar(select(User.id).where(User.username == "viewer"))
    assert 'value="unlock"' in page  # the viewer's row offers the unlock
    r = a.post(f"/admin/users/{viewer_id}", data={"action": "unlock", "csrf_token": csrf_from(page)})
    assert r.status_code == 302
    assert login(v, "viewer", PASSWORD).status_code == 302
    assert 'value="unlock"' not in a.get("/admin/users").get_data(as_text=True)
    with transaction() as s:
        entry = s.scalar(select(AuditLog).where(AuditLog.action == "user.unlock"))
        assert entry is not None and (entry.user, entry.object) == ("admin", "user:viewer")


def session_cookie(c) -> str:
    cookie = c.get_cookie("omr_session")
    assert cookie is not None
    return cookie.value


def replay(app, cookie: str):
    """A second browser holding a copy of the cookie."""
    other = app.test_client()
    other.set_cookie("omr_session", cookie)
    return other.get("/")


def logged_in(app, name: str):
    c = app.test_client()
    assert login(c, name).status_code == 302
    return c


def test_a_disabled_user_is_logged_out_and_cannot_log_in(app):
    """``omr users disable`` ends every session of the user at once (a copied cookie too) and refuses
    her logins, saying why only to someone who knows her password; ``omr users enable`` lets her in again."""
    viewer = logged_in(app, "viewer")
    copied = session_cookie(viewer)
    r = subprocess.run(["omr", "users", "disable", "viewer"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert replay(app, copied).status_code == 302
    assert viewer.get("/").status_code == 302
    r = login(app.test_client(), "viewer")
    assert r.status_code == 401 and "vô hiệu hóa" in message(r)
    r = login(app.test_client(), "viewer", "sai-mat-khau")
    assert r.status_code == 401 and message(r) == f"{WRONG}."
    r = subprocess.run(["omr", "users", "enable", "viewer"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert login(app.test_client(), "viewer").status_code == 302


def test_csrf_required(app):
    c = app.test_client()
    r = c.post("/login", data={"username": "admin", "password": PASSWORD})
    assert r.status_code == 400
    assert "Traceback" not in r.get_data(as_text=True)
    login(c, "admin")
    assert c.post("/logout").status_code == 400
    assert c.post("/review/api/undo", json={}).status_code == 400
    token = csrf_from(c.get("/").get_data(as_text=True))
    assert c.post("/review/api/undo", json={}, headers={"X-CSRFToken": token}).status_code == 200


def test_security_headers_and_cookie(app):
    c = app.test_client()
    r = c.get("/login")
    csp = r.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["X-Frame-Options"] == "DENY"
    assert "<script>" not in r.get_data(as_text=True)  # no inline script anywhere
    r = login(c, "admin")
    cookie = r.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie


def test_language_switch_and_errors(app):
    c = app.test_client()
    login(c, "viewer")
    page = c.get("/").get_data(as_text=True)
    assert "Tổng quan" in page
    c.post("/lang", data={"lang": "en", "csrf_token": csrf_from(page), "next": "/"})
    page = c.get("/").get_data(as_text=True)
    assert "Overview" in page and "Log out" in page
    r = c.get("/khong-co-trang-nay")
    assert r.status_code == 404 and "Traceback" not in r.get_data(as_text=True)
    assert c.get("/admin/users").status_code == 403  # a viewer is no administrator
