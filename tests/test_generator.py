"""The sample-stack generator: deterministic, truthful, marks where omr.sheet.layout says, files that open."""

from __future__ import annotations

import io
import json
import struct
import tracemalloc
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pypdfium2 as pdfium
import pytest
import zxingcpp
from PIL import Image

from omr.sheet import identity
from omr.sheet.layout import MARKER_SIZE, Rect, layout
from omr.sheet.templates import Variant, get_form
from samples import STACK_DIR
from samples import augment as au
from samples import degrade as dg
from samples.demo import make_demo_stack
from samples.fill import EXPECT
from samples.foreign import BOMB_SIDE, FOREIGN
from samples.generate import StackSpec, generate_stack, main, parse_serials, read_truth
from samples.writers import FORMATS

KEY = b"generator-test-key-0123456789abc"
SERIALS = [f"{i:06d}" for i in range(1, 5)]
MATRIX_FORM = "hn-y-te"  # a table of five-level questions: marks in table cells


def _stack(tmp_path: Path, fmt: str = "pdf", **kw) -> Path:
    args = dict(form_id="kien-hung-2020", unit="09552", serials=SERIALS, key=KEY, fmt=fmt, seed=11, dpi=(150, 300))
    args.update(kw)
    return generate_stack(tmp_path, **args)


def _pages(truth_path: Path) -> list[dict]:
    return read_truth(truth_path)["pages"]


# --------------------------------------------------------------------------- determinism


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    a = _stack(tmp_path / "a", blank_backs=True, hard_case_rate=0.3)
    b = _stack(tmp_path / "b", blank_backs=True, hard_case_rate=0.3)
    c = _stack(tmp_path / "c", blank_backs=True, hard_case_rate=0.3, seed=12)
    assert (a.parent / "stack.pdf").read_bytes() == (b.parent / "stack.pdf").read_bytes()
    assert a.read_text() == b.read_text()
    assert (a.parent / "stack.pdf").read_bytes() != (c.parent / "stack.pdf").read_bytes()
    assert _pages(a) != _pages(c)


# --------------------------------------------------------------------------- truth vs files


def _count_pages(truth_path: Path, fmt: str) -> list[tuple[str, int]]:
    """(source, page) of every page actually in the stack, in order."""
    meta = read_truth(truth_path)
    stack = truth_path.parent / meta["stack"]
    if fmt == "pdf":
        pdf = pdfium.PdfDocument(str(stack))
        try:
            return [(stack.name, i + 1) for i in range(len(pdf))]
        finally:
            pdf.close()
    if fmt == "tiff":
        with Image.open(stack) as im:
            return [(stack.name, i + 1) for i in range(im.n_frames)]
    if fmt == "png-dir":
        return [(p.name, 1) for p in sorted(stack.iterdir())]
    with zipfile.ZipFile(stack) as zf:
        return [(n, 1) for n in sorted(zf.namelist())]


@pytest.mark.parametrize("fmt", FORMATS)
def test_truth_lists_every_page_in_order(tmp_path, fmt):
    truth = _stack(tmp_path, fmt, blank_backs=True)
    pages = _pages(truth)
    assert len(pages) == 2 * len(SERIALS)  # one-page form, a blank back after each sheet
    assert [(p["source"], p["page"]) for p in pages] == _count_pages(truth, fmt)
    assert [p["index"] for p in pages] == list(range(1, len(pages) + 1))
    assert [p["serial"] for p in pages if not p["blank"]] == SERIALS
    assert [p["back_of"] for p in pages if p["blank"]] == SERIALS
    fl = layout(get_form("kien-hung-2020"), Variant())
    choice = {fp.field.id for fp in fl.fields_on(1) if fp.area is None}
    text = {fp.field.id for fp in fl.fields_on(1) if fp.area is not None}
    for p in pages:
        assert p["rotation"] in (0, 90, 180, 270) and abs(p["skew"]) <= 10
        assert p["dpi"] in (150, 200, 240, 300) and p["mode"] in ("grey", "colour", "bilevel")
        if p["blank"]:
            assert p["answers"] == {} and p["texts"] == {} and p["form"] is None
            continue
        assert (p["form"], p["unit"], p["sheet_page"], p["variant"]) == ("kien-hung-2020", "09552", 1, "c6p0")
        assert set(p["answers"]) == choice and set(p["texts"]) == text
        for a in p["answers"].values():
            assert a["expect"] == EXPECT[a["kind"]]
    assert not list(tmp_path.glob("**/*.part"))  # every file renamed into place


