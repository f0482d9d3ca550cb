"""decide: each threshold at its edge, and each rule of a question, on hand-made measurements.

The values are taken from thresholds.py itself, one step either side of each limit, so a change of a
value moves the edge and the test with it; a change of a rule (which side of a limit a box falls on,
what a question with such boxes becomes) fails here."""

from __future__ import annotations

from dataclasses import replace

import pytest

from omr.detect import thresholds as T
from omr.detect.decide import Box, classify, decide_field
from omr.detect.result import BLANK, MARKED, MULTIPLE, UNCERTAIN, BoxMeasure
from omr.sheet.templates import Field, Option

EPS = 1e-4
EMPTY = BoxMeasure(ink=0.0, core=0.0, darkness=0.0, spill=0.0, label=0.0, stroke=0.0)
TICK = BoxMeasure(ink=0.2, core=0.15, darkness=0.2, spill=0.0, label=0.0, reach=0.8, stroke=0.2)
FILL = BoxMeasure(ink=0.95, core=0.99, darkness=0.9, spill=0.1, label=0.0, reach=1.0, stroke=0.95)


def _box(**changes: float) -> BoxMeasure:
    return replace(EMPTY, **changes)


def _field(kind: str = "single", n: int = 5) -> Field:
    return Field("q", kind, "Câu hỏi", 1, tuple(Option(str(i), f"Mức {i}") for i in range(1, n + 1)))


def _decide(kind: str = "single", **boxes: BoxMeasure):
    """A question of five options, every box empty but those given (by option value, as ``o3=...``)."""
    given = {k.removeprefix("o"): m for k, m in boxes.items()}
    return decide_field(_field(kind), {str(i): given.get(str(i), EMPTY) for i in range(1, 6)})


# --- one box at each edge -------------------------------------------------------------------------


def test_an_empty_box_is_empty_and_sure():
    assert classify(EMPTY, EMPTY) == (Box.EMPTY, 1.0)


@pytest.mark.parametrize(
    ("ink", "expected"),
    [(T.BLANK_INK_MAX, Box.EMPTY), (T.BLANK_INK_MAX + EPS, Box.WEAK)],
)
def test_the_blank_ink_limit(ink, expected):
    assert classify(_box(ink=ink, stroke=0.0), EMPTY)[0] is expected


@pytest.mark.parametrize(
    ("stroke", "expected", "conf"),
    [(T.MARK_INK_MIN, Box.MARK, T.CONF_AT_THRESHOLD), (T.MARK_INK_MIN - EPS, Box.WEAK, T.CONF_PERSON)],
)
def test_the_mark_ink_limit(stroke, expected, conf):
    assert classify(_box(ink=stroke, stroke=stroke, reach=0.0), EMPTY) == (expected, conf)


def test_confidence_rises_from_the_threshold_to_one():
    just = classify(_box(ink=T.MARK_INK_MIN * 1.5, stroke=T.MARK_INK_MIN * 1.5), EMPTY)[1]
    clear = classify(_box(ink=T.MARK_INK_MIN * 2, stroke=T.MARK_INK_MIN * 2), EMPTY)[1]
    assert T.CONF_AT_THRESHOLD < just < clear == 1.0


def test_ink_that_is_not_in_strokes_is_no_mark():
    # dirt can darken a box as much as a tick: without strokes it is only something to look at
    assert classify(_box(ink=0.3, stroke=0.0), EMPTY)[0] is Box.WEAK


@pytest.mark.parametrize(
    ("reach", "expected"),
    [(T.REACH_MIN, Box.MARK), (T.REACH_MIN - EPS, Box.WEAK)],
)
def test_a_thin_tick_counts_only_when_it_runs_across_the_box(reach, expected):
    box = _box(ink=T.THIN_MARK_INK_MIN, stroke=T.THIN_MARK_INK_MIN, reach=reach)
    assert classify(box, EMPTY)[0] is expected


