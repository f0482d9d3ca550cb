"""Read one scanned page: image in, ``PageRead`` out. Pure: no storage, no web, safe in a worker process."""

from __future__ import annotations

import cv2
import numpy as np

from omr.detect import thresholds as T
from omr.detect.clean import Shrunk, local_paper, repair_sheet_lines, repair_streaks
from omr.detect.components import Components
from omr.detect.decide import decide_field
from omr.detect.images import decode
from omr.detect.measure import BlankPaper, InkMap, measure_page, sheet_masks, text_ink
from omr.detect.qr import read_qr
from omr.detect.register import Registration, register, warp
from omr.detect.result import EMPTY_PAGE, INVALID, READ, UNIDENTIFIED, PageRead, TextAreaRead
from omr.sheet import identity
from omr.sheet.layout import PAGE_H, PAGE_W, Rect, layout_for
from omr.sheet.templates import UnknownForm, Variant


def warm() -> None:
    """Load what every page needs (form templates, font metrics, layouts) once, before reader processes
    are forked from this one: they then share it instead of each loading it again."""
    from omr.sheet.templates import all_forms

    for form in all_forms().values():
        layout_for(form.id, form.version)


def read_page_bytes(data: bytes, key: bytes) -> PageRead:
    return read_page(decode(data), key)


def is_blank(shrunk: Shrunk) -> bool:
    """No ink on the page: the back of a one-page sheet, whatever the scanner added.

    Judged on 1 mm cells against the brightest paper a millimetre around them: dust and specks
    vanish in a cell's average, streaks were painted over (clean.repair_streaks), and a shadow, uneven
    light or a copier's grey background change over centimetres, ink within a millimetre; a front
    showing through is far lighter than ink. The scan's outermost millimetres are left out, judged
    neither as ink nor as the paper beside it: the sheet's own edge and the lid's shadow along it
    are no ink, and the white lid beyond a sheet is no paper to hold a shadow on the sheet against.
    A printed sheet is never blank: its four corner markers alone are 200 dark cells. ``shrunk``:
    the scan and its halvings."""
    mm = shrunk.millimetre
    if mm is None:
        return True
    e = round(T.BLANK_PAGE_EDGE_MM)
    cells = mm.cells[e : mm.cells.shape[0] - e, e : mm.cells.shape[1] - e]
    if cells.size == 0:
        return True
    # the window counted in cells, taken for 1 mm each: no resampling of the cells to an exact millimetre
    paper = local_paper(cells, 1.0, T.BLANK_PAGE_PAPER_WINDOW_MM)
    dark = (cv2.subtract(paper, cells).astype(np.float32) / paper >= T.BLANK_PAGE_CELL_DARKNESS).astype(np.uint8)
    return float(_ink_cells(dark, e)) <= T.BLANK_PAGE_INK_MAX * dark.size


def _ink_cells(dark: np.ndarray, edge: int) -> int:
    """How many of a page's dark 1 mm cells (``dark``: 1 where dark, the page's outermost ``edge``
    millimetres already cut off) count as ink: not those of a line one cell thin (a scanner's sensor
    drawing a broken line across the page, a crease's shadow), nor a binder's punch holes by an edge
    of the sheet, where the scanner's lid shows through (three holes of 6 mm are 85 cells). What keeps
    a printed sheet from ever being blank is solid: its four corner markers, 7 mm squares, are 196
    cells (a hole is round: it fills less of its bounding box than a square)."""
    found = Components(dark)
    if not found.count:
        return 0
    x, y, w, h, area = found.stats.T
    cx, cy = x + w / 2 + edge, y + h / 2 + edge  # centres, from the sheet's own edges
    near = np.minimum.reduce([cx, cy, dark.shape[1] + 2 * edge - cx, dark.shape[0] + 2 * edge - cy])
    size, fill = T.PUNCH_HOLE_MM, T.PUNCH_HOLE_FILL
    hole = (
        (w >= size[0]) & (w <= size[1]) & (h >= size[0]) & (h <= size[1])
        & (area >= fill[0] * w * h) & (area <= fill[1] * w * h)
        & (near <= T.PUNCH_HOLE_EDGE_MM)
    )  # fmt: skip
    thin = (np.minimum(w, h) == 1) & (np.maximum(w, h) > 1)  # a lone dark cell is ink as before
    return int(area[~hole & ~thin].sum())


