"""Accuracy targets of the core issues (2 and 9), measured end to end on HELD-OUT damage families.

Sheets are printed by ``omr print`` (so their serials are issued), filled by the wide repertoire of
pens and marks (``samples.fill``), damaged by the held-out families of ``samples.families`` — folded
and wavy paper, fax, ink bleed and low ink, a 150-dpi copier, a shadow on grainy paper, an office's
mix of several at once, punch holes and broken lines — that the reader's thresholds were not fitted
on (but office-extra's: its punch-hole and line rules were fitted on its replicates 0-11 and
52-59, this test's replicate 0 among them; BENCHMARKS.md gives its figures on replicates never
seen), read by
``omr scan --json`` into the database, and scored against the truth. Targets, per family where a
family has enough cases to measure them, and overall:

- every page in is a row out; every page with an intact QR identified; blank backs called blank;
- machine-accepted answers wrong: at most 1 in 2,000 (overall: a family alone has too few answers);
- double marks, faint dots and corrections: at least 99 % sent to review;
- clear marks sent to review: at most 2 %;
- written free-text areas seen, and empty ones called empty: at least 98 % each.

The per-family table is printed (``pytest -s``); ``python -m benchmarks.accuracy --split heldout``
gives the same table from the reader alone, faster, for tuning's sake — on a calibration split.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import pytest

from benchmarks.accuracy import by_family, make_stacks, report, stack_files
from samples.evaluate import Score
from samples.families import FORMS, HELDOUT, Case, cases

# one worker builds the stacks once for all the checks
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("accuracy")]

PAGES_PER_FAMILY = 48  # 384 pages, about 3,400 answers over the held-out families

# Held-out families whose figure still misses a target of the issue, with the worst figure the
# reader may show there today. Issue 9 stays open while this is not empty: the target is asserted
# for every other family, a listed family fails if it gets worse than its figure, and an entry must
# go as soon as its family meets the target (then the test says so).
NOT_YET_MET: dict[str, dict[str, float]] = {
    # clear marks sent to review (target at most 2 %): pale marks a fax's threshold erased (the boxes
    # read empty beside bold borders spilling over their edge), broken-up thin marks (reader 4: 2.6 %)
    "clear_review": {"fax": 0.03},
}
STATUS_OK = ("accepted", "needs_review", "blank")


def omr(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMR_HOME": str(home)}
    env.pop("OMR_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "omr.cli", *args], env=env, capture_output=True, text=True, timeout=1200
    )


@pytest.fixture(scope="module")
def scanned(tmp_path_factory) -> tuple[list[Case], list[Path], list[list[dict]]]:
    """The held-out cases, their stack directories, and each stack's ``omr scan --json`` lines."""
    home = tmp_path_factory.mktemp("home")
    work = tmp_path_factory.mktemp("stacks")
    todo = cases("heldout", pages=PAGES_PER_FAMILY)
    # serials issued by omr print, each used by one stack only
    serials: dict[str, list[str]] = {}
    for form in FORMS:
        count = sum(c.sheets for c in todo if c.form == form)
        printed = omr(home, "print", "--form", form, "--unit", "09552", "--count", str(count), "--out",
                      str(work / f"{form}.pdf"), "--json")  # fmt: skip
        assert printed.returncode == 0, printed.stderr
        serials[form] = sorted({json.loads(x)["serial"] for x in printed.stdout.splitlines()})
        assert len(serials[form]) == count
    key = (home / "secret.key").read_bytes()
    taken: dict[str, int] = defaultdict(int)
    jobs = []
    for i, case in enumerate(todo):
        first = taken[case.form]
        taken[case.form] += case.sheets
        jobs.append((work / f"case{i:02d}", case, key, serials[case.form][first : first + case.sheets]))
    make_stacks(jobs, processes=2)
    dirs = [j[0] for j in jobs]
    rows = []
    for d in dirs:  # one scan per stack: page names (a ZIP's entries) repeat from stack to stack
        scan = omr(home, "scan", "--json", *(str(f) for f in stack_files(d)))
        assert scan.returncode == 0, scan.stderr
        rows.append([json.loads(x) for x in scan.stdout.splitlines()])
    return todo, dirs, rows


