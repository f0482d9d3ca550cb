"""Words for codes: page statuses, answer states, option values as their printed labels."""

from __future__ import annotations

from dataclasses import dataclass

from db.models import Answer, Page
from omr.layout import layout_for
from omr.templates import UnknownForm, Variant
from web.i18n import _

STATUS = {
    "accepted": "Đã nhận",
    "needs_review": "Chờ duyệt",
    "unidentified": "Chưa nhận dạng",
    "duplicate": "Trùng (đã có)",
    "conflict": "Trùng số, khác câu trả lời",
    "invalid": "Không hợp lệ",
    "blank": "Trang trắng",
    "error": "Lỗi đọc",
}
STATE = {"marked": "Đã đánh dấu", "blank": "Không trả lời", "multiple": "Nhiều ô", "uncertain": "Không chắc"}


SHORT_LABEL = 60  # characters: a question's name in a caption or a status line


def short_label(text: str) -> str:
    """A question's label short enough for a caption: no trailing colon, the first clause of a long
    one ("Nếu có điều chưa hài lòng về kết quả giải quyết và sự phục vụ, đề nghị … cho biết rõ:" ->
    "Nếu có điều chưa hài lòng về kết quả giải quyết và sự phục vụ"), cut at a word if still long."""
    t = " ".join(text.split()).rstrip(" :")
    if len(t) > SHORT_LABEL and "," in t:
        t = t.split(",")[0]
    if len(t) > SHORT_LABEL:
        t = t[:SHORT_LABEL].rsplit(" ", 1)[0] + "…"
    return t


def status_label(code: str | None) -> str:
    return _(STATUS.get(code or "", code or ""))


def state_label(code: str | None) -> str:
    return _(STATE.get(code or "", code or ""))


@dataclass
class AnswerRow:
    field: str
    question: str
    machine: str
    machine_state: str
    final: str
    decided_by: str | None


def _fmt(value: str | None, labels: dict[str, str]) -> str:
    if not value:
        return "—"
    return ", ".join(labels.get(v, v) for v in value.split(","))


def answer_words(page: Page, a: Answer) -> AnswerRow:
    labels: dict[str, str] = {}
    question = a.field
    if page.form_id and page.form_version is not None:
        try:
            fl = layout_for(page.form_id, page.form_version, Variant.parse(page.variant or Variant().code()))
            fp = fl.placement(a.field)
            question = fp.field.label
            labels = {o.value: o.label for o in fp.options}
        except (UnknownForm, KeyError, ValueError):
            pass
    final = _fmt(a.final_value, labels) if a.final_state else _("(chờ duyệt)")
    return AnswerRow(
        a.field, question, _fmt(a.machine_value, labels), state_label(a.machine_state), final, a.decided_by
    )
