"""Upload scanned stacks: files saved, reading started in the background, progress polled."""

from __future__ import annotations

import re
from pathlib import Path

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select, update
from werkzeug.utils import secure_filename

from db.models import Page, ScanBatch, User
from omr.detect.images import sniff
from omr.detect.sources import STACK_EXTS
from omr.services import ServiceError, ingest, survey_period
from omr.services.review import page_visible
from omr.services.storing import OUT_OF_SCOPE
from omr.vocab import SCAN_RUNNING
from web import jobs
from web.access import CAN_UPLOAD, roles
from web.database import after_write, db, transaction
from web.i18n import _
from web.labels import batch_note, month_label, per_file, rejected_label, scan_error, status_label
from web.views.images import user_scope

bp = Blueprint("upload", __name__, url_prefix="/upload")

MAX_FILES = 50
RECENT = 20
MONTHS_OFFERED = 13  # this month and the twelve before it


def stored_name(n: int, name: str) -> str:
    """The n-th uploaded file's name on disk (numbered: two files of one upload may share a name)."""
    return f"{n + 1:02d}-{name}"


def original_name(stored: str | None) -> str | None:
    """The name the uploader gave, for people (``stored_name`` undone; a file inside a ZIP keeps its own)."""
    return re.sub(r"^\d{2}-", "", stored) if stored else stored


def _visible_batch(batch_id: int) -> ScanBatch:
    """A batch uploaded by someone of the user's units (404 otherwise)."""
    s = db()
    batch = s.get(ScanBatch, batch_id)
    if batch is None:
        abort(404)
    owner_unit = s.scalar(select(User.unit_code).where(User.username == batch.created_by))
    if owner_unit not in current_user.units and not (current_user.root and owner_unit is None):
        abort(404)
    return batch


def _recent() -> list[ScanBatch]:
    uploaders = select(User.username).where(User.unit_code.in_(sorted(current_user.units)))
    return list(
        db().scalars(
            select(ScanBatch).where(ScanBatch.created_by.in_(uploaders)).order_by(ScanBatch.id.desc()).limit(RECENT)
        )
    )


@bp.route("/")
@roles(*CAN_UPLOAD)
def index():
    max_mb = current_app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024)
    exts = ", ".join(sorted(e.lstrip(".").upper() for e in STACK_EXTS))
    return render_template(
        "upload.html",
        batches=_recent(),
        max_mb=max_mb,
        exts=exts,
        max_files=MAX_FILES,
        months=_months(),
        suggested=survey_period.suggested_month(),
        early=survey_period.is_early(),
        month_label=month_label,
    )


def _months() -> list[tuple[str, str]]:
    """(code, label) of the months a stack may belong to, this month first."""
    d = survey_period.local_today().replace(day=1)
    out = []
    for i in range(MONTHS_OFFERED):
        code = survey_period.month_code(d)
        note = {0: _(" (tháng này)"), 1: _(" (tháng trước)")}.get(i, "")
        out.append((code, month_label(code) + note))
        d = survey_period.previous_month(d)
    return out


def _go(url: str):
    """Where the upload leads: a redirect for a plain form post, the address as JSON for the page's
    own transfer (upload.js), which then opens it itself; the flashed messages wait for that page."""
    if request.headers.get("X-Upload") == "xhr":
        return jsonify(location=url)
    return redirect(url)


@bp.route("/", methods=["POST"])
@roles(*CAN_UPLOAD)
def create():
    files = [f for f in request.files.getlist("files") if f and f.filename]
    if not files:
        flash(_("Hãy chọn ít nhất một tệp."), "error")
        return _go(url_for("upload.index"))
    if len(files) > MAX_FILES:
        flash(_("Mỗi lần tải tối đa {n} tệp.").format(n=MAX_FILES), "error")
        return _go(url_for("upload.index"))
    try:  # the form always sends the month it shows; without one, the month of the scan (as omr scan)
        period = survey_period.parse_month(request.form["period"]) if request.form.get("period") else None
    except ServiceError as e:
        flash(str(e), "error")
        return _go(url_for("upload.index"))
    label = ", ".join(f.filename or "" for f in files)[:300]
    batch_id = ingest.start_batch(label, current_user.username, 0, period)
    _limit_to_uploader(batch_id)
    folder = jobs.upload_dir(batch_id)
    saved: list[Path] = []
    rejected: list[dict] = []  # shown on the batch page, stored with it (web.labels.REJECTED words them)
    for n, f in enumerate(files):
        name = secure_filename(f.filename or "") or f"tep-{n + 1}"
        ext = Path(name).suffix.lower()
        head = f.stream.read(8)
        f.stream.seek(0)
        if ext not in STACK_EXTS:
            rejected.append({"file": f.filename, "reason": "type"})
        elif not head:
            rejected.append({"file": f.filename, "reason": "empty"})
        elif sniff(head) is None:
            rejected.append({"file": f.filename, "reason": "content"})
        else:
            path = folder / stored_name(n, name)
            f.save(path)
            saved.append(path)
    if rejected:
        jobs.save_rejected(batch_id, rejected)
    if not saved:
        ingest.finish_batch(batch_id, "failed")
        flash(_("Không có tệp nào đọc được."), "error")
        return _go(url_for("upload.batch", batch_id=batch_id))
    jobs.submit(batch_id, saved, current_user.username, inline=current_app.config["SCAN_INLINE"])
    flash(_("Đã nhận {n} tệp; đang đọc phiếu.").format(n=len(saved)), "ok")
    return _go(url_for("upload.batch", batch_id=batch_id))


