"""Which damage families and seeds the reader may be tuned on, and which it is tested on: the one
place the split is written down.

CALIBRATION — what thresholds (or a model) may be fitted on:
  - ``gen-light``, ``gen-full``: the project's own scanner model (``samples.degrade``), which the
    reader was built against;
  - ``photocopy``, ``adf-streaks``, ``lighting``, ``jpeg-heavy`` (``samples.augment``): toner haze and
    speckle, roller and drum streaks, uneven light, heavy JPEG. Noise *on* flat paper: a reader must
    learn what an empty box looks like under noise, and these teach it.

HELD-OUT — never used for tuning; the accuracy test (tests/test_accuracy.py) runs on these only:
  - ``folded``, ``folded-fax``, ``wavy``: paper that is not flat (the geometry changes between the
    corner markers), which no calibration family has; the issue's second class of failure;
  - ``fax``: bilevel pages, thresholded by other code than the project's scanner model;
  - ``ink-bleed``, ``low-ink``: the marks and the print themselves change (spread, pale lines,
    smears), not only the paper around them;
  - ``copier-150``: a copier's speckle at 150 dpi, where a speck is the size of a mark's stroke;
  - ``shadow-texture``: the grain of cheap paper under a soft shadow (a lid left open, a hand):
    added after reader 7, and read once before any change was fitted on it.
  - ``office-mix``: an ordinary office's stack, each page through several damages at once (paper
    not flat, a worn copier's haze, the feeder's rollers, a lamp falling off, a small JPEG, 150 to
    300 dpi): each of them is in another family (haze, rollers and light in calibration's), never
    all together. Added after reader 15, and read on eight replicates before anything was fitted on it
    (its recipe 1; recipe 2 draws the copier's Worley haze without numba, the same noise from
    another generator).
  - ``office-extra``: what no other family does, from augraphy's repertoire: a binder's punch holes,
    a scanner's broken lines across the page, mottled ink, under a shadow. Added after reader 15;
    reader 16's blank check and reader 17's line repair were fitted on replicates 0-11, readers
    18-20's lines through a table's boxes and dirt beside a mark on 52-59; each was tested on
    replicates made after it.
  A held-out family is damage of a kind the tuning never saw, so how the reader does on it is how
  it will do on the next office's scanner.

Seeds differ too: calibration stacks are drawn from ``CALIBRATION_SEED`` on, held-out ones from
``HELDOUT_SEED`` on, so even a family moved from one list to the other never shares pages.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from samples.augment import RECIPES

FORMS = ("kien-hung-2020", "sipas-tthc", "hn-y-te")
# each form's stack format, as the test of the whole pipeline has always used them
FORM_FORMAT = {"kien-hung-2020": "pdf", "sipas-tthc": "zip", "hn-y-te": "tiff"}
SHEET_PAGES = {"kien-hung-2020": 2, "sipas-tthc": 2, "hn-y-te": 1}  # kien-hung: with its blank back
GENERATOR = {"gen-light": "light", "gen-full": "full"}  # family -> samples.degrade preset

CALIBRATION = ("gen-light", "gen-full", "photocopy", "adf-streaks", "lighting", "jpeg-heavy")
HELDOUT = (
    "folded",
    "folded-fax",
    "wavy",
    "fax",
    "ink-bleed",
    "low-ink",
    "copier-150",
    "shadow-texture",
    "office-mix",
    "office-extra",
)
SPLITS = {"calib": CALIBRATION, "heldout": HELDOUT}
CALIBRATION_SEED, HELDOUT_SEED = 100_000, 500_000
HARD_CASE_RATE = 0.08
VERSION = 3  # bump when the marks or the stacks change (one recipe: its own version): stacks are made again

assert set(CALIBRATION).isdisjoint(HELDOUT)
assert set(CALIBRATION + HELDOUT) <= set(GENERATOR) | set(RECIPES)


@dataclass(frozen=True)
class Case:
    """One stack: a family's pages of one form, from one seed."""

    split: str
    family: str
    form: str
    seed: int
    sheets: int

    @property
    def fmt(self) -> str:
        return FORM_FORMAT[self.form]

    @property
    def blank_backs(self) -> bool:
        return self.form == "kien-hung-2020"

    @property
    def name(self) -> str:
        recipe = RECIPES[self.family].version if self.family in RECIPES else 1
        return f"v{VERSION}/{self.split}/{self.family}.r{recipe}/{self.form}-s{self.seed}-n{self.sheets}"

    def generate_args(self) -> dict:
        """Keyword arguments of ``samples.generate.generate_stack`` (less out, serials, key)."""
        args: dict = dict(
            form_id=self.form,
            unit="09552",
            fmt=self.fmt,
            seed=self.seed,
            hard_case_rate=HARD_CASE_RATE,
            blank_backs=self.blank_backs,
            wide_marks=True,
        )
        if self.family in GENERATOR:
            args.update(degrade=GENERATOR[self.family], dpi=(150, 300))
        else:
            args.update(family=self.family)
        return args


def seed_for(split: str, family: str, form: str, replicate: int = 0) -> int:
    base = CALIBRATION_SEED if split == "calib" else HELDOUT_SEED
    return base + zlib.crc32(f"{family}/{form}/{replicate}".encode()) % 100_000


def cases(split: str, families: list[str] | None = None, pages: int = 48, replicate: int = 0) -> list[Case]:
    """The stacks of a split: about ``pages`` pages per family, shared out over the forms. Another
    ``replicate`` gives other pages of the same families (other seeds): pages nobody has looked at."""
    names = SPLITS[split]
    if families:
        unknown = [f for f in families if f not in names]
        if unknown:
            raise ValueError(f"not in the {split} split: {', '.join(unknown)} (it has {', '.join(names)})")
        names = tuple(f for f in names if f in families)
    per_form = max(1, pages // len(FORMS))
    return [
        Case(split, fam, form, seed_for(split, fam, form, replicate), max(1, per_form // SHEET_PAGES[form]))
        for fam in names
        for form in FORMS
    ]