def test_page_sizes_follow_dpi_and_rotation(tmp_path):
    truth = _stack(tmp_path, "png-dir", serials=[f"{i:06d}" for i in range(1, 13)], degrade="full")
    for p in _pages(truth):
        with Image.open(truth.parent / "stack" / p["source"]) as im:
            w, h = im.size
            assert (im.mode == "1") == (p["mode"] == "bilevel")
            assert im.mode == {"grey": "L", "colour": "RGB", "bilevel": "1"}[p["mode"]]
        w_mm, h_mm = w / p["dpi"] * 25.4, h / p["dpi"] * 25.4
        if p["rotation"] in (90, 270):
            w_mm, h_mm = h_mm, w_mm
        # A4, less a few mm of scanner crop, plus the margin a skewed page needs
        assert w_mm >= 210 - 8 and h_mm >= 297 - 8
        assert w_mm <= 210 * 1.2 + 60 and h_mm <= 297 * 1.2 + 40


# --------------------------------------------------------------------------- file formats


def test_pdf_pages_are_one_embedded_image_jpeg_as_dctdecode(tmp_path):
    truth = _stack(tmp_path, "pdf", serials=[f"{i:06d}" for i in range(1, 11)], degrade="full")
    pages = _pages(truth)
    assert {p["mode"] for p in pages} >= {"grey"}
    pdf = pdfium.PdfDocument(str(tmp_path / "stack.pdf"))
    try:
        assert len(pdf) == len(pages)
        for i, p in enumerate(pages):
            page = pdf[i]
            objs = list(page.get_objects())
            assert len(objs) == 1 and isinstance(objs[0], pdfium.PdfImage)
            img = objs[0]
            want = "CCITTFaxDecode" if p["mode"] == "bilevel" else "DCTDecode"
            assert img.get_filters() == [want]
            w_px, h_px = img.get_px_size()
            w_pt, h_pt = page.get_size()
            assert w_px / w_pt * 72 == pytest.approx(p["dpi"], rel=0.01)
            if want == "DCTDecode":
                data = bytes(img.get_data(decode_simple=False))
                assert data[:3] == b"\xff\xd8\xff"  # the JPEG file itself, not re-encoded
                with Image.open(io.BytesIO(data)) as im:
                    assert im.size == (w_px, h_px)
            else:  # the G4 data decodes to a white page with black ink, not its negative
                arr = img.get_bitmap(render=False).to_numpy()
                assert arr.mean() > 200
    finally:
        pdf.close()


def test_a4_straight_page_gives_an_a4_pdf_page(tmp_path):
    _stack(tmp_path, "pdf", serials=["000001"], degrade=False, dpi=200)
    pdf = pdfium.PdfDocument(str(tmp_path / "stack.pdf"))
    try:
        w, h = pdf[0].get_size()
        assert (w / 72 * 25.4, h / 72 * 25.4) == (pytest.approx(210, abs=0.3), pytest.approx(297, abs=0.3))
    finally:
        pdf.close()


def test_tiff_frames_bilevel_g4_grey_jpeg(tmp_path):
    truth = _stack(tmp_path, "tiff", serials=[f"{i:06d}" for i in range(1, 13)], degrade="full")
    pages = _pages(truth)
    assert any(p["mode"] == "bilevel" for p in pages)
    with Image.open(tmp_path / "stack.tif") as im:
        assert im.n_frames == len(pages)
        for i, p in enumerate(pages):
            im.seek(i)
            assert im.info["compression"] == ("group4" if p["mode"] == "bilevel" else "jpeg")
            assert im.info["dpi"][0] == pytest.approx(p["dpi"])
            im.load()