def _limit_to_uploader(batch_id: int) -> None:
    """Sheets of units outside the uploader's are not stored as those units' responses (storing.OUT_OF_SCOPE)."""
    with transaction() as s:
        s.execute(update(ScanBatch).where(ScanBatch.id == batch_id).values(scope_unit=current_user.unit_code))


def _batch_json(batch: ScanBatch) -> dict:
    return {
        "id": batch.id,
        "status": batch.status,
        "done": batch.done_pages,
        "total": batch.total_pages,
        "running": batch.status == SCAN_RUNNING,
        "note": batch.note,
    }


@bp.route("/<int:batch_id>")
@roles(*CAN_UPLOAD)
def batch(batch_id: int):
    b = _visible_batch(batch_id)
    rows = _rows(b)
    summary: dict[str, int] = {}
    for r in rows:
        summary[r["status"]] = summary.get(r["status"], 0) + 1
    return render_template(
        "upload_batch.html",
        batch=b,
        info=_batch_json(b),
        rows=rows,
        summary=summary,
        files=per_file(rows),
        rejected=[(r.get("file"), rejected_label(r.get("reason"))) for r in jobs.rejected(b.id)],
        status_label=status_label,
        scan_error=scan_error,
        batch_note=batch_note,
        months=_months(),
        month_label=month_label,
    )


@bp.route("/<int:batch_id>/period", methods=["POST"])
@roles(*CAN_UPLOAD)
def set_period(batch_id: int):
    """Staff correct the survey month of a stack (audited); its sheets move to that month's tallies."""
    _visible_batch(batch_id)
    try:
        with transaction() as s:
            moved = survey_period.set_period(s, batch_id, request.form.get("period") or "", current_user.username)
    except ServiceError as e:
        flash(str(e), "error")
    else:
        after_write()
        flash(
            _("Đã chuyển lần tải #{id} sang kỳ {new} ({n} trang).").format(
                id=batch_id, new=month_label(moved["new"]), n=moved["pages"]
            ),
            "ok",
        )
    return redirect(url_for("upload.batch", batch_id=batch_id))


@bp.route("/api/<int:batch_id>")
@roles(*CAN_UPLOAD)
def progress(batch_id: int):
    return jsonify(_batch_json(_visible_batch(batch_id)))


@bp.route("/api/progress")
@roles(*CAN_UPLOAD)
def progress_many():
    ids = [int(x) for x in request.args.get("ids", "").split(",") if x.isdigit()][:RECENT]
    return jsonify(batches=[_batch_json(_visible_batch(i)) for i in ids])


def _rows(batch: ScanBatch) -> list[dict]:
    """One row per page of the stack; pages of units outside the user's scope show no details."""
    s = db()
    scope = user_scope()
    by_key: dict[tuple[str | None, int | None], Page] = {
        (p.source, p.source_page): p for p in s.scalars(select(Page).where(Page.scan_batch_id == batch.id))
    }
    out = []
    for line in jobs.results(batch.id):
        p = by_key.get((line.get("source"), line.get("page")))
        if p is None and line.get("status") == "duplicate":
            # an image already stored by another upload: look it up through its serial's page, if ours
            p = None
        own = p is not None and page_visible(s, p, scope)
        hidden = line.get("unit") is not None and line.get("unit") not in current_user.units
        out.append(
            {
                "source": original_name(line.get("source")),
                "page": line.get("page"),
                "status": line.get("status"),
                "serial": None if hidden else line.get("serial"),
                "unit": None if hidden else line.get("unit"),
                # a sheet of a unit outside the uploader's: said so, and sent to that unit to be placed
                "error": line.get("error") or (OUT_OF_SCOPE if p is not None and p.note == OUT_OF_SCOPE else None),
                "page_id": p.id if own and p is not None else None,
                "hidden": hidden,
            }
        )
    return out