def test_a_thin_tick_reaching_four_cells_is_a_mark_also_as_stored():
    # measurements are stored to 4 decimals: four cells of nine come back as 0.4444
    for reach in (4 / 9, BoxMeasure.from_list(_box(reach=4 / 9).as_list()).reach):
        assert classify(_box(ink=0.05, stroke=0.05, reach=reach), EMPTY)[0] is Box.MARK
    assert classify(_box(ink=0.05, stroke=0.05, reach=3 / 9), EMPTY)[0] is Box.WEAK


def test_the_filled_limits_need_ink_and_core_together():
    assert classify(_box(ink=T.FILLED_INK_MIN, core=T.FILLED_CORE_MIN, stroke=0.9), EMPTY)[0] is Box.FILLED
    assert classify(_box(ink=T.FILLED_INK_MIN, core=T.FILLED_CORE_MIN - EPS, stroke=0.9), EMPTY)[0] is Box.MARK
    assert classify(_box(ink=T.FILLED_INK_MIN - EPS, core=1.0, stroke=0.9), EMPTY)[0] is Box.MARK


def test_a_fill_is_a_fill_even_where_its_border_is_not_found():
    assert classify(replace(FILL, border=0.0), EMPTY)[0] is Box.FILLED


@pytest.mark.parametrize(
    ("border", "bend", "expected"),
    [
        (T.BORDER_FOUND_MIN, 0.0, Box.MARK),
        (T.BORDER_FOUND_MIN - EPS, 0.0, Box.LOST),
        (1.0, T.BEND_MAX_MM - EPS, Box.MARK),
        (1.0, T.BEND_MAX_MM, Box.LOST),
    ],
)
def test_a_box_not_found_or_bent_is_lost(border, bend, expected):
    box = replace(TICK, border=border, bend=bend)
    assert classify(box, EMPTY)[0] is expected


@pytest.mark.parametrize(
    ("specks", "expected"),
    [(T.SPECKS_EMPTY_MAX, Box.EMPTY), (T.SPECKS_EMPTY_MAX + EPS, Box.WEAK)],
)
def test_many_specks_are_a_broken_up_pencil_mark(specks, expected):
    assert classify(_box(specks=specks), EMPTY)[0] is expected


def test_faint_grey_counts_against_the_emptiest_box_of_the_question():
    floor = _box(darkness=0.01)
    assert classify(_box(darkness=0.01 + T.FAINT_EXCESS_MIN - EPS), floor)[0] is Box.EMPTY
    assert classify(_box(darkness=0.01 + T.FAINT_EXCESS_MIN + EPS), floor)[0] is Box.WEAK
    # a whole question greyed alike (a copier's background) is paper, up to the absolute limit
    grey = _box(darkness=T.FAINT_DARKNESS_MIN - EPS)
    assert classify(grey, grey)[0] is Box.EMPTY
    assert classify(_box(darkness=T.FAINT_DARKNESS_MIN + EPS), _box(darkness=T.FAINT_DARKNESS_MIN + EPS))[0] is Box.WEAK


# --- one question -------------------------------------------------------------------------------


def test_one_clear_mark_is_accepted():
    a = _decide(o4=TICK)
    assert (a.value, a.state, a.reason) == ("4", MARKED, None)
    assert a.confidence == 1.0


def test_nothing_marked_is_blank():
    a = _decide()
    assert (a.value, a.state) == (None, BLANK)


def test_two_marks_in_a_single_choice_question_are_multiple():
    a = _decide(o1=TICK, o2=TICK)
    assert (a.value, a.state, a.reason, a.confidence) == (None, MULTIPLE, "multiple", T.CONF_MULTIPLE_MARKS)


def test_two_fills_in_a_question_of_several_answers_go_to_a_person():
    # either may be a cancellation whose tick a fax erased, or a felt pen's tick as dark as a fill
    a = _decide("multi", o1=FILL, o4=FILL)
    assert (a.value, a.state, a.reason) == ("1,4", UNCERTAIN, "correction")
    assert _decide("multi", o4=FILL).state == MARKED


