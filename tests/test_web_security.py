"""The web application as an attacker and an unlucky user meet it.

Every route of the app (read from ``app.url_map``, so a new route is covered the day it is added) is
opened by every role of one ward, with that ward's ids and with the ids of a ward of the same province
and of another province, logged out, and posted to without a CSRF token. Hostile names go into every
field that reaches a page; copied session cookies are replayed; the login's redirect is attacked; the
servers' own headers are read from real server processes.
"""

from __future__ import annotations

import io
import os
import re
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from db.models import AuditLog, IssuedReport, Page, PrintBatch, ReviewItem, ScanBatch, TextArea, Unit, User, local_today
from db.session import session, transaction
from omr.reports import issued as issued_reports
from omr.services import users
from omr.vocab import REVIEW_ANSWER, REVIEW_CONFLICT, REVIEW_UNIDENTIFIED
from tests.support.web import (
    FORM,
    OTHER_UNIT,
    PASSWORD,
    UNIT,
    Home,
    app_for_tests,
    build,
    cross,
    csrf_from,
    fill_clear,
    login,
    make_users,
    print_sheets,
    save_pdf,
    scan,
)
from web.access import BALLOT_ENDPOINTS, CAN_SEE_BALLOTS

SIBLING = "00070"  # Phường Hoàn Kiếm: another ward of Hà Nội, the province of UNIT
ROLES = ("admin", "staff", "reviewer", "viewer")
PUBLIC = {"static", "auth.login", "home.set_lang"}  # open to a visitor who is not logged in
NAMES = {UNIT: "Kiến Hưng", OTHER_UNIT: "Vũng Tàu", SIBLING: "Hoàn Kiếm"}

HOSTILE = [
    "<img src=x onerror=alert(1)>",
    '"><script>alert(1)</script>',
    "=cmd|' /C calc'!A0",
    "{{7*7}}",
    "Trạm\u202egnp.exe\u200b\u2066x\u2069",
]
INVISIBLE = ("\u202e", "\u200b", "\u2066", "\u2069")


# --------------------------------------------------------------------------- the site


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[SimpleNamespace]:
    tmp = tmp_path_factory.mktemp("security")
    with Home(tmp / "home"):
        data = build(tmp)
        make_users({"sibling_staff": ("staff", SIBLING)})
        _, pages = print_sheets(tmp, 1, unit=SIBLING, name="sibling.pdf", by="sibling_staff")
        fill_clear(pages[0])
        cross(pages[0], "q_result", "1")  # a double mark: the sibling ward has an item to review too
        scan([save_pdf(pages, tmp / "sibling-stack.pdf")], by="sibling_staff")
        with transaction() as s:  # a report issued by each ward: the register's downloads name one
            for n, unit in enumerate((UNIT, OTHER_UNIT, SIBLING), 1):
                period = local_today().strftime("%Y-%m")
                issued_reports.issue(s, period=period, unit_code=unit, number=f"{n}/BC", signer="Nguyễn Văn An")
        app = app_for_tests()
        ids = {unit: _ids_of(unit) for unit in (UNIT, OTHER_UNIT, SIBLING)}
        clients: dict[str, object] = {}

        def client(user: str):
            """A logged-in browser of ``user``, one per user for the module."""
            if user not in clients:
                c = app.test_client()
                assert login(c, user).status_code == 302, user
                clients[user] = c
            return clients[user]

        yield SimpleNamespace(app=app, ids=ids, client=client, tmp=tmp, data=data)


def _ids_of(unit: str) -> dict[str, object]:
    """One object of each kind belonging to ``unit``."""
    with session() as s:
        on_unit = select(Page.id).where(Page.unit_code == unit)

        def item(kind: str) -> int | None:
            q = select(ReviewItem.id).where(ReviewItem.kind == kind, ReviewItem.page_id.in_(on_unit))
            return s.scalar(q.order_by(ReviewItem.id))

        page = s.scalar(on_unit.where(Page.status.in_(("accepted", "needs_review"))).order_by(Page.id))
        text = s.scalar(select(TextArea).where(TextArea.page_id == page).order_by(TextArea.id))
        people = select(User.username).where(User.unit_code == unit)
        unplaced = select(Page.id).where(
            Page.unit_code.is_(None),
            Page.scan_batch_id.in_(select(ScanBatch.id).where(ScanBatch.created_by.in_(people))),
        )
        unidentified = select(ReviewItem.id).where(
            ReviewItem.kind == REVIEW_UNIDENTIFIED, ReviewItem.page_id.in_(unplaced)
        )
        return {
            "unidentified": s.scalar(unidentified.order_by(ReviewItem.id)),
            "page": page,
            "item": item(REVIEW_ANSWER),
            "conflict": item(REVIEW_CONFLICT),
            "text": text.id,
            "field": text.field,
            "scan": s.scalar(select(ScanBatch.id).where(ScanBatch.created_by.in_(people)).order_by(ScanBatch.id)),
            "print": s.scalar(select(PrintBatch.id).where(PrintBatch.unit_code == unit).order_by(PrintBatch.id)),
            "user": s.scalar(select(User.id).where(User.unit_code == unit).order_by(User.id)),
            "report": s.scalar(select(IssuedReport.id).where(IssuedReport.unit_code == unit).order_by(IssuedReport.id)),
        }


