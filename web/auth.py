"""Logging in and out, the logged-in user, and the lock-out after repeated failures."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import Blueprint, Flask, flash, jsonify, redirect, render_template, request, session, url_for
from flask_login import LoginManager, UserMixin, current_user, login_required, login_user, logout_user
from sqlalchemy import select

from db.models import Unit, User
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


def _token(u: User) -> str:
    return u.password_hash[-16:]


def load(u: User) -> WebUser:
    tree = unit_tree()
    root = u.role == "admin" and tree.parents.get(u.unit_code) is None
    return WebUser(u.id, u.username, u.role, u.unit_code, _token(u), tree.below(u.unit_code), root)


@login_manager.user_loader
def _load_user(user_id: str) -> WebUser | None:
    uid, _sep, token = user_id.partition(":")
    if not uid.isdigit():
        return None
    u = db().get(User, int(uid))
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


def _attempt(username: str, password: str) -> str | None:
    """Check a login; on success log the user in and return None, else return the message to show."""
    if not username or not password:
        return _("Sai tên đăng nhập hoặc mật khẩu.")
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