def test_two_fills_alone_are_multiple():
    a = _decide(o1=FILL, o5=FILL)
    assert (a.state, a.confidence) == (MULTIPLE, T.CONF_MULTIPLE_FILLS)


def test_a_fill_alone_is_the_answer_and_a_fill_beside_a_mark_is_a_correction():
    assert (_decide(o3=FILL).value, _decide(o3=FILL).state) == ("3", MARKED)
    # less surely than a tick: a fill is the convention's cancellation, its tick maybe erased by a fax
    assert _decide(o3=FILL).confidence == T.CONF_LONE_FILL < _decide(o3=TICK).confidence
    assert _decide("multi", o3=FILL).confidence == T.CONF_LONE_FILL
    a = _decide(o3=FILL, o5=TICK)
    assert (a.value, a.state, a.reason, a.confidence) == ("5", UNCERTAIN, "correction", T.CONF_CORRECTION)


def test_a_minor_weak_box_beside_a_clear_mark_lets_the_mark_stand_less_surely():
    minor = _box(ink=T.MINOR_INK_MAX, stroke=0.0)
    a = _decide(o2=TICK, o5=minor)
    assert (a.value, a.state) == ("2", MARKED)
    assert a.confidence == T.CONF_BESIDE_MINOR


def test_a_weak_box_heavier_than_minor_beside_a_mark_goes_to_a_person():
    # with a stroke in it: a pale second tick (ink without any stroke is judged as dirt, below)
    second = _box(ink=T.MINOR_INK_MAX + EPS, stroke=T.MINOR_INK_MAX + EPS)
    a = _decide(o2=TICK, o5=second)
    assert (a.value, a.state, a.reason) == ("2", UNCERTAIN, "stray")


def test_a_weak_box_beside_a_faint_mark_is_not_minor():
    # minor is relative to the mark too: beside a mark barely over the limit, a quarter of it is little
    mark = _box(ink=T.MARK_INK_MIN, stroke=T.MARK_INK_MIN)
    weak = _box(ink=T.MINOR_SHARE * T.MARK_INK_MIN + EPS, stroke=0.0)
    assert _decide(o1=mark, o2=weak).state == UNCERTAIN


def test_a_faint_box_alone_is_sent_to_a_person_with_its_guess():
    a = _decide(o3=_box(ink=0.02, stroke=0.02))
    assert (a.value, a.state, a.reason, a.confidence) == ("3", UNCERTAIN, "faint", T.CONF_PERSON)


def test_a_lost_box_is_never_accepted_even_beside_a_clear_mark():
    lost = _box(border=0.0)
    a = _decide(o1=TICK, o4=lost)
    assert (a.value, a.state, a.reason) == ("1", UNCERTAIN, "unregistered")


def test_a_circled_label_goes_to_a_person():
    a = _decide(o2=_box(label=T.CIRCLE_INK_MIN))
    assert (a.value, a.state, a.reason) == ("2", UNCERTAIN, "circled")
    assert _decide(o2=_box(label=T.LABEL_INK_MIN - EPS)).state == BLANK


def test_a_stroke_that_missed_the_box_goes_to_a_person():
    assert _decide(o2=_box(spill=T.STRAY_SPILL_MIN)).reason == "stray"
    assert _decide(o2=_box(spill=T.STRAY_SPILL_MIN - EPS)).state == BLANK


def test_a_multi_choice_question_takes_every_mark_in_natural_order():
    a = decide_field(_field("multi", 12), {str(i): TICK if i in (2, 10) else EMPTY for i in range(1, 13)})
    assert (a.value, a.state) == ("2,10", MARKED)