def test_zip_entries_are_page_files(tmp_path):
    truth = _stack(tmp_path, "zip")
    with zipfile.ZipFile(tmp_path / "stack.zip") as zf:
        assert zf.testzip() is None
        for p in _pages(truth):
            with Image.open(io.BytesIO(zf.read(p["source"]))) as im:
                im.load()


# --------------------------------------------------------------------------- marks where the layout says


def _ink(img: np.ndarray, kx: float, ky: float, r: Rect, inset: float = 0.0, hole: Rect | None = None) -> float:
    """Share of dark pixels in a page rectangle (mm) of a clean raster, less an optional hole."""
    x0, y0 = round((r.x + inset) * kx), round((r.y + inset) * ky)
    x1, y1 = round((r.x + r.w - inset) * kx), round((r.y + r.h - inset) * ky)
    dark = img[y0:y1, x0:x1] < 200
    n = dark.size
    if hole is not None:
        hx0, hy0 = max(round(hole.x * kx), x0), max(round(hole.y * ky), y0)
        hx1, hy1 = min(round((hole.x + hole.w) * kx), x1), min(round((hole.y + hole.h) * ky), y1)
        if hx1 > hx0 and hy1 > hy0:
            n -= (hx1 - hx0) * (hy1 - hy0)
            dark = dark.copy()
            dark[hy0 - y0 : hy1 - y0, hx0 - x0 : hx1 - x0] = False
    return float(dark.sum()) / max(n, 1)


@pytest.mark.parametrize(
    ("form_id", "wide"), [("kien-hung-2020", False), (MATRIX_FORM, False), ("sipas-tthc", False), (MATRIX_FORM, True)]
)
def test_marks_land_inside_the_layout_boxes(form_id, wide):
    form = get_form(form_id)
    serials = [f"{i:06d}" for i in range(1, 17 if wide else 9)]
    spec = StackSpec(form, "09552", serials, KEY, seed=5, hard_case_rate=0.5, wide_marks=wide)
    fl = layout(form, Variant())
    kinds, shapes_seen = set(), set()
    for page in spec.pages():
        t = page.truth
        img = page.clean
        kx, ky = img.shape[1] / 210.0, img.shape[0] / 297.0
        for fp in fl.fields_on(t["sheet_page"]):
            if fp.area is not None:
                ink = _ink(img, kx, ky, fp.area, inset=1.2)
                assert (ink > 0.004) == t["texts"][fp.field.id], fp.field.id
                continue
            a = t["answers"][fp.field.id]
            kinds.add(a["kind"])
            shapes = dict(reversed(m.split(":")) for m in a.get("marks", []))  # value -> shape
            shapes_seen.update(shapes.values())
            for o in fp.options:
                inside = _ink(img, kx, ky, o.box, inset=0.75)
                shape = shapes.get(o.value)
                where = f"{t['serial']} {fp.field.id}={o.value} {shape}: {inside:.3f}"
                if shape in ("tick", "cross", "slash", "long_tick", "big_cross", "gap_tick"):
                    assert inside > 0.06, where
                    if shape in ("long_tick", "big_cross"):  # these reach beyond the border (and its width)
                        clear_of_border = Rect(o.box.x - 0.4, o.box.y - 0.4, o.box.w + 0.8, o.box.h + 0.8)
                        assert _ink(img, kx, ky, o.box, inset=-1.5, hole=clear_of_border) > 0.02, where
                elif shape == "fill":
                    assert inside > 0.85, where
                elif shape == "scribble":
                    assert inside > 0.3, where
                elif shape in ("dot", "stroke"):
                    assert 0.01 < inside < 0.075, where  # between paper noise and a mark
                else:  # no mark of its own (a circle goes round the label, outside the box)
                    assert inside < 0.002, where
                if shape == "circle":
                    assert _ink(img, kx, ky, o.zone, hole=o.hole) > 0.03, where
            if a["kind"] == "clear":
                assert a["value"] == ",".join(sorted(shapes, key=lambda v: (len(v), v)))
    assert kinds >= {"clear", "double", "correction", "circled", "faint", "stray"}
    wide_shapes = {"long_tick", "big_cross", "gap_tick", "scribble"}
    assert wide_shapes <= shapes_seen if wide else not wide_shapes & shapes_seen


