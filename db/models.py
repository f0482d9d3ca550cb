"""The database schema as typed SQLAlchemy 2 models.

Plain, portable column types only (no SQLite- or PostgreSQL-only SQL), so one schema and one set of
Alembic migrations serve both. Every scanned page is kept forever; machine decisions and reviewers'
decisions sit side by side in ``answers`` and neither overwrites the other.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import overload

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from omr.vocab import REVIEW_OPEN, SCAN_RUNNING, VN_TZ

# Constraint names fixed by convention: migrations (and SQLite batch mode) need named constraints.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


@overload
def local_date(dt: datetime) -> date: ...
@overload
def local_date(dt: None) -> None: ...
def local_date(dt: datetime | None) -> date | None:
    """The Vietnamese calendar day of a stored timestamp (naive values from SQLite are UTC)."""
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(VN_TZ).date()


def local_today() -> date:
    """Today in Vietnam."""
    return datetime.now(VN_TZ).date()


def _scan_day(context) -> date | None:
    """A page stored without a survey day (rows written directly, e.g. by tests and benchmarks)
    belongs to the day it was scanned, as a batch without a survey period does."""
    return local_date(context.get_current_parameters().get("created_at"))


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Unit(Base):
    """A province, ward/commune/special zone (official code) or a service point added under a parent."""

    __tablename__ = "units"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)  # "01", "09552", or chosen by the user
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("units.code"), index=True)
    counters: Mapped[int] = mapped_column(Integer, default=6, server_default="6")
    personal_fields: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    yearly_quota: Mapped[int | None] = mapped_column(Integer)
    usual_form: Mapped[str | None] = mapped_column(String(80))  # offered first on the print page
    # no longer in use (merged, closed): keeps its history, no longer offered in pickers (migration 0007)
    retired: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Counter(Base):
    """Named counters bumped with a single UPDATE, so concurrent allocators never hand out a value twice."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class PrintBatch(Base):
    __tablename__ = "print_batches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_code: Mapped[str] = mapped_column(ForeignKey("units.code"), index=True)
    form_id: Mapped[str] = mapped_column(String(80))
    form_version: Mapped[int] = mapped_column(Integer)
    variant: Mapped[str] = mapped_column(String(20))
    first_serial: Mapped[str] = mapped_column(String(20))
    last_serial: Mapped[str] = mapped_column(String(20))
    count: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class Sheet(Base):
    """One issued sheet: its serial is unique across the installation and is what its QR code names."""

    __tablename__ = "sheets"

    serial: Mapped[str] = mapped_column(String(20), primary_key=True)
    unit_code: Mapped[str] = mapped_column(ForeignKey("units.code"), index=True)
    form_id: Mapped[str] = mapped_column(String(80))
    form_version: Mapped[int] = mapped_column(Integer)
    variant: Mapped[str] = mapped_column(String(20))
    batch_id: Mapped[int] = mapped_column(ForeignKey("print_batches.id"), index=True)


class ScanBatch(Base):
    __tablename__ = "scan_batches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(80))
    label: Mapped[str | None] = mapped_column(String(300))
    total_pages: Mapped[int] = mapped_column(Integer, default=0)
    done_pages: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(20), default=SCAN_RUNNING)
    note: Mapped[str | None] = mapped_column(Text)
    # uploaded by a user of this unit: only sheets of this unit and the units under it are stored as
    # responses (others are kept for a person to place); None (the command line): every unit
    scope_unit: Mapped[str | None] = mapped_column(ForeignKey("units.code"))
    # the survey month the stack belongs to ("2026-11"), which may be before the month it was scanned
    # in; its pages carry the day it gives them (``Page.survey_date``). Null: the month of the scan.
    period: Mapped[str | None] = mapped_column(String(7))


