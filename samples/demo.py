"""The demo's filled stack: a fixed recipe, run after the demo has printed its sheets.

The stack cannot be committed ready-made: every QR code carries a signature made with the
installation's own secret key, which exists only once the installation does. So the demo prints
sheets (which issues their serials), then calls ``make_demo_stack`` with those serials and the key.
Same serials and key, same bytes.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from omr.sheet.templates import Variant
from samples.degrade import FULL
from samples.generate import generate_stack

DEMO_FORM = "kien-hung-2020"
DEMO_UNIT = "09552"  # Phường Kiến Hưng
DEMO_SEED = 2020
MAX_DEMO_PAGES = 25
# a clerk's everyday scanner: 150 dpi, thrifty JPEG, one page in five black-and-white; about
# 110 KB a page, so the whole demo stack stays under 3 MB
DEMO_SCANNER = replace(FULL.scaled(0.6), jpeg_quality=(50, 65), p_bilevel=0.2)


def make_demo_stack(
    out_dir: Path, serials: list[str], key: bytes, unit: str = DEMO_UNIT, variant: Variant = Variant()
) -> Path:
    """A small scanner PDF (``demo-stack.pdf``) of the given sheets filled in, with a fair share of
    what a person must review (double marks, faint dots, corrections, circled labels) and some pages
    upside down or skewed. Returns the truth file's path (``demo-stack.truth.json``)."""
    if not serials:
        raise ValueError("no serials: print the demo sheets first")
    if len(serials) > MAX_DEMO_PAGES:
        raise ValueError(f"the demo stack takes at most {MAX_DEMO_PAGES} sheets, got {len(serials)}")
    return generate_stack(
        Path(out_dir),
        form_id=DEMO_FORM,
        unit=unit,
        serials=list(serials),
        key=key,
        variant=variant,
        fmt="pdf",
        dpi=150,
        seed=DEMO_SEED,
        hard_case_rate=0.12,
        degrade=DEMO_SCANNER,
        blank_backs=False,
        name="demo-stack",
    )
