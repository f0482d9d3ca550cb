"""How an answer's value is written: one option value, or for a question that takes several marks
(``kind = "multi"``) the option values comma-joined in natural order ("2" before "10"). The reader
writes it, a reviewer's decision writes it, the tally, the exports and the screens read it back.
"""

from __future__ import annotations

from collections.abc import Iterable


def join_values(values: Iterable[str]) -> str | None:
    """A multi field's value: option values in natural order ("2" before "10"), comma-joined; none: None."""
    return ",".join(sorted(values, key=lambda v: (len(v), v))) or None


def split_values(value: str | None) -> list[str]:
    """The option values of a stored value ("" or None: none)."""
    return [v for v in (value or "").split(",") if v]
