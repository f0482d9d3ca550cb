"""The period's scanned sheets as they go into iOffice with the report (seed 002: "gửi báo cáo kèm phiếu
khảo sát qua hệ thống quản lý văn bản iOffice … không nhận bản giấy"): one PDF with a cover listing the
counts and then one page per scanned sheet page, or a ZIP of the page images with the same cover and a
list of the files.

The sheets are the ones the tally counted (``omr.services.tally.counted_pages``), in sheet order: unit, serial,
sheet page. A province's year is 50,000 page images or more, so neither export holds them: the PDF is
written as an incremental update of the cover (reportlab draws the cover; every page image is then
appended as an image object, a content stream and a page, straight to the output), and only the
objects' offsets stay in memory. JPEG images go in as they are (DCTDecode); PNG images keep their
compressed data too (FlateDecode with the PNG predictor); any other image is decoded and packed once.
"""

from __future__ import annotations

import csv
import io
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import BinaryIO

from PIL import Image as PILImage
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import Page, Unit
from omr import config
from omr.reports.fmt import markup, num
from omr.services import tally
from omr.services.tally import TallyResult
from omr.vocab import VN_TZ

A4_W, A4_H = 595.2756, 841.8898  # points
LIST_NAME = "danh-sach-phieu.csv"
COVER_NAME = "00-bia.pdf"


@dataclass
class SheetPage:
    number: int  # 1-based position in the annex
    unit_code: str
    serial: str
    sheet_page: int
    form_id: str
    scanned: date | None
    image_path: str  # relative to OMR_HOME


@dataclass
class UnitCount:
    code: str
    name: str
    sheets: int
    pages: int


def _scope(result: TallyResult):
    pages = tally.counted_pages(result.period.code, result.unit.code if result.unit else None, result.form_id)
    return pages.subquery()


def unit_counts(session: Session, result: TallyResult) -> list[UnitCount]:
    """Sheets and pages per unit, in the order the pages follow."""
    sq = _scope(result)
    rows = session.execute(
        select(sq.c.unit_code, func.count(func.distinct(sq.c.serial)), func.count())
        .group_by(sq.c.unit_code)
        .order_by(sq.c.unit_code)
    ).all()
    names = dict(session.execute(select(Unit.code, Unit.name).where(Unit.code.in_([r[0] for r in rows]))).all())
    return [UnitCount(code, names.get(code, code), sheets, pages) for code, sheets, pages in rows]


def sheet_pages(session: Session, result: TallyResult) -> Iterator[SheetPage]:
    """Every counted page of the period, in sheet order, read in batches."""
    sq = _scope(result)
    stmt = (
        select(sq.c.unit_code, sq.c.serial, sq.c.sheet_page, sq.c.form_id, sq.c.created_at, Page.image_path)
        .select_from(sq.join(Page, Page.id == sq.c.id))
        .order_by(sq.c.unit_code, sq.c.serial, sq.c.sheet_page, sq.c.id)
    )
    for n, (unit, serial, sp, fid, created, path) in enumerate(session.execute(stmt).yield_per(2000), 1):
        yield SheetPage(n, unit, serial or "", sp or 1, fid or "", tally.local_date(created), path)


# --------------------------------------------------------------------------- the cover


def cover_pdf(session: Session, result: TallyResult, counts: list[UnitCount], report_date: date | None = None) -> bytes:
    """The cover: what the annex is, of which report, and how many sheets and pages of each unit, with
    the page of the file where each unit begins (the cover of a province runs to several pages: it is
    laid out once to know how many)."""
    import pikepdf

    first = 2
    while True:
        pdf = _cover(session, result, counts, report_date, first)
        with pikepdf.open(io.BytesIO(pdf)) as doc:
            pages = len(doc.pages)
        if pages + 1 == first:
            return pdf
        first = pages + 1


