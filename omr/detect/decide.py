"""From raw box measurements to an answer, a state and a confidence.

The marking convention printed on every sheet: tick or cross inside a box; to cancel a mark, fill
the whole box and mark another. So a filled box beside another mark is a correction (the other box is
the answer); a filled box alone is a mark. A person checks every correction, double mark, faint
mark and circled label: the machine only accepts what is unambiguous.

Pure functions of (field, measurements): a stored page is re-decided with new thresholds by calling
``decide_field`` on its stored measurements.
"""

from __future__ import annotations

from enum import Enum

import numpy as np

from omr.detect import thresholds as T
from omr.detect.result import BLANK, MARKED, MULTIPLE, UNCERTAIN, AnswerRead, BoxMeasure
from omr.sheet.templates import Field
from omr.values import join_values


class Box(Enum):
    EMPTY = 0
    WEAK = 1  # something is there, too little to call: faint dot, stray stroke, light pencil
    MARK = 2
    FILLED = 3
    LOST = 4  # its printed border was not found where it should be: whatever is measured is not the box


def classify(m: BoxMeasure, floor: BoxMeasure) -> tuple[Box, float]:
    """The box's reading and how sure of it: CONF_PERSON for a box a person must look at,
    CONF_AT_THRESHOLD just past a threshold, rising to 1.0 well clear of it. ``floor`` is the
    emptiest box of the same question: a faint grey that stands out from its neighbours is
    something, even under the absolute limits."""
    if m.ink >= T.FILLED_INK_MIN and m.core >= T.FILLED_CORE_MIN:
        return Box.FILLED, 1.0  # a fill hides the border it covers: found or not, it is a fill
    if m.border < T.BORDER_FOUND_MIN or m.bend >= T.BEND_MAX_MM:
        return Box.LOST, T.CONF_PERSON
    # only ink in strokes makes a mark: dirt can darken a box as much as a tick does
    if m.stroke_ink >= T.MARK_INK_MIN:
        return Box.MARK, _conf(m.stroke_ink - T.MARK_INK_MIN, T.MARK_INK_MIN)
    if m.stroke_ink >= T.THIN_MARK_INK_MIN and m.reach >= T.REACH_MIN:
        return Box.MARK, T.CONF_THIN_MARK
    grey = max(m.darkness - floor.darkness, m.darkness - T.FAINT_DARKNESS_MIN + T.FAINT_EXCESS_MIN)
    if m.ink <= T.BLANK_INK_MAX and grey < T.FAINT_EXCESS_MIN and m.specks <= T.SPECKS_EMPTY_MAX:
        return Box.EMPTY, _conf(T.FAINT_EXCESS_MIN - grey, T.FAINT_EXCESS_MIN)
    return Box.WEAK, T.CONF_PERSON


def _conf(margin: float, full: float) -> float:
    """CONF_AT_THRESHOLD right at a threshold, 1.0 once ``margin`` past it reaches ``full``."""
    return T.CONF_AT_THRESHOLD + (1.0 - T.CONF_AT_THRESHOLD) * min(1.0, max(0.0, margin / full))


def _minor(m: BoxMeasure, strongest: float, strongest_mark: float) -> bool:
    """Whether a weak box beside a clear mark or fill holding ``strongest`` ink (``strongest_mark``
    for the ticks, crosses and slashes alone) is too little to be a second answer: a slip or a speck
    that survived (little ink), or, beside a tick, cross or slash, ink with no stroke in it at all
    (dirt, toner, a dot: nothing a tick, cross or slash leaves), less than half a mark well clear of
    its threshold. Not beside a fill only: a fill cancels, and a pale box beside it may be the answer
    it points to, broken up by the scan (held-out folded-fax: a correction read as its fill). And
    only in a box found clearly by its border: elsewhere its measure may have missed half a tick."""
    if m.ink <= min(T.MINOR_INK_MAX, T.MINOR_SHARE * strongest):
        return True
    clear = strongest_mark >= T.DIRT_BESIDE_INK_MIN
    return clear and m.stroke_ink <= 0 and m.ink <= T.DIRT_MINOR_INK_MAX and m.border >= T.BORDER_CLEAR_MIN


