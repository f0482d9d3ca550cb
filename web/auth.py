"""Logging in and out, the logged-in user, and the lock-out after repeated failures."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from flask import Blueprint, Flask, flash, jsonify, redirect, render_template, request, session, url_for
from flask_login import LoginManager, UserMixin, current_user, login_required, login_user, logout_user
from sqlalchemy import Row, bindparam, select

from db.models import Unit, User, WebSession, utcnow
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
    session_token: str  # this browser's server-side session (users.start_session)
    units: frozenset[str] = field(default_factory=frozenset)
    # an administrator of a top-level unit also sees pages nobody could place (scanned from the command line)
    root: bool = False

    def get_id(self) -> str:
        return f"{self.id}:{self.token}:{self.session_token}"

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


# the user of a live session: the session row exists (not ended by logout, a new password or disabling
# the user), has not expired, and the user is not disabled
_USER_ROW = (
    select(User.id, User.username, User.role, User.unit_code, User.password_hash)
    .join(WebSession, WebSession.user_id == User.id)
    .where(
        User.id == bindparam("uid"),
        User.disabled_at.is_(None),
        WebSession.token_sha256 == bindparam("sha"),
        WebSession.expires_at > bindparam("now"),
    )
)


def _token(u: User | Row) -> str:
    return u.password_hash[-16:]


def load(u: User | Row, session_token: str) -> WebUser:
    tree = unit_tree()
    root = u.role == "admin" and tree.parents.get(u.unit_code) is None
    return WebUser(u.id, u.username, u.role, u.unit_code, _token(u), session_token, tree.below(u.unit_code), root)


@login_manager.user_loader
def _load_user(user_id: str) -> WebUser | None:
    uid, token, session_token = (user_id.split(":") + ["", ""])[:3]
    if not uid.isdigit() or not session_token:
        return None
    # a plain row rather than an ORM object: this runs on every request, and reads the user afresh each
    # time (a changed password, role or unit, a disabled or deleted user, takes effect on the next request)
    u = db().execute(_USER_ROW, {"uid": int(uid), "sha": users.token_sha(session_token), "now": utcnow()}).first()
    web_user = load(u, session_token) if u is not None and _token(u) == token else None
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
    """Where to go after logging in: a path of this site, else the home page. The target is read the way
    a browser would read it (noise removed, backslashes as slashes); it must then be a path with one
    leading slash and no scheme or host."""
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
    # the password check (argon2) takes tens of milliseconds of CPU on purpose: done before the write
    # transaction, it does not hold SQLite's single write lock (every reviewer's claim waits for it)
    with open_session(config.database_url()) as s:
        verdict = users.verify(s, username, password, address)
    with transaction() as s:
        refused = users.record(s, verdict)  # committed whatever the outcome: failures are counted
        if refused is None:
            assert verdict.user_id is not None
            session_token = users.start_session(s, verdict.user_id)
    if refused is not None:
        return _(_MESSAGES[refused]).format(m=int(users.LOCKOUT.total_seconds() // 60))
    # loaded after the write transaction ends: one request never holds two pooled connections at once
    found = db().get(User, verdict.user_id)
    assert found is not None
    session.clear()  # a fresh session on login: no fixation
    login_user(load(found, session_token))
    session.permanent = True
    return None


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    with transaction() as s:
        users.end_session(s, current_user.session_token)  # a copy of the cookie stops working too
    logout_user()
    session.clear()
    flash(_("Đã đăng xuất."))
    return redirect(url_for("auth.login"))


def own_unit_name() -> str:
    u = db().get(Unit, current_user.unit_code)
    return u.name if u else current_user.unit_code