def test_qr_code_on_the_page_is_this_sheets_signed_identity():
    form = get_form("sipas-tthc")
    spec = StackSpec(form, "09552", ["000123"], KEY, seed=1)
    pages = list(spec.pages())
    assert [p.truth["sheet_page"] for p in pages] == [1, 2]
    for p in pages:
        found = zxingcpp.read_barcodes(p.clean[::2, ::2])
        assert len(found) == 1
        ident, sig = identity.decode(found[0].text)
        assert (ident.serial, ident.page, ident.unit, ident.form) == ("000123", p.truth["sheet_page"], "09552", form.id)
        assert identity.verify(ident, sig, KEY)


def test_undegraded_png_page_is_the_clean_raster(tmp_path):
    truth = _stack(tmp_path, "png-dir", serials=["000001", "000002"], degrade=False, dpi=300)
    spec = StackSpec(get_form("kien-hung-2020"), "09552", ["000001", "000002"], KEY, seed=11, hard_case_rate=0.05)
    for page, t in zip(spec.pages(), _pages(truth), strict=True):
        assert (t["rotation"], t["skew"], t["mode"]) == (0, 0.0, "grey")
        with Image.open(tmp_path / "stack" / t["source"]) as im:
            assert np.array_equal(np.asarray(im), page.clean)


# --------------------------------------------------------------------------- scanner damage


def test_quarter_turn_and_skew_geometry():
    clean = np.full((297 * 2, 210 * 2), 255, np.uint8)  # 2 px/mm stand-in page
    clean[10:30, 10:30] = 0  # a mark at the page's top-left
    rng = np.random.default_rng(0)
    base = dict(crop_mm=(0, 0, 0, 0), mode="grey", quality=None, blur=0, noise=0, paper=255, contrast=1)
    base.update(specks=0, show_through=0)
    dpi = round(dg.MASTER_DPI)
    turned = dg.scan(clean, dg.Scan(dpi=dpi, skew=0, rotation=90, **base), rng)
    assert turned.shape == clean.shape[::-1]
    assert turned[10:30, -30:-10].max() == 0  # turned clockwise: top-left went top-right
    skewed = dg.scan(clean, dg.Scan(dpi=dpi, skew=10, rotation=0, **base), rng)
    assert skewed.shape[0] > clean.shape[0] and skewed.shape[1] > clean.shape[1]  # the whole page kept
    cropped = dg.scan(clean, dg.Scan(**{**base, "crop_mm": (3, 3, 3, 3)}, dpi=dpi, skew=0, rotation=0), rng)
    k = dpi / 25.4
    assert cropped.shape == (clean.shape[0] - 2 * round(3 * k), clean.shape[1] - 2 * round(3 * k))


def test_degrade_levels():
    assert dg.resolve(False) == dg.NONE and dg.resolve(True) == dg.FULL
    assert dg.resolve("light") == dg.LIGHT and dg.resolve(0.35) == dg.LIGHT
    assert dg.NONE.skew_deg == 0 and dg.FULL.skew_deg == 10
    with pytest.raises(ValueError):
        dg.resolve("awful")
    s = dg.draw_scan(dg.NONE, (150, 300), np.random.default_rng(0))
    assert (s.skew, s.rotation, s.mode, s.quality, s.noise) == (0.0, 0, "grey", None, 0.0)


def test_streaming_memory_does_not_grow_with_the_stack(tmp_path):
    """Pages are written as they are made: 30 pages at 300 dpi (9 MB each as raw grey, 260 MB in all)
    peak at what one page takes (about 50 MB held, 35-80 MB more while a page is scanned)."""
    _stack(tmp_path / "warm", "pdf", serials=["000001"], dpi=300)  # masters and fonts cached
    tracemalloc.start()
    try:
        _stack(tmp_path / "big", "tiff", serials=[f"{i:06d}" for i in range(1, 16)], dpi=300, blank_backs=True)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 160_000_000


# --------------------------------------------------------------------------- demo, CLI, foreign files


