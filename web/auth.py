"""Logging in and out, the logged-in user, and the lock-out after repeated failures."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import Blueprint, Flask, flash, jsonify, redirect, render_template, request, session, url_for
from flask_login import LoginManager, UserMixin, current_user, login_required, login_user, logout_user
from sqlalchemy import Row, bindparam, select

from db.models import Unit, User
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
    token: str  # changes with the password: old sessions end when it changes
    units: frozenset[str] = field(default_factory=frozenset)
    # an administrator of a top-level unit also sees pages nobody could place (scanned from the command line)
    root: bool = False

    def get_id(self) -> str:
        return f"{self.id}:{self.token}"

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


_USER_ROW = select(User.id, User.username, User.role, User.unit_code, User.password_hash).where(
    User.id == bindparam("uid")
)


def _token(u: User | Row) -> str:
    return u.password_hash[-16:]


def load(u: User | Row) -> WebUser:
    tree = unit_tree()
    root = u.role == "admin" and tree.parents.get(u.unit_code) is None
    return WebUser(u.id, u.username, u.role, u.unit_code, _token(u), tree.below(u.unit_code), root)


@login_manager.user_loader
def _load_user(user_id: str) -> WebUser | None:
    uid, _sep, token = user_id.partition(":")
    if not uid.isdigit():
        return None
    # a plain row rather than an ORM object: this runs on every request, and reads the user afresh each
    # time (a changed password, role or unit, or a deleted user, takes effect on the next request)
    u = db().execute(_USER_ROW, {"uid": int(uid)}).first()
    web_user = load(u) if u is not None and _token(u) == token else None
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


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("home.index")


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
            return redirect(_safe_next(request.form.get("next")))
    return render_template("login.html", error=error, next=request.args.get("next", "")), (401 if error else 200)


def _unchanged_login(username: str, password: str) -> int | None:
    """The user's id if the password is right and logging in changes nothing stored (no failed attempts
    to forget, no hash to upgrade): the usual login, checked without taking the database's write lock.

    The password check (argon2) takes tens of milliseconds of CPU on purpose. Inside ``transaction()``
    it would hold SQLite's single write lock all that time, and every reviewer's claim and decision
    would wait for it. Anything else (a wrong password, a locked account, counts to reset) returns None
    and goes through the locked path, which checks again and records the outcome.
    """
    with open_session(config.database_url()) as s:
        user = users.authenticate(s, username, password)
        if user is None or s.new or s.deleted or s.is_modified(user):
            return None  # nothing is committed: the session is rolled back when it closes
        return user.id


def _attempt(username: str, password: str) -> str | None:
    """Check a login; on success log the user in and return None, else return the message to show."""
    if not username or not password:
        return _("Sai tên đăng nhập hoặc mật khẩu.")
    user_id = _unchanged_login(username, password)
    if user_id is None:
        with transaction() as s:
            # the service counts failures and locks the account; committed whatever the outcome
            user = users.authenticate(s, username, password)
            if user is None:
                row = s.scalar(select(User).where(User.username == username))
                return (
                    _("Tài khoản tạm khóa do đăng nhập sai nhiều lần. Hãy thử lại sau {m} phút.").format(
                        m=int(users.LOCKOUT.total_seconds() // 60)
                    )
                    if row is not None and users.is_locked(row)
                    else _("Sai tên đăng nhập hoặc mật khẩu.")
                )
            user_id = user.id
    # loaded after the write transaction ends: one request never holds two pooled connections at once
    found = db().get(User, user_id)
    assert found is not None
    web_user = load(found)
    session.clear()  # a fresh session on login: no fixation
    login_user(web_user)
    session.permanent = True
    return None


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    logout_user()
    session.clear()
    flash(_("Đã đăng xuất."))
    return redirect(url_for("auth.login"))


def own_unit_name() -> str:
    u = db().get(Unit, current_user.unit_code)
    return u.name if u else current_user.unit_code
