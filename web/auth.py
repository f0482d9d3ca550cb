"""Logging in and out, and the logged-in user.

A session lives in the signed cookie and is checked against the database on every request: it ends at
logout (its id is recorded as ended), when the password changes or the user is disabled, and
``users.SESSION_LIFETIME`` after login. Failed logins are throttled by ``omr.services.users``."""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from flask import Blueprint, Flask, flash, jsonify, redirect, render_template, request, session, url_for
from flask_login import LoginManager, UserMixin, current_user, login_required, login_user, logout_user
from sqlalchemy import Row, bindparam, exists, select

from db.models import EndedSession, Unit, User
from db.session import session as open_session
from omr import config
from omr.services import users
from web.access import unit_tree
from web.database import db, transaction
from web.i18n import _

bp = Blueprint("auth", __name__)
login_manager = LoginManager()


@dataclass(eq=False)
class WebUser(UserMixin):
    id: int
    username: str
    role: str
    unit_code: str
    token: str  # changes with the password: old sessions end whichever code changes it
    generation: int  # User.session_generation when the session began
    session_id: str  # this browser's session: ended at logout (users.end_session)
    started: int  # when the session began (Unix time): it ends SESSION_LIFETIME later, however used
    units: frozenset[str] = field(default_factory=frozenset)
    # an administrator of a top-level unit also sees pages nobody could place (scanned from the command line)
    root: bool = False

    def get_id(self) -> str:
        return f"{self.id}:{self.token}:{self.generation}:{self.started}:{self.session_id}"

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


# the user of a session that may go on: the user is not disabled and the session was not logged out
_USER_ROW = select(
    User.id, User.username, User.role, User.unit_code, User.password_hash, User.session_generation
).where(
    User.id == bindparam("uid"),
    User.disabled_at.is_(None),
    ~exists().where(EndedSession.token_sha256 == bindparam("sha")),
)


def _token(u: User | Row) -> str:
    # derived from the password's hash, not a piece of it: the (signed, readable) cookie carries it
    return hashlib.sha256(u.password_hash.encode()).hexdigest()[:16]


def load(u: User | Row, session_id: str, started: int) -> WebUser:
    tree = unit_tree()
    root = u.role == "admin" and tree.parents.get(u.unit_code) is None
    return WebUser(
        u.id,
        u.username,
        u.role,
        u.unit_code,
        _token(u),
        u.session_generation,
        session_id,
        started,
        tree.below(u.unit_code),
        root,
    )


@login_manager.user_loader
def _load_user(user_id: str) -> WebUser | None:
    parts = user_id.split(":")
    if len(parts) != 5 or not all(p.isdigit() for p in (parts[0], parts[2], parts[3])) or not parts[4]:
        return None  # also a cookie from before sessions were ended on the server
    uid, token, generation, started, session_id = parts
    if int(started) + users.SESSION_LIFETIME.total_seconds() <= time.time():
        return None
    # a plain row rather than an ORM object: this runs on every request, and reads the user afresh each
    # time (a changed password, role or unit, a disabled or deleted user, takes effect on the next request)
    u = db().execute(_USER_ROW, {"uid": int(uid), "sha": users.token_sha(session_id)}).first()
    ok = u is not None and _token(u) == token and u.session_generation == int(generation)
    web_user = load(u, session_id, int(started)) if ok and u is not None else None
    # give the connection back to the pool at once: a view that then writes uses a second connection,
    # and requests each holding one while waiting for another could exhaust the pool
    db().commit()
    return web_user


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Vui lòng đăng nhập."
    login_manager.session_protection = "strong"

    @login_manager.unauthorized_handler
    def _unauthorized():
        if "/api/" in request.path:
            return jsonify(error=_("Vui lòng đăng nhập.")), 401
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?") if request.method == "GET" else None))


# what browsers ignore or fold inside a URL (tabs, line breaks, other control characters), and
# backslashes, which they read as slashes
_URL_NOISE = re.compile(r"[\x00-\x1f\x7f\\]")


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a path of this site, else the home page. A target holding anything
    a browser would drop or fold (control characters, backslashes) is refused outright; what is left must
    be a path with one leading slash and no scheme or host."""
    fallback = url_for("home.index")
    if not target or _URL_NOISE.search(target):
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return fallback
    return target


_MESSAGES = {
    users.WRONG: "Sai tên đăng nhập hoặc mật khẩu.",
    # the same for every name, existing or not: the throttle is per name and address
    users.THROTTLED: "Tạm khóa đăng nhập từ máy này vì sai nhiều lần. Hãy thử lại sau {m} phút.",
    users.DISABLED: "Tài khoản đã bị vô hiệu hóa. Hãy liên hệ quản trị viên.",
}


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    error = None
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        password = request.form.get("password", "")
        error = _attempt(username, password)
        if error is None:
            return redirect(safe_next(request.form.get("next")))
    nxt = request.args.get("next", "")
    return render_template("login.html", error=error, next=safe_next(nxt) if nxt else ""), (401 if error else 200)


def _attempt(username: str, password: str) -> str | None:
    """Check a login; on success log the user in and return None, else return the message to show."""
    if not username or not password:
        return _(_MESSAGES[users.WRONG])
    address = request.remote_addr or users.LOCAL
    # The password check (argon2) takes tens of milliseconds of CPU on purpose: it runs outside any write
    # transaction, and a plain successful login writes nothing at all, so logging in never holds SQLite's
    # single write lock that every reviewer's claim and decision waits for.
    with open_session(config.database_url()) as s:
        verdict = users.verify(s, username, password, address)
    refused = None
    if not verdict.changes_nothing:
        with transaction() as s:
            refused = users.record(s, verdict)  # committed whatever the outcome: failures are counted
    if refused is not None:
        return _(_MESSAGES[refused]).format(m=int(users.LOCKOUT.total_seconds() // 60))
    found = db().get(User, verdict.user_id)
    assert found is not None
    session.clear()  # a fresh session on login: no fixation
    login_user(load(found, users.new_session_id(), int(time.time())))
    session.permanent = True
    return None


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    with transaction() as s:
        users.end_session(s, current_user.session_id)  # a copy of the cookie stops working too
    logout_user()
    session.clear()
    flash(_("Đã đăng xuất."))
    return redirect(url_for("auth.login"))


def own_unit_name() -> str:
    u = db().get(Unit, current_user.unit_code)
    return u.name if u else current_user.unit_code