def _arg(endpoint: str, arg: str, ids: dict, unit: str) -> object:
    """The value of a route's URL argument naming an object of ``unit``."""
    table = {
        "page_id": ids["page"],
        "item_id": ids["item"],
        "text_id": ids["text"],
        "user_id": ids["user"],
        "batch_id": ids["print"] if endpoint.startswith("printing.") else ids["scan"],
        "report_id": ids["report"],
        "code": unit,
        "field": ids["field"],
        "fmt": "csv",
    }
    if arg not in table:
        pytest.fail(f"route {endpoint} takes <{arg}>: say in tests/test_web_security.py which object it names")
    return table[arg]


def routes(app, method: str) -> list:
    return sorted(
        (r for r in app.url_map.iter_rules() if method in r.methods and r.endpoint != "static"),
        key=lambda r: r.rule,
    )


# pages about one unit, chosen with ``?unit=`` (web/access.py chosen_unit)
UNIT_PAGES = {"home.index", "results.index", "results.export", "printing.index"}
# pages showing one review item of a kind, chosen with ``?item=``
ITEM_PAGES = {"review.conflicts": "conflict", "review.unidentified": "unidentified"}


def url(app, rule, unit: str, ids: dict) -> str:
    """The route filled with ``unit``'s objects, also naming the unit (and for some pages an item) in the
    query string."""
    values = {a: _arg(rule.endpoint, a, ids, unit) for a in rule.arguments}
    adapter = app.url_map.bind("localhost")
    path = adapter.build(rule.endpoint, values, method=sorted(rule.methods - {"HEAD", "OPTIONS"})[0])
    item = ids.get(ITEM_PAGES.get(rule.endpoint, ""))
    return f"{path}?unit={unit}" + (f"&item={item}" if item else "")


def csrf(c) -> str:
    return csrf_from(c.get("/").get_data(as_text=True))


def _no_server_error(r, what) -> None:
    assert r.status_code < 500, (what, r.status_code, r.get_data(as_text=True)[:300])
    assert b"Traceback" not in r.get_data(), what


# --------------------------------------------------------------------------- every route, every role


def test_every_route_is_covered(site):
    """The matrix below fills every route's arguments; a route with an argument it does not know fails
    there. Here: every non-public route wants a login."""
    c = site.app.test_client()
    for method in ("GET", "POST"):
        for rule in routes(site.app, method):
            if rule.endpoint in PUBLIC:
                continue
            target = url(site.app, rule, UNIT, site.ids[UNIT])
            r = c.get(target) if method == "GET" else c.post(target, data={"csrf_token": csrf_from_login(c)})
            if "/api/" in rule.rule:
                assert r.status_code == 401 and "error" in r.get_json(), (method, target)
            else:
                assert r.status_code == 302, (method, target, r.status_code)
                assert r.headers["Location"].startswith("/login"), (method, target)


def csrf_from_login(c) -> str:
    return csrf_from(c.get("/login").get_data(as_text=True))


@pytest.mark.parametrize("role", ROLES)
def test_own_units_objects_by_role(site, role):
    """With their own ward's objects: the administrator opens every page; the others open theirs or get
    403 (never 404: the data is theirs). Only the people who handle the paper see a ballot."""
    c = site.client(role)
    for rule in routes(site.app, "GET"):
        if rule.endpoint in PUBLIC:
            continue
        target = url(site.app, rule, UNIT, site.ids[UNIT])
        r = c.get(target)
        _no_server_error(r, (role, target))
        assert r.headers.get("Cache-Control") == "no-store", (role, target)
        if role == "admin":
            assert r.status_code == 200, (role, target, r.status_code)
        else:
            assert r.status_code in (200, 403), (role, target, r.status_code)
        if rule.endpoint in BALLOT_ENDPOINTS and role not in CAN_SEE_BALLOTS:
            assert r.status_code == 403, (role, target)
        if r.mimetype.startswith("image/"):
            assert role in CAN_SEE_BALLOTS, (role, target)
        body = r.get_data()
        for other in (OTHER_UNIT, SIBLING):
            assert NAMES[other].encode() not in body, (role, target, other)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("other", [SIBLING, OTHER_UNIT])
