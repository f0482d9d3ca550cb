"""The start page of a unit: sheets printed and received, the review backlog, this month's index, all
from ``omr.services.tally``."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required

from omr import vocab
from omr.services import tally
from web import tallies
from web.access import chosen_unit, unit_name, unit_tree
from web.database import db
from web.i18n import LANGS
from web.pickers import unit_options

bp = Blueprint("home", __name__)


@bp.route("/")
@login_required
def index():
    unit = chosen_unit(request.args.get("unit"))
    s = db()
    figures = tally.overview(s, unit_tree().below(unit))
    period = tallies.this_month()
    month = tallies.summary(s, period, unit)
    return render_template(
        "home.html",
        unit=unit,
        unit_label=unit_name(unit),
        choices=unit_options(unit),
        printed=figures.printed,
        counts=figures.counts,
        vocab=vocab,
        period=period,
        month=month,
        target=month.target if month else tally.DEFAULT_TARGET,
        chart=tallies.chart_available(),
        role=current_user.role,
    )


@bp.route("/lang", methods=["POST"])
def set_lang():
    value = request.form.get("lang")
    if value in LANGS:
        session["lang"] = value
    nxt = request.form.get("next") or url_for("home.index")
    if not nxt.startswith("/") or nxt.startswith("//"):
        nxt = url_for("home.index")
    return redirect(nxt)