def test_demo_stack_is_small_and_deterministic(tmp_path):
    serials = [f"{i:06d}" for i in range(1, 9)]
    a = make_demo_stack(tmp_path / "a", serials, KEY)
    b = make_demo_stack(tmp_path / "b", serials, KEY)
    assert a.name == "demo-stack.truth.json"
    pdf_a, pdf_b = a.parent / "demo-stack.pdf", b.parent / "demo-stack.pdf"
    assert pdf_a.read_bytes() == pdf_b.read_bytes()
    assert pdf_a.stat().st_size < 3_000_000 * len(serials) / 25
    pages = _pages(a)
    assert len(pages) == len(serials)
    assert any(a["expect"] != "marked" for p in pages for a in p["answers"].values())
    with pytest.raises(ValueError):
        make_demo_stack(tmp_path / "c", [f"{i:06d}" for i in range(1, 27)], KEY)


def test_cli_writes_stack_and_truth(tmp_path, capsys):
    key_file = tmp_path / "secret.key"
    key_file.write_bytes(KEY)
    args = ["--form", "kien-hung-2020", "--unit", "09552", "--serials", "000001-000003", "--key-file", str(key_file)]
    rc = main([*args, "--format", "zip", "--out", str(tmp_path / "out"), "--dpi", "150", "--seed", "3"])
    assert rc == 0
    truth = Path(capsys.readouterr().out.strip())
    assert [p["serial"] for p in _pages(truth)] == ["000001", "000002", "000003"]
    assert main([*args, "--format", "pdf", "--out", str(tmp_path / "x"), "--form", "no-such-form"]) == 2


def test_parse_serials():
    assert parse_serials("000008-000011") == ["000008", "000009", "000010", "000011"]
    assert parse_serials("000001,000005-000006") == ["000001", "000005", "000006"]
    with pytest.raises(ValueError):
        parse_serials("000010-000001")


def test_foreign_files_are_small_and_what_they_claim():
    files = {p.name: p for p in STACK_DIR.iterdir()}
    assert set(files) == set(FOREIGN)
    assert sum(p.stat().st_size for p in files.values()) < 3_000_000
    with Image.open(files["cat.jpg"]) as im:
        assert im.format == "JPEG" and im.mode == "RGB"
        assert 20_000 < files["cat.jpg"].stat().st_size < 100_000
    assert files["empty.jpg"].stat().st_size == 0
    with pytest.raises(pdfium.PdfiumError):
        pdfium.PdfDocument(str(files["truncated.pdf"]))
    with zipfile.ZipFile(files["evil.zip"]) as zf:
        assert zf.namelist() == ["../evil.png"]
    bomb = files["bomb.png"].read_bytes()
    assert len(bomb) < 10_000 and struct.unpack(">II", bomb[16:24]) == (BOMB_SIDE, BOMB_SIDE)
    with pytest.raises(Image.DecompressionBombError):
        Image.open(files["bomb.png"])


def test_truth_file_is_plain_json(tmp_path):
    truth = _stack(tmp_path, "pdf", serials=["000001"])
    meta = json.loads(truth.read_text(encoding="utf-8"))
    assert meta["stack"] == "stack.pdf" and meta["seed"] == 11 and meta["form"] == "kien-hung-2020"
    assert set(meta["pages"][0]) >= {"source", "page", "form", "unit", "serial", "sheet_page", "blank", "rotation"}


# --------------------------------------------------------------------------- phone photos