def _cover(
    session: Session, result: TallyResult, counts: list[UnitCount], report_date: date | None, first: int
) -> bytes:
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, Spacer

    from omr.reports import pdf_report

    s = pdf_report._Styles()
    cfg = pdf_report.report_settings.load(session, result.unit.code if result.unit else None)
    day = report_date or datetime.now(VN_TZ).date()
    sheets, pages = sum(c.sheets for c in counts), sum(c.pages for c in counts)
    story = [
        Paragraph("PHỤ LỤC", s.title),
        Paragraph(f"Phiếu khảo sát đã quét, {markup(result.period.label)}", s.subject),
        Paragraph(
            f"(Kèm theo Báo cáo số{'&nbsp;' * 8}/{markup(cfg.symbol)} ngày {day:%d/%m/%Y} "
            f"của {markup(pdf_report.subject_name(result))})",
            s.italic_c,
        ),
        Spacer(1, 6 * mm),
        Paragraph(
            f"Tệp này gồm <b>{num(sheets)}</b> phiếu khảo sát (<b>{num(pages)}</b> trang) mà báo cáo đã tính, mỗi "
            "trang phiếu là một trang của tệp, xếp theo đơn vị, số phiếu và trang; các câu trả lời của phiếu là "
            "số liệu của báo cáo.",
            s.body,
        ),
    ]
    rows: list[list] = [["STT", "Đơn vị", "Mã", "Số phiếu", "Số trang", "Trang trong tệp"]]
    for i, c in enumerate(counts, 1):
        rows.append([str(i), markup(c.name), markup(c.code), num(c.sheets), num(c.pages), f"từ {num(first)}"])
        first += c.pages
    rows.append(["", "<b>Cộng</b>", "", f"<b>{num(sheets)}</b>", f"<b>{num(pages)}</b>", ""])
    w = pdf_report.WIDTH
    story.append(pdf_report._table(rows, [12 * mm, w - 12 * mm - 5 * 22 * mm, *([22 * mm] * 4)], s))
    buf = io.BytesIO()
    title = f"Phiếu khảo sát đã quét {result.period.label} - {result.unit_name}"
    pdf_report.document(buf, title, result.unit_name).build(story)
    return buf.getvalue()


# --------------------------------------------------------------------------- page images as PDF objects


@dataclass
class _Img:
    width: int
    height: int
    dict_: str  # the image dictionary's entries, without /Length
    data: bytes