def test_other_units_objects_by_role(site, role, other):
    """With the objects of another ward (of the same province, of another province): 403 or 404 for every
    route that names one, and no page ever shows that ward's name or serials."""
    c = site.client(role)
    ids = site.ids[other]
    for rule in routes(site.app, "GET"):
        if rule.endpoint in PUBLIC:
            continue
        target = url(site.app, rule, other, ids)
        r = c.get(target)
        _no_server_error(r, (role, target))
        if rule.arguments - {"fmt"} or rule.endpoint in UNIT_PAGES:
            assert r.status_code in (403, 404), (role, target, r.status_code)
        assert NAMES[other].encode() not in r.get_data(), (role, target)


def test_province_administrator_sees_its_wards_only(site):
    c = site.client("hanoi")
    for rule in routes(site.app, "GET"):
        if rule.endpoint in PUBLIC or not rule.arguments - {"fmt"}:
            continue
        r = c.get(url(site.app, rule, SIBLING, site.ids[SIBLING]))
        assert r.status_code == 200, (rule.rule, r.status_code)
        r = c.get(url(site.app, rule, OTHER_UNIT, site.ids[OTHER_UNIT]))
        assert r.status_code in (403, 404), (rule.rule, r.status_code)


def _snapshot() -> tuple:
    """What a refused request must leave as it was."""
    with session() as s:
        return (
            s.scalar(select(func.count()).select_from(AuditLog)),
            s.scalar(select(func.count()).select_from(PrintBatch)),
            s.scalar(select(func.count()).select_from(Unit)),
            s.scalar(select(func.count()).select_from(User)),
            s.scalar(select(func.count()).select_from(ScanBatch)),
            tuple(s.execute(select(ReviewItem.id, ReviewItem.status, ReviewItem.assigned_to).order_by(ReviewItem.id))),
            tuple(s.execute(select(User.id, User.role, User.unit_code, User.password_hash).order_by(User.id))),
        )


# what a state-changing route is sent: enough for it to act if it were allowed to
BODIES = {
    "admin.update_unit": {"counters": "3"},
    "admin.update_user": {"action": "role", "role": "admin"},
    "admin.create_user": {"username": "ke-gian", "role": "admin", "password": "abcdefgh1", "password2": "abcdefgh1"},
    "admin.create_unit": {"code": "ke-gian", "name": "Trạm giả"},
    "printing.create": {"form": FORM, "count": "1"},
    "review.resolve_conflict": {"action": "keep"},
    "review.resolve_unidentified": {"action": "not_sheet"},
}


def _post(c, rule, target: str, unit: str, ids: dict, token: str | None):
    form = {**BODIES.get(rule.endpoint, {}), "unit": unit, "parent": unit, "keep": str(ids["page"])}
    if token is not None:
        form["csrf_token"] = token
    if rule.endpoint.startswith("review.api_"):
        headers = {"X-CSRFToken": token} if token else {}
        return c.post(target, json={"value": "5", "ids": [ids["item"]]}, headers=headers)
    return c.post(target, data=form)


@pytest.mark.parametrize("role", ROLES)
def test_posts_without_csrf_token_are_refused(site, role):
    c = site.client(role)
    before = _snapshot()
    for rule in routes(site.app, "POST"):
        target = url(site.app, rule, UNIT, site.ids[UNIT])
        r = _post(c, rule, target, UNIT, site.ids[UNIT], None)
        assert r.status_code == 400, (role, target, r.status_code)
        _no_server_error(r, (role, target))
    assert _snapshot() == before


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("other", [SIBLING, OTHER_UNIT])
def test_posts_about_other_units_change_nothing(site, role, other):
    """With a valid CSRF token, every state-changing route pointed at another ward's objects (in the URL
    or in the form) is refused, and nothing is written."""
    c = site.client(role)
    token = csrf(c)
    ids = site.ids[other]
    before = _snapshot()
    for rule in routes(site.app, "POST"):
        if rule.endpoint in PUBLIC or rule.endpoint in ("auth.logout", "upload.create"):
            continue  # logging out, changing the language and uploading name no unit
        target = url(site.app, rule, other, ids)
        r = _post(c, rule, target, other, ids, token)
        _no_server_error(r, (role, target))
        if rule.arguments or rule.endpoint in BODIES:
            assert r.status_code in (403, 404), (role, target, r.status_code)
    assert _snapshot() == before


