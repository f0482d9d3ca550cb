"""Numbers and words as a Vietnamese report writes them: "92,3 %", "1.234 phiếu"."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from xml.sax.saxutils import escape

from omr.sheet.templates import Field
from omr.values import split_values
from omr.vocab import COUNTED_STATUSES, PAGE_STATUS, PENDING_TEXT

NO_DATA = "–"


def percent_number(x: float, digits: int = 1, sign: bool = False) -> str:
    """0.8125 -> "81.3": rounded half up, as people round by hand (Python's own formatting would
    print 81.2, and the report would disagree with a pocket calculator)."""
    d = Decimal(repr(round(x * 100, 9))).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    return f"{d:+}" if sign else f"{d}"


def pct(x: float | None, digits: int = 1) -> str:
    """0.923 -> "92,3 %"; None -> "–"."""
    if x is None:
        return NO_DATA
    return percent_number(x, digits).replace(".", ",") + " %"


def points(x: float | None, digits: int = 1) -> str:
    """A change of an index, in percentage points: +1,2 / -0,5 / –."""
    if x is None:
        return NO_DATA
    return percent_number(x, digits, sign=True).replace(".", ",")


def num(n: int | None) -> str:
    """1234 -> "1.234"."""
    if n is None:
        return NO_DATA
    return f"{n:,}".replace(",", ".")


def day(d: date) -> str:
    return f"{d:%d/%m/%Y}"


def long_date(d: date) -> str:
    """As on the place-and-date line (Nghị định 30/2020/NĐ-CP, Điều 9): a day below 10 and the months
    1 and 2 take a leading zero, the other months do not: "ngày 05 tháng 01 năm 2027",
    "ngày 15 tháng 5 năm 2026", "ngày 01 tháng 12 năm 2026"."""
    month = f"{d.month:02d}" if d.month < 3 else str(d.month)
    return f"ngày {d.day:02d} tháng {month} năm {d.year}"


def markup(text: object) -> str:
    """User-supplied text (a unit's, a user's or a file's name, a label, a comment) made safe to put
    into a reportlab paragraph: reportlab reads ``<img src=…>``, ``<a href=…>`` and ``<font>`` tags in a
    paragraph's text and would open the named path or URL; escaped, the text prints as it is."""
    return escape(str(text))


# a spreadsheet takes a cell that begins with one of these for a formula (or DDE command)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class CodeCell(str):
    """A cell the exporter built itself to keep a code as text (``="09552"``): not neutralised again."""


def neutral_cell(text: str) -> str:
    """A text cell of a CSV file that Excel or LibreOffice will not run as a formula: a leading
    apostrophe, as OWASP advises (the apostrophe shows, the formula never runs)."""
    if isinstance(text, CodeCell):
        return text
    return "'" + text if text.startswith(FORMULA_START) else text


def answer_label(f: Field, value: str | None, pending: bool) -> str:
    """An answer in words: the option's label ("Rất hài lòng"), labels joined for several marks."""
    if pending:
        return PENDING_TEXT
    if not value:
        return ""
    labels = {o.value: o.label for o in f.options}
    parts = split_values(value) if f.kind == "multi" else [value]
    return "; ".join(labels.get(v, f"Quầy {v}" if f.options_from == "counters" else v) for v in parts)


def page_status_line(status: str) -> str:
    """A row label for the count of scanned pages with this status, saying whether they count."""
    label = PAGE_STATUS.get(status, status)
    return f"Trang quét {label}" + ("" if status in COUNTED_STATUSES else " (không tính)")