def test_a_multi_choice_question_with_a_faint_box_keeps_its_marks_as_the_guess():
    faint_tick = _box(ink=T.MINOR_INK_MAX + 0.01, stroke=T.MINOR_INK_MAX + 0.01)  # a second answer, half-made
    a = _decide("multi", o1=TICK, o4=TICK, o5=faint_tick)
    assert (a.value, a.state, a.reason) == ("1,4", UNCERTAIN, "faint")
    slip = _box(ink=T.MINOR_INK_MAX, stroke=0.0)  # a slip of the pen beside them
    a = _decide("multi", o1=TICK, o4=TICK, o5=slip)
    assert (a.value, a.state, a.confidence) == ("1,4", MARKED, T.CONF_BESIDE_MINOR)


# --- a weak box with no stroke in it beside a clear mark --------------------------------------------


def _dirt(ink: float) -> BoxMeasure:
    """A weak box whose ink is all in clusters too small to be a stroke (dirt, toner, a dot)."""
    return _box(ink=ink, stroke=0.0)


def test_dirt_without_a_stroke_beside_a_clear_mark_lets_the_mark_stand():
    mark = _box(ink=0.4, stroke=0.4, reach=0.9)
    a = _decide(o2=mark, o4=_dirt(T.DIRT_MINOR_INK_MAX))
    assert (a.value, a.state, a.confidence) == ("2", MARKED, T.CONF_BESIDE_MINOR)


def test_dirt_in_a_box_whose_border_was_found_weakly_goes_to_a_person():
    # a box found weakly (a fold through the row) may have been measured beside the tick it holds
    mark = _box(ink=0.4, stroke=0.4, reach=0.9)
    found = _decide(o2=mark, o4=replace(_dirt(0.05), border=T.BORDER_CLEAR_MIN))
    assert (found.value, found.state) == ("2", MARKED)
    missed = _decide(o2=mark, o4=replace(_dirt(0.05), border=T.BORDER_CLEAR_MIN - EPS))
    assert (missed.value, missed.state, missed.reason) == ("2", UNCERTAIN, "stray")


@pytest.mark.parametrize("kind", ["single", "multi"])
def test_a_faint_mark_where_a_box_was_not_found_clearly_goes_to_a_person(kind):
    # a fold through the row: the ink measured in a box may be the row's print pushed into it
    faint = _box(ink=T.MARK_SURE_INK_MIN - EPS, stroke=T.MARK_SURE_INK_MIN - EPS, reach=0.5)
    moved = replace(EMPTY, border=T.BORDER_CLEAR_MIN - EPS)
    a = _decide(kind, o3=faint, o5=moved)
    assert (a.value, a.state, a.reason) == ("3", UNCERTAIN, "unregistered")
    assert _decide(kind, o3=faint, o5=replace(moved, border=T.BORDER_CLEAR_MIN)).state == MARKED
    sure = _box(ink=T.MARK_SURE_INK_MIN, stroke=T.MARK_SURE_INK_MIN, reach=0.5)
    assert _decide(kind, o3=sure, o5=moved).state == MARKED


def test_every_reason_for_a_person_has_words_for_the_reviewer():
    # every combination of one to three kinds of box, in both kinds of question
    from itertools import combinations_with_replacement

    from omr.vocab import ANSWER_REASON

    kinds = {
        "empty": EMPTY,
        "tick": TICK,
        "fill": FILL,
        "faint": _box(ink=0.05, stroke=0.05, reach=0.2),
        "dirt": _dirt(0.05),
        "lost": replace(TICK, border=T.BORDER_FOUND_MIN - EPS),
        "moved": replace(TICK, ink=0.1, stroke=0.1, border=T.BORDER_CLEAR_MIN - EPS),
        "spill": _box(spill=T.STRAY_SPILL_MIN),
        "circle": _box(label=0.3, circle=0.3),
        "band": replace(TICK, dirt=T.DIRT_BAND_MIN),
    }
    reasons = set()
    for kind in ("single", "multi"):
        for combo in combinations_with_replacement(kinds.values(), 3):
            a = _decide(kind, **{f"o{i}": m for i, m in enumerate(combo, start=1)})
            reasons.add(a.reason)
    reasons.discard(None)
    assert {"multiple", "faint", "stray", "correction", "circled", "unregistered", "dirt"} <= reasons
    assert reasons <= ANSWER_REASON.keys()