def _png_passthrough(data: bytes) -> _Img | None:
    """A PNG's own compressed data, when PDF can read it as it is: grey or RGB, not interlaced."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    pos, idat, head = 8, [], None
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            head = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + length
    if head is None or not idat:
        return None
    w, h, depth, colour, _comp, _filt, interlace = head
    if interlace or colour not in (0, 2) or (colour == 2 and depth != 8):
        return None
    colors = 1 if colour == 0 else 3
    space = "/DeviceGray" if colour == 0 else "/DeviceRGB"
    entries = (
        f"/Width {w} /Height {h} /ColorSpace {space} /BitsPerComponent {depth} /Filter /FlateDecode "
        f"/DecodeParms << /Predictor 15 /Colors {colors} /BitsPerComponent {depth} /Columns {w} >>"
    )
    return _Img(w, h, entries, b"".join(idat))


def _image(data: bytes) -> _Img:
    """The page image as a PDF image object; raises OSError/ValueError for an unreadable image."""
    im: PILImage.Image  # as opened, then as converted
    if data[:3] == b"\xff\xd8\xff":
        with PILImage.open(io.BytesIO(data)) as im:
            if im.mode in ("L", "RGB"):
                space = "/DeviceGray" if im.mode == "L" else "/DeviceRGB"
                w, h = im.size
                return _Img(
                    w, h, f"/Width {w} /Height {h} /ColorSpace {space} /BitsPerComponent 8 /Filter /DCTDecode", data
                )
    if (png := _png_passthrough(data)) is not None:
        return png
    with PILImage.open(io.BytesIO(data)) as im:
        im.load()
        if im.mode != "1":
            im = im.convert("L" if im.mode in ("L", "LA", "I", "I;16", "P") else "RGB")
        w, h = im.size
        space, bits = ("/DeviceRGB", 8) if im.mode == "RGB" else ("/DeviceGray", 1 if im.mode == "1" else 8)
        raw = zlib.compress(im.tobytes(), 6)
    return _Img(w, h, f"/Width {w} /Height {h} /ColorSpace {space} /BitsPerComponent {bits} /Filter /FlateDecode", raw)


def _placeholder(page: SheetPage, reason: str) -> _Img:
    """A page saying which sheet page could not be read, so the annex keeps one page per sheet page."""
    from PIL import ImageDraw, ImageFont

    from omr.sheet.fonts import FONT_DIR

    im = PILImage.new("L", (1240, 1754), 255)
    draw = ImageDraw.Draw(im)
    font = ImageFont.truetype(str(FONT_DIR / "Tinos-Regular.ttf"), 36)
    lines = [f"Phiếu số {page.serial}, trang {page.sheet_page}, đơn vị {page.unit_code}", reason]
    for i, line in enumerate(lines):
        draw.text((120, 600 + 60 * i), line[:70], fill=0, font=font)
    draw.rectangle((80, 80, 1160, 1674), outline=0, width=3)
    return _image(_encode_png(im))


def _encode_png(im: PILImage.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


class _Appender:
    """Appends pages to a finished PDF as an incremental update, writing each object as it comes."""

    def __init__(self, out: BinaryIO, base: bytes):
        import pikepdf

        with pikepdf.open(io.BytesIO(base)) as pdf:
            self.pages_num = pdf.Root.Pages.objgen[0]
            self.kids = [p.obj.objgen[0] for p in pdf.pages]
            self.root = pdf.trailer.Root.objgen[0]
            self.info = pdf.trailer.Info.objgen[0] if "/Info" in pdf.trailer else None
            self.next = int(pdf.trailer.Size)
            ids = pdf.trailer.get("/ID")
            self.ids = [bytes(i) for i in ids] if ids is not None else None
        self.prev_xref = int(re.findall(rb"startxref\s+(\d+)", base)[-1])
        self.out = out
        self.pos = 0
        self.first_new = self.next
        self.offsets: list[int] = []
        self._write(base if base.endswith(b"\n") else base + b"\n")

    def _write(self, data: bytes) -> None:
        self.out.write(data)
        self.pos += len(data)

    def _obj(self, body: bytes, stream: bytes | None = None) -> int:
        n = self.next
        self.next += 1
        self.offsets.append(self.pos)
        self._write(f"{n} 0 obj\n".encode() + body)
        if stream is not None:
            self._write(b"\nstream\n" + stream + b"\nendstream")
        self._write(b"\nendobj\n")
        return n

    def add_image_page(self, img: _Img) -> None:
        pw, ph = (A4_W, A4_H) if img.height >= img.width else (A4_H, A4_W)
        scale = min(pw / img.width, ph / img.height)
        w, h = img.width * scale, img.height * scale
        x, y = (pw - w) / 2, (ph - h) / 2
        image = self._obj(
            f"<< /Type /XObject /Subtype /Image {img.dict_} /Length {len(img.data)} >>".encode(), img.data
        )
        content = f"q {w:.2f} 0 0 {h:.2f} {x:.2f} {y:.2f} cm /Im0 Do Q".encode()
        stream = self._obj(f"<< /Length {len(content)} >>".encode(), content)
        page = self._obj(
            f"<< /Type /Page /Parent {self.pages_num} 0 R /MediaBox [0 0 {pw:.2f} {ph:.2f}] "
            f"/Resources << /XObject << /Im0 {image} 0 R >> >> /Contents {stream} 0 R >>".encode()
        )
        self.kids.append(page)

    def close(self) -> None:
        kids = " ".join(f"{k} 0 R" for k in self.kids)
        pages_at = self.pos
        self._write(
            f"{self.pages_num} 0 obj\n<< /Type /Pages /Count {len(self.kids)} /Kids [{kids}] >>\nendobj\n".encode()
        )
        xref = self.pos
        lines = [b"xref\n", f"{self.pages_num} 1\n".encode(), b"%010d 00000 n \n" % pages_at]
        if self.offsets:
            lines.append(f"{self.first_new} {len(self.offsets)}\n".encode())
            lines += [b"%010d 00000 n \n" % off for off in self.offsets]
        self._write(b"".join(lines))
        trailer = f"/Size {self.next} /Root {self.root} 0 R /Prev {self.prev_xref}"
        if self.info is not None:
            trailer += f" /Info {self.info} 0 R"
        if self.ids:
            trailer += " /ID [" + " ".join(f"<{i.hex()}>" for i in self.ids) + "]"
        self._write(f"trailer\n<< {trailer} >>\nstartxref\n{xref}\n%%EOF\n".encode())


def _read(home: Path, page: SheetPage) -> _Img:
    try:
        return _image((home / page.image_path).read_bytes())
    except FileNotFoundError:
        return _placeholder(page, "Không tìm thấy ảnh đã lưu của trang này.")
    except (OSError, ValueError, SyntaxError, PILImage.DecompressionBombError):
        return _placeholder(page, "Ảnh đã lưu của trang này bị hỏng, không đọc được.")


def write_sheets_pdf(session: Session, result: TallyResult, out: BinaryIO, report_date: date | None = None) -> int:
    """The cover and one page per counted sheet page into ``out``; returns the number of sheet pages."""
    counts = unit_counts(session, result)
    pdf = _Appender(out, cover_pdf(session, result, counts, report_date))
    home = config.home()
    n = 0
    for page in sheet_pages(session, result):
        pdf.add_image_page(_read(home, page))
        n += 1
    pdf.close()
    return n


# --------------------------------------------------------------------------- ZIP


def _safe(text: str) -> str:
    """A piece of a file name inside the ZIP: letters, digits, '-' and '_' only (no path, no dots)."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", text)[:40] or "_"