# --------------------------------------------------------------------------- hostile names


def test_hostile_names_are_shown_as_text(site):
    """Unit names, file names, user names typed in: every page shows them as text, never as markup, a
    template expression or invisible characters."""
    app, admin = site.app, site.client("admin")
    token = csrf(admin)
    codes = []
    for i, name in enumerate(HOSTILE):
        code = f"tram-{i}"
        r = admin.post(
            "/admin/units", data={"code": code, "name": name, "parent": UNIT, "counters": "4", "csrf_token": token}
        )
        assert r.status_code == 302
        codes.append(code)
    # a user name that is refused: the message naming it is shown escaped
    account = {"role": "viewer", "unit": UNIT, "password": "abcdefgh1", "password2": "abcdefgh1"}
    admin.post("/admin/users", data={"username": HOSTILE[0], **account, "csrf_token": token})
    flash_page = admin.get("/admin/users")
    # uploads under hostile file names: one read, one refused
    staff = site.client("staff")
    _, pages = print_sheets(site.tmp, 1, name="hostile.pdf", by="staff")
    fill_clear(pages[0])
    stack = save_pdf(pages, site.tmp / "hostile-stack.pdf").read_bytes()
    r = staff.post(
        "/upload/",
        data={
            "csrf_token": csrf(staff),
            "files": [(io.BytesIO(stack), f"{HOSTILE[0]}.pdf"), (io.BytesIO(b"x"), f"{HOSTILE[1]}{HOSTILE[4]}.txt")],
        },
        content_type="multipart/form-data",
    )
    batch_page = staff.get(r.headers["Location"])
    # a visitor typing them into the login form
    visitor = app.test_client()
    login_page = visitor.post(
        "/login", data={"username": HOSTILE[1], "password": HOSTILE[0], "csrf_token": csrf_from_login(visitor)}
    )
    shown = [flash_page, batch_page, login_page, staff.get("/upload/")]
    for role in ROLES:
        c = site.client(role)
        for rule in routes(app, "GET"):
            if rule.endpoint in PUBLIC:
                continue
            shown.append(c.get(url(app, rule, UNIT, site.ids[UNIT])))
            for code in codes:
                if rule.endpoint in UNIT_PAGES and not rule.arguments:
                    shown.append(c.get(f"{rule.rule}?unit={code}"))
    html = [r.get_data(as_text=True) for r in shown if r.mimetype == "text/html"]
    for page in html:
        for raw in ("<img src=x onerror", "<script>alert", *INVISIBLE):
            assert raw not in page, raw
    everything = "\n".join(html)
    units_page = admin.get("/admin/units").get_data(as_text=True)
    assert "&lt;img src=x onerror=alert(1)&gt;" in units_page and "{{7*7}}" in units_page
    assert "&#34;&gt;&lt;script&gt;" in units_page and "=cmd|&#39; /C calc&#39;!A0" in units_page
    assert "Trạmgnp.exex" in units_page  # the invisible characters gone, the letters kept
    assert "&lt;img src=x onerror=alert(1)&gt;.pdf" in batch_page.get_data(as_text=True)
    assert "&lt;img src=x onerror=alert(1)&gt;" in flash_page.get_data(as_text=True)
    assert "&lt;img src=x onerror=alert(1)&gt;" in everything


# --------------------------------------------------------------------------- sessions and the login


@pytest.fixture
def small(tmp_path) -> Iterator[SimpleNamespace]:
    with Home(tmp_path / "home"):
        make_users({"admin": ("admin", UNIT), "viewer": ("viewer", UNIT)})
        yield SimpleNamespace(app=app_for_tests())


def session_cookie(c) -> str:
    cookie = c.get_cookie("omr_session")
    assert cookie is not None
    return cookie.value


def replay(app, cookie: str):
    """Another browser holding a copy of the cookie."""
    other = app.test_client()
    other.set_cookie("omr_session", cookie)
    return other.get("/")