class Page(Base):
    """One scanned page image, stored once (sha256 unique) whatever it turned out to be."""

    __tablename__ = "pages"
    __table_args__ = (Index("ix_pages_serial_sheet_page", "serial", "sheet_page"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scan_batch_id: Mapped[int | None] = mapped_column(ForeignKey("scan_batches.id"), index=True)
    source: Mapped[str] = mapped_column(String(500))
    source_page: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    image_path: Mapped[str] = mapped_column(String(300))  # relative to OMR_HOME
    status: Mapped[str] = mapped_column(String(20), index=True)
    serial: Mapped[str | None] = mapped_column(String(20))
    sheet_page: Mapped[int | None] = mapped_column(Integer)
    form_id: Mapped[str | None] = mapped_column(String(80))
    form_version: Mapped[int | None] = mapped_column(Integer)
    variant: Mapped[str | None] = mapped_column(String(20))
    unit_code: Mapped[str | None] = mapped_column(String(32), index=True)  # as read: may be a unit we never knew
    transform: Mapped[list | None] = mapped_column(JSON)  # 3x3 homography page mm -> image px
    rotation: Mapped[int] = mapped_column(Integer, default=0)
    measurements: Mapped[dict | None] = mapped_column(JSON)  # field -> option -> BoxMeasure.as_list()
    note: Mapped[str | None] = mapped_column(Text)
    duplicate_of_page_id: Mapped[int | None] = mapped_column(ForeignKey("pages.id"))
    # the reader (omr.detect.version) that read the image: identity, registration, measurements
    reader_version: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    # the day the tallies count the page on: the scan day (Vietnam time), moved into its batch's survey
    # month (omr.services.survey_period.survey_day). Kept on the page, not joined from the batch, so
    # the tally filters one indexed column; correcting a batch's period rewrites it for its pages.
    survey_date: Mapped[date | None] = mapped_column(Date, default=_scan_day, index=True)


class PageError(Base):
    """A page that could not be decoded (no image to store): CONTRACT.md's ``error`` status, kept with
    the batch it came in, its source, page and one-line reason (migration 0004)."""

    __tablename__ = "page_errors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scan_batch_id: Mapped[int | None] = mapped_column(ForeignKey("scan_batches.id"), index=True)
    source: Mapped[str] = mapped_column(String(500))
    source_page: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class TextArea(Base):
    __tablename__ = "text_areas"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("pages.id"), index=True)
    field: Mapped[str] = mapped_column(String(80))
    written: Mapped[bool] = mapped_column(Boolean)
    ink: Mapped[float | None] = mapped_column(Float)
    image_path: Mapped[str] = mapped_column(String(300))


class Answer(Base):
    """The machine's reading of one question and, beside it, the final answer (machine-accepted or a person's)."""

    __tablename__ = "answers"
    __table_args__ = (UniqueConstraint("page_id", "field"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("pages.id"), index=True)
    field: Mapped[str] = mapped_column(String(80))
    machine_value: Mapped[str | None] = mapped_column(String(200))
    machine_state: Mapped[str] = mapped_column(String(20))
    confidence: Mapped[float] = mapped_column(Float)
    reason: Mapped[str | None] = mapped_column(String(200))
    final_value: Mapped[str | None] = mapped_column(String(200))
    final_state: Mapped[str | None] = mapped_column(String(20))  # null while a person has still to decide
    decided_by: Mapped[str | None] = mapped_column(String(80))  # MACHINE or a username
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # the reader (omr.detect.version) whose decision the machine columns hold
    reader_version: Mapped[str | None] = mapped_column(String(40))


class ReviewItem(Base):
    __tablename__ = "review_items"
    __table_args__ = (
        # the queue in claiming order (omr.services.review.claim_next) and the items a reviewer holds (migration 0003)
        Index("ix_review_items_queue", "status", "kind", "page_id", "id"),
        Index("ix_review_items_assigned_to", "assigned_to", "status", "kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("pages.id"), index=True)
    answer_id: Mapped[int | None] = mapped_column(ForeignKey("answers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # answer | unidentified | conflict
    status: Mapped[str] = mapped_column(String(10), default=REVIEW_OPEN)
    assigned_to: Mapped[str | None] = mapped_column(String(80))
    assigned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_by: Mapped[str | None] = mapped_column(String(80))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(20))
    unit_code: Mapped[str] = mapped_column(ForeignKey("units.code"), index=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # set: may not log in
    # raised to end every session of the user at once (a new password, the user disabled)
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class EndedSession(Base):
    """A logged-in browser's session ended at logout. The cookie holds a random session id, this table
    its sha256, so a copy of the cookie taken before logout no longer works. (Logging in writes nothing:
    it never waits for the database's write lock. A new password or disabling the user ends all of the
    user's sessions through ``User.session_generation``.) Rows older than a session's lifetime go."""

    __tablename__ = "ended_sessions"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    ended_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class LoginThrottle(Base):
    """Failed logins counted per (user name, client address) and per client address, whether the name
    exists or not: an attacker slows down only their own attempts, never a user at another address."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    first_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AuditLog(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    user: Mapped[str | None] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(80))
    object: Mapped[str | None] = mapped_column(String(200))
    old: Mapped[dict | list | None] = mapped_column(JSON)
    new: Mapped[dict | list | None] = mapped_column(JSON)


class WatchedFile(Base):
    """Files ``omr scan --watch`` has already read, so each is read once even across restarts."""

    __tablename__ = "watched_files"
    __table_args__ = (UniqueConstraint("path", "size", "mtime_ns"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(String(1000))
    size: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    scan_batch_id: Mapped[int | None] = mapped_column(ForeignKey("scan_batches.id"))
    processed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class IssuedReport(Base):
    """A report sent upward: its number, date, signer, what it covers, the figures it carried and the
    file as sent (under OMR_HOME), so it downloads again byte for byte and later changes show."""

    __tablename__ = "issued_reports"
    # document numbers restart every year for each issuing unit (Nghị định 30/2020/NĐ-CP)
    __table_args__ = (UniqueConstraint("unit_code", "year", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_code: Mapped[str] = mapped_column(ForeignKey("units.code"), index=True)
    number: Mapped[str] = mapped_column(String(60))  # "12/BC-UBND"
    year: Mapped[int] = mapped_column(Integer)  # of issued_on
    issued_on: Mapped[date] = mapped_column(Date)
    signer: Mapped[str] = mapped_column(String(100))
    period: Mapped[str] = mapped_column(String(30), index=True)  # Period.code: "2026-11", "2026-Q4"…
    form_id: Mapped[str | None] = mapped_column(String(80))
    target: Mapped[float] = mapped_column(Float)
    as_of: Mapped[date] = mapped_column(Date)  # "số liệu tính đến ngày …"
    fmt: Mapped[str] = mapped_column(String(10))
    file_path: Mapped[str] = mapped_column(String(300))  # relative to OMR_HOME
    file_name: Mapped[str] = mapped_column(String(200))  # offered as the download's name
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    figures: Mapped[dict] = mapped_column(JSON)  # the tally as issued (TallyResult.as_dict, no timestamp)
    created_by: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    checked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    changes: Mapped[list | None] = mapped_column(JSON)  # the last check's differences; [] = unchanged


class UnitReportSettings(Base):
    """How a unit signs and sends its PDF report (Nghị định 30/2020/NĐ-CP): set with ``omr units set``.

    Every column is optional: a unit without a row gets the defaults of ``omr.reports.settings``."""

    __tablename__ = "unit_report_settings"

    unit_code: Mapped[str] = mapped_column(ForeignKey("units.code"), primary_key=True)
    place: Mapped[str | None] = mapped_column(String(100))  # the place of the date line: "Kiến Hưng"
    plan: Mapped[str | None] = mapped_column(Text)  # the plan carried out: "Kế hoạch số 125/KH-UBND ngày …"
    sign_as: Mapped[str | None] = mapped_column(String(4))  # tm | kt | q | none
    signer_title: Mapped[str | None] = mapped_column(String(100))  # "CHỦ TỊCH", "PHÓ CHỦ TỊCH", "HIỆU TRƯỞNG"
    signer_name: Mapped[str | None] = mapped_column(String(100))
    symbol: Mapped[str | None] = mapped_column(String(40))  # "BC-UBND" in "Số: …/BC-UBND"
    recipients: Mapped[list | None] = mapped_column(JSON)  # lines of "Nơi nhận:", without the dash
    main_form: Mapped[str | None] = mapped_column(String(80))  # shown first in the report
