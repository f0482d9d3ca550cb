"""The database schema as typed SQLAlchemy 2 models.

Plain, portable column types only (no SQLite- or PostgreSQL-only SQL), so one schema and one set of
Alembic migrations serve both. Every scanned page is kept forever; machine decisions and reviewers'
decisions sit side by side in ``answers`` and neither overwrites the other.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
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

# Constraint names fixed by convention: migrations (and SQLite batch mode) need named constraints.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# unit kinds: the official divisions come built in; service points are added by users
UNIT_KINDS = ("province", "ward", "commune", "special", "service_point")
ROLES = ("admin", "staff", "reviewer", "viewer")
SCAN_RUNNING, SCAN_DONE, SCAN_FAILED = "running", "done", "failed"
# page statuses (CONTRACT.md)
ACCEPTED, NEEDS_REVIEW, UNIDENTIFIED = "accepted", "needs_review", "unidentified"
DUPLICATE, CONFLICT, INVALID, BLANK = "duplicate", "conflict", "invalid", "blank"
PAGE_STATUSES = (ACCEPTED, NEEDS_REVIEW, UNIDENTIFIED, DUPLICATE, CONFLICT, INVALID, BLANK)
# pages whose answers count in tallies (through answers.final_value, set by the machine or a reviewer)
COUNTED_STATUSES = (ACCEPTED, NEEDS_REVIEW)
# review item kinds and states
REVIEW_ANSWER, REVIEW_UNIDENTIFIED, REVIEW_CONFLICT = "answer", "unidentified", "conflict"
REVIEW_OPEN, REVIEW_DONE = "open", "done"
MACHINE = "machine"  # answers.decided_by when the machine's decision was accepted as final


def utcnow() -> datetime:
    return datetime.now(UTC)


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


class ReviewItem(Base):
    __tablename__ = "review_items"
    __table_args__ = (
        # the queue in claiming order (omr.review.claim_next) and the items a reviewer holds (migration 0003)
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
