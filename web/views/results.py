"""Results of a unit (with the units under it) for a period: counts per option, the satisfaction
index, the handwritten comments, and the exports. All numbers come from ``omr.services.tally``."""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for

from omr import reports, vocab
from omr.services import tally
from omr.sheet.templates import all_forms
from web.access import CAN_RESULTS, can_see_ballots, chosen_unit, roles, unit_name
from web.database import db
from web.labels import message, short_label
from web.pickers import unit_options
from web.tallies import comments, parse_period, period_choices, summary, this_month

bp = Blueprint("results", __name__, url_prefix="/results")

COMMENTS_SHOWN = 60


def _formats() -> list[str]:
    """The exports of ``omr export``, from its one registry; those holding the scanned sheets
    themselves (the iOffice annex) only for the roles that may see ballots."""
    return [f for f, e in reports.EXPORTERS.items() if not e.ballots or can_see_ballots()]


def _args() -> tuple[str, str, str | None]:
    unit = chosen_unit(request.args.get("unit"))
    form_id = request.args.get("form") or None
    if form_id is not None and form_id not in all_forms():
        abort(404)
    return unit, request.args.get("period") or this_month(), form_id


@bp.route("/")
@roles(*CAN_RESULTS)
def index():
    unit, period_arg, form_id = _args()
    try:
        period = parse_period(period_arg)
        result = summary(db(), period, unit, form_id)
    except tally.TallyError as e:
        flash(message(str(e)), "error")
        return redirect(url_for("results.index", unit=unit))
    notes = comments(db(), period, unit, form_id, COMMENTS_SHOWN) if result else []
    return render_template(
        "results.html",
        unit=unit,
        unit_label=unit_name(unit),
        period=period,
        form_id=form_id,
        result=result,
        choices=unit_options(unit),
        forms=[(f.id, f.full_title) for f in all_forms().values()],
        comments=notes,
        periods=period_choices(period),
        vocab=vocab,
        waiting_answers=sum(q.pending for f in result.forms for q in f.questions) if result else 0,
        short_label=short_label,
        exports=True,
        formats=[(f, reports.EXPORTERS[f].button) for f in _formats()],
    )


@bp.route("/export.<fmt>")
@roles(*CAN_RESULTS)
def export(fmt: str):
    """The tallies issue's exports (CSV, XLSX, PDF) for the unit and period on screen."""
    if fmt not in reports.EXPORTERS:
        abort(404)
    if fmt not in _formats():
        abort(403)
    unit, period_arg, form_id = _args()
    try:
        period = parse_period(period_arg)
        result = tally.compute(db(), period, unit, form_id)
    except tally.TallyError:
        abort(404)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / f"ket-qua-{unit}-{period}{reports.EXPORTERS[fmt].suffix}"
        # the same exporters as ``omr export``, fed the tally already computed for this page
        written = reports.export(db(), period, unit, form_id, fmt, out, result=result)
        if len(written) == 1:
            data, name, mime = written[0].read_bytes(), written[0].name, reports.EXPORTERS[fmt].mime
        else:  # several files (CSV: answers and tally): one ZIP
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
                for p in written:
                    z.write(p, p.name)
            data, name, mime = buf.getvalue(), out.with_suffix(".zip").name, "application/zip"
    return send_file(io.BytesIO(data), mimetype=mime, as_attachment=True, download_name=name)


@bp.route("/comment/<int:page_id>/<field>.png")
@roles(*CAN_RESULTS)
def comment_image(page_id: int, field: str):
    from web.views.images import text_png_for

    return text_png_for(page_id, field)
