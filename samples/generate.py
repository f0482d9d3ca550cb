"""Generate scanned stacks of filled survey sheets, with their ground truth.

    python -m samples.generate --form kien-hung-2020 --unit 09552 --serials 000001-000040 \\
        --key-file omr-data/secret.key --format pdf --out /tmp/stack

``--photo`` photographs the sheets with a phone (``samples.photo``) instead of scanning them: a
directory (``--format png-dir``) of JPEG photos, each page's truth with ``"mode": "photo"`` and the
photo's settings under ``"photo"``.

The serials must be ones the installation really issued (print them first: ``omr print``), since
the QR signature is checked and a serial nobody printed is not a sheet of this installation.

Pages are made and written one at a time, so a stack of any length needs the memory of one page.
Every random choice comes from the seed and the page's position: the same call gives the same bytes.

The truth file (``<name>.truth.json``) beside the stack::

    {"generator": "samples.generate", "format": "pdf", "stack": "stack.pdf", "seed": 1, ...,
     "pages": [
       {"index": 1, "source": "stack.pdf", "page": 1, "blank": false,
        "form": "kien-hung-2020", "version": 1, "variant": "c6p0", "unit": "09552",
        "serial": "000001", "sheet_page": 1,
        "rotation": 180, "skew": -3.2, "dpi": 200, "mode": "grey", "scan": {...},
        "answers": {"q_result": {"value": "5", "kind": "clear", "expect": "marked", "marks": ["tick:5"]},
                    "q_staff": {"value": null, "kind": "faint", "expect": "uncertain", "marks": ["dot:3"]}},
        "texts": {"y_kien_khac": true}},
       {"index": 2, "source": "stack.pdf", "page": 2, "blank": true, "back_of": "000001", ...}]}

``rotation``: how far the sheet was turned clockwise in the scan (90: its top edge lies along the
image's right edge); turning the image counter-clockwise by as much puts it upright. ``skew``: the
further small tilt, degrees counter-clockwise. Answer kinds and ``expect`` are explained in
``samples.fill``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
from tqdm import tqdm

from omr.sheet.layout import layout
from omr.sheet.render import UnitHeading
from omr.sheet.templates import Form, Variant, get_form
from samples import augment as au
from samples import degrade as dg
from samples import photo as ph
from samples.fill import fill_page, make_person
from samples.ink import Canvas
from samples.sheet import MASTER_DPI, Master, masters, sheet_page
from samples.writers import FORMATS, PageImage, open_writer

TRUTH_SUFFIX = ".truth.json"


@cache
def unit_heading(unit: str) -> UnitHeading:
    """The unit's printed heading, from the built-in list of official divisions when it is one."""
    try:
        from vietnam_provinces import Province, Ward

        code = int(unit)
        if len(unit) == 5:
            w = Ward.from_code(code)
            p = Province.from_code(w.province_code)
            return UnitHeading(w.name, p.name)
        if len(unit) == 2:
            return UnitHeading(Province.from_code(code).name)
    except Exception:  # not an official division (a school, a clinic): the heading is decoration here
        pass
    return UnitHeading(f"Đơn vị {unit}")


@dataclass
class Page:
    """One page of the stack before the scanner: a clean raster and what is true about it."""

    clean: np.ndarray  # grey, paper 255, at MASTER_DPI
    truth: dict
    rng: np.random.Generator
    front: np.ndarray | None = None  # a blank back's front side (for show-through)


