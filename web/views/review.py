"""The review queue: one item at a time, decided with the keyboard (static/review.js drives the page
through the JSON routes below); unidentified pages and conflicts have their own pages."""

from __future__ import annotations

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from db.models import Page, ScanBatch
from omr.services import NotFound
from omr.services import review as svc
from omr.sheet.templates import all_forms
from omr.vocab import REVIEW_ANSWER, REVIEW_CONFLICT, REVIEW_OPEN, REVIEW_UNIDENTIFIED
from web.access import CAN_REVIEW, roles, unit_name
from web.crops import ImageUnavailable, as_key, box_readings, question_crop, reading_legend
from web.database import after_write, db
from web.i18n import _
from web.labels import message, short_label
from web.pickers import unit_options
from web.views.images import image_response, user_scope

bp = Blueprint("review", __name__, url_prefix="/review")


def _item_json(item_id: int) -> dict:
    s = db()
    try:
        item, page = svc.get_item(s, item_id, user_scope())
    except NotFound:
        abort(404)
    v = svc.describe(s, item, page)
    return {
        "id": v.id,
        "kind": v.kind,
        "status": v.status,
        "page_id": v.page_id,
        "serial": v.serial,
        "sheet_page": v.sheet_page,
        "unit": v.unit_code,
        "unit_name": unit_name(v.unit_code),
        "form_title": v.form_title,
        "field": v.field_id,
        "field_kind": v.field_kind,
        "question": v.question,
        "question_short": short_label(v.question or v.field_id or ""),
        "element": v.element,
        "options": [{"key": o.key, "value": o.value, "label": o.label} for o in v.options],
        "reason": v.reason,
        "reason_text": _(v.reason_text) if v.reason_text else None,
        "machine_value": v.machine_value,
        "machine_state": v.machine_state,
        "confidence": v.confidence,
        "final_value": v.final_value,
        "final_state": v.final_state,
        "decided_by": v.decided_by,
        "crop_url": url_for("review.crop", item_id=v.id, v=f"{v.final_state or ''}{v.final_value or ''}"),
        "page_url": url_for("images.page_jpeg", page_id=v.page_id),
    }


def _counts() -> dict[str, int]:
    after_write()
    return svc.open_counts(db(), user_scope())


def _others() -> dict[str, list[dict]]:
    """Who else holds open items of each kind right now (shown as "đang được … xử lý")."""
    held = svc.held_by_others(db(), user_scope(), current_user.username)
    return {k: [{"user": u, "n": n} for u, n in v] for k, v in held.items()}


def _ids(raw: str | None) -> list[int]:
    return [int(x) for x in (raw or "").split(",") if x.strip().isdigit()]


@bp.route("/")
@roles(*CAN_REVIEW)
def index():
    return render_template("review/queue.html", counts=_counts(), legend=reading_legend())


@bp.route("/api/next")
@roles(*CAN_REVIEW)
def api_next():
    kind = request.args.get("kind", REVIEW_ANSWER)
    if kind not in svc.KINDS:
        abort(400)
    item_id = svc.claim_next(
        current_user.username,
        user_scope(),
        kind,
        _ids(request.args.get("exclude")),
        saving=_ids(request.args.get("saving")),
    )
    return jsonify(item=_item_json(item_id) if item_id else None, counts=_counts(), others=_others())


@bp.route("/api/item/<int:item_id>")
@roles(*CAN_REVIEW)
def api_item(item_id: int):
    return jsonify(item=_item_json(item_id))


@bp.route("/api/item/<int:item_id>/decide", methods=["POST"])
@roles(*CAN_REVIEW)
def api_decide(item_id: int):
    body = request.get_json(silent=True) or {}
    value = body.get("value")
    if value is not None and not isinstance(value, str):
        abort(400)
    try:
        svc.decide_answer(
            current_user.username,
            user_scope(),
            item_id,
            value,
            accept_machine=bool(body.get("accept")),
            is_admin=current_user.is_admin,
        )
    except NotFound:
        abort(404)
    except svc.Taken as e:
        return jsonify(error=message(str(e))), 409
    except svc.ReviewError as e:
        return jsonify(error=message(str(e))), 400
    return jsonify(ok=True, counts=_counts())


@bp.route("/api/previous")
@roles(*CAN_REVIEW)
def api_previous():
    before = request.args.get("before", type=int)
    item_id = svc.previous(current_user.username, user_scope(), before)
    return jsonify(item=_item_json(item_id) if item_id else None)


@bp.route("/api/undo", methods=["POST"])
@roles(*CAN_REVIEW)
def api_undo():
    try:
        item_id = svc.undo_last(current_user.username, user_scope())
    except svc.ReviewError as e:
        return jsonify(error=message(str(e))), 400
    after_write()
    return jsonify(item=_item_json(item_id) if item_id else None, counts=_counts())


