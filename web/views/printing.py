"""Print sheets: choose form, unit and count, download the PDF; the print run is recorded."""

from __future__ import annotations

import io
from datetime import datetime

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from sqlalchemy import select

from db.models import PrintBatch
from omr.services import ServiceError
from omr.services.print_runs import print_sheets, render_batch
from omr.sheet.templates import UnknownForm
from omr.vocab import VN_TZ
from web.access import CAN_PRINT, chosen_unit, require_unit, roles, unit_name
from web.database import db
from web.i18n import _
from web.labels import message
from web.pickers import form_options, retired_units, unit_options, usual_form

bp = Blueprint("printing", __name__, url_prefix="/print")

MAX_WEB_COUNT = 2000  # one download; bigger runs belong to `omr print`
RECENT = 20


@bp.route("/")
@roles(*CAN_PRINT)
def index():
    unit = chosen_unit(request.args.get("unit"))
    batches = list(
        db().scalars(
            select(PrintBatch)
            .where(PrintBatch.unit_code.in_(sorted(current_user.units)))
            .order_by(PrintBatch.id.desc())
            .limit(RECENT)
        )
    )
    forms = form_options(unit)
    return render_template(
        "print.html",
        forms=forms,
        unit=unit,
        choices=unit_options(),
        usual=usual_form(unit),
        batches=batches,
        unit_name=unit_name,
        max_count=MAX_WEB_COUNT,
        titles={f[0]: f[1] for f in forms},
    )


def _filename(batch: PrintBatch) -> str:
    stamp = datetime.now(VN_TZ).strftime("%Y%m%d")
    return f"phieu-{batch.form_id}-{batch.unit_code}-{batch.first_serial}-{batch.last_serial}-{stamp}.pdf"


@bp.route("/", methods=["POST"])
@roles(*CAN_PRINT)
def create():
    f = request.form
    unit = require_unit(f.get("unit", ""))
    if unit in retired_units():
        flash(_("Đơn vị này đã ngừng sử dụng: không in phiếu mới cho đơn vị này."), "error")
        return redirect(url_for("printing.index"))
    form_id = f.get("form", "")
    try:
        count = int(f.get("count", ""))
    except ValueError:
        count = 0
    if not 1 <= count <= MAX_WEB_COUNT:
        flash(_("Số phiếu phải từ 1 đến {n}.").format(n=MAX_WEB_COUNT), "error")
        return redirect(url_for("printing.index", unit=unit))
    buf = io.BytesIO()
    try:
        manifest = print_sheets(db(), form_id, unit, count, buf, created_by=current_user.username)
    except UnknownForm:
        flash(_("Không có mẫu phiếu này."), "error")
        return redirect(url_for("printing.index", unit=unit))
    except ServiceError as e:
        flash(message(str(e)), "error")
        return redirect(url_for("printing.index", unit=unit))
    current_app.logger.info("printed %d pages for %s", len(manifest), unit)
    batch = db().scalar(
        select(PrintBatch)
        .order_by(PrintBatch.id.desc())
        .where(PrintBatch.unit_code == unit, PrintBatch.created_by == current_user.username)
    )
    buf.seek(0)
    name = _filename(batch) if batch else "phieu.pdf"
    return send_file(buf, mimetype="application/pdf", as_attachment=True, download_name=name)


@bp.route("/<int:batch_id>.pdf")
@roles(*CAN_PRINT)
def again(batch_id: int):
    """The PDF of an earlier print run (same serials: for a lost file, not for more sheets)."""
    batch = db().get(PrintBatch, batch_id)
    if batch is None:
        abort(404)
    require_unit(batch.unit_code)
    buf = io.BytesIO()
    render_batch(db(), batch, buf)
    buf.seek(0)
    return send_file(buf, mimetype="application/pdf", as_attachment=True, download_name=_filename(batch))
