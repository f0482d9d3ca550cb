"""CSV exports, UTF-8 with a byte-order mark so Excel shows the Vietnamese text as it is.

Three files: the responses (one row per counted sheet, every final answer as its option value: "5",
multi-choice "1|4"; "đang chờ duyệt" where a reviewer has still to decide), the tally (one row per
figure, long format, every number of ``omr.services.tally`` with its label), and the codebook (field code ->
question, option value -> label) that reads the responses.

Written for the Excel a Vietnamese office has:
- codes made of digits (serials, unit codes such as "09552") are written ``="09552"``, the one way a
  CSV tells Excel a cell is text: opened as a number it would lose its leading zero;
- several choices are joined with "|": "4,5" is the number 4.5 to an Excel set to Vietnamese;
- ``sep=";"`` for that Excel, whose list separator is the semicolon;
- a cell that begins with "=", "+", "-", "@", a tab or a carriage return gets a leading apostrophe
  (``fmt.neutral_cell``): a unit named "=HYPERLINK(…)" is text, never a formula.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TextIO

from sqlalchemy.orm import Session

from omr.reports import responses as resp
from omr.reports import rollup
from omr.reports.fmt import CodeCell, neutral_cell, page_status_line, percent_number
from omr.services.tally import Index, TallyResult
from omr.vocab import PENDING_TEXT, RESPONSE_STATUS

BOM = "\ufeff"
RESPONSE_HEAD = ["Mã phiếu", "Mã đơn vị", "Đơn vị", "Mẫu phiếu", "Ngày quét", "Trạng thái"]
TALLY_HEAD = [
    "Phần",
    "Mẫu phiếu",
    "Mã câu",
    "Nội dung",
    "Giá trị",
    "Lựa chọn",
    "Số lượng",
    "Tỉ lệ (%)",
    "Số câu trả lời",
    "Chỉ số hài lòng (%)",
    "Kỳ trước (%)",
    "Mục tiêu (%)",
    "Đạt mục tiêu",
]
CODEBOOK_HEAD = ["Mẫu phiếu", "Mã câu", "Câu hỏi", "Loại", "Giá trị", "Nhãn"]
WRITTEN = "có ý kiến viết tay"
SATISFIED = "Rất hài lòng + Hài lòng"  # what "Số lượng" counts on an index row
MULTI_SEP = "|"
KIND_TEXT = {"single": "một lựa chọn", "multi": "nhiều lựa chọn (các giá trị nối bằng |)", "text": "ý kiến viết tay"}
_DIGITS = re.compile(r"[0-9]+")


def code_cell(code: str) -> str:
    """A code Excel keeps as text: digits as ``="09552"`` (Excel would read 9552), others neutralised."""
    return CodeCell(f'="{code}"') if _DIGITS.fullmatch(code) else neutral_cell(code)


def neutral_row(row: Iterable[str]) -> list[str]:
    return [neutral_cell(v) for v in row]


def _p(x: float | None) -> str:
    """A share as a percentage with one decimal, "." as decimal mark (a CSV is data, not prose)."""
    return "" if x is None else percent_number(x)


def response_rows(session: Session, result: TallyResult) -> Iterator[list[str]]:
    forms = resp.forms_of(result)
    cols = resp.columns(forms)
    yield RESPONSE_HEAD + [f.id for f in cols]
    for r in resp.iter_responses(
        session, result.period.code, result.unit.code if result.unit else None, result.form_id
    ):
        pending = any(p for _v, p in r.answers.values())
        status = "pending" if pending else ("reviewed" if r.needs_review else "accepted")
        row = [
            r.unit_name,
            r.form_id,
            r.scanned.isoformat() if r.scanned else "",
            RESPONSE_STATUS[status],
        ]
        for f in cols:
            if f.kind == "text":
                row.append(WRITTEN if f.id in r.written else "")
                continue
            value, waiting = r.answers.get(f.id, (None, False))
            if value and f.kind == "multi":
                value = value.replace(",", MULTI_SEP)
            row.append(PENDING_TEXT if waiting else (value or ""))
        # codes first, as text; every other cell neutralised
        yield [code_cell(r.serial), code_cell(r.unit_code), *neutral_row(row)]


def write_responses(session: Session, result: TallyResult, out: TextIO, sep: str = ",") -> int:
    """The responses CSV into a text stream (BOM first); returns the number of responses written."""
    out.write(BOM)
    w = csv.writer(out, delimiter=sep, lineterminator="\r\n")
    n = -1
    for n, row in enumerate(response_rows(session, result)):  # noqa: B007
        w.writerow(row)
    return max(n, 0)


def codebook_rows(result: TallyResult) -> Iterator[list[str]]:
    """What the responses' columns and values mean: one row per question, then one per option."""
    yield CODEBOOK_HEAD
    for head, text in (
        ("Mã phiếu", "số phiếu in trên phiếu (mã QR)"),
        ("Mã đơn vị", "mã đơn vị phát phiếu"),
        ("Ngày quét", "ngày quét phiếu (giờ Việt Nam)"),
        ("Trạng thái", "; ".join(RESPONSE_STATUS.values())),
    ):
        yield ["", head, text, "", "", ""]
    forms = resp.forms_of(result)
    for form in forms:
        for f in form.fields():
            if f.personal:
                continue
            yield neutral_row([form.id, f.id, f.label, KIND_TEXT.get(f.kind, f.kind), "", ""])
            for o in f.options:
                yield neutral_row([form.id, f.id, f.label, "", o.value, o.label])
            if f.kind != "text":
                yield neutral_row([form.id, f.id, f.label, "", PENDING_TEXT, "người duyệt chưa quyết định"])


