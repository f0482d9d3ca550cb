"""Stored scans shown to people: one page's detail, its image, a free-text area's image.

Every route checks the page's unit against the user's scope (404 outside it), so an image URL guessed
or shared never shows another unit's sheet.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, render_template
from flask_login import current_user, login_required
from sqlalchemy import select

from db.models import Answer, Page, ReviewItem, TextArea
from omr import config
from omr.services.review import Scope, page_visible
from web.access import unit_name
from web.crops import ImageUnavailable, as_key, page_image
from web.database import db
from web.labels import answer_words, status_label

bp = Blueprint("images", __name__)


def user_scope() -> Scope:
    return Scope(current_user.units, current_user.root)


def visible_page(page_id: int) -> Page:
    s = db()
    page = s.get(Page, page_id)
    if page is None or not page_visible(s, page, user_scope()):
        abort(404)
    return page


def image_response(data: bytes, mimetype: str) -> Response:
    resp = Response(data, mimetype=mimetype)
    resp.headers["Cache-Control"] = "no-store"  # not kept in the browser cache of a shared office PC
    return resp


@bp.route("/pages/<int:page_id>")
@login_required
def page(page_id: int):
    p = visible_page(page_id)
    s = db()
    answers = list(s.scalars(select(Answer).where(Answer.page_id == p.id).order_by(Answer.id)))
    texts = list(s.scalars(select(TextArea).where(TextArea.page_id == p.id).order_by(TextArea.id)))
    items = list(s.scalars(select(ReviewItem).where(ReviewItem.page_id == p.id).order_by(ReviewItem.id)))
    rows = [answer_words(p, a) for a in answers]
    return render_template(
        "page.html",
        page=p,
        rows=rows,
        texts=texts,
        items=items,
        unit_label=unit_name(p.unit_code),
        status_label=status_label,
    )


@bp.route("/pages/<int:page_id>/image.jpg")
@login_required
def page_jpeg(page_id: int):
    p = visible_page(page_id)
    try:
        data = page_image(p.image_path, as_key(p.transform))
    except ImageUnavailable:
        abort(404)
    return image_response(data, "image/jpeg")


@bp.route("/text/<int:text_id>.png")
@login_required
def text_png(text_id: int):
    t = db().get(TextArea, text_id)
    if t is None:
        abort(404)
    visible_page(t.page_id)
    try:
        data = (config.home() / t.image_path).read_bytes()
    except OSError:
        abort(404)
    return image_response(data, _mime(t.image_path))


def text_png_for(page_id: int, field: str):
    """A free-text area's image by page and field (the results page's comment list)."""
    p = visible_page(page_id)
    t = db().scalar(select(TextArea).where(TextArea.page_id == p.id, TextArea.field == field))
    if t is None:
        abort(404)
    try:
        data = (config.home() / t.image_path).read_bytes()
    except OSError:
        abort(404)
    return image_response(data, _mime(t.image_path))


def _mime(path: str) -> str:
    """Comment crops are JPEG (older ones PNG): say which."""
    return "image/jpeg" if path.endswith(".jpg") else "image/png"
