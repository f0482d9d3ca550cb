"""Score what the reader said about a generated stack against its truth file.

Works on the contract's per-page JSON (what ``omr scan --json`` prints), so the same scoring serves
the accuracy test (through the whole pipeline and database) and the calibration script (reader only).
The targets are the issue's: every page a row out, every intact QR identified, at most 1 in 2,000
machine-accepted answers wrong, at least 99 % of double marks / faint dots / corrections sent to a
person, at most 2 % of clear marks sent to a person.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from omr.detect.result import READ, PageRead

REVIEW_STATES = ("multiple", "uncertain")
ACCEPT_STATES = ("marked", "blank")
MUST_REVIEW = ("double", "faint", "correction")  # the "≥ 99 % go to review"
IDENTIFIED = ("accepted", "needs_review", "duplicate", "conflict")


@dataclass
class Score:
    pages_in: int = 0
    pages_out: int = 0
    sheet_pages: int = 0
    identified: int = 0
    blank_pages: int = 0
    blank_recognised: int = 0
    accepted: int = 0
    accepted_wrong: int = 0
    must_review: int = 0
    must_review_sent: int = 0
    clear: int = 0
    clear_sent: int = 0
    by_kind: Counter = field(default_factory=Counter)  # (kind, outcome) -> n
    wrong_examples: list[str] = field(default_factory=list)

    @property
    def wrong_rate(self) -> float:
        return self.accepted_wrong / self.accepted if self.accepted else 0.0

    @property
    def must_review_rate(self) -> float:
        return self.must_review_sent / self.must_review if self.must_review else 1.0

    @property
    def clear_review_rate(self) -> float:
        return self.clear_sent / self.clear if self.clear else 0.0

    def summary(self) -> str:
        return (
            f"pages in {self.pages_in}, rows out {self.pages_out}; sheet pages identified "
            f"{self.identified}/{self.sheet_pages}; blank pages recognised {self.blank_recognised}/{self.blank_pages}\n"
            f"machine-accepted answers {self.accepted}, wrong {self.accepted_wrong} "
            f"({self.wrong_rate * 2000:.2f} per 2,000)\n"
            f"double/faint/correction sent to review {self.must_review_sent}/{self.must_review} "
            f"({100 * self.must_review_rate:.2f} %)\n"
            f"clear marks sent to review {self.clear_sent}/{self.clear} ({100 * self.clear_review_rate:.2f} %)"
        )


def _outcome(kind: str, want: str | None, got: dict) -> tuple[str, bool]:
    """(outcome label, wrong-and-accepted?) for one answer."""
    state, value = got.get("state"), got.get("value")
    if state in REVIEW_STATES:
        return "review", False
    if kind == "clear":
        ok = state == "marked" and value == want
    elif kind == "blank":
        ok = state == "blank"
    elif kind in ("stray", "correction", "circled"):
        ok = state == "marked" and value == want  # reading it right is as good as asking
    else:  # double, faint: the machine must not decide these
        ok = False
    return ("right" if ok else "wrong"), not ok


def score(truth: dict, rows: list[dict]) -> Score:
    s = Score(pages_in=len(truth["pages"]), pages_out=len(rows))
    got = {(r.get("source"), r.get("page")): r for r in rows}
    for t in truth["pages"]:
        row = got.get((t["source"], t["page"]), {})
        if t.get("blank"):
            s.blank_pages += 1
            s.blank_recognised += row.get("status") == "blank"
            continue
        s.sheet_pages += 1
        identified = row.get("status") in IDENTIFIED
        s.identified += identified
        answers = row.get("answers", {})
        for fid, a in t.get("answers", {}).items():
            kind = a["kind"]
            # a page the machine could not identify goes to a person whole: none of its answers is accepted
            outcome, wrong = _outcome(kind, a.get("value"), answers.get(fid, {})) if identified else ("review", False)
            s.by_kind[(kind, outcome)] += 1
            if outcome != "review":
                s.accepted += 1
                if wrong:
                    s.accepted_wrong += 1
                    if len(s.wrong_examples) < 20:
                        s.wrong_examples.append(
                            f"{t['source']} p{t['page']} {fid}: {kind} {a.get('value')!r} read as {answers.get(fid)}"
                        )
            if kind in MUST_REVIEW:
                s.must_review += 1
                s.must_review_sent += outcome == "review"
            if kind == "clear":
                s.clear += 1
                s.clear_sent += outcome == "review"
    return s


def reader_row(read: PageRead, source: str, page: int) -> dict:
    """A page's row as ``omr scan --json`` gives it, as far as scoring needs, from the reader alone (no
    database: no duplicates or conflicts)."""
    status = ("needs_review" if read.needs_review else "accepted") if read.status == READ else read.status
    answers = {a.field: {"value": a.value, "state": a.state, "reason": a.reason} for a in read.answers}
    return {"source": source, "page": page, "status": status, "note": read.note, "answers": answers}
