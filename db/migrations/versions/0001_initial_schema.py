"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-25 11:32:20.927413
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user", sa.String(length=80), nullable=True),
        sa.Column("action", sa.String(length=80), nullable=False),
        sa.Column("object", sa.String(length=200), nullable=True),
        sa.Column("old", sa.JSON(), nullable=True),
        sa.Column("new", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_at"), ["at"], unique=False)

    op.create_table(
        "counters",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_counters")),
    )
    op.create_table(
        "scan_batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=True),
        sa.Column("label", sa.String(length=300), nullable=True),
        sa.Column("total_pages", sa.Integer(), nullable=False),
        sa.Column("done_pages", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scan_batches")),
    )
    op.create_table(
        "units",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("parent_code", sa.String(length=32), nullable=True),
        sa.Column("counters", sa.Integer(), server_default="6", nullable=False),
        sa.Column("personal_fields", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("yearly_quota", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["parent_code"], ["units.code"], name=op.f("fk_units_parent_code_units")),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_units")),
    )
    with op.batch_alter_table("units", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_units_parent_code"), ["parent_code"], unique=False)

    op.create_table(
        "pages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scan_batch_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=500), nullable=False),
        sa.Column("source_page", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("image_path", sa.String(length=300), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("serial", sa.String(length=20), nullable=True),
        sa.Column("sheet_page", sa.Integer(), nullable=True),
        sa.Column("form_id", sa.String(length=80), nullable=True),
        sa.Column("form_version", sa.Integer(), nullable=True),
        sa.Column("variant", sa.String(length=20), nullable=True),
        sa.Column("unit_code", sa.String(length=32), nullable=True),
        sa.Column("transform", sa.JSON(), nullable=True),
        sa.Column("rotation", sa.Integer(), nullable=False),
        sa.Column("measurements", sa.JSON(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("duplicate_of_page_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["duplicate_of_page_id"], ["pages.id"], name=op.f("fk_pages_duplicate_of_page_id_pages")
        ),
        sa.ForeignKeyConstraint(
            ["scan_batch_id"], ["scan_batches.id"], name=op.f("fk_pages_scan_batch_id_scan_batches")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pages")),
        sa.UniqueConstraint("sha256", name=op.f("uq_pages_sha256")),
    )
    with op.batch_alter_table("pages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pages_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_pages_scan_batch_id"), ["scan_batch_id"], unique=False)
        batch_op.create_index("ix_pages_serial_sheet_page", ["serial", "sheet_page"], unique=False)
        batch_op.create_index(batch_op.f("ix_pages_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_pages_unit_code"), ["unit_code"], unique=False)

    op.create_table(
        "print_batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_code", sa.String(length=32), nullable=False),
        sa.Column("form_id", sa.String(length=80), nullable=False),
        sa.Column("form_version", sa.Integer(), nullable=False),
        sa.Column("variant", sa.String(length=20), nullable=False),
        sa.Column("first_serial", sa.String(length=20), nullable=False),
        sa.Column("last_serial", sa.String(length=20), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["unit_code"], ["units.code"], name=op.f("fk_print_batches_unit_code_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_print_batches")),
    )
    with op.batch_alter_table("print_batches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_print_batches_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_print_batches_unit_code"), ["unit_code"], unique=False)

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=80), nullable=False),
        sa.Column("password_hash", sa.String(length=300), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("unit_code", sa.String(length=32), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["unit_code"], ["units.code"], name=op.f("fk_users_unit_code_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_users_unit_code"), ["unit_code"], unique=False)

    op.create_table(
        "watched_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=1000), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("mtime_ns", sa.BigInteger(), nullable=False),
        sa.Column("scan_batch_id", sa.Integer(), nullable=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["scan_batch_id"], ["scan_batches.id"], name=op.f("fk_watched_files_scan_batch_id_scan_batches")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watched_files")),
        sa.UniqueConstraint("path", "size", "mtime_ns", name=op.f("uq_watched_files_path")),
    )
    op.create_table(
        "answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("page_id", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=80), nullable=False),
        sa.Column("machine_value", sa.String(length=200), nullable=True),
        sa.Column("machine_state", sa.String(length=20), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("final_value", sa.String(length=200), nullable=True),
        sa.Column("final_state", sa.String(length=20), nullable=True),
        sa.Column("decided_by", sa.String(length=80), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["page_id"], ["pages.id"], name=op.f("fk_answers_page_id_pages")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_answers")),
        sa.UniqueConstraint("page_id", "field", name=op.f("uq_answers_page_id")),
    )
    with op.batch_alter_table("answers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_answers_page_id"), ["page_id"], unique=False)

    op.create_table(
        "sheets",
        sa.Column("serial", sa.String(length=20), nullable=False),
        sa.Column("unit_code", sa.String(length=32), nullable=False),
        sa.Column("form_id", sa.String(length=80), nullable=False),
        sa.Column("form_version", sa.Integer(), nullable=False),
        sa.Column("variant", sa.String(length=20), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["batch_id"], ["print_batches.id"], name=op.f("fk_sheets_batch_id_print_batches")),
        sa.ForeignKeyConstraint(["unit_code"], ["units.code"], name=op.f("fk_sheets_unit_code_units")),
        sa.PrimaryKeyConstraint("serial", name=op.f("pk_sheets")),
    )
    with op.batch_alter_table("sheets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sheets_batch_id"), ["batch_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_sheets_unit_code"), ["unit_code"], unique=False)

    op.create_table(
        "text_areas",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("page_id", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=80), nullable=False),
        sa.Column("written", sa.Boolean(), nullable=False),
        sa.Column("ink", sa.Float(), nullable=True),
        sa.Column("image_path", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(["page_id"], ["pages.id"], name=op.f("fk_text_areas_page_id_pages")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_text_areas")),
    )
    with op.batch_alter_table("text_areas", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_text_areas_page_id"), ["page_id"], unique=False)

    op.create_table(
        "review_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("page_id", sa.Integer(), nullable=False),
        sa.Column("answer_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("assigned_to", sa.String(length=80), nullable=True),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.String(length=80), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["answer_id"], ["answers.id"], name=op.f("fk_review_items_answer_id_answers")),
        sa.ForeignKeyConstraint(["page_id"], ["pages.id"], name=op.f("fk_review_items_page_id_pages")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_items")),
    )
    with op.batch_alter_table("review_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_review_items_answer_id"), ["answer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_review_items_page_id"), ["page_id"], unique=False)
        batch_op.create_index("ix_review_items_status_kind", ["status", "kind"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("review_items", schema=None) as batch_op:
        batch_op.drop_index("ix_review_items_status_kind")
        batch_op.drop_index(batch_op.f("ix_review_items_page_id"))
        batch_op.drop_index(batch_op.f("ix_review_items_answer_id"))

    op.drop_table("review_items")
    with op.batch_alter_table("text_areas", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_text_areas_page_id"))

    op.drop_table("text_areas")
    with op.batch_alter_table("sheets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sheets_unit_code"))
        batch_op.drop_index(batch_op.f("ix_sheets_batch_id"))

    op.drop_table("sheets")
    with op.batch_alter_table("answers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_answers_page_id"))

    op.drop_table("answers")
    op.drop_table("watched_files")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_unit_code"))

    op.drop_table("users")
    with op.batch_alter_table("print_batches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_print_batches_unit_code"))
        batch_op.drop_index(batch_op.f("ix_print_batches_created_at"))

    op.drop_table("print_batches")
    with op.batch_alter_table("pages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pages_unit_code"))
        batch_op.drop_index(batch_op.f("ix_pages_status"))
        batch_op.drop_index("ix_pages_serial_sheet_page")
        batch_op.drop_index(batch_op.f("ix_pages_scan_batch_id"))
        batch_op.drop_index(batch_op.f("ix_pages_created_at"))

    op.drop_table("pages")
    with op.batch_alter_table("units", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_units_parent_code"))

    op.drop_table("units")
    op.drop_table("scan_batches")
    op.drop_table("counters")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_at"))

    op.drop_table("audit_log")
