"""What a report shows first and what it leaves out, read from a tally: one rule each, used by the
PDF, the workbook and the CSV tally alike.

- forms: the unit's main form first (configured, else the form with the most sheets), not by code;
- units: ranked by their index, best first, units without an answer last; the units below target;
- counters: "Quầy 1…6" are a unit's own counters, so a tally that pools the sheets of several units
  (a district, a province, a ward with its service points) never shows them pooled.
"""

from __future__ import annotations

from functools import cache

from omr.services.tally import Breakdown, FormTally, QuestionTally, TallyResult, UnitTally
from omr.sheet.templates import UnknownForm, get_form


def ordered_forms(result: TallyResult, main_form: str | None = None) -> list[FormTally]:
    """The main form first, then the others by number of sheets (most first), then by title."""
    return sorted(result.forms, key=lambda f: (f.form_id != main_form, -f.responses, f.title))


def ranked_units(result: TallyResult) -> list[UnitTally]:
    """Units by index, highest first; those with no answer in the period last, by name."""
    return sorted(result.units, key=lambda u: (u.index.value is None, -(u.index.value or 0), u.name))


def below_target(result: TallyResult) -> list[UnitTally]:
    """Units whose index is below the target, lowest first."""
    low = [u for u in result.units if u.index.meets_target is False]
    return sorted(low, key=lambda u: (u.index.value or 0, u.name))


def is_rollup(result: TallyResult) -> bool:
    """Whether the tally pools the sheets of more than one unit."""
    return sum(1 for u in result.units if u.responses) > 1


@cache
def is_counter_field(form_id: str, field_id: str) -> bool:
    """A question whose options are the unit's counters ("Quầy 1…n")."""
    try:
        return get_form(form_id).field(field_id).options_from == "counters"
    except (UnknownForm, KeyError):
        return False


def shown_breakdowns(result: TallyResult, form: FormTally) -> list[Breakdown]:
    pooled = is_rollup(result)
    return [b for b in form.breakdowns if b.rows and not (pooled and is_counter_field(form.form_id, b.field))]


def shown_questions(result: TallyResult, form: FormTally) -> list[QuestionTally]:
    pooled = is_rollup(result)
    return [q for q in form.questions if not (pooled and is_counter_field(form.form_id, q.field))]