def logged_in(app, name: str, password: str = PASSWORD):
    c = app.test_client()
    assert login(c, name, password).status_code == 302
    return c


def test_a_cookie_copied_before_logout_no_longer_works(small):
    app = small.app
    c = logged_in(app, "admin")
    copied = session_cookie(c)
    assert replay(app, copied).status_code == 200  # the copy works while the session lives
    other_browser = logged_in(app, "admin")
    assert c.post("/logout", data={"csrf_token": csrf(c)}).status_code == 302
    r = replay(app, copied)
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")
    assert other_browser.get("/").status_code == 200  # only that session ended


def test_a_new_password_ends_every_session(small):
    app = small.app
    viewer = logged_in(app, "viewer")
    copied = session_cookie(viewer)
    with transaction() as s:
        users.set_password(s, "viewer", "mat-khau-moi-2", by="admin")
    assert replay(app, copied).status_code == 302
    # an administrator sets the password on the users page
    viewer = logged_in(app, "viewer", "mat-khau-moi-2")
    copied = session_cookie(viewer)
    admin = logged_in(app, "admin")
    with session() as s:
        uid = s.scalar(select(User.id).where(User.username == "viewer"))
    form = {"action": "password", "password": PASSWORD, "password2": PASSWORD, "csrf_token": csrf(admin)}
    assert admin.post(f"/admin/users/{uid}", data=form).status_code == 302
    assert replay(app, copied).status_code == 302
    assert logged_in(app, "viewer").get("/").status_code == 200


def test_a_session_ends_after_its_lifetime_however_used(small, monkeypatch):
    c = logged_in(small.app, "admin")
    assert c.get("/").status_code == 200
    monkeypatch.setattr(users, "SESSION_LIFETIME", users.SESSION_LIFETIME * 0)  # its time is up
    assert c.get("/").status_code == 302


HOSTILE_NEXT = [
    "//evil.example/",
    "/\t/evil.example/",
    "/\n/evil.example/",
    "/\\evil.example/",
    "\\/evil.example/",
    "/\\/evil.example/",
    "https://evil.example/",
    "https:evil.example",
    " //evil.example/",
    "javascript:alert(1)",
    "/\r\nSet-Cookie: omr_session=x",
    "/ok\x00//evil.example",
    "evil.example",
]


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_login_redirects_only_within_the_site(small, target):
    """After logging in only a path of this site is followed; anything else goes home (never a 500)."""
    c = small.app.test_client()
    page = c.get("/login", query_string={"next": target})
    assert page.status_code == 200 and "evil.example" not in page.get_data(as_text=True)
    form = {"username": "admin", "password": PASSWORD, "csrf_token": csrf_from(page.get_data(as_text=True))}
    r = c.post("/login", data={**form, "next": target})
    assert r.status_code == 302 and r.headers["Location"] == "/", (target, r.headers.get("Location"))


def test_login_returns_to_the_page_asked_for(small):
    c = small.app.test_client()
    r = c.get("/results/?unit=09552")
    page = c.get(r.headers["Location"]).get_data(as_text=True)
    nxt = re.search(r'name="next" value="([^"]*)"', page)
    assert nxt is not None
    form = {"username": "admin", "password": PASSWORD, "csrf_token": csrf_from(page), "next": nxt.group(1)}
    assert c.post("/login", data=form).headers["Location"] == "/results/?unit=09552"


# --------------------------------------------------------------------------- the servers' own headers


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("production", [False, True], ids=["dev-server", "gunicorn"])
def test_servers_do_not_name_their_software(tmp_path: Path, production: bool) -> None:
    """Neither ``omr serve`` nor ``omr serve --production`` tells its server software and Python version."""
    if production:
        pytest.importorskip("gunicorn")
    port = _free_port()
    env = {**os.environ, "OMR_HOME": str(tmp_path / "home"), "OMR_SCAN_WORKERS": "1"}
    env.pop("OMR_DATABASE_URL", None)
    cmd = ["omr", "serve", "--port", str(port)]
    if production:
        cmd += ["--production", "--workers", "1"]
    log = tmp_path / "server.log"
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=log.open("wb"))
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5) as resp:
                    headers = resp.headers
                    break
            except OSError:
                assert proc.poll() is None, log.read_text(errors="replace")
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.3)
        server = headers.get("Server", "")
        assert "Werkzeug" not in server and "Python" not in server and not re.search(r"\d", server), server
        assert headers["X-Frame-Options"] == "DENY" and headers["Cache-Control"] == "no-store"
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