@pytest.fixture(scope="module")
def scored(scanned) -> dict[str, Score]:
    scores = by_family(*scanned)
    print("\n" + report(scores, "heldout", markdown=False))
    return scores


def _total(scores: dict[str, Score]) -> Score:
    total = Score()
    for s in scores.values():
        total += s
    return total


def _failing(
    scores: dict[str, Score], measure: Callable[[Score], float], ok: Callable[[float], bool]
) -> dict[str, float]:
    """The families whose ``measure`` misses the target, with their figure."""
    return {name: round(measure(s), 4) for name, s in scores.items() if not ok(measure(s))}


def test_every_held_out_family_is_measured(scored):
    assert list(scored) == list(HELDOUT)


def test_no_page_lost_and_every_intact_qr_identified(scored):
    s = _total(scored)
    print(s.summary())
    assert s.pages_out == s.pages_in
    assert _failing(scored, lambda f: f.sheet_pages - f.identified, lambda lost: lost == 0) == {}
    assert _failing(scored, lambda f: f.blank_pages - f.blank_recognised, lambda missed: missed == 0) == {}


def test_machine_accepted_answers_are_right(scored):
    s = _total(scored)
    assert sum(s.by_kind.values()) >= 2400  # the stacks hold enough answers; the reader must accept them
    assert s.accepted >= 2000, f"{s.accepted} accepted answers: too few to measure 1 in 2,000"
    assert s.accepted_wrong <= s.accepted / 2000, [str(w) for w in s.worst(10)]


def test_double_marks_faint_dots_and_corrections_go_to_review(scored):
    assert _total(scored).must_review >= 100
    assert _failing(scored, lambda f: f.must_review_rate, lambda r: r >= 0.99) == {}


def _known_misses(
    what: str, scores: dict[str, Score], measure: Callable[[Score], float], ok: Callable[[float], bool], worse
) -> None:
    """The target holds for every family but those listed in ``NOT_YET_MET[what]``; those are no worse
    than their figure there, and still miss (else the entry must go)."""
    known = NOT_YET_MET.get(what, {})
    failing = _failing(scores, measure, ok)
    assert set(failing) <= set(known), f"{what}: target missed by {failing}"
    assert {f: v for f, v in failing.items() if worse(v, known[f])} == {}, f"{what}: worse than {known}"
    met = sorted(set(known) - set(failing))
    assert not met, f"{what}: {met} now meet the target: take them out of NOT_YET_MET"


def test_few_clear_marks_go_to_review(scored):
    _known_misses("clear_review", scored, lambda f: f.clear_review_rate, lambda r: r <= 0.02, lambda v, k: v > k)


def test_written_and_empty_text_areas_are_told_apart(scored):
    s = _total(scored)
    assert s.texts_written >= 50 and s.texts_empty >= 50
    assert _failing(scored, lambda f: f.texts_written_rate, lambda r: r >= 0.98) == {}
    _known_misses("texts_empty", scored, lambda f: f.texts_empty_rate, lambda r: r >= 0.98, lambda v, k: v < k)


def test_rows_follow_the_contract(scanned):
    todo, _, rows = scanned
    for case, case_rows in zip(todo, rows, strict=True):
        for row in case_rows:
            assert row["status"] in STATUS_OK, row
            if row["status"] != "blank":
                assert {"source", "page", "form", "unit", "serial", "sheet_page", "answers", "texts"} <= row.keys()
                assert row["unit"] == "09552" and row["form"] == case.form
                for a in row["answers"].values():
                    assert a["state"] in ("marked", "blank", "multiple", "uncertain")
                    assert 0.0 <= a["confidence"] <= 1.0
                assert set(row["texts"].values()) <= {"written", "blank"}