@dataclass
class StackSpec:
    form: Form
    unit: str
    serials: list[str]
    key: bytes
    variant: Variant = Variant()
    seed: int = 0
    hard_case_rate: float = 0.05
    blank_backs: bool = False
    heading: UnitHeading | None = None
    wide_marks: bool = False  # samples.fill's wide repertoire of pens and marks
    _masters: dict[int, tuple[Master, ...]] = field(default_factory=dict, repr=False)

    def page_count(self) -> int:
        per_sheet = self.form.pages + (1 if self.blank_backs and self.form.pages % 2 else 0)
        return per_sheet * len(self.serials)

    def _masters_for(self, serial: str) -> tuple[Master, ...]:
        n = len(serial)
        if n not in self._masters:
            heading = self.heading or unit_heading(self.unit)
            self._masters[n] = masters(self.form, self.variant, self.unit, heading, n)
        return self._masters[n]

    def pages(self) -> Iterator[Page]:
        """The stack's pages in order, made lazily."""
        fl = layout(self.form, self.variant)
        index = 0
        for sheet_no, serial in enumerate(self.serials):
            person = make_person(np.random.default_rng([self.seed, sheet_no, 0]), self.wide_marks)
            last = None
            for m, pl in zip(self._masters_for(serial), fl.pages, strict=True):
                index += 1
                rng = np.random.default_rng([self.seed, sheet_no, pl.number])
                img, ident = sheet_page(m, fl, self.unit, serial, pl.number, self.key)
                canvas = Canvas(img, m.kx, m.ky)
                answers, texts = fill_page(canvas, fl.fields_on(pl.number), rng, self.hard_case_rate, person)
                truth = {
                    "index": index,
                    "blank": False,
                    "form": ident.form,
                    "version": ident.version,
                    "variant": ident.variant,
                    "unit": ident.unit,
                    "serial": ident.serial,
                    "sheet_page": ident.page,
                    "answers": answers,
                    "texts": texts,
                }
                last = img
                yield Page(img, truth, rng)
            if self.blank_backs and self.form.pages % 2:
                index += 1
                rng = np.random.default_rng([self.seed, sheet_no, 1000])
                white = np.full_like(last, 255)
                truth = {
                    "index": index,
                    "blank": True,
                    "form": None,
                    "unit": None,
                    "serial": None,
                    "sheet_page": None,
                    "back_of": serial,
                    "answers": {},
                    "texts": {},
                }
                yield Page(white, truth, rng, front=last)


def scan_page(page: Page, d: dg.Degrade, dpi: int | tuple[int, int]) -> tuple[PageImage, dict]:
    """The page through the scanner: its image and its truth completed with the scan settings."""
    s = dg.draw_scan(d, dpi, page.rng, blank=page.truth["blank"])
    pixels = dg.scan(page.clean, s, page.rng, page.front)
    truth = dict(page.truth)
    truth.update(rotation=s.rotation, skew=round(s.skew, 3), dpi=s.dpi, mode=s.mode, scan=s.as_dict())
    return PageImage(pixels, s.dpi, s.quality), truth


def augment_page(page: Page, family: str) -> tuple[PageImage, dict]:
    """The page through damage family ``family`` of ``samples.augment``: its image and its truth."""
    image, drawn = au.damage(page.clean, family, page.rng)
    return image, {**page.truth, **drawn}


def photo_page(page: Page, camera: ph.Camera) -> tuple[PageImage, dict]:
    """The page photographed with a phone: its image and its truth completed with the photo's settings."""
    s = ph.draw_shot(camera, page.rng)
    pixels = ph.photograph(page.clean, s, page.rng)
    dpi = ph.effective_dpi(page.clean, s)
    truth = dict(page.truth)
    truth.update(dpi=dpi, mode="photo", photo=s.as_dict())
    return PageImage(pixels, dpi, s.quality), truth


def generate_stack(
    out: Path,
    *,
    form_id: str,
    unit: str,
    serials: list[str],
    key: bytes,
    variant: Variant = Variant(),
    fmt: str = "pdf",
    dpi: int | tuple[int, int] = (150, 300),
    seed: int = 0,
    hard_case_rate: float = 0.05,
    degrade: bool | float | str | dg.Degrade = True,
    blank_backs: bool = False,
    name: str = "stack",
    version: int | None = None,
    heading: UnitHeading | None = None,
    progress: bool = False,
    camera: ph.Camera | None = None,
    family: str | None = None,
    wide_marks: bool = False,
) -> Path:
    """Write a stack of filled, scanned sheets into directory ``out``; returns its truth file.

    ``fmt``: pdf | tiff | png-dir | zip. ``dpi``: fixed, or a (low, high) range the scanner settings
    are drawn from. ``hard_case_rate``: share of fields given a hard case (double mark, faint dot,
    stray stroke, correction, circled label). ``degrade``: True/False, a level 0..1, a preset name
    (none, light, full) or a ``samples.degrade.Degrade``. ``blank_backs``: a blank page (the back of
    the sheet, as a duplex scanner delivers it) after every sheet of a one-page form. ``camera``: photograph
    the pages with a phone (``samples.photo``) instead of scanning them; ``degrade`` and ``dpi`` are unused.
    ``family``: scan them with a damage family of ``samples.augment`` instead (its own dpi and damage;
    ``degrade`` and ``dpi`` unused); each page's truth then names the family and what it drew.
    ``wide_marks``: people use ``samples.fill``'s wide repertoire of pens and marks.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown stack format {fmt!r} (one of {', '.join(FORMATS)})")
    if not serials:
        raise ValueError("no serials: print sheets first and pass their serials")
    if family is not None and family not in au.RECIPES:
        raise ValueError(f"unknown damage family {family!r} (one of {', '.join(au.RECIPES)})")
    out = Path(out)
    spec = StackSpec(
        get_form(form_id, version),
        unit,
        list(serials),
        key,
        variant,
        seed,
        hard_case_rate,
        blank_backs,
        heading,
        wide_marks,
    )
    d = dg.resolve(degrade)
    truth_pages = []
    bar = tqdm(total=spec.page_count(), unit="trang", disable=not progress, file=sys.stderr)
    with open_writer(fmt, out, name) as writer:
        for page in spec.pages():
            if family:
                image, truth = augment_page(page, family)
            elif camera:
                image, truth = photo_page(page, camera)
            else:
                image, truth = scan_page(page, d, dpi)
            source, number = writer.add(image)
            truth_pages.append({"source": source, "page": number, **truth})
            bar.update()
    bar.close()
    meta = {
        "generator": "samples.generate",
        "format": fmt,
        "stack": writer.path.name,
        "form": spec.form.id,
        "version": spec.form.version,
        "variant": variant.code(),
        "unit": unit,
        "seed": seed,
        "hard_case_rate": hard_case_rate,
        "blank_backs": blank_backs,
        "dpi": list(dpi) if isinstance(dpi, tuple) else dpi,
        "degrade": asdict(d),
        "camera": asdict(camera) if camera else None,
        "family": family,
        "wide_marks": wide_marks,
        "master_dpi": MASTER_DPI,
        "pages": truth_pages,
    }
    truth_path = out / f"{name}{TRUTH_SUFFIX}"
    tmp = truth_path.with_name(truth_path.name + ".part")
    tmp.write_text(json.dumps(meta, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    tmp.replace(truth_path)
    return truth_path


def read_truth(path: Path) -> dict:
    """A truth file as written by ``generate_stack``."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- command line