def test_phone_photos_are_deterministic_and_never_read_wrong(tmp_path):
    """Phone photos (the stretch goal, not read yet): the generator makes them from a seed, and today's
    reader, which looks for a flatbed scan, never accepts a wrong answer from one: it sends the page, or
    the answers it is unsure of, to a person."""
    from dataclasses import replace

    from omr.detect.read import decode, read_page
    from samples import photo as ph
    from samples.evaluate import reader_row, score

    # the sheet filling most of the frame: the photos most like a scan
    camera = replace(ph.PHONE, megapixels=(8.0, 9.0), fill=(0.85, 0.98))
    serials = [f"{i:06d}" for i in range(1, 9)]
    a = _stack(tmp_path / "a", fmt="png-dir", camera=camera, hard_case_rate=0.3, serials=serials)
    b = _stack(tmp_path / "b", fmt="png-dir", camera=camera, hard_case_rate=0.3, serials=serials[:1])
    pages = _pages(a)
    assert all(p["mode"] == "photo" for p in pages)
    truth = read_truth(a)
    stack_a, stack_b = a.parent / truth["stack"], b.parent / truth["stack"]
    first = (stack_a / pages[0]["source"]).read_bytes()
    assert first == (stack_b / pages[0]["source"]).read_bytes()
    w, h = Image.open(io.BytesIO(first)).size
    assert 7.5e6 <= w * h <= 9.5e6
    rows = [
        reader_row(read_page(decode((stack_a / p["source"]).read_bytes()), KEY), p["source"], p["page"]) for p in pages
    ]
    s = score(truth, rows)
    assert s.pages_out == s.pages_in == len(serials)
    assert s.accepted_wrong == 0


# --------------------------------------------------------------------------- damage families (samples.augment)


def _corner_markers(gray: np.ndarray, dpi: int) -> int:
    """How many solid squares of the markers' size lie near a corner of the image: found by their
    own shape (connected dark blobs), not by the reader's registration."""
    k = dpi / 25.4
    dark = (gray < np.percentile(gray, 95) * 0.5).astype(np.uint8)
    n, _, stats, centres = cv2.connectedComponentsWithStats(dark, connectivity=8)
    h, w = gray.shape
    found = 0
    for i in range(1, n):
        x, y, bw, bh, area = stats[i]
        side = MARKER_SIZE * k
        if not (0.8 * side <= bw <= 1.35 * side and 0.8 * side <= bh <= 1.35 * side and area > 0.7 * side * side):
            continue
        cx, cy = centres[i]
        if min(cx, w - cx) < 40 * k and min(cy, h - cy) < 40 * k:
            found += 1
    return found


@pytest.fixture(scope="module")
def sheet_page_clean():
    spec = StackSpec(get_form("kien-hung-2020"), "09552", ["000042"], KEY, seed=3, hard_case_rate=0.3, wide_marks=True)
    return next(spec.pages())


@pytest.mark.parametrize("family", sorted(au.RECIPES))
def test_every_damage_family_is_deterministic_and_keeps_markers_and_qr(family, sheet_page_clean):
    clean = sheet_page_clean.clean
    a, ta = au.damage(clean, family, np.random.default_rng([7, 1]))
    b, tb = au.damage(clean, family, np.random.default_rng([7, 1]))
    c, _ = au.damage(clean, family, np.random.default_rng([7, 2]))
    assert np.array_equal(a.pixels, b.pixels) and ta == tb
    assert a.pixels.shape != c.pixels.shape or not np.array_equal(a.pixels, c.pixels)  # another seed
    assert ta["family"] == family and ta["dpi"] == a.dpi and ta["dpi"] in au.RECIPES[family].dpi
    assert (ta["mode"] == "bilevel") == (a.pixels.dtype == bool)
    json.dumps(ta)  # goes into the truth file as it is
    gray = a.pixels.astype(np.uint8) * 255 if a.pixels.dtype == bool else a.pixels
    assert gray.mean() > 150, "the page went dark: no office scan looks like this"
    assert _corner_markers(gray, a.dpi) == 4
    found = zxingcpp.read_barcodes(gray)
    assert len(found) == 1
    ident, sig = identity.decode(found[0].text)
    assert ident.serial == "000042" and identity.verify(ident, sig, KEY)


def test_worley_noise_is_each_pixels_distance_to_the_nearest_point_and_seeded():
    import random

    random.seed(5)
    got = au._worley_noise(37, 23, 9.7, 0, 200)
    random.seed(5)
    points = np.array([(random.randint(0, 37), random.randint(0, 23)) for _ in range(9)])
    ys, xs = np.mgrid[0:23, 0:37]
    want = np.hypot(xs[..., None] - points[:, 0], ys[..., None] - points[:, 1]).min(axis=2)
    assert got.shape == (23, 37) and got.dtype == np.float64
    np.testing.assert_allclose(got, want, atol=1e-3)
    with pytest.raises(ValueError):
        au._worley_noise(10, 10, 3, 1, 200)  # a second-nearest point's noise is not drawn