def test_dirt_heavier_than_a_deliberate_mark_goes_to_a_person():
    mark = _box(ink=0.4, stroke=0.4, reach=0.9)
    a = _decide(o2=mark, o4=_dirt(T.DIRT_MINOR_INK_MAX + EPS))
    assert (a.value, a.state, a.reason) == ("2", UNCERTAIN, "stray")


def test_a_weak_box_holding_a_stroke_is_not_dirt():
    # a pale second tick has a stroke however little ink it leaves: beside a mark it is a person's call
    mark = _box(ink=0.4, stroke=0.4, reach=0.9)
    second = _box(ink=T.MINOR_INK_MAX + EPS, stroke=T.MINOR_INK_MAX + EPS, reach=0.3)
    a = _decide(o2=mark, o4=second)
    assert (a.state, a.reason) == (UNCERTAIN, "stray")


def test_a_pale_box_beside_a_fill_is_a_persons_call():
    # a fill cancels: the pale box beside it may be the answer, its stroke broken up by a fax
    fill = _box(ink=1.0, stroke=1.0, core=1.0, reach=1.0)
    a = _decide(o2=fill, o5=_dirt(T.MINOR_INK_MAX + EPS))
    assert (a.value, a.state, a.reason) == ("2", UNCERTAIN, "stray")
    assert _decide(o2=fill, o5=_dirt(T.MINOR_INK_MAX)).state == MARKED  # a slip beside it is still a slip


def test_dirt_alone_is_still_faint():
    a = _decide(o4=_dirt(0.05))
    assert (a.state, a.reason) == (UNCERTAIN, "faint")


def test_dirt_is_minor_only_beside_a_mark_well_clear_of_its_threshold():
    dirt = _dirt(T.MINOR_INK_MAX + EPS)
    sure = _box(ink=T.DIRT_BESIDE_INK_MIN, stroke=T.DIRT_BESIDE_INK_MIN, reach=0.9)
    barely = _box(ink=T.DIRT_BESIDE_INK_MIN - EPS, stroke=T.DIRT_BESIDE_INK_MIN - EPS, reach=0.9)
    assert _decide(o1=sure, o3=dirt).state == MARKED
    assert _decide(o1=barely, o3=dirt).state == UNCERTAIN


# --- a circle inks its label's band above and below the label -------------------------------------


def test_ink_on_one_side_of_a_label_is_no_circle_beside_a_clear_mark():
    # the label's print moved into its band by a wavy sheet: one half inked, the other clean
    moved = _box(label=T.CIRCLE_INK_MIN, circle=T.CIRCLE_INK_MIN - EPS)
    assert T.CIRCLE_INK_MIN - EPS > T.LABEL_INK_MIN  # more than enough for something to be there
    a = _decide(o1=TICK, o3=moved)
    assert (a.value, a.state) == ("1", MARKED)


def test_ink_on_one_side_of_a_label_keeps_a_question_without_a_mark_from_being_blank():
    # a tick that missed its box, dirt: not a circle, but not nothing either
    a = _decide(o3=_box(label=T.LABEL_INK_MIN, circle=0.0))
    assert (a.value, a.state, a.reason) == (None, UNCERTAIN, "stray")
    assert _decide(o3=_box(label=T.LABEL_INK_MIN - EPS, circle=0.0)).state == BLANK


def test_a_band_inked_on_both_sides_but_lightly_is_something_not_a_circle():
    light = _box(label=T.CIRCLE_INK_MIN, circle=T.CIRCLE_INK_MIN - EPS)
    assert _decide(o3=light).reason == "stray"
    assert _decide(o3=_box(label=T.CIRCLE_INK_MIN, circle=T.CIRCLE_INK_MIN)).reason == "circled"


