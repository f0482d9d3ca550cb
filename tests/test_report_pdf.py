"""The PDF report in the form of Nghị định 30/2020/NĐ-CP, the sheet annex for iOffice, and every export
with hostile names.

Fixed data of ``test_tally.py`` (province P99, ward W1 with service point SP1, commune W2; November
2026). The PDFs are read back with pdftotext (poppler) and rendered to PNG with pdftoppm into
``test-output/`` for a person to look at.
"""

from __future__ import annotations

import csv
import io
import subprocess
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path

import openpyxl
import pikepdf
import pypdfium2 as pdfium
import pytest
from PIL import Image
from sqlalchemy import select

from db import session as dbs
from db.models import Page, Unit
from omr.cli import main
from omr.reports import EXPORTERS, csv_export, export, pdf_report, sheet_annex
from omr.reports.fmt import long_date, pct
from omr.reports.settings import load as load_settings
from omr.services import tally

OUT = Path(__file__).resolve().parent.parent / "test-output" / "report-pdf"
REPORT_DATE = date(2027, 1, 5)
HOSTILE = '<img src="/etc/passwd"/>Trạm <a href="http://evil.example/">x</a> & <font size=80>'
FORMULA = '=HYPERLINK("http://evil.example","bấm")'


def _text(pdf: bytes, path: Path, layout: bool = False) -> list[str]:
    """The text of each page, as poppler extracts it; ``layout``: columns side by side on one line."""
    path.write_bytes(pdf)
    args = ["pdftotext", *(["-layout"] if layout else []), str(path), "-"]
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout.split("\f")


def _render(path: Path) -> list[Path]:
    for old in path.parent.glob(path.stem + "-*.png"):
        old.unlink()
    run = subprocess.run(["pdftoppm", "-r", "60", "-png", str(path), str(path.with_suffix(""))], capture_output=True)
    assert run.returncode == 0 and not run.stderr, run.stderr
    return sorted(path.parent.glob(path.stem + "-*.png"))


def _pdf(unit: str, **kw) -> bytes:
    buf = io.BytesIO()
    with dbs.session() as s:
        res = tally.compute(s, "2026-11", unit)
        pdf_report.write_pdf(s, res, buf, report_date=kw.pop("report_date", REPORT_DATE), **kw)
    return buf.getvalue()


@pytest.fixture(scope="module")
def configured(tally_db: Path) -> Path:
    """W1 configured as a ward office would, through ``omr units set``."""
    OUT.mkdir(parents=True, exist_ok=True)
    args = ["units", "set", "W1", "--place", "Kiến Hưng", "--sign-as", "kt", "--signer-name", "Đặng Trần Đức"]
    args += ["--plan", "Thực hiện Kế hoạch số 125/KH-UBND ngày 02/7/2020 của UBND phường An Bình"]
    args += ["--recipient", "UBND quận Hà Đông;", "--recipient", "Phòng Nội vụ quận;", "--recipient", "Lưu: VT."]
    assert main(args) == 0
    return tally_db


# --------------------------------------------------------------------------- the official form


def test_date_line_pads_as_the_decree_says() -> None:
    assert long_date(date(2027, 1, 5)) == "ngày 05 tháng 01 năm 2027"
    assert long_date(date(2026, 2, 28)) == "ngày 28 tháng 02 năm 2026"
    assert long_date(date(2026, 5, 1)) == "ngày 01 tháng 5 năm 2026"
    assert long_date(date(2026, 12, 15)) == "ngày 15 tháng 12 năm 2026"


def test_settings_stored_per_unit_and_defaults_elsewhere(configured: Path) -> None:
    with dbs.session() as s:
        w1, w2, sp1 = load_settings(s, "W1"), load_settings(s, "W2"), load_settings(s, "SP1")
    assert w1.place == "Kiến Hưng" and w1.plan == "Kế hoạch số 125/KH-UBND ngày 02/7/2020 của UBND phường An Bình"
    assert w1.signature_lines() == ["TM. ỦY BAN NHÂN DÂN", "KT. CHỦ TỊCH", "PHÓ CHỦ TỊCH"]
    assert w1.recipient_lines() == ["UBND quận Hà Đông;", "Phòng Nội vụ quận;", "Lưu: VT."]
    assert w2.signature_lines() == ["TM. ỦY BAN NHÂN DÂN", "CHỦ TỊCH"] and w2.place == "Hòa Lạc"
    assert w2.recipient_lines() == ["UBND Thành phố Thử Nghiệm (để báo cáo);", "Lưu: VT."]
    # a service point writes the place of the ward it belongs to, never its own name
    assert sp1.place == "Kiến Hưng" and sp1.symbol == "BC"
    assert main(["units", "set", "W2", "--sign-as", "q", "--signer-name", "Mã Gia Hãnh"]) == 0
    with dbs.session() as s:
        assert load_settings(s, "W2").signature_lines() == ["TM. ỦY BAN NHÂN DÂN", "Q. CHỦ TỊCH"]
    assert main(["units", "set", "W2", "--sign-as", "tm", "--signer-name", ""]) == 0
    with dbs.session() as s:
        assert load_settings(s, "W2").signer_name is None