@bp.route("/api/release", methods=["POST"])
@roles(*CAN_REVIEW)
def api_release():
    # JSON from the page, or a form body from navigator.sendBeacon as the page goes away
    body = request.get_json(silent=True)
    if isinstance(body, dict):
        ids = [int(i) for i in body.get("ids", []) if isinstance(i, int)]
    else:
        ids = _ids(request.form.get("ids"))
    svc.release(current_user.username, ids)
    return jsonify(ok=True)


@bp.route("/item/<int:item_id>/crop.png")
@roles(*CAN_REVIEW)
def crop(item_id: int):
    s = db()
    try:
        item, page = svc.get_item(s, item_id, user_scope())
    except NotFound:
        abort(404)
    v = svc.describe(s, item, page)
    if v.field_id is None or not page.transform or page.form_id is None or page.form_version is None:
        abort(404)
    readings = box_readings((page.measurements or {}).get(v.field_id))
    try:
        data = question_crop(
            page.image_path,
            as_key(page.transform),
            page.form_id,
            page.form_version,
            page.variant or "c6p0",
            v.field_id,
            tuple(o.key for o in v.options),
            tuple(sorted((value, box.name) for value, box in readings.items())),
            v.final_value if v.final_state else None,
        )
    except ImageUnavailable:
        abort(404)
    return image_response(data, "image/png")


# --------------------------------------------------------------------------- unidentified pages


def _page_item_view(kind: str):
    """The item asked for (``?item=``) or the next one of ``kind`` claimed for this reviewer, described;
    None when the queue is empty. An item of another kind or outside the user's units: 404."""
    item_id = request.args.get("item", type=int)
    if item_id is None:
        item_id = svc.claim_next(current_user.username, user_scope(), kind)
    if item_id is None:
        return None
    try:
        item, page = svc.get_item(db(), item_id, user_scope())
    except NotFound:
        abort(404)
    if item.kind != kind:
        abort(404)
    return svc.describe(db(), item, page)


def _source_of(view) -> dict | None:
    """Where an unidentified page came from: the file, its page, who uploaded it and when."""
    if view is None:
        return None
    page = db().get(Page, view.page_id)
    if page is None:
        return None
    batch = db().get(ScanBatch, page.scan_batch_id) if page.scan_batch_id else None
    return {
        "file": page.source,
        "page": page.source_page,
        "by": batch.created_by if batch else None,
        "at": batch.created_at if batch else page.created_at,
        "batch_id": batch.id if batch else None,
    }


@bp.route("/unidentified")
@roles(*CAN_REVIEW)
def unidentified():
    view = _page_item_view(REVIEW_UNIDENTIFIED)
    forms = [(f.id, f.full_title) for f in all_forms().values()]
    return render_template(
        "review/unidentified.html",
        view=view,
        forms=forms,
        choices=unit_options(),
        counts=_counts(),
        others=_others()[REVIEW_UNIDENTIFIED],
        source=_source_of(view),
    )


@bp.route("/unidentified/<int:item_id>", methods=["POST"])
@roles(*CAN_REVIEW)
def resolve_unidentified(item_id: int):
    f = request.form
    try:
        if f.get("action") == "not_sheet":
            svc.not_a_sheet(current_user.username, user_scope(), item_id, is_admin=current_user.is_admin)
            flash(_("Đã ghi nhận: không phải phiếu khảo sát."), "ok")
        else:
            try:
                sheet_page = int(f.get("sheet_page") or 1)
            except ValueError:
                sheet_page = 0
            new_id = svc.assign_identity(
                current_user.username,
                user_scope(),
                item_id,
                f.get("serial", ""),
                sheet_page,
                f.get("form") or None,
                f.get("unit") or None,
                is_admin=current_user.is_admin,
            )
            flash(_("Đã nhận dạng trang và đọc lại các câu trả lời (trang #{id}).").format(id=new_id), "ok")
    except NotFound:
        abort(404)
    except svc.ReviewError as e:
        flash(message(str(e)), "error")
        return redirect(url_for("review.unidentified", item=item_id))
    return redirect(url_for("review.unidentified"))


# --------------------------------------------------------------------------- conflicts


@bp.route("/conflicts")
@roles(*CAN_REVIEW)
def conflicts():
    view = _page_item_view(REVIEW_CONFLICT)
    return render_template(
        "review/conflict.html", view=view, counts=_counts(), open=REVIEW_OPEN, others=_others()[REVIEW_CONFLICT]
    )


@bp.route("/conflicts/<int:item_id>", methods=["POST"])
@roles(*CAN_REVIEW)
def resolve_conflict(item_id: int):
    keep = request.form.get("keep", type=int)
    if keep is None:
        abort(400)
    try:
        svc.resolve_conflict(current_user.username, user_scope(), item_id, keep, is_admin=current_user.is_admin)
    except NotFound:
        abort(404)
    except svc.ReviewError as e:
        flash(message(str(e)), "error")
        return redirect(url_for("review.conflicts", item=item_id))
    flash(_("Đã chọn trang #{id} để tính.").format(id=keep), "ok")
    return redirect(url_for("review.conflicts"))