def test_ink_on_both_sides_of_a_label_is_a_circle_beside_a_mark_too():
    loop = _box(label=T.CIRCLE_INK_MIN, circle=T.CIRCLE_INK_MIN)
    a = _decide(o1=TICK, o3=loop)
    assert (a.value, a.state, a.reason) == ("1", UNCERTAIN, "circled")
    assert _decide(o3=loop).reason == "circled"


def test_pages_read_before_the_circle_was_measured_use_the_whole_band():
    assert _box(label=0.3).circle_ink == 0.3  # circle -1: not measured
    assert _decide(o1=TICK, o3=_box(label=T.CIRCLE_INK_MIN)).reason == "circled"


def test_a_question_where_a_band_of_dirt_crosses_an_inked_box_goes_to_a_person():
    in_band = replace(TICK, dirt=T.DIRT_BAND_MIN)
    for kind in ("single", "multi"):
        a = _decide(kind, o2=in_band)
        assert (a.value, a.state, a.reason) == ("2", UNCERTAIN, "dirt")  # what it would take, as the guess
    # a blank question whose only ink is a band's cloud in one box
    a = _decide(o4=_box(ink=0.3, stroke=0.3, reach=0.7, dirt=0.1))
    assert (a.state, a.reason) == (UNCERTAIN, "dirt")
    # a band along empty boxes, a band too faint to be one, or a question a person sees anyway
    assert _decide(o2=TICK, o4=_box(dirt=0.5)).state == MARKED
    assert _decide(o2=replace(TICK, dirt=T.DIRT_BAND_MIN - EPS)).state == MARKED
    assert _decide(o2=in_band, o4=TICK).reason == "multiple"


def test_a_band_of_dirt_through_a_box_too_little_to_be_an_answer_leaves_the_mark_beside_it():
    # the band's cloud in an empty box: no stroke, less ink than a mark, beside a clear mark that
    # lies outside the band. Dirt only adds ink, so what the box holds is no answer either way.
    mark = _box(ink=0.4, stroke=0.4, reach=0.9)
    cloud = replace(_dirt(T.DIRT_MINOR_INK_MAX), dirt=0.2)
    a = _decide(o2=mark, o4=cloud)
    assert (a.value, a.state, a.confidence) == ("2", MARKED, T.CONF_BESIDE_MINOR)
    # a cloud with a stroke in it, or as heavy as a mark, is not minor: the band sends it to a person
    stroked = replace(cloud, stroke=T.MINOR_INK_MAX + EPS)
    assert _decide(o2=mark, o4=stroked).state == UNCERTAIN
    heavy = replace(_dirt(T.DIRT_MINOR_INK_MAX + EPS), dirt=0.2)
    assert _decide(o2=mark, o4=heavy).state == UNCERTAIN
    # the chosen mark in the band itself still goes to a person, whatever lies beside it
    b = _decide(o2=replace(mark, dirt=0.2), o4=cloud)
    assert (b.value, b.state, b.reason) == ("2", UNCERTAIN, "dirt")


@pytest.mark.parametrize("kind", ["single", "multi"])
def test_a_blank_question_on_a_black_and_white_scan_goes_to_a_person(kind):
    """A black-and-white scan can drop a pale mark whole: blank there is not evidence of no answer.
    What has a mark is decided as on any scan."""
    from omr.vocab import ANSWER_REASON

    bw = replace(EMPTY, bilevel=1.0)
    blank = decide_field(_field(kind), {str(i): bw for i in range(1, 6)})
    assert (blank.value, blank.state, blank.reason) == (None, UNCERTAIN, "bilevel_blank")
    assert blank.confidence == T.CONF_PERSON
    assert "bilevel_blank" in ANSWER_REASON
    ticked = decide_field(_field(kind), {str(i): replace(TICK, bilevel=1.0) if i == 2 else bw for i in range(1, 6)})
    assert (ticked.value, ticked.state) == ("2", MARKED)
    assert _decide(kind).state == BLANK  # the same question on a grey scan
