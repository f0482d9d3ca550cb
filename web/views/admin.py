"""Administration: users, units (service points), the audit log and reviewers' throughput.

An administrator manages only users and units inside their own scope, and every change is audited.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import or_, select

from db.models import AuditLog, Unit, User
from omr.services import ServiceError
from omr.services import review as review_service
from omr.services import users as user_service
from omr.services.units import add_unit
from omr.services.units import update_unit as update_unit_service
from omr.sheet.templates import MAX_COUNTERS, all_forms
from omr.vocab import ADMIN, ROLE_LABELS, ROLES, VIEWER
from web import audit_log
from web.access import CAN_REVIEW, invalidate_units, require_unit, roles, unit_choices, unit_name, unit_tree
from web.database import db, transaction
from web.i18n import _
from web.labels import message
from web.pickers import unit_options

bp = Blueprint("admin", __name__, url_prefix="/admin")

AUDIT_PAGE = 100
DEFAULT_ROLE = VIEWER  # a new user sees results only until an administrator gives them more


def _users_in_scope() -> list[User]:
    return list(
        db().scalars(select(User).where(User.unit_code.in_(sorted(current_user.units))).order_by(User.username))
    )


def _get_user(user_id: int) -> User:
    u = db().get(User, user_id)
    if u is None or u.unit_code not in current_user.units:
        abort(404)
    return u


def _check_password(pw: str, again: str) -> None:
    if pw != again:
        raise ServiceError(_("Hai lần nhập mật khẩu không giống nhau."))
    user_service.check_password(pw)


@bp.route("/users")
@roles(ADMIN)
def users():
    now = datetime.now(UTC)
    people = _users_in_scope()
    locked = user_service.locked_out(db(), [u.username for u in people])
    rows = [(u, u.username in locked) for u in people]
    since = now - timedelta(days=7)
    reviewers = [u.username for u in people if u.role in CAN_REVIEW]
    speed = review_service.throughput(db(), reviewers, since)
    return render_template(
        "admin/users.html",
        rows=rows,
        roles=ROLES,
        default_role=DEFAULT_ROLE,
        role_labels=ROLE_LABELS,
        choices=unit_options(),
        unit_name=unit_name,
        speed=speed,
        min_items=review_service.THROUGHPUT_MIN_ITEMS,
        min_minutes=review_service.THROUGHPUT_MIN_MINUTES,
        min_length=user_service.MIN_PASSWORD,
    )


@bp.route("/users", methods=["POST"])
@roles(ADMIN)
def create_user():
    f = request.form
    username = f.get("username", "").strip()
    unit = require_unit(f.get("unit", ""))
    try:
        _check_password(f.get("password", ""), f.get("password2", ""))
        with transaction() as s:
            user_service.add_user(s, username, f["password"], f.get("role", ""), unit, by=current_user.username)
    except ServiceError as e:
        flash(message(str(e)), "error")
        return redirect(url_for("admin.users"))
    flash(_("Đã tạo người dùng {name}.").format(name=username), "ok")
    return redirect(url_for("admin.users"))


@bp.route("/users/<int:user_id>", methods=["POST"])
@roles(ADMIN)
def update_user(user_id: int):
    """One change to a user (role and unit, a new password, lifting a lock-out), made by the same
    service as ``omr users`` with the same audit entry."""
    u = _get_user(user_id)
    f = request.form
    action = f.get("action")
    by = current_user.username
    try:
        with transaction() as s:
            if action == "role":
                user_service.set_role(s, u.username, f.get("role", ""), require_unit(f.get("unit", "")), by=by)
            elif action == "password":
                _check_password(f.get("password", ""), f.get("password2", ""))
                user_service.set_password(s, u.username, f["password"], by=by)
            elif action == "unlock":
                user_service.unlock(s, u.username, by=by)
            else:
                abort(400)
    except ServiceError as e:
        flash(message(str(e)), "error")
        return redirect(url_for("admin.users"))
    flash(_("Đã lưu thay đổi của {name}.").format(name=u.username), "ok")
    return redirect(url_for("admin.users"))


@bp.route("/units")
@roles(ADMIN)
def units():
    s = db()
    scope = sorted(current_user.units)
    listed = list(
        s.scalars(
            select(Unit)
            .where(Unit.code.in_(scope), or_(Unit.kind == "service_point", Unit.retired.is_(True)))
            .order_by(Unit.retired, Unit.code)
        )
    )
    own = s.get(Unit, current_user.unit_code)
    picked_code = request.args.get("unit")
    picked = s.get(Unit, require_unit(picked_code)) if picked_code else None
    return render_template(
        "admin/units.html",
        picked=picked,
        listed=listed,
        own=own,
        count=len(scope),  # the units of the administrator's subtree, their own included
        choices=unit_options(),
        all_choices=unit_choices(),
        unit_name=unit_name,
        forms=[(f.id, f.full_title) for f in all_forms().values()],
        max_counters=MAX_COUNTERS,
    )


@bp.route("/units", methods=["POST"])
@roles(ADMIN)
def create_unit():
    f = request.form
    parent = require_unit(f.get("parent", ""))
    try:
        counters = int(f.get("counters") or 6)
    except ValueError:
        counters = -1
    try:
        with transaction() as s:
            unit = add_unit(
                s,
                f.get("code", ""),
                f.get("name", ""),
                parent,
                counters=counters,
                personal_fields=f.get("personal") == "1",
                by=current_user.username,
            )
    except ServiceError as e:
        flash(message(str(e)), "error")
        return redirect(url_for("admin.units"))
    invalidate_units()
    flash(_("Đã thêm đơn vị {code}.").format(code=unit.code), "ok")
    return redirect(url_for("admin.units"))


@bp.route("/units/<code>", methods=["POST"])
@roles(ADMIN)
def update_unit(code: str):
    """Settings (name, counters, personal areas, usual form), or retire / bring back a unit."""
    require_unit(code)
    f = request.form
    action = f.get("action", "settings")
    changes: dict = {}
    if action == "settings":
        try:
            counters = int(f.get("counters") or 0)
        except ValueError:
            counters = 0
        changes = {
            "name": f.get("name"),
            "counters": counters,
            "personal_fields": f.get("personal") == "1",
            "usual_form": f.get("usual_form", ""),
        }
    elif action in ("retire", "restore"):
        if code == current_user.unit_code:
            flash(_("Không thể ngừng sử dụng đơn vị của chính mình."), "error")
            return redirect(url_for("admin.units"))
        changes = {"retired": action == "retire"}
    else:
        abort(400)
    try:
        with transaction() as s:
            update_unit_service(s, code, current_user.username, **changes)
    except ServiceError as e:
        flash(message(str(e)), "error")
        return redirect(url_for("admin.units"))
    invalidate_units()
    done = {
        "settings": _("Đã lưu đơn vị {code}."),
        "retire": _("Đã ngừng sử dụng đơn vị {code}: lịch sử của đơn vị vẫn được giữ."),
        "restore": _("Đã dùng lại đơn vị {code}."),
    }[action]
    flash(done.format(code=code), "ok")
    return redirect(url_for("admin.units"))


@bp.route("/audit")
@roles(ADMIN)
def audit():
    s = db()
    page = max(1, request.args.get("page", 1, type=int))
    filters = audit_log.Filters.parse(request.args)
    if filters.unit:
        require_unit(filters.unit)
    names = select(User.username).where(User.unit_code.in_(sorted(current_user.units)))
    q = select(AuditLog)
    if not current_user.root:
        # entries made by people of this administrator's units (incl. `omr` commands for root admins only)
        q = q.where(AuditLog.user.in_(names))
    else:
        q = q.where(or_(AuditLog.user.in_(names), AuditLog.user.not_in(select(User.username)), AuditLog.user.is_(None)))
    q = filters.apply(q, unit_tree().below)
    rows = list(s.scalars(q.order_by(AuditLog.id.desc()).offset((page - 1) * AUDIT_PAGE).limit(AUDIT_PAGE + 1)))
    return render_template(
        "admin/audit.html",
        entries=[audit_log.entry(s, r) for r in rows[:AUDIT_PAGE]],
        page=page,
        more=len(rows) > AUDIT_PAGE,
        filters=filters,
        people=[u.username for u in _users_in_scope()],
        actions=audit_log.action_choices(),
        choices=unit_options(),
    )
