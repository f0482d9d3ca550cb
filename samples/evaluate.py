"""Score what the reader said about a generated stack against its truth file.

Works on the contract's per-page JSON (what ``omr scan --json`` prints), so the same scoring serves
the accuracy test (through the whole pipeline and database) and the calibration script (reader only).
The targets are the issue's: every page a row out, every intact QR identified, at most 1 in 2,000
machine-accepted answers wrong, at least 99 % of double marks / faint dots / corrections sent to a
person, at most 2 % of clear marks sent to a person, at least 98 % of written and of empty free-text
areas told apart. Each machine-accepted answer's confidence is kept by band (``reliability``), so
one can see whether the confidence predicts the error rate.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from omr.detect.result import READ, PageRead
from omr.services import decisions
from omr.services.scan_lines import answer_json, texts_json

REVIEW_STATES = ("multiple", "uncertain")
ACCEPT_STATES = ("marked", "blank")
MUST_REVIEW = ("double", "faint", "correction")  # the "≥ 99 % go to review"
IDENTIFIED = ("accepted", "needs_review", "duplicate", "conflict")
# lower edges of the confidence bands of the reliability table
BANDS = (0.0, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99)
COUNTS = (
    "pages_in",
    "pages_out",
    "sheet_pages",
    "identified",
    "blank_pages",
    "blank_recognised",
    "accepted",
    "accepted_wrong",
    "must_review",
    "must_review_sent",
    "clear",
    "clear_sent",
    "texts_written",
    "texts_written_right",
    "texts_empty",
    "texts_empty_right",
)


def band(confidence: float) -> float:
    """The lower edge of the reliability band a confidence falls in."""
    return max(b for b in BANDS if confidence >= b) if confidence >= 0 else 0.0


@dataclass(frozen=True)
class Wrong:
    """One machine-accepted wrong answer."""

    where: str
    confidence: float

    def __str__(self) -> str:
        return f"{self.where} (confidence {self.confidence:.3f})"


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
    texts_written: int = 0
    texts_written_right: int = 0
    texts_empty: int = 0
    texts_empty_right: int = 0
    by_kind: Counter = field(default_factory=Counter)  # (kind, outcome) -> n
    reliability: Counter = field(default_factory=Counter)  # (band, right?) -> accepted answers
    wrong_examples: list[Wrong] = field(default_factory=list)

    def __iadd__(self, other: Score) -> Score:
        for f in COUNTS:
            setattr(self, f, getattr(self, f) + getattr(other, f))
        self.by_kind += other.by_kind
        self.reliability += other.reliability
        self.wrong_examples += other.wrong_examples
        return self

    def worst(self, n: int = 10) -> list[Wrong]:
        """The wrong answers the machine was surest of."""
        return sorted(self.wrong_examples, key=lambda w: -w.confidence)[:n]

    @property
    def wrong_rate(self) -> float:
        return self.accepted_wrong / self.accepted if self.accepted else 0.0

    @property
    def must_review_rate(self) -> float:
        return self.must_review_sent / self.must_review if self.must_review else 1.0

    @property
    def clear_review_rate(self) -> float:
        return self.clear_sent / self.clear if self.clear else 0.0

    @property
    def texts_written_rate(self) -> float:
        return self.texts_written_right / self.texts_written if self.texts_written else 1.0

    @property
    def texts_empty_rate(self) -> float:
        return self.texts_empty_right / self.texts_empty if self.texts_empty else 1.0

    def summary(self) -> str:
        return (
            f"pages in {self.pages_in}, rows out {self.pages_out}; sheet pages identified "
            f"{self.identified}/{self.sheet_pages}; blank pages recognised {self.blank_recognised}/{self.blank_pages}\n"
            f"machine-accepted answers {self.accepted}, wrong {self.accepted_wrong} "
            f"({self.wrong_rate * 2000:.2f} per 2,000)\n"
            f"double/faint/correction sent to review {self.must_review_sent}/{self.must_review} "
            f"({100 * self.must_review_rate:.2f} %)\n"
            f"clear marks sent to review {self.clear_sent}/{self.clear} ({100 * self.clear_review_rate:.2f} %)\n"
            f"written text areas seen {self.texts_written_right}/{self.texts_written}, "
            f"empty ones called empty {self.texts_empty_right}/{self.texts_empty}"
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
        said = row.get("texts", {})
        for fid, written in t.get("texts", {}).items():
            # an unidentified page's areas are not read: neither right way round
            told = said.get(fid) if identified else None
            if written:
                s.texts_written += 1
                s.texts_written_right += told == "written"
            else:
                s.texts_empty += 1
                s.texts_empty_right += told == "blank"
        for fid, a in t.get("answers", {}).items():
            kind = a["kind"]
            # a page the machine could not identify goes to a person whole: none of its answers is accepted
            outcome, wrong = _outcome(kind, a.get("value"), answers.get(fid, {})) if identified else ("review", False)
            s.by_kind[(kind, outcome)] += 1
            if outcome != "review":
                s.accepted += 1
                conf = float(answers.get(fid, {}).get("confidence", -1.0))
                s.reliability[(band(conf), not wrong)] += 1
                if wrong:
                    s.accepted_wrong += 1
                    where = f"{t['source']} p{t['page']} {fid}: {kind} {a.get('value')!r} read as {answers.get(fid)}"
                    s.wrong_examples.append(Wrong(where, conf))
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
    if read.status == READ:
        status = decisions.page_status(decisions.waits_for_person(a.state for a in read.answers))
    else:
        status = read.status
    answers = {a.field: {**answer_json(a.value, a.state, a.confidence), "reason": a.reason} for a in read.answers}
    texts = texts_json((t.field, t.written) for t in read.texts)
    return {"source": source, "page": page, "status": status, "note": read.note, "answers": answers, "texts": texts}
