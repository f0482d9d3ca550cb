"""Form templates load or fail with file and line; the layout is the one place boxes are, and the printed
PDF puts them exactly there."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium
import pytest

from omr.sheet.layout import BODY_BOTTOM, PAGE_H, LayoutError, layout, layout_json, markers, qr_rect
from omr.sheet.render import UnitHeading, render
from omr.sheet.templates import TemplateError, Variant, all_forms, load_form

BUILT_IN = (
    "kien-hung-2020",
    "sipas-tthc",
    "hn-dat-dai",
    "hn-xay-dung",
    "hn-y-te",
    "hn-giao-duc-phu-huynh",
    "hn-giao-duc-hoc-sinh",
)


def test_every_built_in_form_loads_and_fits_its_pages():
    forms = all_forms()
    assert set(BUILT_IN) <= set(forms)
    for form in forms.values():
        for variant in (Variant(), Variant(counters=12), Variant(counters=4, personal=True)):
            try:
                fl = layout(form, variant)
            except LayoutError:
                assert variant.personal, f"{form.id} must fit without personal fields"
                continue
            assert len(fl.pages) == form.pages
            for page in fl.pages:
                for fp in page.fields:
                    assert fp.bbox.y + fp.bbox.h <= BODY_BOTTOM + 0.01


def test_vietnamese_labels_keep_their_diacritics():
    kh = all_forms()["kien-hung-2020"]
    labels = [o.label for f in kh.fields() for o in f.options]
    assert "Rất không hài lòng" in labels and "Tư pháp - Hộ tịch" in labels


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / f"{name}.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_a_broken_template_names_its_file_and_line(tmp_path):
    bad = _write(
        tmp_path,
        "x",
        'id = "x"\nversion = 1\ntitle = "T"\n\n[[sections]]\nheading = "A"\n'
        'fields = [\n  { id = "q1", kind = "single", label = "Câu 1",'
        ' options = [{ value = "1", label = "Có" }] },\n]\n',
    )
    with pytest.raises(TemplateError) as e:
        load_form(bad)
    assert str(e.value).startswith("x.toml:8:") and "q1" in str(e.value)
    syntax = _write(tmp_path, "y", 'id = "y"\nversion = = 1\n')
    with pytest.raises(TemplateError, match=r"^y\.toml: .*line 2"):
        load_form(syntax)


def test_layout_json_follows_the_contract():
    j = layout_json(layout(all_forms()["kien-hung-2020"]))
    assert j["form"] == "kien-hung-2020" and j["version"] == 1 and j["page_size_mm"] == [210, 297]
    kinds = {f["id"]: f["kind"] for f in j["fields"]}
    assert kinds["q_result"] == "single" and kinds["q_area"] == "multi" and kinds["y_kien_khac"] == "text"
    q = next(f for f in j["fields"] if f["id"] == "q_result")
    assert [o["label"] for o in q["options"]][0] == "Rất hài lòng" and len(q["options"][0]["box_mm"]) == 4


def test_printed_boxes_markers_and_qr_are_where_the_layout_says():
    fl = layout(all_forms()["sipas-tthc"])
    buf = io.BytesIO()
    render(buf, fl, "09552", ["000001"], b"k" * 32, UnitHeading("Phường Kiến Hưng"))
    dpi = 150
    img = pdfium.PdfDocument(buf.getvalue())[0].render(scale=dpi / 72, grayscale=True).to_numpy()
    img = img if img.ndim == 2 else img[:, :, 0]

    def mean(x, y, w, h):
        k = dpi / 25.4
        return img[round(y * k) : round((y + h) * k), round(x * k) : round((x + w) * k)].mean()

    for r in markers().squares:
        assert mean(r.x + 1, r.y + 1, r.w - 2, r.h - 2) < 30  # solid black
    q = qr_rect()
    assert 40 < mean(q.x, q.y, q.w, q.h) < 215  # a QR symbol: black and white modules
    for fp in fl.pages[0].fields:
        for o in fp.options:
            b = o.box
            assert mean(b.x + 0.8, b.y + 0.8, b.w - 1.6, b.h - 1.6) > 245  # empty inside
            edge = np.mean([mean(b.x - 0.2, b.y + 1, 0.5, b.h - 2), mean(b.x + b.w - 0.3, b.y + 1, 0.5, b.h - 2)])
            assert edge < 200  # the printed border runs along the box's edge


@pytest.mark.parametrize("form_id", sorted(all_forms()))
def test_everything_rendered_is_printed_matter_or_a_box(form_id):
    """The reader tells blank paper by the layout's printed matter: every pixel the renderer inks
    below the unit's name and the serial, above the footer, lies in a rectangle of ``PageLayout.printed`` or a box."""
    fl = layout(all_forms()[form_id])
    buf = io.BytesIO()
    render(buf, fl, "09552", ["000001"] * len(fl.pages), b"k" * 32, UnitHeading("Phường Kiến Hưng"))
    dpi = 150
    k = dpi / 25.4
    doc = pdfium.PdfDocument(buf.getvalue())
    for i, page in enumerate(fl.pages):
        img = doc[i].render(scale=dpi / 72, grayscale=True).to_numpy()
        img = img if img.ndim == 2 else img[:, :, 0]
        covered = np.zeros(img.shape, bool)
        rects = list(page.printed) + [o.box for fp in page.fields for o in fp.options]
        for r in rects:  # slack for the border lines' width and the rasteriser's anti-aliasing
            y0, y1 = max(0, round((r.y - 0.4) * k)), round((r.y + r.h + 0.4) * k)
            covered[y0:y1, max(0, round((r.x - 0.4) * k)) : round((r.x + r.w + 0.4) * k)] = True
        band = slice(round(45 * k), round((PAGE_H - 8) * k))  # below the unit's name and the serial, above the footer
        inked = img[band] < 160
        assert inked.sum() > 10_000  # the page was drawn
        assert not (inked & ~covered[band]).any(), np.argwhere(inked & ~covered[band])[:5] / k