def test_pdf_has_every_official_element(configured: Path) -> None:
    path = OUT / "bao-cao-W1.pdf"
    pdf = _pdf("W1", number="15")
    pages, side_by_side = _text(pdf, path), _text(pdf, path, layout=True)
    first = pages[0]
    lines = [" ".join(line.split()) for line in side_by_side[0].splitlines()]
    # header: the unit at the left and the national motto at the right, on the same lines
    assert any("ỦY BAN NHÂN DÂN" in line and "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in line for line in lines)
    assert any("PHƯỜNG AN BÌNH" in line and "Độc lập - Tự do - Hạnh phúc" in line for line in lines)
    assert any("Số: 15/BC-UBND" in line and "Kiến Hưng, ngày 05 tháng 01 năm 2027" in line for line in lines)
    flat = " ".join(first.split())
    assert "BÁO CÁO Kết quả khảo sát mức độ hài lòng của người dân, tổ chức" in flat
    assert "tháng 11 năm 2026" in flat
    assert "Thực hiện Kế hoạch số 125/KH-UBND ngày 02/7/2020 của UBND phường An Bình, UBND phường An Bình" in flat
    # the headline a leader reads first
    with dbs.session() as s:
        res = tally.compute(s, "2026-11", "W1")
    # a ward: 420 a year; its school adds none (seed 002)
    assert pct(res.index.value) == "83,3 %" and res.sheets.yearly_quota == 420
    box = flat[flat.index("như sau:") : flat.index("I. KẾT QUẢ CHUNG")]  # between the citation and part I
    for text in ("CHỈ SỐ HÀI LÒNG CHUNG", "83,3 %", "MỤC TIÊU ≥ 90 %", "CHƯA ĐẠT", "SỐ PHIẾU",
                 f"{res.sheets.year_returned}/420", "THAY ĐỔI", "+58,3 điểm %"):  # fmt: skip
        assert text in box, text
    # the end: "Nơi nhận" beside the signature block, on the page of the last paragraph
    end = next(p for p in pages if "Nơi nhận:" in p)
    end_lines = [" ".join(line.split()) for line in next(p for p in side_by_side if "Nơi nhận:" in p).splitlines()]
    assert any(line.startswith("Nơi nhận:") and "TM. ỦY BAN NHÂN DÂN" in line for line in end_lines)
    for text in ("KT. CHỦ TỊCH", "PHÓ CHỦ TỊCH", "Đặng Trần Đức", "- UBND quận Hà Đông;", "- Lưu: VT."):
        assert text in end, text
    assert "Trên đây là báo cáo" in end
    assert "NGƯỜI LẬP BIỂU" not in "".join(pages)
    _render(path)


def test_pdf_uses_the_shipped_serif_at_13_pt(configured: Path) -> None:
    pdf = pdfium.PdfDocument(_pdf("W1"))
    try:
        fonts, sizes = set(), []
        page = pdf[0]
        for obj in page.get_objects():
            if obj.type == pdfium.raw.FPDF_PAGEOBJ_TEXT:
                buf = (pdfium.raw.c_char * 200)()
                n = pdfium.raw.FPDFFont_GetBaseFontName(pdfium.raw.FPDFTextObj_GetFont(obj.raw), buf, 200)
                fonts.add(bytes(buf[: n - 1]).decode().split("+")[-1])
                size = pdfium.raw.c_float()
                pdfium.raw.FPDFTextObj_GetFontSize(obj.raw, size)
                sizes.append(round(size.value, 1))
        assert {f for f in fonts if f.startswith("Tinos")} and not {f for f in fonts if f.startswith("Noto")}
        assert max(set(sizes), key=sizes.count) == 13.0  # the body
    finally:
        pdf.close()


def test_signature_never_alone_on_a_page(configured: Path) -> None:
    """Whatever the length of the body, the last paragraph travels with the signature."""
    for unit in ("W1", "W2", "P99", "SP1"):
        pages = _text(_pdf(unit), OUT / f"ky-{unit}.pdf")
        end = next(p for p in pages if "Nơi nhận:" in p)
        assert "Trên đây là báo cáo" in end, unit


def test_province_report_ranks_its_units_near_the_front(tally_db: Path) -> None:
    path = OUT / "bao-cao-P99.pdf"
    pages = _text(_pdf("P99"), path)
    whole = " ".join(" ".join(pages).split())
    assert "UBND thành phố Thử Nghiệm" in whole
    ranked = whole.index("KẾT QUẢ THEO ĐƠN VỊ (XẾP THEO CHỈ SỐ HÀI LÒNG)")
    assert ranked < whole.index("CHỈ SỐ HÀI LÒNG THEO YẾU TỐ")
    with dbs.session() as s:
        res = tally.compute(s, "2026-11", "P99")
    order = sorted(res.units, key=lambda u: -(u.index.value or 0))
    at = [whole.index(u.name, ranked) for u in order]
    assert at == sorted(at)  # best first
    assert "Đơn vị chưa đạt mục tiêu 90 %" in whole and "Phường An Bình (83,3 %)" in whole
    assert "Quầy 1" not in whole  # each ward's counters are its own: never pooled
    _render(path)


def test_a_single_units_report_keeps_its_counters(tally_db: Path) -> None:
    whole = " ".join(" ".join(_text(_pdf("W2"), OUT / "bao-cao-W2.pdf")).split())
    assert "Quầy 1" in whole and "KẾT QUẢ THEO ĐƠN VỊ" not in whole


def test_comment_annex_holds_every_comment(tally_db: Path) -> None:
    pages = _text(_pdf("P99"), OUT / "phu-luc-P99.pdf")
    annex = " ".join(" ".join(p for p in pages if "PHỤ LỤC" in p or "Phiếu số" in p).split())
    with dbs.session() as s:
        n = tally.count_comments(s, "2026-11", "P99")
    assert n == 2 and f"({n} ý kiến)" in annex
    assert "1. Phiếu số S1" in annex and "2. Phiếu số S7" in annex
    assert "trang Kết quả của ứng dụng" not in annex


# --------------------------------------------------------------------------- the sheet annex


@pytest.fixture(scope="module")
def page_images(tally_db: Path) -> list[str]:
    """Images at the counted pages' paths: JPEG, grey PNG, black-and-white PNG, and one left missing."""
    with dbs.session() as s:
        res = tally.compute(s, "2026-11", "P99")
        pages = list(sheet_annex.sheet_pages(s, res))
    kinds = ["jpg", "png-grey", "png-bw", "missing"]
    for i, p in enumerate(pages):
        kind = kinds[i % len(kinds)]
        if kind == "missing":
            continue
        im = Image.new("L", (620, 877), 255)
        im.paste(0, (40 + i * 10, 40, 200 + i * 10, 90))
        path = tally_db / p.image_path
        path.parent.mkdir(parents=True, exist_ok=True)
        if kind == "jpg":
            im.save(path, "JPEG")
        elif kind == "png-grey":
            im.save(path, "PNG")
        else:
            im.convert("1").save(path, "PNG")
    return [p.image_path for p in pages]


def test_sheet_annex_pdf_has_a_cover_and_one_page_per_sheet_page(tally_db: Path, page_images: list[str]) -> None:
    path = OUT / "phieu-P99.pdf"
    with dbs.session() as s:
        written = export(s, "2026-11", "P99", None, "sheets-pdf", path, report_date=REPORT_DATE)
        res = tally.compute(s, "2026-11", "P99")
        counted = s.execute(tally.counted_pages("2026-11", "P99").order_by(None)).all()
    assert written == [path]
    pdf = pdfium.PdfDocument(path.read_bytes())
    try:
        assert len(pdf) == 1 + len(counted) == 1 + len(page_images)
        cover = pdf[0].get_textpage().get_text_range()
        kind = pdfium.raw.FPDF_PAGEOBJ_IMAGE
        images = [sum(o.type == kind for o in pdf[i].get_objects()) for i in range(1, len(pdf))]
        assert images == [1] * len(counted)
        # the first sheet page is the JPEG: its black bar is where it was drawn
        bitmap = pdf[1].render(scale=0.5).to_pil().convert("L")
        assert bitmap.getextrema()[0] < 60
    finally:
        pdf.close()
    flat = " ".join(cover.split())
    assert "PHỤ LỤC" in flat and "Phiếu khảo sát đã quét, tháng 11 năm 2026" in flat
    assert f"gồm {res.responses} phiếu khảo sát ({len(counted)} trang)" in flat
    assert "Phường An Bình" in flat and "Xã Hòa Lạc" in flat
    # poppler reads the incremental update without a complaint, and qpdf (pikepdf) too
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True)
    assert f"Pages:           {1 + len(counted)}" in info.stdout and not info.stderr
    with pikepdf.open(path) as again:
        assert len(again.pages) == 1 + len(counted)
    rendered = _render(path)
    assert len(rendered) == 1 + len(counted)