def parse_serials(text: str) -> list[str]:
    """``000001-000040``, ``000001,000007,000009``, a mix of both, or ``@file`` (one per line)."""
    if text.startswith("@"):
        return [s.strip() for s in Path(text[1:]).read_text().split() if s.strip()]
    out: list[str] = []
    for part in text.split(","):
        part = part.strip()
        if "-" in part:
            a, b = part.split("-", 1)
            if not (a.isdigit() and b.isdigit()) or int(b) < int(a):
                raise ValueError(f"bad serial range {part!r}")
            out.extend(f"{i:0{len(a)}d}" for i in range(int(a), int(b) + 1))
        elif part:
            out.append(part)
    return out


def _dpi(text: str) -> int | tuple[int, int]:
    if "-" in text:
        lo, hi = text.split("-", 1)
        return int(lo), int(hi)
    return int(text)


def _degrade(text: str) -> bool | float | str:
    try:
        return float(text)
    except ValueError:
        return text


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m samples.generate", description=__doc__.split("\n\n")[0])
    ap.add_argument("--form", required=True)
    ap.add_argument("--unit", required=True)
    ap.add_argument("--serials", required=True, help="000001-000040, a comma list, or @file")
    ap.add_argument("--key-file", type=Path, help="the installation's secret.key (default: the one in OMR_HOME)")
    ap.add_argument("--format", default="pdf", choices=FORMATS)
    ap.add_argument("--out", type=Path, required=True, help="directory for the stack and its truth file")
    ap.add_argument("--name", default="stack")
    ap.add_argument("--dpi", type=_dpi, default=(150, 300), help="200, or a range such as 150-300")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--hard-case-rate", type=float, default=0.05)
    ap.add_argument("--degrade", type=_degrade, default="full", help="none, light, full, or a level 0..1")
    ap.add_argument("--photo", action="store_true", help="phone photos (samples.photo) instead of scans: use png-dir")
    ap.add_argument("--blank-backs", action="store_true")
    ap.add_argument("--counters", type=int, default=Variant().counters)
    ap.add_argument("--personal", action="store_true")
    args = ap.parse_args(argv)
    try:
        if args.key_file:
            key = args.key_file.read_bytes()
        else:
            from omr.services.signing_key import secret_key

            key = secret_key()
        truth = generate_stack(
            args.out,
            form_id=args.form,
            unit=args.unit,
            serials=parse_serials(args.serials),
            key=key,
            variant=Variant(args.counters, args.personal),
            fmt=args.format,
            dpi=args.dpi,
            seed=args.seed,
            hard_case_rate=args.hard_case_rate,
            degrade=args.degrade,
            blank_backs=args.blank_backs,
            name=args.name,
            progress=True,
            camera=ph.PHONE if args.photo else None,
        )
    except (ValueError, KeyError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(truth)
    return 0


if __name__ == "__main__":
    sys.exit(main())
