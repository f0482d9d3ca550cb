"""Test support for the web application: real sheets printed by the product, marked where the layout
says the boxes are, rendered like a scanner would and read by the real scan pipeline (no mocks)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from sqlalchemy import select

DPI = 200
FORM = "kien-hung-2020"
UNIT = "09552"  # Phường Kiến Hưng (Hà Nội)
OTHER_UNIT = "26506"  # a ward of another province
PASSWORD = "mat-khau-thu-1"


def px(v: float, dpi: int = DPI) -> int:
    return round(v * dpi / 25.4)


def render(pdf_path: Path, dpi: int = DPI) -> list[np.ndarray]:
    from samples.sheet import rasterise

    return rasterise(pdf_path, dpi)


def _box(field_id: str, value: str, variant: str = "c6p0"):
    from omr.sheet.layout import layout_for
    from omr.sheet.templates import Variant

    fl = layout_for(FORM, variant=Variant.parse(variant))
    return next(o.box for o in fl.placement(field_id).options if o.value == value)


def cross(img: np.ndarray, field_id: str, value: str) -> None:
    b = _box(field_id, value)
    x0, y0, x1, y1 = (px(v) for v in (b.x + 0.7, b.y + 0.7, b.x + b.w - 0.7, b.y + b.h - 0.7))
    cv2.line(img, (x0, y0), (x1, y1), 0, 3)
    cv2.line(img, (x0, y1), (x1, y0), 0, 3)


def pale_stroke(img: np.ndarray, field_id: str, value: str) -> None:
    """A short pale stroke across the middle of a box: beside a clear mark, a second mark begun or a
    slip of the pen, which a person must look at (a dot there would be a stray touch, and the clear
    mark stands)."""
    b = _box(field_id, value)
    cx, cy = b.center
    cv2.line(img, (px(cx - 1.0), px(cy)), (px(cx + 1.0), px(cy)), 150, 2)  # 2 mm: a stroke, not a speck


def hide_qr(img: np.ndarray) -> None:
    """White out the QR code: the page keeps its markers but loses its identity."""
    from omr.sheet.layout import qr_rect

    r = qr_rect()
    cv2.rectangle(img, (px(r.x - 1), px(r.y - 1)), (px(r.x + r.w + 1), px(r.y + r.h + 6)), 255, -1)


def fill_clear(img: np.ndarray, result: str = "5", staff: str = "4", counter: str = "2", areas=("3",)) -> None:
    cross(img, "q_result", result)
    cross(img, "q_staff", staff)
    cross(img, "q_counter", counter)
    for a in areas:
        cross(img, "q_area", a)


def save_pdf(images: list[np.ndarray], out: Path) -> Path:
    pil = [Image.fromarray(im) for im in images]
    pil[0].save(out, "PDF", save_all=True, append_images=pil[1:], resolution=DPI, quality=90)
    return out


def print_sheets(tmp: Path, count: int, unit: str = UNIT, name: str = "sheets.pdf", by: str = "admin"):
    from db.session import session
    from omr.services.print_runs import print_sheets as do_print

    out = tmp / name
    with session() as s:
        manifest = do_print(s, FORM, unit, count, out, by)
    return manifest, render(out)


def scan(paths: list[Path], by: str = "admin") -> list[dict]:
    from omr.services import ingest

    return list(ingest.scan(paths, created_by=by, workers=1))


@dataclass
class Dataset:
    lines: list[dict] = field(default_factory=list)
    serials: list[str] = field(default_factory=list)
    other_serial: str = ""
    stack: Path | None = None


def make_users(units: dict[str, tuple[str, str]]) -> None:
    """``{username: (role, unit)}``, all with ``PASSWORD``."""
    from db.session import transaction
    from omr.services.users import add_user

    with transaction() as s:
        for name, (role, unit) in units.items():
            add_user(s, name, PASSWORD, role, unit)


STANDARD_USERS = {
    "admin": ("admin", UNIT),
    "staff": ("staff", UNIT),
    "reviewer": ("reviewer", UNIT),
    "viewer": ("viewer", UNIT),
    "hanoi": ("admin", "01"),  # the province: sees its wards
    "other_admin": ("admin", OTHER_UNIT),
    "other_staff": ("staff", OTHER_UNIT),
    "other_reviewer": ("reviewer", OTHER_UNIT),
    "other_viewer": ("viewer", OTHER_UNIT),
}


def build(tmp: Path) -> Dataset:
    """Four sheets of unit 09552 (one clear, one with a double mark and a pale stroke beside a mark, one clear, one
    whose QR is unreadable), one sheet of another province's ward, and the first sheet scanned again
    with another answer (a conflict)."""
    make_users(STANDARD_USERS)
    manifest, pages = print_sheets(tmp, 4)
    serials = [m["serial"] for m in manifest]
    fill_clear(pages[0], result="5")
    fill_clear(pages[1], result="4")
    cross(pages[1], "q_result", "2")  # two marks in a single-choice question
    pale_stroke(pages[1], "q_staff", "3")  # beside the clear "4": a person looks
    pages[1][:] = pages[1]
    fill_clear(pages[2], result="3")
    fill_clear(pages[3], result="5")
    hide_qr(pages[3])
    stack = save_pdf(pages, tmp / "stack.pdf")
    lines = scan([stack])
    # another unit's sheet, uploaded by that unit's staff
    om, op = print_sheets(tmp, 1, unit=OTHER_UNIT, name="other.pdf", by="other_staff")
    fill_clear(op[0], result="1")
    cross(op[0], "q_staff", "2")  # a double mark there too: it has review items of its own
    lines += scan([save_pdf(op, tmp / "other-stack.pdf")], by="other_staff")
    # sheet 1 scanned again with a different answer: a conflict
    _, again = render_again(tmp, manifest)
    fill_clear(again, result="1")
    lines += scan([save_pdf([again], tmp / "again.pdf")])
    return Dataset(lines, serials, om[0]["serial"], stack)


def render_again(tmp: Path, manifest: list[dict]) -> tuple[str, np.ndarray]:
    """Sheet 1's page as printed, to be filled differently."""
    from db.models import PrintBatch
    from db.session import session
    from omr.services.print_runs import render_batch

    with session() as s:
        batch = s.scalar(select(PrintBatch).where(PrintBatch.first_serial == manifest[0]["serial"]))
        assert batch is not None
        out = tmp / "reprint.pdf"
        render_batch(s, batch, out)
    return manifest[0]["serial"], render(out)[0]


def csrf_from(html: str) -> str:
    m = re.search(r'name="csrf-token" content="([^"]+)"', html) or re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF token on the page"
    return m.group(1)


def login(client, username: str, password: str = PASSWORD):
    page = client.get("/login")
    token = csrf_from(page.get_data(as_text=True))
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token})


class Home:
    """Point OMR_HOME at a fresh directory for a whole test module (``monkeypatch`` is per test)."""

    def __init__(self, path: Path):
        self.path = path
        self._old: dict[str, str | None] = {}

    def __enter__(self) -> Path:
        import os

        from db import session as dbs

        for k, v in (("OMR_HOME", str(self.path)), ("OMR_SCAN_WORKERS", "1"), ("OMR_DATABASE_URL", None)):
            self._old[k] = os.environ.get(k)
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        dbs.dispose()
        from web.access import invalidate_units

        invalidate_units()
        return self.path

    def __exit__(self, *exc) -> None:
        import os

        from db import session as dbs

        dbs.dispose()
        for k, v in self._old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def app_for_tests(**config):
    from web import create_app

    base = {"TESTING": True, "SCAN_INLINE": True}
    base.update(config)
    return create_app(base)
