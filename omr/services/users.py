"""Users of the web application: argon2 password hashes, roles, unit scope, logins and their sessions.

Failed logins are throttled per (user name, client address) and per client address, never per account
alone: whoever guesses passwords from one machine is slowed down there, while the user keeps logging in
from her own desk, and a name that does not exist is throttled exactly like one that does.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from db.models import EndedSession, LoginThrottle, User, utcnow
from omr.services import NotFound, ServiceError, audit
from omr.services.units import get_unit
from omr.vocab import ADMIN, ROLES

MIN_PASSWORD = 8
MAX_FAILED_LOGINS = 5  # wrong passwords for one name from one address, then that pair waits LOCKOUT
MAX_FAILED_PER_ADDRESS = 30  # wrong passwords for any names from one address (trying many names)
LOCKOUT = timedelta(minutes=15)
SESSION_LIFETIME = timedelta(hours=12)
LOCAL = "local"  # the address of a login that does not come over the network
# why a login is refused
WRONG, THROTTLED, DISABLED = "wrong", "throttled", "disabled"
USERNAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{1,79}")

_hasher = PasswordHasher()


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
    audit.record(session, by, "user.add", f"user:{username}", None, {"role": role, "unit": unit_code})
    return user


def get_user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"không có người dùng {username!r}")
    return user


def _end_sessions(user: User) -> None:
    user.session_generation = (user.session_generation or 0) + 1


def set_password(session: Session, username: str, password: str, by: str | None = None) -> None:
    """A new password; every session of the user ends (the caller commits)."""
    check_password(password)
    user = get_user(session, username)
    user.password_hash = hash_password(password)
    user.failed_logins, user.locked_until = 0, None
    _end_sessions(user)
    audit.record(session, by, "user.password", f"user:{username}")


def set_role(session: Session, username: str, role: str, unit_code: str, by: str | None = None) -> None:
    """Give a user another role or unit (the caller commits). An administrator cannot take away their
    own administration: nobody would be left to give it back."""
    if role not in ROLES:
        raise ServiceError(f"vai trò {role!r} không hợp lệ (chọn: {', '.join(ROLES)})")
    get_unit(session, unit_code)
    user = get_user(session, username)
    if by == username and user.role == ADMIN and role != ADMIN:
        raise ServiceError("không thể tự bỏ quyền quản trị của mình")
    old = {"role": user.role, "unit": user.unit_code}
    user.role, user.unit_code = role, unit_code
    audit.record(session, by, "user.role", f"user:{username}", old, {"role": role, "unit": unit_code})


def set_disabled(session: Session, username: str, disabled: bool, by: str | None = None) -> None:
    """Disable a user (who may no longer log in: every session ends at once) or enable them again."""
    user = get_user(session, username)
    old = user.disabled_at
    user.disabled_at = utcnow() if disabled else None
    if disabled:
        _end_sessions(user)
    audit.record(
        session,
        by,
        "user.disable" if disabled else "user.enable",
        f"user:{username}",
        {"disabled": old is not None},
        {"disabled": disabled},
    )


def _aware(dt: datetime | None) -> datetime | None:
    # SQLite hands datetimes back without their zone; they were stored as UTC
    return dt.replace(tzinfo=UTC) if dt is not None and dt.tzinfo is None else dt


# --------------------------------------------------------------------------- logging in


def _address_key(address: str) -> str:
    """The client address as throttled: an IPv6 client is one /64 (a host may pick any address in it)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:60]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _name_key(username: str) -> str:
    # hashed: a name typed into the login form may be of any length and hold any text
    return "name:" + hashlib.sha256(username.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _throttle_keys(username: str, address: str) -> tuple[str, str]:
    """The keys failures are counted under: this name from this address, and this address."""
    addr = _address_key(address)
    return f"{_name_key(username)}@{addr}", f"addr:{addr}"


def _throttled(session: Session, keys: tuple[str, ...], now: datetime) -> bool:
    rows = session.scalars(select(LoginThrottle.locked_until).where(LoginThrottle.key.in_(keys)))
    return any((u := _aware(t)) is not None and u > now for t in rows)


@dataclass(frozen=True)
class Verdict:
    """A login attempt checked (password verified, nothing written yet); ``record`` writes its outcome."""

    username: str
    address: str
    user_id: int | None  # the user, if the name exists
    password_ok: bool
    throttled: bool
    disabled: bool
    rehash: str | None  # a new hash of the right password, when the stored one uses old parameters
    leftovers: bool  # failures of this user (or of this name from this address) a success forgets

    @property
    def changes_nothing(self) -> bool:
        """A plain successful login: nothing to record, so no write transaction is needed."""
        return self.password_ok and not (self.throttled or self.disabled or self.rehash or self.leftovers)


def verify(session: Session, username: str, password: str, address: str = LOCAL) -> Verdict:
    """Check a login without writing anything: the password check (argon2, tens of milliseconds of CPU on
    purpose) runs outside any write transaction. A throttled attempt is refused without checking it."""
    now = utcnow()
    pair, addr = _throttle_keys(username, address)
    rows = dict(
        session.execute(
            select(LoginThrottle.key, LoginThrottle.locked_until).where(LoginThrottle.key.in_((pair, addr)))
        ).all()
    )
    if any((u := _aware(t)) is not None and u > now for t in rows.values()):
        return Verdict(username, address, None, False, True, False, None, False)
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        _hasher.hash(password)  # the same time as a real check: do not reveal which names exist
        return Verdict(username, address, None, False, False, False, None, False)
    disabled, leftovers = user.disabled_at is not None, pair in rows or bool(user.failed_logins)
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return Verdict(username, address, user.id, False, False, disabled, None, leftovers)
    rehash = hash_password(password) if _hasher.check_needs_rehash(user.password_hash) else None
    return Verdict(username, address, user.id, True, False, disabled, rehash, leftovers)


def _forget_old_failures(session: Session, now: datetime) -> None:
    """Counts whose window and lock-out are both over say nothing any more (names tried at random would
    otherwise pile up)."""
    session.execute(
        delete(LoginThrottle).where(
            LoginThrottle.first_at < now - LOCKOUT,
            or_(LoginThrottle.locked_until.is_(None), LoginThrottle.locked_until < now),
        )
    )


def _count_failure(session: Session, key: str, limit: int, now: datetime) -> bool:
    """One more failure under ``key``; True if that reaches ``limit`` (the key then waits ``LOCKOUT``)."""
    row = session.get(LoginThrottle, key)
    if row is None:
        row = LoginThrottle(key=key, failures=0, first_at=now)
        session.add(row)
    elif (_aware(row.first_at) or now) < now - LOCKOUT:
        row.failures, row.first_at = 0, now  # failures older than the window are forgotten
    row.failures += 1
    if row.failures < limit:
        return False
    row.failures, row.first_at, row.locked_until = 0, now, now + LOCKOUT
    return True


def record(session: Session, v: Verdict) -> str | None:
    """Write a checked attempt's outcome (in a write transaction; the caller commits): None if the user
    may log in, else why not (``WRONG``, ``THROTTLED``, ``DISABLED``). The throttle is read again here,
    under the write lock, so attempts checked side by side cannot slip past it."""
    now = utcnow()
    pair, addr = _throttle_keys(v.username, v.address)
    if v.throttled or _throttled(session, (pair, addr), now):
        return THROTTLED
    user = session.get(User, v.user_id) if v.user_id is not None else None
    if not v.password_ok:
        _forget_old_failures(session, now)
        if user is not None:
            user.failed_logins += 1  # shown to administrators; locks nothing (anyone could lock anyone out)
        locked = _count_failure(session, pair, MAX_FAILED_LOGINS, now)
        locked = _count_failure(session, addr, MAX_FAILED_PER_ADDRESS, now) or locked
        if locked:
            audit.record(
                session, None, "login.throttled", f"address:{_address_key(v.address)}", None, {"name": v.username}
            )
        return THROTTLED if locked else WRONG
    if v.disabled:
        return DISABLED
    # the address's own count stays: logging into one's own account must not reset a spraying attacker's
    session.execute(delete(LoginThrottle).where(LoginThrottle.key == pair))
    if user is not None:
        user.failed_logins = 0
        if v.rehash is not None:
            user.password_hash = v.rehash
    return None


def authenticate(session: Session, username: str, password: str, address: str = LOCAL) -> User | None:
    """The user if they may log in with this password from ``address``; records the outcome (caller commits)."""
    v = verify(session, username, password, address)
    if not v.changes_nothing and record(session, v) is not None:
        return None
    return session.get(User, v.user_id)


def is_locked(user: User, address: str = LOCAL) -> bool:
    """Whether logins as ``user`` (a row of an open session) from ``address`` wait for the throttle."""
    session = Session.object_session(user)
    assert session is not None, "a user row of an open session"
    return _throttled(session, _throttle_keys(user.username, address), utcnow())


def locked_out(session: Session, usernames: list[str]) -> set[str]:
    """Which of ``usernames`` wait for the throttle from some address (what an unlock lifts), in one
    query for an administrator's whole list."""
    keys = {_name_key(name): name for name in usernames}
    rows = session.scalars(select(LoginThrottle.key).where(LoginThrottle.locked_until > utcnow()))
    # a name's keys are "<name key>@<address>"
    return {keys[k] for key in rows if (k := key.split("@", 1)[0]) in keys}


def unlock(session: Session, username: str, by: str | None = None) -> None:
    """Forget the failed logins for ``username`` from every address (an administrator's unlock)."""
    session.execute(delete(LoginThrottle).where(LoginThrottle.key.like(f"{_name_key(username)}@%")))
    audit.record(session, by, "user.unlock", f"user:{username}")


# --------------------------------------------------------------------------- sessions


def token_sha(token: str) -> str:
    """What is stored of a session's id: a copy of the database gives no usable cookie."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_session_id() -> str:
    return secrets.token_urlsafe(32)


def end_session(session: Session, session_id: str) -> None:
    """The session ends at logout, for every copy of its cookie (the caller commits). Ended sessions
    older than a session's lifetime are forgotten on the way: their cookies are refused by their age."""
    now = utcnow()
    session.execute(delete(EndedSession).where(EndedSession.ended_at < now - SESSION_LIFETIME))
    if session.get(EndedSession, token_sha(session_id)) is None:
        session.add(EndedSession(token_sha256=token_sha(session_id), ended_at=now))
