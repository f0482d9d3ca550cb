"""Words for codes: page statuses, answer states, option values as their printed labels."""

from __future__ import annotations

import re
from dataclasses import dataclass

from db.models import Answer, Page
from omr.services import survey_period
from omr.sheet.layout import layout_for
from omr.sheet.templates import UnknownForm, Variant
from omr.values import split_values
from omr.vocab import ANSWER_STATE, PAGE_STATUS, sentence
from web.i18n import _, catalogue, lang

STATUS = {code: words[:1].upper() + words[1:] for code, words in PAGE_STATUS.items()}
STATE = ANSWER_STATE


MONTHS_EN: tuple[str, ...] = ("January", "February", "March", "April", "May", "June", "July")
MONTHS_EN += ("August", "September", "October", "November", "December")


def month_label(code: str) -> str:
    """A survey month in the page's language: "2026-11" -> "tháng 11/2026", "November 2026"."""
    if lang() == "vi":
        return survey_period.month_label(code)
    year, month = code.split("-")
    return f"{MONTHS_EN[int(month) - 1]} {int(year)}"


SHORT_LABEL = 70  # characters: a question's name in a caption or a status line


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


# why an uploaded file was not read at all (web/views/upload.py stores the code with the batch)
REJECTED = {
    "type": "Không phải loại tệp đọc được (PDF, TIFF, JPEG, PNG, ZIP).",
    "empty": "Tệp rỗng.",
    "content": "Nội dung không phải ảnh, PDF hay ZIP (tệp hỏng?).",
}
# A library's own words in brackets at the end of a reason ("PDF hỏng, không mở được (Failed to load
# document (PDFium: Data format error))"): nothing a person can act on, and not in their language.
_LIBRARY_TEXT = re.compile(r"\s*\((?:[^()]|\([^()]*\))*\)\s*$")
_LIBRARY_TAIL = re.compile(r":\s+([^:]*)$")  # "Không mở được tệp: [Errno 13] Permission denied"
_VIETNAMESE = re.compile(r"[à-ỹđĐÀ-Ỹ]")


def rejected_label(code: str | None) -> str:
    return _(REJECTED.get(code or "", "Không đọc được tệp."))


def scan_error(text: str | None) -> str:
    """The reader's reason for a page it could not read, for people: a library's bracketed words
    dropped, a capital first, in the page's language (numbers kept where they were)."""
    if not text:
        return ""
    t = text.strip()
    while True:
        m = _LIBRARY_TEXT.search(t) or _LIBRARY_TAIL.search(t)
        if not m or _VIETNAMESE.search(m.group(0)):
            break
        t = t[: m.start()]
    return message(t.rstrip(" ,;:"))


def message(text: str) -> str:
    """A message the product wrote in Vietnamese (a service's error, a reader's reason), as a sentence
    in the page's language: the catalogue has it as written, or with its numbers as ``{n}``."""
    t = sentence(text)
    if lang() == "vi":
        return t
    words = catalogue(lang()).get(t)
    if words is not None:
        return words
    words = catalogue(lang()).get(re.sub(r"\d+", "{n}", t))
    if words is None:
        return t
    for n in re.findall(r"\d+", t):
        words = words.replace("{n}", n, 1)
    return words


_NOTE_PAGE_LINE = re.compile(r"^(?P<file>.*) trang (?P<page>\d+): (?P<error>.*)$")


def batch_note(note: str | None, pages_shown: bool = False) -> list[str]:
    """A scan batch's note (omr.services.storing writes "<file> trang <n>: <reason>" per unreadable page,
    and a reason if the whole stack stopped), one line each, in the page's language; the per-page lines
    left out when the page's own table (``pages_shown``) says the same."""
    out = []
    for line in (note or "").splitlines():
        m = _NOTE_PAGE_LINE.match(line.strip())
        if m and pages_shown:
            continue
        if m:
            out.append(
                _("{file}, trang {page}: {reason}").format(
                    file=m["file"], page=m["page"], reason=scan_error(m["error"])
                )
            )
        elif line.strip():
            out.append(scan_error(line))
    return out


def per_file(rows: list[dict]) -> list[dict]:
    """The batch's pages grouped by the file they came from: pages, and how many of each status."""
    out: dict[str, dict] = {}
    for r in rows:
        f = out.setdefault(r["source"] or "", {"file": r["source"] or "", "pages": 0, "statuses": {}})
        f["pages"] += 1
        f["statuses"][r["status"]] = f["statuses"].get(r["status"], 0) + 1
    return list(out.values())


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
    return ", ".join(labels.get(v, v) for v in split_values(value))


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