def test_sheet_annex_zip_lists_the_images_in_sheet_order(tally_db: Path, page_images: list[str]) -> None:
    path = OUT / "phieu-P99.zip"
    with dbs.session() as s:
        export(s, "2026-11", "P99", None, "sheets-zip", path)
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        assert names[0] == sheet_annex.COVER_NAME and names[-1] == sheet_annex.LIST_NAME
        listing = list(csv.DictReader(io.StringIO(z.read(sheet_annex.LIST_NAME).decode("utf-8-sig"))))
        images = names[1:-1]
        assert len(listing) == len(page_images)
        assert len(images) == len([p for i, p in enumerate(page_images) if i % 4 != 3])  # the missing one is named
        assert [r["Tệp"] for r in listing if r["Tệp"]] == images == sorted(images)
        assert all(r["Ghi chú"] == "không tìm thấy ảnh đã lưu" for r in listing if not r["Tệp"])
        assert z.read(images[0])[:3] == b"\xff\xd8\xff"


# --------------------------------------------------------------------------- hostile names in every export


@pytest.fixture
def hostile(tally_db: Path):
    with dbs.transaction() as s:
        unit = s.get(Unit, "W2")
        old = unit.name
        unit.name = HOSTILE
        s.get(Unit, "SP1").name = FORMULA
    signer = "<b>Ng</b>uyễn <img src='x.png'/>"
    assert main(["units", "set", "W2", "--signer-name", signer, "--recipient", FORMULA]) == 0
    yield
    with dbs.transaction() as s:
        s.get(Unit, "W2").name = old
        s.get(Unit, "SP1").name = "Điểm phục vụ Chợ Mới"