def test_family_stack_truth_names_family_and_split_is_disjoint(tmp_path):
    from samples import families as fam

    assert set(fam.CALIBRATION).isdisjoint(fam.HELDOUT)
    assert {c.seed for c in fam.cases("calib")}.isdisjoint(c.seed for c in fam.cases("heldout"))
    case = fam.Case("heldout", "wavy", "sipas-tthc", 9, 1)
    args = case.generate_args()
    truth_path = generate_stack(tmp_path / "a", serials=["000001"], key=KEY, **args)
    again = generate_stack(tmp_path / "b", serials=["000001"], key=KEY, **args)
    assert (tmp_path / "a" / "stack.zip").read_bytes() == (tmp_path / "b" / "stack.zip").read_bytes()
    assert truth_path.read_text() == again.read_text()
    meta = read_truth(truth_path)
    assert meta["family"] == "wavy" and meta["wide_marks"] is True
    for p in meta["pages"]:
        assert p["family"] == "wavy" and set(p["augment"]["wavy"]) == {"amp_mm", "period_mm"}
        assert p["dpi"] in au.RECIPES["wavy"].dpi and p["rotation"] in (0, 180)
    with pytest.raises(ValueError):
        fam.cases("heldout", ["gen-full"])  # a calibration family is not in the held-out split
    with pytest.raises(ValueError):
        generate_stack(tmp_path / "c", serials=["000001"], key=KEY, form_id="hn-y-te", unit="09552", family="nope")


def test_the_accuracy_bench_pools_a_range_of_replicates_and_refuses_a_backward_one():
    import argparse

    from benchmarks.accuracy import replicates

    assert replicates("7") == [7]
    assert replicates("8-12") == [8, 9, 10, 11, 12]
    for bad in ("12-8", "x", "-1", "3-"):
        with pytest.raises(argparse.ArgumentTypeError):
            replicates(bad)


def test_lost_marks_sorts_clear_marks_sent_to_a_person_by_what_their_box_holds():
    """Gone: nothing in the box; a dot's worth: no more ink than the family's median faint dot and no
    stroke; the rest: a mark the scan kept. Accepted clear marks are counted, not sorted."""
    from benchmarks.lost_marks import sort_family
    from omr.detect import thresholds as T

    def page(answers: dict, got: dict) -> tuple[dict, dict]:
        return {"answers": answers}, got

    dot_ink = 0.06
    pages = [
        page(
            {
                "a": {"kind": "clear", "value": "2", "marks": ["tick:2"]},  # accepted
                "b": {"kind": "clear", "value": "3", "marks": ["tick:3"]},  # gone
                "c": {"kind": "clear", "value": "1", "marks": ["tick:1"]},  # a dot's worth
                "d": {"kind": "clear", "value": "4", "marks": ["tick:4"]},  # a stroke is left: the rest
                "e": {"kind": "faint", "value": None, "marks": ["dot:5"]},
                "f": {"kind": "faint", "value": None, "marks": ["stroke:2"]},
            },
            {
                "a": ("marked", {"2": (0.4, 0.4)}),
                "b": ("uncertain", {"3": (T.BLANK_INK_MAX, 0.0), "1": (0.0, 0.0)}),
                "c": ("uncertain", {"1": (dot_ink - 0.01, 0.0)}),
                "d": ("uncertain", {"4": (dot_ink - 0.01, 0.03)}),
                "e": ("uncertain", {"5": (dot_ink - 0.02, 0.0)}),
                "f": ("uncertain", {"2": (dot_ink + 0.02, 0.0)}),
            },
        )
    ]
    n = sort_family(pages)
    assert (n["clear"], n["review"], n["gone"], n["dot"], n["rest"]) == (4, 3, 1, 1, 1)
    assert n["dot_ink_permille"] == round(1000 * dot_ink)
