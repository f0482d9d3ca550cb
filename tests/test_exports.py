"""Exports opened again and compared with the tally: CSV parsed, XLSX read, PDF text extracted.

Same fixed data as ``test_tally.py`` (see its docstring): province P99, November 2026.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import openpyxl
import pypdfium2 as pdfium
import pytest
from test_tally import FORM, SIPAS

from db import session as dbs
from omr.reports import FORMATS, charts, csv_export, export, pdf_report, xlsx_export
from omr.reports.fmt import num, pct
from omr.services import tally

REPORT_DATE = date(2026, 12, 5)


@pytest.fixture(scope="module")
def result(tally_db: Path) -> tally.TallyResult:
    with dbs.session() as s:
        return tally.compute(s, "2026-11", "P99")


@pytest.fixture(scope="module")
def pdf_text(tally_db: Path, result: tally.TallyResult) -> list[str]:
    buf = io.BytesIO()
    with dbs.session() as s:
        pdf_report.write_pdf(s, result, buf, report_date=REPORT_DATE)
    pdf = pdfium.PdfDocument(buf.getvalue())
    try:
        pages = []
        for page in pdf:
            tp = page.get_textpage()
            pages.append(tp.get_text_range())
        return pages
    finally:
        pdf.close()


def _q(result: tally.TallyResult, field: str) -> tally.QuestionTally:
    return next(q for q in result.form(FORM).questions if q.field == field)


# --------------------------------------------------------------------------- CSV


def test_csv_responses_one_row_per_sheet_with_bom(tally_db: Path, result: tally.TallyResult, tmp_path: Path) -> None:
    with dbs.session() as s:
        paths = export(s, "2026-11", "P99", None, "csv", tmp_path / "ket-qua.csv", result=result)
    assert [p.name for p in paths] == ["ket-qua.csv", "ket-qua-tong-hop.csv", "ket-qua-bang-ma.csv"]
    raw = paths[0].read_bytes()
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert len(rows) == result.responses == 9
    by = {r["Mã phiếu"]: r for r in rows}
    assert set(by) == {f"S{i}" for i in range(1, 10)}
    assert by["S3"]["q_result"] == "3"  # the reviewer's value, not the machine's 5
    assert by["S5"]["q_result"] == "đang chờ duyệt" and by["S5"]["Trạng thái"] == "còn câu đang chờ duyệt"
    assert by["S4"]["q_result"] == "" and by["S2"]["q_area"] == "1|2"  # "1,2" is a number to Excel in Vietnamese
    assert by["S9"]["Đơn vị"] == "Điểm phục vụ Chợ Mới" and by["S7"]["Đơn vị"] == "Xã Hòa Lạc"
    assert by["S6"]["Ngày quét"] == "2026-11-01"  # 31/10 18:00 UTC is 1 November in Vietnam
    assert by["S1"]["y_kien_khac"] == "có ý kiến viết tay" and by["S2"]["y_kien_khac"] == ""
    assert "ho_ten" not in rows[0]  # personal data never leaves as a column
    # the same numbers as the tally
    for q in ("q_result", "q_staff", "q_counter"):
        for o in _q(result, q).options:
            assert sum(r[q] == o.value for r in rows) == o.count, (q, o.value)
    area = _q(result, "q_area")
    for o in area.options:
        assert sum(o.value in r["q_area"].split("|") for r in rows if r["q_area"]) == o.count


def test_csv_tally_matches_result(tally_db: Path, result: tally.TallyResult, tmp_path: Path) -> None:
    out = io.StringIO()
    csv_export.write_tally(result, out)
    text = out.getvalue()
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text[1:])))
    overall = next(r for r in rows if r["Phần"] == "Chỉ số chung")
    assert overall["Nội dung"] == "Thành phố Thử Nghiệm"
    assert overall["Chỉ số hài lòng (%)"] == "81.3"
    assert (
        overall["Số câu trả lời"] == "16"
        and overall["Kỳ trước (%)"] == "25.0"
        and overall["Đạt mục tiêu"] == "chưa đạt"
    )
    options = {(r["Mã câu"], r["Giá trị"]): r for r in rows if r["Phần"] == "Câu hỏi" and r["Giá trị"]}
    assert options[("q_result", "5")]["Số lượng"] == "3" and options[("q_result", "5")]["Lựa chọn"] == "Rất hài lòng"
    assert options[("q_result", "5")]["Tỉ lệ (%)"] == "42.9"
    pending = next(r for r in rows if r["Mã câu"] == "q_result" and r["Lựa chọn"] == "Đang chờ duyệt")
    assert pending["Số lượng"] == "1"
    units = {r["Mã câu"]: r for r in rows if r["Phần"] == "Chỉ số đơn vị"}
    assert units["W1"]["Chỉ số hài lòng (%)"] == "83.3" and units["W1"]["Số câu trả lời"] == "12"
    area = {r["Giá trị"]: r for r in rows if r["Phần"].startswith("Theo: Lĩnh vực")}
    assert area["1"]["Chỉ số hài lòng (%)"] == "77.8" and area["1"]["Số lượng"] == "5"
    trend = {r["Mã câu"]: r for r in rows if r["Phần"] == "Xu hướng 12 tháng"}
    assert len(trend) == 12 and trend["2026-10"]["Chỉ số hài lòng (%)"] == "25.0"


def test_csv_merges_the_pages_of_a_two_page_sheet(tally_db: Path, tmp_path: Path) -> None:
    with dbs.session() as s:
        export(s, "2025-06", "W2", SIPAS, "csv", tmp_path / "sipas.csv")
    rows = list(csv.DictReader(io.StringIO((tmp_path / "sipas.csv").read_text(encoding="utf-8-sig"))))
    by = {r["Mã phiếu"]: r for r in rows}
    assert set(by) == {"T1", "T2", "T3"}
    assert (by["T1"]["tc_1"], by["T1"]["kq_1"]) == ("4", "4")
    assert (by["T2"]["tc_1"], by["T2"]["kq_1"]) == ("2", "")
    assert (by["T3"]["tc_1"], by["T3"]["kq_1"]) == ("", "5")


# --------------------------------------------------------------------------- XLSX


def test_xlsx_sheets_tables_and_raw_responses(tally_db: Path, result: tally.TallyResult, tmp_path: Path) -> None:
    path = io.BytesIO()  # the web application writes to a file-like object
    with dbs.session() as s:
        assert xlsx_export.write_xlsx(s, result, path) == 9
    path.seek(0)
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["Tổng hợp", "Xếp hạng đơn vị", "Sự phục vụ tại Bộ phận Một cửa", "Phiếu", "Bảng mã"]
    summary = [list(r) for r in wb["Tổng hợp"].iter_rows(values_only=True)]
    assert summary[1][:2] == ["Đơn vị", "Thành phố Thử Nghiệm"]
    chung = next(r for r in summary if r and r[0] == "Chung")
    assert chung[1] == pytest.approx(result.index.value) and chung[2] == 16 and chung[4] == pytest.approx(0.25)
    units = {r[1]: r for r in summary if r and r[1] in ("W1", "W2")}
    assert units["W1"][2] == 7 and units["W1"][3] == pytest.approx(10 / 12) and units["W2"][8] == 300
    assert units["W1"][5] == pytest.approx(1 / 4) and units["W2"][5] is None

    form_ws = wb["Sự phục vụ tại Bộ phận Một cửa"]
    form = [list(r) for r in form_ws.iter_rows(values_only=True)]
    whole = next(r for r in form if r and r[0] == "Chỉ số chung của mẫu phiếu")
    assert whole[1] == pytest.approx(13 / 16) and whole[2] == 16 and whole[3] == 13
    at = next(i for i, r in enumerate(form) if r and str(r[0]).startswith("q_result."))
    table = {r[0]: r for r in form[at + 2 : at + 11] if r and r[0]}
    assert table["Rất hài lòng"][1] == 3 and table["Rất hài lòng"][2] == pytest.approx(3 / 7)
    assert table["Để trống"][1] == 1 and table["Đang chờ duyệt (chưa tính)"][1] == 1
    assert form_ws.cell(at + 3, 3).number_format == "0.0%"

    raw = [list(r) for r in wb["Phiếu"].iter_rows(values_only=True)]
    head, body = raw[0], raw[1:]
    assert len(body) == 9
    col = head.index(next(f for f in head if f and f.startswith("Mức độ hài lòng của Ông/Bà về kết quả")))
    by = {r[0]: r for r in body}
    assert by["S3"][col] == "Bình thường" and by["S5"][col] == "đang chờ duyệt" and by["S1"][col] == "Rất hài lòng"
    area = head.index("Lĩnh vực của thủ tục hành chính Ông/Bà thực hiện")
    assert by["S2"][area] == "Tài nguyên và Môi trường; Tư pháp - Hộ tịch"


# --------------------------------------------------------------------------- PDF


def test_pdf_is_an_official_report(pdf_text: list[str]) -> None:
    first = pdf_text[0]
    for text in (
        "ỦY BAN NHÂN DÂN",
        "THÀNH PHỐ THỬ NGHIỆM",
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập - Tự do - Hạnh phúc",
        "Thử Nghiệm, ngày 05 tháng 12 năm 2026",
        "BÁO CÁO",
        "Kết quả khảo sát mức độ hài lòng của người dân, tổ chức",
        "tháng 11 năm 2026",
    ):
        assert text in first, text
    whole = "\n".join(pdf_text)
    assert "Nơi nhận:" in whole and "TM. ỦY BAN NHÂN DÂN" in whole and "CHỦ TỊCH" in whole
    assert "PHỤ LỤC" in pdf_text[-1] and "Phiếu số S1" in pdf_text[-1] and "Phiếu số S7" in pdf_text[-1]
    assert "Nguyễn Văn A" not in whole  # a name written on the sheet is never printed


def test_pdf_numbers_match_the_tally(pdf_text: list[str], result: tally.TallyResult) -> None:
    whole = " ".join(" ".join(pdf_text).split())  # one line: table cells wrap
    assert f"là {pct(result.index.value)}" in whole and pct(result.index.value) == "81,3 %"
    for e in result.form(FORM).elements:
        assert pct(e.index.value) in whole
    assert "đang chờ duyệt" in whole
    assert f"Chỉ số hài lòng chung đạt {pct(result.index.value)}, chưa đạt mục tiêu 90 %" in whole
    for o in _q(result, "q_area").options:
        assert f"{o.label} {num(o.count)} {pct(o.share)}" in whole, o.label
    # counters are each ward's own: a province's report never pools "Quầy 1" of different wards
    assert "Quầy 1" not in whole and "QUẦY" not in whole.replace("LĨNH VỰC VÀ QUẦY GIAO DỊCH", "")
    for b in result.form(FORM).breakdowns:
        if b.field == "q_counter":
            continue
        for r in b.rows:
            assert f"{r.label} {num(r.responses)} {num(r.index.answered)} {pct(r.index.value)}" in whole
    for u in result.units:
        assert f"{u.name} {num(u.responses)} {pct(u.index.value)}" in whole
    sh = result.sheets
    assert f"{num(sh.printed)} {num(sh.returned)} {pct(sh.response_rate)} {num(sh.year_returned)}" in whole


def test_pdf_has_charts_and_comment_images(tally_db: Path, result: tally.TallyResult) -> None:
    buf = io.BytesIO()
    with dbs.session() as s:
        pdf_report.write_pdf(s, result, buf, report_date=REPORT_DATE)
    pdf = pdfium.PdfDocument(buf.getvalue())
    try:
        images = [sum(1 for obj in page.get_objects() if obj.type == pdfium.raw.FPDF_PAGEOBJ_IMAGE) for page in pdf]
        assert sum(images[:-1]) >= 2  # the index chart and the trend chart
        assert images[-1] == 2  # the two handwritten comments
        bitmap = pdf[0].render(scale=0.5).to_pil().convert("L")
        assert bitmap.getextrema()[0] < 50  # text was drawn
    finally:
        pdf.close()


def test_pdf_for_a_period_without_data(tally_db: Path) -> None:
    buf = io.BytesIO()
    with dbs.session() as s:
        res = tally.compute(s, "2024-03", "W1")
        pdf_report.write_pdf(s, res, buf, report_date=REPORT_DATE)
    pdf = pdfium.PdfDocument(buf.getvalue())
    text = " ".join(p.get_textpage().get_text_range() for p in pdf)
    pdf.close()
    assert "PHƯỜNG AN BÌNH" in text and "Trong kỳ không có ý kiến viết tay" in text


# --------------------------------------------------------------------------- charts and the command


def test_charts_are_png(result: tally.TallyResult) -> None:
    for png in (charts.index_chart_png(result), charts.trend_chart_png(result), charts.trend_chart_png(result.trend)):
        assert png.startswith(b"\x89PNG") and len(png) > 5000
    bars = charts.index_bars(result, FORM)
    assert bars[-1] == ("Chỉ số chung", result.form(FORM).index.value, 16)


def test_omr_export_command(tally_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from omr.cli import main

    for fmt in FORMATS:
        out = tmp_path / f"bao-cao.{fmt}"
        assert main(["export", "--period", "2026-11", "--unit", "W1", "--format", fmt, "--out", str(out)]) == 0
        assert out.stat().st_size > 0
    assert (tmp_path / "bao-cao-tong-hop.csv").is_file() and (tmp_path / "bao-cao-bang-ma.csv").is_file()
    capsys.readouterr()
    assert main(["export", "--period", "2026-13", "--unit", "W1", "--format", "pdf", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Kỳ báo cáo không hợp lệ" in err
    assert main(["export", "--period", "2026-11", "--unit", "NOPE", "--format", "csv", "--out", str(out)]) == 2
    assert "Không có đơn vị mã 'NOPE'" in capsys.readouterr().err
    assert main(["export", "--period", "2026", "--format", "xlsx", "--target", "80", "--out", str(out)]) == 0