@pytest.mark.parametrize("fmt", list(EXPORTERS))
@pytest.mark.parametrize("unit", ["W2", "P99"])
def test_hostile_names_do_not_break_any_export(hostile, tmp_path: Path, fmt: str, unit: str) -> None:
    out = tmp_path / f"x{EXPORTERS[fmt].suffix}"
    with dbs.session() as s:
        written = export(s, "2026-11", unit, None, fmt, out, report_date=REPORT_DATE)
    assert all(p.stat().st_size > 0 for p in written)
    if fmt == "pdf":
        text = " ".join(" ".join(_text(out.read_bytes(), tmp_path / "t.pdf")).split())
        assert '<img src="/etc/passwd"/>Trạm <a href="http://evil.example/">x</a> &' in text
        if unit == "W2":
            assert "<b>Ng</b>uyễn <img src='x.png'/>" in text and '- =HYPERLINK("http://evil.example"' in text
    if fmt == "csv":
        for p in written:
            for row in csv.reader(io.StringIO(p.read_text(encoding="utf-8-sig"))):
                assert not any(c.startswith(("=", "+", "-", "@", "\t", "\r")) and not c.startswith('="') for c in row)
                assert not any(c.startswith('="') and not c[2:-1].isdigit() for c in row)
        names = {r["Đơn vị"] for r in csv.DictReader(io.StringIO(written[0].read_text(encoding="utf-8-sig")))}
        assert HOSTILE in names
        if unit == "P99":
            assert "'" + FORMULA in names
    if fmt == "xlsx":
        wb = openpyxl.load_workbook(out)
        cells = [c for ws in wb for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
        assert not [c for c in cells if c.data_type == "f"]  # not one formula
        if unit == "P99":
            assert any(c.value == FORMULA for c in cells)


def test_reportlab_opens_no_path_for_a_hostile_unit(hostile, tmp_path: Path, monkeypatch) -> None:
    """A unit named ``<img src=…/>`` must not make reportlab read the file it names."""
    import reportlab.lib.utils as rl_utils

    opened: list[str] = []
    real = rl_utils.open_for_read

    def spy(name, mode="b"):
        opened.append(str(name))
        return real(name, mode)

    monkeypatch.setattr(rl_utils, "open_for_read", spy)
    _pdf("W2")
    assert not [n for n in opened if "passwd" in n or "evil" in n or n.endswith("x.png")]


def test_csv_codes_stay_text_and_semicolon_option(tally_db: Path, tmp_path: Path) -> None:
    with dbs.transaction() as s:
        for p in s.scalars(select(Page).where(Page.serial == "S7")):
            p.serial = "000777"
    try:
        out = tmp_path / "k.csv"
        assert main(["export", "--period", "2026-11", "--unit", "W2", "--format", "csv", "--csv-sep", ";",
                     "--out", str(out)]) == 0  # fmt: skip
        text = out.read_text(encoding="utf-8-sig")
        rows = list(csv.reader(io.StringIO(text), delimiter=";"))
        head = rows[0]
        by = {r[head.index("Mã phiếu")]: r for r in rows[1:]}
        assert '="000777"' in by and by['="000777"'][head.index("Mã đơn vị")] == "W2"
        book = list(csv.DictReader(io.StringIO(csv_export.codebook_path(out).read_text(encoding="utf-8-sig")),
                                   delimiter=";"))  # fmt: skip
        labels = {(r["Mã câu"], r["Giá trị"]): r["Nhãn"] for r in book}
        assert labels[("q_result", "5")] == "Rất hài lòng" and labels[("q_area", "1")] == "Tài nguyên và Môi trường"
        assert any(r["Mã câu"] == "q_area" and "nhiều lựa chọn" in r["Loại"] for r in book)
    finally:
        with dbs.transaction() as s:
            for p in s.scalars(select(Page).where(Page.serial == "000777")):
                p.serial = "S7"


def test_xlsx_reads_well(tally_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "k.xlsx"
    with dbs.session() as s:
        export(s, "2026-11", "P99", None, "xlsx", out)
    wb = openpyxl.load_workbook(out)
    assert all(len(name) <= 31 and not name.startswith(("kien-", "hn-")) for name in wb.sheetnames)
    for ws in wb:
        used = {c.column_letter for row in ws.iter_rows() for c in row if c.value is not None}
        widths = {k for k, d in ws.column_dimensions.items() if d.width}
        assert used <= widths, (ws.title, used - widths)
    for name in ("Phiếu", "Bảng mã", "Xếp hạng đơn vị"):
        ws = wb[name]
        assert ws.freeze_panes in ("A2", "C2") and ws.auto_filter.ref and ws.auto_filter.ref.startswith("A1:")
        head = [c.value for c in ws[1]]
        assert len(head) == len(set(head)), head  # no header twice
        columns = list(ws.iter_cols(min_row=2, values_only=True))
        assert all(any(v not in (None, "") for v in col) for col in columns[:6]), name  # no empty column
    raw = wb["Phiếu"]
    assert raw["A2"].data_type == "s" and raw["A2"].number_format == "@" and raw["B2"].number_format == "@"
    summary = [[c.value for c in row] for row in wb["Tổng hợp"].iter_rows()]
    for row in summary:
        cells = [v for v in row if isinstance(v, str)]
        assert len(cells) == len(set(cells)), row


def test_comment_annex_is_not_cut_at_forty(tally_db: Path) -> None:
    """The annex once stopped at 40 comments and sent the reader to the web application."""
    from db.models import TextArea

    with dbs.transaction() as s:
        crop = s.scalars(select(TextArea.image_path).where(TextArea.written.is_(True))).first()
        for i in range(45):
            page = Page(source="them.pdf", source_page=i + 1, sha256=f"extra{i:059d}", image_path=f"pages/x{i}.png",
                        status="accepted", serial=f"C{i:02d}", sheet_page=1, form_id="kien-hung-2020", form_version=1,
                        variant="c6p0", unit_code="W2", created_at=datetime(2026, 11, 20, 3, tzinfo=UTC))  # fmt: skip
            s.add(page)
            s.flush()
            s.add(TextArea(page_id=page.id, field="y_kien_khac", written=True, ink=0.1, image_path=crop))
    try:
        pages = _text(_pdf("W2"), OUT / "phu-luc-W2.pdf")
        annex = " ".join(" ".join(pages[pages.index(next(p for p in pages if "PHỤ LỤC" in p)) :]).split())
        assert "(46 ý kiến)" in annex
        assert all(f"Phiếu số C{i:02d}" in annex for i in range(45))
        assert "ý kiến khác" not in annex and "ứng dụng" not in annex
    finally:
        with dbs.transaction() as s:
            extra = list(s.scalars(select(Page).where(Page.source == "them.pdf")))
            for t in s.scalars(select(TextArea).where(TextArea.page_id.in_([p.id for p in extra]))):
                s.delete(t)
            s.flush()
            for p in extra:
                s.delete(p)
