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

from omr.detect import thresholds as T
from omr.detect.result import BLANK, MARKED, MULTIPLE, UNCERTAIN, AnswerRead, BoxMeasure
from omr.templates import Field


class Box(Enum):
    EMPTY = 0
    WEAK = 1  # something is there, too little to call: faint dot, stray stroke, light pencil
    MARK = 2
    FILLED = 3


def classify(m: BoxMeasure) -> tuple[Box, float]:
    """The box's reading and how sure of it (0.5 on a threshold, 1.0 far from every threshold)."""
    if m.ink >= T.FILLED_INK_MIN and m.core >= T.FILLED_CORE_MIN:
        return Box.FILLED, _conf(m.ink, T.FILLED_INK_MIN, 1.0)
    if m.ink >= T.MARK_INK_MIN:
        return Box.MARK, _conf(m.ink, T.MARK_INK_MIN, 2 * T.MARK_INK_MIN)
    if m.ink <= T.BLANK_INK_MAX and m.darkness < T.FAINT_DARKNESS_MIN:
        return Box.EMPTY, _conf(T.BLANK_INK_MAX - m.ink, 0.0, T.BLANK_INK_MAX)
    return Box.WEAK, 0.5


def _conf(x: float, lo: float, hi: float) -> float:
    """0.5 at ``lo``, rising to 1.0 at ``hi`` and beyond."""
    if hi <= lo:
        return 1.0
    return 0.5 + 0.5 * min(1.0, max(0.0, (x - lo) / (hi - lo)))


def decide_field(field: Field, boxes: dict[str, BoxMeasure]) -> AnswerRead:
    read = {v: classify(m) for v, m in boxes.items()}
    order = [o.value for o in field.options if o.value in read]
    marks = [v for v in order if read[v][0] is Box.MARK]
    filled = [v for v in order if read[v][0] is Box.FILLED]
    weak = [v for v in order if read[v][0] is Box.WEAK]
    circled = [v for v in order if read[v][0] is Box.EMPTY and boxes[v].label >= T.CIRCLE_INK_MIN]
    stray = [v for v in order if read[v][0] is Box.EMPTY and boxes[v].spill >= T.STRAY_SPILL_MIN]
    certainty = min((c for _, c in read.values()), default=1.0)

    def answer(value, state, conf, reason=None) -> AnswerRead:
        if state in (MARKED, BLANK) and conf < T.REVIEW_CONFIDENCE:
            state, reason = UNCERTAIN, reason or "low_confidence"
        return AnswerRead(field.id, value, state, round(conf, 3), reason, boxes)

    if field.kind == "multi":
        return _decide_multi(field, boxes, marks, filled, weak, circled, stray, certainty, answer)

    if len(marks) > 1:
        return answer(None, MULTIPLE, 0.9, "multiple")
    if filled and marks:
        # the convention: the filled box is cancelled, the other mark stands; a person confirms
        return answer(marks[0], UNCERTAIN, 0.6, "correction")
    if len(filled) > 1:
        return answer(None, MULTIPLE, 0.8, "multiple")
    chosen = marks or filled
    if chosen:
        if weak or circled:
            return answer(chosen[0], UNCERTAIN, 0.5, "stray" if weak else "circled")
        return answer(chosen[0], MARKED, certainty)
    if weak:
        return answer(max(weak, key=lambda v: boxes[v].ink), UNCERTAIN, 0.5, "faint")
    if circled:
        return answer(circled[0] if len(circled) == 1 else None, UNCERTAIN, 0.5, "circled")
    if stray:
        return answer(None, UNCERTAIN, 0.5, "stray")
    return answer(None, BLANK, certainty)


def join_values(values: list[str]) -> str | None:
    """A multi field's value: option values in natural order ("2" before "10"), comma-joined."""
    return ",".join(sorted(values, key=lambda v: (len(v), v))) or None


def _decide_multi(field, boxes, marks, filled, weak, circled, stray, certainty, answer) -> AnswerRead:
    if filled and marks:
        return answer(join_values(marks), UNCERTAIN, 0.6, "correction")
    chosen = join_values(marks or filled)
    if weak:
        return answer(chosen, UNCERTAIN, 0.5, "faint")
    if circled:
        return answer(chosen, UNCERTAIN, 0.5, "circled")
    if chosen:
        return answer(chosen, MARKED, certainty)
    if stray:
        return answer(None, UNCERTAIN, 0.5, "stray")
    return answer(None, BLANK, certainty)