def read_page(gray: np.ndarray, key: bytes) -> PageRead:
    """Read a scanned page. ``gray`` may be cleaned in place (streaks painted over)."""
    size = (gray.shape[1], gray.shape[0])
    gray = repair_streaks(gray)
    shrunk = Shrunk(gray)
    if is_blank(shrunk):
        # checked before the markers and the QR: a blank back can show the front through the paper
        return PageRead(EMPTY_PAGE, image_size=size, note="trang trắng")
    reg = register(shrunk)
    qr = read_qr(gray, reg.homography if reg else None)
    if qr is None:
        note = "không đọc được mã QR" if reg else "không thấy dấu định vị và mã QR của phiếu"
        return PageRead(
            UNIDENTIFIED,
            image_size=size,
            note=note,
            transform=reg.homography.tolist() if reg else None,
            rotation=reg.rotation if reg else 0,
        )
    try:
        ident, sig = identity.decode(qr)
    except identity.BadPayload as e:
        return PageRead(UNIDENTIFIED, image_size=size, note=str(e))
    if not identity.verify(ident, sig, key):
        return PageRead(
            INVALID, ident, image_size=size, note="chữ ký trên mã QR không hợp lệ: phiếu không do hệ thống này in"
        )
    try:
        fl = layout_for(ident.form, ident.version, Variant.parse(ident.variant))
    except (UnknownForm, ValueError) as e:
        return PageRead(INVALID, ident, image_size=size, note=str(e))
    if reg is None:
        return PageRead(UNIDENTIFIED, ident, image_size=size, note=NO_MARKERS)
    if not 1 <= ident.page <= len(fl.pages):
        return PageRead(INVALID, ident, image_size=size, note=f"trang {ident.page} không có trong mẫu phiếu")
    return read_known(gray, ident, reg)


NO_MARKERS = "không thấy đủ 4 dấu định vị ở góc phiếu"


def read_known(gray: np.ndarray, ident: identity.SheetIdentity, reg: Registration | None = None) -> PageRead:
    """Measure and decide every box of a page whose identity is known: from its QR code, or given by a
    person when the code could not be read."""
    size = (gray.shape[1], gray.shape[0])
    if reg is None:
        gray = repair_streaks(gray)
        reg = register(gray)
    if reg is None:
        return PageRead(UNIDENTIFIED, ident, image_size=size, note=NO_MARKERS)
    fl = layout_for(ident.form, ident.version, Variant.parse(ident.variant))
    fields = fl.fields_on(ident.page)
    # only the band of the page that holds questions is resampled: the header is a quarter of it
    top, bottom = 0.0, PAGE_H
    if fields:
        top = max(0.0, min(fp.bbox.y for fp in fields) - T.BAND_MARGIN_MM)
        bottom = min(PAGE_H, max(fp.bbox.y + fp.bbox.h for fp in fields) + T.BAND_MARGIN_MM)
    region = Rect(0.0, top, PAGE_W, bottom - top)
    bilevel = is_bilevel(gray)
    band = (region.x, region.y, region.w, region.h)
    canon = warp(_widened(gray) if bilevel else gray, reg.homography, T.PX_PER_MM, band)
    page = fl.pages[ident.page - 1]
    masks = sheet_masks(page, canon.shape[0], canon.shape[1], (region.x, region.y), T.PX_PER_MM)
    ruled = repair_sheet_lines(canon, masks, T.PX_PER_MM)  # the columns of lines down the sheet
    ink = InkMap(canon, T.PX_PER_MM, (region.x, region.y), reg.contrast)
    paper = BlankPaper(ink, page)
    boxes = measure_page(ink, [fp for fp in fields if fp.options], paper, bilevel, ruled)
    answers = [decide_field(fp.field, boxes[fp.field.id]) for fp in fields if fp.options]
    areas = [(fp.field.id, fp.area) for fp in fields if fp.area is not None]
    texts = [
        TextAreaRead(fid, share >= T.TEXT_WRITTEN_INK_MIN, round(share, 5), _crop_jpeg(canon, area, region))
        for (fid, area), share in zip(areas, text_ink(ink, [a for _, a in areas], paper), strict=True)
    ]
    return PageRead(READ, ident, answers, texts, reg.homography.tolist(), reg.rotation, image_size=size)


def is_bilevel(gray: np.ndarray) -> bool:
    """A black-and-white scan (a fax, a copier's or scanner's 1-bit mode): every pixel sampled is
    black or white."""
    sample = gray[:: T.BILEVEL_SAMPLE_STEP, :: T.BILEVEL_SAMPLE_STEP]
    return not cv2.countNonZero((sample > 0) & (sample < 255))  # type: ignore[arg-type]  # a bool array is taken as 8-bit


def _widened(gray: np.ndarray) -> np.ndarray:
    """A black-and-white scan breaks a pale pencil line into single black pixels that resampling to
    the reading resolution would grey away: widen black by one pixel first (a 2 x 2 minimum), which
    leaves a lone speck still a speck."""
    return cv2.erode(gray, np.ones((2, 2), np.uint8))


def _crop_jpeg(canon: np.ndarray, r: Rect, region: Rect) -> bytes:
    k = T.PX_PER_MM
    x, y = r.x - region.x, r.y - region.y
    crop = canon[max(0, round(y * k)) : round((y + r.h) * k), max(0, round(x * k)) : round((x + r.w) * k)]
    ok, buf = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, 85])
    return buf.tobytes() if ok else b""
