"""The register of issued reports on the web: issue a report, download it again as issued, and see
which reports sent no longer carry today's figures (omr.reports.issued)."""

from __future__ import annotations

import io
from datetime import date

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user

from db.models import local_today
from db.session import transaction
from omr import reports
from omr.reports import issued as issued_reports
from omr.services import ServiceError, tally
from omr.sheet.templates import all_forms
from omr.vocab import ADMIN, STAFF
from web.access import CAN_RESULTS, chosen_unit, require_unit, roles, unit_choices, unit_name
from web.database import after_write, db
from web.i18n import _
from web.tallies import this_month

bp = Blueprint("issued", __name__, url_prefix="/issued")

CAN_ISSUE = (ADMIN, STAFF)
SHOWN = 30  # reports listed (and checked again) on the page, newest first


def _checked(unit: str | None = None, period: str | None = None, limit: int = SHOWN) -> list[dict]:
    """The user's issued reports (of one unit and period if given), each compared with the figures as
    they are now; the outcome is kept on the report."""
    units = {unit} if unit else set(current_user.units)
    ids = [r.id for r in issued_reports.listed(db(), units, period)[:limit]]
    if not ids:
        return []  # most results pages: no write transaction for nothing
    out = []
    with transaction() as s:
        for report in (issued_reports.get(s, i) for i in ids):
            changes = issued_reports.check(s, report)
            out.append(
                {
                    "id": report.id,
                    "number": report.number,
                    "issued_on": report.issued_on,
                    "signer": report.signer,
                    "unit": report.unit_code,
                    "unit_name": unit_name(report.unit_code),
                    "period": report.period,
                    "form_id": report.form_id,
                    "as_of": report.as_of,
                    "fmt": report.fmt,
                    "changes": [c.text for c in changes],
                    "summary": issued_reports.summary_line(report, changes) if changes else None,
                }
            )
    return out


@bp.app_template_global()
def issued_changes(period: str, unit: str) -> list[dict]:
    """For the results page's warning: the reports issued for this unit and period that changed."""
    try:
        code = tally.Period.parse(period).code
    except tally.TallyError:
        return []
    return [r for r in _checked(unit, code) if r["changes"]]


@bp.route("/")
@roles(*CAN_RESULTS)
def index():
    unit = chosen_unit(request.args.get("unit"))
    return render_template(
        "issued.html",
        reports=_checked(),
        unit=unit,
        period=request.args.get("period") or this_month(),
        form_id=request.args.get("form") or "",
        choices=unit_choices(),
        forms=[(f.id, f.full_title) for f in all_forms().values()],
        formats=issued_reports.ISSUE_FORMATS,
        today=local_today(),
        can_issue=current_user.role in CAN_ISSUE,
    )


@bp.route("/", methods=["POST"])
@roles(*CAN_ISSUE)
def issue():
    f = request.form
    unit = require_unit(f.get("unit"))
    try:
        issued_on = date.fromisoformat(f["date"]) if f.get("date") else None
        as_of = f.get("as_of") or None
        with transaction() as s:
            report = issued_reports.issue(
                s,
                period=f.get("period", ""),
                unit_code=unit,
                number=f.get("number", ""),
                signer=f.get("signer", ""),
                form_id=f.get("form") or None,
                issued_on=issued_on,
                as_of=as_of,
                fmt=f.get("fmt") or "pdf",
                user=current_user.username,
            )
            number = report.number
    except ValueError:
        flash(_("Ngày ban hành không hợp lệ."), "error")
        return redirect(url_for("issued.index", unit=unit))
    except ServiceError as e:  # TallyError too: a bad period, form or as-of day
        flash(str(e), "error")
        return redirect(url_for("issued.index", unit=unit, period=f.get("period"), form=f.get("form")))
    after_write()
    flash(_("Đã ban hành báo cáo số {n}.").format(n=number), "ok")
    return redirect(url_for("issued.index", unit=unit))


@bp.route("/<int:report_id>/download")
@roles(*CAN_RESULTS)
def download(report_id: int):
    try:
        report = issued_reports.get(db(), report_id)
        require_unit(report.unit_code)
        data = issued_reports.file_bytes(report)
    except ServiceError:
        abort(404)
    return send_file(
        io.BytesIO(data),
        mimetype=reports.EXPORTERS[report.fmt].mime,
        as_attachment=True,
        download_name=report.file_name,
    )
