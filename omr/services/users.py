"""Users of the web application: argon2 password hashes, roles, unit scope, lock-out after failures."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import ROLES, AuditLog, User, utcnow
from omr.services import NotFound, ServiceError
from omr.services.units import get_unit

MIN_PASSWORD = 8
MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
USERNAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{1,79}")

_hasher = PasswordHasher()


def audit(
    session: Session, user: str | None, action: str, obj: str | None, old: dict | None = None, new: dict | None = None
) -> None:
    """Write one audit-log entry (who, what, on which object, old and new values); the caller commits."""
    session.add(AuditLog(user=user, action=action, object=obj, old=old, new=new))


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ServiceError(f"mật khẩu phải có ít nhất {MIN_PASSWORD} ký tự")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def add_user(session: Session, username: str, password: str, role: str, unit_code: str, by: str | None = None) -> User:
    """Create a user (the caller commits). Raises ServiceError for a bad name, role, unit or password."""
    username = username.strip()
    if not USERNAME_RE.fullmatch(username):
        raise ServiceError(f"tên đăng nhập không hợp lệ: {username!r} (2–80 ký tự: chữ, số, . _ - @)")
    if role not in ROLES:
        raise ServiceError(f"vai trò {role!r} không hợp lệ (chọn: {', '.join(ROLES)})")
    get_unit(session, unit_code)
    check_password(password)
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise ServiceError(f"đã có người dùng {username!r}")
    user = User(username=username, password_hash=hash_password(password), role=role, unit_code=unit_code)
    session.add(user)
    session.flush()
    audit(session, by, "user.add", f"user:{username}", None, {"role": role, "unit": unit_code})
    return user


def get_user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"không có người dùng {username!r}")
    return user


def set_password(session: Session, username: str, password: str, by: str | None = None) -> None:
    check_password(password)
    user = get_user(session, username)
    user.password_hash = hash_password(password)
    user.failed_logins, user.locked_until = 0, None
    audit(session, by, "user.password", f"user:{username}")


def _aware(dt: datetime | None) -> datetime | None:
    # SQLite hands datetimes back without their zone; they were stored as UTC
    return dt.replace(tzinfo=UTC) if dt is not None and dt.tzinfo is None else dt


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The user if the password is right and the account not locked; counts failures (caller commits).

    After ``MAX_FAILED_LOGINS`` failures in a row the account is locked for ``LOCKOUT``, even for the
    right password, which is what slows a password-guessing attack down.
    """
    user = session.scalar(select(User).where(User.username == username))
    now = utcnow()
    if user is None:
        _hasher.hash(password)  # same time as a real check: do not reveal which names exist
        return None
    locked = _aware(user.locked_until)
    if locked is not None and locked > now:
        return None
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILED_LOGINS:
            user.locked_until = now + LOCKOUT
            user.failed_logins = 0
            audit(session, username, "user.locked", f"user:{username}")
        return None
    user.failed_logins, user.locked_until = 0, None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def is_locked(user: User) -> bool:
    locked = _aware(user.locked_until)
    return locked is not None and locked > utcnow()
