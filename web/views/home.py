"""The start page of a unit: sheets printed and received, the review backlog, this month's index."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required
from sqlalchemy import distinct, func, select

from db.models import COUNTED_STATUSES, REVIEW_OPEN, Page, ReviewItem, Sheet
from web import tallies
from web.access import chosen_unit, unit_name, unit_tree
from web.database import db
from web.i18n import LANGS, VN_TZ
from web.pickers import unit_options

bp = Blueprint("home", __name__)

TARGET = 0.90  # the satisfaction target units are measured against


@bp.route("/")
@login_required
def index():
    unit = chosen_unit(request.args.get("unit"))
    units = sorted(unit_tree().below(unit))
    s = db()
    printed = s.scalar(select(func.count()).select_from(Sheet).where(Sheet.unit_code.in_(units))) or 0
    received = (
        s.scalar(
            select(func.count(distinct(Page.serial))).where(
                Page.unit_code.in_(units), Page.status.in_(COUNTED_STATUSES)
            )
        )
        or 0
    )
    waiting = (
        s.scalar(
            select(func.count())
            .select_from(ReviewItem)
            .join(Page, Page.id == ReviewItem.page_id)
            .where(ReviewItem.status == REVIEW_OPEN, Page.unit_code.in_(units))
        )
        or 0
    )
    period = datetime.now(VN_TZ).strftime("%Y-%m")
    month = tallies.summary(s, period, unit)
    return render_template(
        "home.html",
        unit=unit,
        unit_label=unit_name(unit),
        choices=unit_options(unit),
        printed=printed,
        received=received,
        waiting=waiting,
        period=period,
        month=month,
        target=TARGET,
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