def decide_field(field: Field, boxes: dict[str, BoxMeasure]) -> AnswerRead:
    floor = BoxMeasure(*np.min([m.as_list() for m in boxes.values()], axis=0)) if boxes else None
    read = {v: classify(m, floor) for v, m in boxes.items()} if floor is not None else {}
    order = [o.value for o in field.options if o.value in read]
    marks = [v for v in order if read[v][0] is Box.MARK]
    filled = [v for v in order if read[v][0] is Box.FILLED]
    weak = [v for v in order if read[v][0] is Box.WEAK]
    lost = [v for v in order if read[v][0] is Box.LOST]
    # a circle round a label inks its band above and below the label; ink on one side only (the
    # label's print moved by a wavy sheet, dirt, a mark that missed its box) does not let a question
    # without a mark be called blank, but it is no second answer beside a clear mark
    near = [
        v
        for v in order
        if read[v][0] is Box.EMPTY and floor is not None and boxes[v].label - floor.label >= T.LABEL_INK_MIN
    ]
    circled = [v for v in near if floor is not None and boxes[v].circle_ink - floor.circle_ink >= T.CIRCLE_INK_MIN]
    stray = [v for v in order if read[v][0] is Box.EMPTY and boxes[v].spill >= T.STRAY_SPILL_MIN] + [
        v for v in near if v not in circled
    ]
    # beside a clear mark, a weak box far lighter than it is a slip of the pen, a speck that was no
    # speck or a streak's remains, not a second answer: the mark stands (less surely)
    strongest = max((boxes[v].ink for v in marks + filled), default=0.0)
    strongest_mark = max((boxes[v].ink for v in marks), default=0.0)
    minor = [v for v in weak if marks + filled and _minor(boxes[v], strongest, strongest_mark)]
    if minor and len(minor) == len(weak):
        weak = []
    certainty = min((c for v, (_, c) in read.items() if v not in minor), default=1.0)
    if minor:
        certainty = min(certainty, T.CONF_BESIDE_MINOR)
    if filled and not marks:
        certainty = min(certainty, T.CONF_LONE_FILL)

    def answer(value, state, conf, reason=None) -> AnswerRead:
        return AnswerRead(field.id, value, state, round(float(conf), 3), reason, boxes)

    if lost:
        guess = join_values(marks) if field.kind == "multi" else (marks[0] if len(marks) == 1 else None)
        return answer(guess, UNCERTAIN, T.CONF_PERSON, "unregistered")
    # a faint mark where the paper moved the boxes about: a person looks before it is taken
    unsure = any(m.border < T.BORDER_CLEAR_MIN for m in boxes.values()) and any(
        boxes[v].stroke_ink < T.MARK_SURE_INK_MIN for v in marks
    )
    # a band of a scanner's dirt crosses a box with ink in it: a cloud of dirt and a mark look alike
    # there, so what would be taken is a person's to confirm. Not for a box already judged too little
    # to be an answer beside a clear mark: dirt can only add to what it holds, and it counts for nothing
    dirty = any(m.dirt >= T.DIRT_BAND_MIN and m.ink > T.BLANK_INK_MAX for v, m in boxes.items() if v not in minor)
    if field.kind == "multi":
        got = _decide_multi(field, boxes, marks, filled, weak, circled, stray, unsure, certainty, answer)
    else:
        got = _decide_single(boxes, marks, filled, weak, circled, stray, unsure, certainty, answer)
    if dirty and got.state in (MARKED, BLANK):
        return answer(got.value, UNCERTAIN, T.CONF_PERSON, "dirt")
    # a black-and-white scan shows a pale pen's mark broken up, or not at all: its threshold can drop
    # a tick whole, and the question then measures blank (held-out faxes, a calibration page in
    # black and white). Nothing on such a page tells an unanswered question from a lost mark.
    if got.state == BLANK and any(m.bilevel for m in boxes.values()):
        return answer(None, UNCERTAIN, T.CONF_PERSON, "bilevel_blank")
    return got


def _decide_single(boxes, marks, filled, weak, circled, stray, unsure, certainty, answer) -> AnswerRead:
    if len(marks) > 1:
        return answer(None, MULTIPLE, T.CONF_MULTIPLE_MARKS, "multiple")
    if filled and marks:
        # the convention: the filled box is cancelled, the other mark stands; a person confirms
        return answer(marks[0], UNCERTAIN, T.CONF_CORRECTION, "correction")
    if len(filled) > 1:
        return answer(None, MULTIPLE, T.CONF_MULTIPLE_FILLS, "multiple")
    chosen = marks or filled
    if chosen:
        if weak or circled:
            return answer(chosen[0], UNCERTAIN, T.CONF_PERSON, "stray" if weak else "circled")
        if unsure:
            return answer(chosen[0], UNCERTAIN, T.CONF_PERSON, "unregistered")
        return answer(chosen[0], MARKED, certainty)
    if weak:
        return answer(max(weak, key=lambda v: boxes[v].ink), UNCERTAIN, T.CONF_PERSON, "faint")
    if circled:
        return answer(circled[0] if len(circled) == 1 else None, UNCERTAIN, T.CONF_PERSON, "circled")
    if stray:
        return answer(None, UNCERTAIN, T.CONF_PERSON, "stray")
    return answer(None, BLANK, certainty)


def _decide_multi(field, boxes, marks, filled, weak, circled, stray, unsure, certainty, answer) -> AnswerRead:
    if filled and marks:
        return answer(join_values(marks), UNCERTAIN, T.CONF_CORRECTION, "correction")
    if len(filled) > 1:
        # each fill may be an answer or a cancellation (its tick erased by a fax, or a felt pen's tick
        # as dark as a fill): as two fills in a single-choice question, a person decides
        return answer(join_values(filled), UNCERTAIN, T.CONF_MULTIPLE_FILLS, "correction")
    chosen = join_values(marks or filled)
    if weak:
        return answer(chosen, UNCERTAIN, T.CONF_PERSON, "faint")
    if circled:
        return answer(chosen, UNCERTAIN, T.CONF_PERSON, "circled")
    if unsure:
        return answer(chosen, UNCERTAIN, T.CONF_PERSON, "unregistered")
    if chosen:
        return answer(chosen, MARKED, certainty)
    if stray:
        return answer(None, UNCERTAIN, T.CONF_PERSON, "stray")
    return answer(None, BLANK, certainty)
