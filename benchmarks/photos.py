"""What the reader does with phone photos of single sheets: read, or sent whole to a person.

    python -m benchmarks.photos [--sheets 6] [--seed 700006] [--cache DIR]

For each camera setting (the phone's default ranges, ``samples.photo.PHONE``, and the sheet filling
the frame) and each form, ``--sheets`` sheets are photographed (``samples.generate``, PNG files,
cached beside the accuracy bench's stacks) and read by ``omr.detect.read.read_page``. Prints, per
setting, the page statuses and the score against the truth (``samples.evaluate``): the requirement is
that no machine-accepted answer is wrong. Results: BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
from collections import Counter
from dataclasses import replace
from pathlib import Path

from benchmarks.accuracy import DEFAULT_CACHE, cache_key
from omr.detect.images import decode
from omr.detect.read import read_page
from samples import photo
from samples.evaluate import Score, reader_row, score
from samples.families import FORMS
from samples.generate import generate_stack, read_truth

CAMERAS = {
    "phone-default": photo.PHONE,
    "sheet-fills-frame": replace(photo.PHONE, megapixels=(8.0, 9.0), fill=(0.85, 0.98)),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sheets", type=int, default=6, help="sheets of each form per camera setting")
    ap.add_argument("--seed", type=int, default=700_006)
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    a = ap.parse_args()
    key = cache_key(a.cache)
    for name, camera in CAMERAS.items():
        total, statuses = Score(), Counter[str]()
        for form in FORMS:
            out = a.cache / "photos" / f"{name}-{form}-s{a.seed}-n{a.sheets}"
            truth_file = out / "stack.truth.json"
            if not truth_file.exists():
                truth_file = generate_stack(
                    out,
                    serials=[f"{i:06d}" for i in range(1, a.sheets + 1)],
                    key=key,
                    form_id=form,
                    unit="09552",
                    fmt="png-dir",
                    seed=a.seed,
                    hard_case_rate=0.08,
                    camera=camera,
                    wide_marks=True,
                )
            truth = read_truth(truth_file)
            stack = truth_file.parent / truth["stack"]
            rows = [
                reader_row(read_page(decode((stack / p["source"]).read_bytes()), key), p["source"], p["page"])
                for p in truth["pages"]
            ]
            statuses.update(r["status"] for r in rows)
            total += score(truth, rows)
        print(f"{name}: pages by status {dict(statuses)}")
        print("  " + total.summary().replace("\n", "\n  "))


if __name__ == "__main__":
    main()
