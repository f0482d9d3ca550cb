"""Logging in and out, lock-out, CSRF, cookies and security headers."""

from __future__ import annotations

import pytest

from web.testing import PASSWORD, Home, app_for_tests, csrf_from, login, make_users


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


def test_wrong_password_and_lockout(app):
    c = app.test_client()
    for _ in range(4):
        r = login(c, "admin", "sai-mat-khau")
        assert r.status_code == 401
        assert "Sai tên đăng nhập hoặc mật khẩu" in r.get_data(as_text=True)
    r = login(c, "admin", "sai-mat-khau")  # the fifth failure locks the account, and says so
    assert "tạm khóa" in r.get_data(as_text=True)
    # locked now: even the right password is refused, with a clear message
    r = login(c, "admin", PASSWORD)
    assert r.status_code == 401
    assert "tạm khóa" in r.get_data(as_text=True)
    # an unknown user gets the same message as a wrong password
    r = login(c, "khong-co", "x" * 10)
    assert "Sai tên đăng nhập hoặc mật khẩu" in r.get_data(as_text=True)


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


def test_open_redirect_refused(app):
    c = app.test_client()
    page = c.get("/login")
    token = csrf_from(page.get_data(as_text=True))
    r = c.post(
        "/login", data={"username": "admin", "password": PASSWORD, "csrf_token": token, "next": "//evil.example/"}
    )
    assert r.headers["Location"] == "/"


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