def entry_name(page: SheetPage) -> str:
    ext = Path(page.image_path).suffix.lower()
    ext = ext if re.fullmatch(r"\.[a-z0-9]{1,5}", ext) else ".bin"
    return f"{page.number:06d}_{_safe(page.unit_code)}_{_safe(page.serial)}_t{page.sheet_page}{ext}"


def write_sheets_zip(session: Session, result: TallyResult, out: BinaryIO, report_date: date | None = None) -> int:
    """The cover (PDF), the page images in sheet order, and a CSV list of the files into a ZIP."""
    from omr.reports.csv_export import BOM, neutral_row

    counts = unit_counts(session, result)
    home = config.home()
    listing = io.StringIO()
    listing.write(BOM)
    w = csv.writer(listing, lineterminator="\r\n")
    w.writerow(["STT", "Tệp", "Mã đơn vị", "Mã phiếu", "Trang", "Mẫu phiếu", "Ngày quét", "Ghi chú"])
    n = 0
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED, allowZip64=True) as z:
        z.writestr(COVER_NAME, cover_pdf(session, result, counts, report_date), zipfile.ZIP_DEFLATED)
        for page in sheet_pages(session, result):
            name = entry_name(page)
            note = ""
            try:
                # images are compressed already: stored, streamed from the file in chunks
                z.write(home / page.image_path, name)
            except OSError:
                note = "không tìm thấy ảnh đã lưu"
            w.writerow(
                neutral_row(
                    [str(page.number), "" if note else name, page.unit_code, page.serial, str(page.sheet_page),
                     page.form_id, page.scanned.isoformat() if page.scanned else "", note]
                )
            )  # fmt: skip
            n += 1
        z.writestr(LIST_NAME, listing.getvalue().encode("utf-8"), zipfile.ZIP_DEFLATED)
    return n