def write_codebook(result: TallyResult, out: TextIO, sep: str = ",") -> None:
    out.write(BOM)
    csv.writer(out, delimiter=sep, lineterminator="\r\n").writerows(codebook_rows(result))


def _index_row(part: str, form: str, code: str, text: str, ix: Index) -> list[str]:
    met = "" if ix.meets_target is None else ("đạt" if ix.meets_target else "chưa đạt")
    return [
        part,
        form,
        code,
        text,
        "",
        SATISFIED,
        str(ix.satisfied),
        "",
        str(ix.answered),
        _p(ix.value),
        _p(ix.previous),
        _p(ix.target),
        met,
    ]


def tally_rows(result: TallyResult) -> Iterator[list[str]]:
    yield TALLY_HEAD
    unit = result.unit_name
    sh = result.sheets

    def info(text: str, value: object, share: float | None = None) -> list[str]:
        return ["Tổng hợp", "", "", text, "", "", "" if value is None else str(value), _p(share), "", "", "", "", ""]

    yield info("Đơn vị", unit)
    yield info("Kỳ báo cáo", result.period.label)
    yield info("Số phiếu được tính", result.responses)
    yield info("Số phiếu còn câu đang chờ duyệt (các câu này chưa tính)", result.pending_responses)
    yield info("Số phiếu in trong kỳ", sh.printed)
    yield info("Số phiếu thu về trong kỳ / tỉ lệ thu về", sh.returned, sh.response_rate)
    yield info("Số phiếu thu về từ đầu năm / tỉ lệ so với chỉ tiêu năm", sh.year_returned, sh.quota_progress)
    yield info("Chỉ tiêu phiếu cả năm", sh.yearly_quota)
    for status, n in result.pages_by_status.items():
        yield info(page_status_line(status), n)
    yield _index_row("Chỉ số chung", "", "", unit, result.index)
    for u in result.units:
        yield _index_row("Chỉ số đơn vị", "", code_cell(u.code), u.name + (" (trực tiếp)" if u.own else ""), u.index)
    for f in result.forms:
        yield _index_row("Chỉ số mẫu phiếu", f.form_id, "", f.title, f.index)
        for e in f.elements:
            yield _index_row("Chỉ số yếu tố", f.form_id, ",".join(e.fields), e.element, e.index)
        for q in f.questions:
            if q.index is not None:
                yield _index_row("Chỉ số câu hỏi", f.form_id, q.field, q.label, q.index)
        for q in rollup.shown_questions(result, f):
            for o in q.options:
                yield [
                    "Câu hỏi",
                    f.form_id,
                    q.field,
                    q.label,
                    o.value,
                    o.label,
                    str(o.count),
                    _p(o.share),
                    "",
                    "",
                    "",
                    "",
                    "",
                ]
            for key, label, n in (
                ("", "Đã trả lời", q.answered),
                ("", "Để trống", q.blank),
                ("", "Đang chờ duyệt", q.pending),
            ):
                yield ["Câu hỏi", f.form_id, q.field, q.label, key, label, str(n), "", "", "", "", "", ""]
        for b in rollup.shown_breakdowns(result, f):
            for r in b.rows:
                row = _index_row(f"Theo: {b.label}", f.form_id, b.field, b.label, r.index)
                # a breakdown row counts the sheets giving this answer
                row[4], row[5], row[6] = r.value, r.label, str(r.responses)
                yield row
    for t in result.trend:
        row = _index_row("Xu hướng 12 tháng", "", t.period, t.label, t.index)
        row[5], row[6] = "Số phiếu", str(t.responses)
        yield row


def write_tally(result: TallyResult, out: TextIO, sep: str = ",") -> None:
    out.write(BOM)
    w = csv.writer(out, delimiter=sep, lineterminator="\r\n")
    for row in tally_rows(result):
        w.writerow(neutral_row(row))


def tally_path(path: Path) -> Path:
    """Where the tally goes beside the responses file: ``ket-qua.csv`` -> ``ket-qua-tong-hop.csv``."""
    return path.with_name(f"{path.stem}-tong-hop{path.suffix or '.csv'}")


def codebook_path(path: Path) -> Path:
    return path.with_name(f"{path.stem}-bang-ma{path.suffix or '.csv'}")


def export(session: Session, result: TallyResult, path: Path, sep: str = ",") -> list[Path]:
    """The three files: the responses at ``path``, the tally and the codebook beside it."""
    with path.open("w", encoding="utf-8", newline="") as f:
        write_responses(session, result, f, sep)
    second, third = tally_path(path), codebook_path(path)
    with second.open("w", encoding="utf-8", newline="") as f:
        write_tally(result, f, sep)
    with third.open("w", encoding="utf-8", newline="") as f:
        write_codebook(result, f, sep)
    return [path, second, third]
