"""Read one scanned page: image in, ``PageRead`` out. Pure: no storage, no web, safe in a worker process."""

from __future__ import annotations

import cv2
import numpy as np
import simplejpeg

from omr import identity
from omr.detect import thresholds as T
from omr.detect.decide import decide_field
from omr.detect.measure import InkMap, even_out_light, glare_share, measure_page, text_ink
from omr.detect.qr import read_qr
from omr.detect.register import PhotoQuality, Registration, register, register_photo, register_scan, warp
from omr.detect.result import EMPTY_PAGE, INVALID, READ, UNIDENTIFIED, PageRead, TextAreaRead
from omr.layout import PAGE_H, PAGE_W, Rect, layout_for
from omr.templates import UnknownForm, Variant


class UndecodableImage(ValueError):
    pass


def decode(data: bytes) -> np.ndarray:
    """Encoded page image (JPEG, PNG, TIFF incl. CCITT G4) to 8-bit grey."""
    if data[:3] == b"\xff\xd8\xff":
        # Decoding is the largest single cost of reading a page. simplejpeg's libjpeg-turbo with its
        # fast integer IDCT decodes a 200-dpi page in about 3.8 ms against OpenCV's 4.8
        # (benchmarks/bench_libraries.py); the IDCT's rounding is far below what a mark changes.
        try:
            return simplejpeg.decode_jpeg(data, colorspace="GRAY", fastdct=True)[:, :, 0]
        except ValueError:
            pass  # a JPEG variant libjpeg-turbo's fast path refuses (e.g. arithmetic coding): OpenCV below
    gray = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    if gray is None or gray.size == 0:
        raise UndecodableImage("ảnh hỏng, không giải mã được")
    return gray


def warm() -> None:
    """Load what every page needs (form templates, font metrics, layouts) once, before reader processes
    are forked from this one: they then share it instead of each loading it again."""
    from omr.templates import all_forms

    for form in all_forms().values():
        layout_for(form.id, form.version)


def read_page_bytes(data: bytes, key: bytes, photos: bool = False) -> PageRead:
    return read_page(decode(data), key, photos)


def _is_blank(gray: np.ndarray) -> bool:
    # every 9th pixel: plenty for a share, and no averaging that hides texture
    cum = cv2.calcHist([np.ascontiguousarray(gray[::3, ::3])], [0], None, [256], [0, 256]).ravel().cumsum()
    n = cum[-1]
    low, paper, brightest = (float(np.searchsorted(cum, q * n)) for q in (0.05, 0.9, 0.99))
    if low < brightest * T.BLANK_PAGE_PAPER_MIN:
        return False  # not paper nearly everywhere: a photo, with the desk around the sheet
    # 0.5 of paper level: only real ink counts, not the grey of a copier's background or noise
    ink = cum[max(0, int(np.ceil(paper * 0.5)) - 1)] / n
    return float(ink) <= T.BLANK_PAGE_INK_MAX


# Phone photos (``photos=True``) are read only where a caller asks: on generated photos pencil marks still
# lose too much contrast (tests/test_photos.py: a pencil circle read as blank, 13 % of clear marks to review).
def read_page(gray: np.ndarray, key: bytes, photos: bool = False) -> PageRead:
    size = (gray.shape[1], gray.shape[0])
    reg = register_scan(gray)
    if reg is None and _is_blank(gray):
        # checked before the QR: a blank back can show the front's QR through the paper, mirrored
        return PageRead(EMPTY_PAGE, image_size=size, note="trang trắng")
    if reg is None and photos:
        reg = register_photo(gray)
    qr = read_qr(gray, reg.homography if reg else None, photo=bool(reg and reg.photo))
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
    return read_known(gray, ident, reg, photos)


NO_MARKERS = "không thấy đủ 4 dấu định vị ở góc phiếu"


def read_known(
    gray: np.ndarray, ident: identity.SheetIdentity, reg: Registration | None = None, photos: bool = False
) -> PageRead:
    """Measure and decide every box of a page whose identity is known: from its QR code, or given by a
    person when the code could not be read."""
    size = (gray.shape[1], gray.shape[0])
    reg = reg or register(gray, photos)
    if reg is None:
        return PageRead(UNIDENTIFIED, ident, image_size=size, note=NO_MARKERS)
    fl = layout_for(ident.form, ident.version, Variant.parse(ident.variant))
    fields = fl.fields_on(ident.page)
    # only the band of the page that holds questions is resampled: the header is a quarter of it
    top, bottom = 0.0, PAGE_H
    if fields:
        top = max(0.0, min(fp.bbox.y for fp in fields) - 3)
        bottom = min(PAGE_H, max(fp.bbox.y + fp.bbox.h for fp in fields) + 3)
    region = Rect(0.0, top, PAGE_W, bottom - top)
    canon = warp(gray, reg.homography, T.PX_PER_MM, (region.x, region.y, region.w, region.h))
    if reg.photo is not None:
        problem = _photo_problem(reg.photo, canon)
        if problem:
            return PageRead(
                UNIDENTIFIED,
                ident,
                transform=reg.homography.tolist(),
                rotation=reg.rotation,
                image_size=size,
                note=problem,
            )
        canon = even_out_light(canon)
    darkness = T.INK_DARKNESS if reg.photo is None else T.PHOTO_INK_DARKNESS
    ink = InkMap(canon, T.PX_PER_MM, (region.x, region.y), darkness)
    boxes = measure_page(ink, [fp for fp in fields if fp.options])
    answers = [decide_field(fp.field, boxes[fp.field.id]) for fp in fields if fp.options]
    texts = []
    for fp in fields:
        if fp.area is not None:
            share = text_ink(ink, fp.area)
            texts.append(
                TextAreaRead(
                    fp.field.id, share >= T.TEXT_WRITTEN_INK_MIN, round(share, 5), _crop_jpeg(canon, fp.area, region)
                )
            )
    return PageRead(READ, ident, answers, texts, reg.homography.tolist(), reg.rotation, image_size=size)


def _photo_problem(q: PhotoQuality, canon: np.ndarray) -> str | None:
    """Why a phone photo cannot be read reliably enough for the machine to accept answers, or None."""
    if q.px_per_mm < T.PHOTO_MIN_PX_PER_MM:
        return "ảnh chụp quá nhỏ: phiếu cần chiếm phần lớn khung hình"
    if q.edge_mm > T.PHOTO_MAX_EDGE_MM:
        return "ảnh chụp bị mờ: giữ máy chắc tay và lấy nét rồi chụp lại"
    if glare_share(canon) > T.GLARE_SHARE_MAX:
        return "ảnh chụp bị lóa sáng trên phiếu: chụp lại tránh ánh đèn phản chiếu"
    return None


def _crop_jpeg(canon: np.ndarray, r: Rect, region: Rect) -> bytes:
    k = T.PX_PER_MM
    x, y = r.x - region.x, r.y - region.y
    crop = canon[max(0, round(y * k)) : round((y + r.h) * k), max(0, round(x * k)) : round((x + r.w) * k)]
    ok, buf = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, 85])
    return buf.tobytes() if ok else b""
