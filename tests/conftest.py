"""Shared fixtures: a throw-away data directory, and scanned stacks made from sheets the product prints."""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
from PIL import Image

SCAN_DPI = 200


@pytest.fixture
def omr_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh OMR_HOME with its own SQLite database; engines are closed afterwards."""
    from db import session as dbs

    home = tmp_path / "omr-home"
    monkeypatch.setenv("OMR_HOME", str(home))
    monkeypatch.delenv("OMR_DATABASE_URL", raising=False)
    monkeypatch.setenv("OMR_SCAN_WORKERS", "2")
    yield home
    dbs.dispose()


def render_pdf_pages(pdf_path: Path, dpi: int = SCAN_DPI) -> list[np.ndarray]:
    """The printed PDF as a scanner would see it: one grey image per page."""
    from samples.sheet import rasterise

    return rasterise(pdf_path, dpi)


def mark_cross(img: np.ndarray, form_id: str, field: str, value: str, variant_code: str = "c6p0", dpi: int = SCAN_DPI):
    """Draw a pen cross in an option's box, where the layout says the box is."""
    from omr.sheet.layout import layout_for
    from omr.sheet.templates import Variant

    fl = layout_for(form_id, variant=Variant.parse(variant_code))
    box = next(o.box for o in fl.placement(field).options if o.value == value)

    def px(v: float) -> int:
        return round(v * dpi / 25.4)

    x0, y0, x1, y1 = (px(v) for v in (box.x + 0.7, box.y + 0.7, box.x + box.w - 0.7, box.y + box.h - 0.7))
    cv2.line(img, (x0, y0), (x1, y1), 0, 3)
    cv2.line(img, (x0, y1), (x1, y0), 0, 3)


def jpeg_pdf(images: list[np.ndarray], out: Path, dpi: int = SCAN_DPI, quality: int = 85) -> Path:
    """A scanner-style PDF: one JPEG image per page."""
    pil = [Image.fromarray(im) for im in images]
    pil[0].save(out, "PDF", save_all=True, append_images=pil[1:], resolution=dpi, quality=quality)
    return out


def png_bytes(img: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture
def printed(omr_home: Path) -> Callable[..., tuple[list[dict], list[np.ndarray]]]:
    """Print ``count`` sheets through the product and return (manifest, rendered page images)."""
    from db.session import session
    from omr.services.print_runs import print_sheets

    def make(form_id: str = "kien-hung-2020", unit: str = "09552", count: int = 2, name: str = "printed.pdf"):
        out = omr_home.parent / name
        with session() as s:
            manifest = print_sheets(s, form_id, unit, count, out, "tester")
        return manifest, render_pdf_pages(out)

    return make


@pytest.fixture
def scan_tools() -> SimpleNamespace:
    """The helpers above, for tests (a fixture rather than ``import conftest``, which breaks under
    pytest's importlib mode)."""
    return SimpleNamespace(render=render_pdf_pages, cross=mark_cross, jpeg_pdf=jpeg_pdf, png=png_bytes)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """In CI every server and browser the tests need is installed by scripts/setup.sh, so a test that
    skips because one is missing is a broken set-up, not a pass: it fails there."""
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI") and report.skipped and call.excinfo is not None:
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where nothing may be missing: {call.excinfo.value}"


@pytest.fixture(scope="session")
def _postgres_server() -> Iterator[str]:
    import subprocess

    from servers import ServerUnavailable, postgres

    try:
        ctx = postgres()
        url = ctx.__enter__()
    except (ServerUnavailable, subprocess.CalledProcessError) as e:
        pytest.skip(f"PostgreSQL not available: {e}")
    yield url
    ctx.__exit__(None, None, None)


@pytest.fixture
def pg_url(_postgres_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """OMR_DATABASE_URL pointing at a fresh database on a real PostgreSQL server (started once per run)."""
    from servers import new_database

    from db import session as dbs

    url = new_database(_postgres_server)
    monkeypatch.setenv("OMR_DATABASE_URL", url)
    yield url
    dbs.dispose()


@pytest.fixture(scope="module")
def tally_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The tallies' fixed data (test_tally.build_fixture) in its own data directory, for a module."""
    from test_tally import build_fixture

    from db import session as dbs

    home = tmp_path_factory.mktemp("omr-home")
    old = {k: os.environ.get(k) for k in ("OMR_HOME", "OMR_DATABASE_URL")}
    os.environ["OMR_HOME"] = str(home)
    os.environ.pop("OMR_DATABASE_URL", None)
    dbs.dispose()
    build_fixture(home)
    yield home
    dbs.dispose()
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
