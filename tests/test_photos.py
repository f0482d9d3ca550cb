"""Phone photos of sheets (the stretch goal), read by the reader alone on generated photos.

Sheets are filled by the sample generator and photographed by ``samples.photo``: 8-12 Mpx, the sheet
filling 50-90 % of the frame on a desk, any rotation, up to 20° of camera tilt, uneven light, blur,
noise, colour, JPEG. Targets: every photo identified; no machine-accepted answer wrong; double marks,
faint dots and corrections to review; few clear marks to review. Photos too small, too blurred or
with glare on the sheet go to a person whole; a photo of something else stays unidentified.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from omr.detect.read import decode, read_page
from omr.detect.result import UNIDENTIFIED
from samples import STACK_DIR
from samples import photo as ph
from samples.evaluate import Score, reader_row, score
from samples.generate import generate_stack, read_truth

pytestmark = pytest.mark.slow

KEY = b"photo-test-key-0123456789abcdef0"
# 8-12 Mpx keeps generating and reading 36 photos under half a minute on two cores
CAMERA = replace(ph.PHONE, megapixels=(8.0, 12.0))
# (form, sheets, seed): two forms, one of them with a table of five-level questions
STACKS = (("kien-hung-2020", 24, 31), ("hn-y-te", 12, 32))
COUNTS = ("pages_in", "pages_out", "sheet_pages", "identified", "accepted", "accepted_wrong")
COUNTS += ("must_review", "must_review_sent", "clear", "clear_sent")


def _photos(out: Path, form: str, sheets: int, seed: int, camera: ph.Camera, hard: float = 0.15) -> Path:
    serials = [f"{i:06d}" for i in range(1, sheets + 1)]
    return generate_stack(
        out,
        form_id=form,
        unit="09552",
        serials=serials,
        key=KEY,
        fmt="png-dir",
        seed=seed,
        hard_case_rate=hard,
        camera=camera,
    )


def _read(truth_path: Path) -> tuple[dict, list[dict]]:
    truth = read_truth(truth_path)
    stack = truth_path.parent / truth["stack"]
    rows = [
        reader_row(read_page(decode((stack / p["source"]).read_bytes()), KEY, photos=True), p["source"], p["page"])
        for p in truth["pages"]
    ]
    return truth, rows


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> list[tuple[dict, list[dict]]]:
    work = tmp_path_factory.mktemp("photos")
    return [_read(_photos(work / form, form, n, seed, CAMERA)) for form, n, seed in STACKS]


@pytest.fixture(scope="module")
def total(photos) -> Score:
    parts = [score(truth, rows) for truth, rows in photos]
    s = parts[0]
    for p in parts[1:]:
        for f in COUNTS:
            setattr(s, f, getattr(s, f) + getattr(p, f))
        s.wrong_examples += p.wrong_examples
    print("\nphone photos:", s.summary(), sep="\n")
    return s


def test_every_photo_is_identified(total, photos):
    notes = [r["note"] for _, rows in photos for r in rows if r["status"] not in ("accepted", "needs_review")]
    assert total.identified == total.sheet_pages == 36, notes


# Not reached yet: pencil loses contrast in photos (a pencil circle round a label read as blank; pencil
# ticks under the ink threshold go to review). Photo reading stays off by default until these pass.
PENCIL = pytest.mark.xfail(strict=True, reason="pencil marks in photos: not yet accurate enough")


@PENCIL
def test_no_machine_accepted_answer_is_wrong(total):
    assert total.accepted >= 200
    assert total.accepted_wrong == 0, total.wrong_examples


def test_double_marks_faint_dots_and_corrections_go_to_review(total):
    assert total.must_review >= 25
    assert total.must_review_rate >= 0.99


@PENCIL
def test_few_clear_marks_go_to_review(total):
    assert total.clear_review_rate <= 0.05


@pytest.mark.parametrize(
    "camera, note",
    [
        (replace(CAMERA, fill=(0.22, 0.25)), "không thấy dấu định vị"),  # markers under the search's sizes
        (replace(CAMERA, blur_px=(3.0, 3.5)), "không đọc được mã QR"),  # too soft for the code already
        (replace(CAMERA, p_glare=1.0), "lóa"),
    ],
    ids=["too-small", "too-blurred", "glare"],
)
def test_poor_photos_go_to_a_person(tmp_path, camera, note):
    _, rows = _read(_photos(tmp_path, "kien-hung-2020", 2, 33, camera))
    for row in rows:
        assert row["status"] == UNIDENTIFIED and not row["answers"], row
        assert note in row["note"], row["note"]


def test_a_photo_of_something_else_stays_unidentified():
    read = read_page(decode((STACK_DIR / "cat.jpg").read_bytes()), KEY, photos=True)
    assert read.status == UNIDENTIFIED


def test_same_seed_same_photo():
    clean = np.full((700, 495), 255, np.uint8)
    clean[40:80, 40:80] = 0
    small = replace(ph.PHONE, megapixels=(0.3, 0.3), p_glare=0.5)

    def shoot(seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        return ph.photograph(clean, ph.draw_shot(small, rng), rng)

    assert np.array_equal(shoot(1), shoot(1))
    assert not np.array_equal(shoot(1), shoot(2))
