"""People filling in a sheet: what they answer, how they mark it, and the truth about each field.

Every position comes from the placements of ``omr.sheet.layout`` (option boxes, option labels, free-text
areas). Each field gets one *kind* of answer, which is its truth label:

========== ====================================================== ========== ==========================
kind       what is on the paper                                   expect     value
========== ====================================================== ========== ==========================
clear      tick / cross / slash / filled box in the chosen box(es) marked     the choice(s)
           (wide repertoire, too: a tick begun outside the box, a
           cross larger than the box, a tick with a gap in it)
blank      nothing                                                blank      null
double     two clear marks in a single-choice field               multiple   both, comma-joined
faint      only a faint dot or a tiny stray stroke in a box       uncertain  null
stray      a clear mark plus a tiny stray stroke in another box   review     the clear choice(s)
correction one box filled or scribbled over (cancelled), the     review     the ticked choice(s)
           answer ticked elsewhere
circled    a circle round an option's label, the boxes empty      review     the circled choice
========== ====================================================== ========== ==========================

``expect`` is what the reader must say: ``marked`` / ``blank`` / ``multiple`` / ``uncertain`` are
the contract's answer states; ``review`` means the reader either sends the answer to a person
(``multiple`` or ``uncertain``) or reads exactly ``value`` — anything else is wrong, and a blank is
always wrong.

The *wide* repertoire (``make_person(rng, wide=True)``, used by the damage families of
``samples.families``) adds people and marks the project's first generator did not have: thick felt
pens, faint pencil, ticks that start outside the box, crosses larger than the box, marks with a gap
where the pen skipped, a box scribbled over to cancel it. The classic repertoire stays the default,
so stacks made before keep their bytes.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np

from omr.sheet.layout import FieldPlacement, Rect
from omr.sheet.templates import Field
from omr.values import join_values  # the truth is written in the reader's own order
from samples.ink import Canvas, Tool, faint_pencil, felt_pen, pen, pencil, smooth, wobble

EXPECT = {
    "clear": "marked",
    "blank": "blank",
    "double": "multiple",
    "faint": "uncertain",
    "stray": "review",
    "correction": "review",
    "circled": "review",
}
STYLES = ("tick", "cross", "slash", "fill")
STYLE_P = (0.55, 0.25, 0.08, 0.12)
WIDE_STYLES = (*STYLES, "long_tick", "big_cross", "gap_tick")
WIDE_STYLE_P = (0.34, 0.16, 0.06, 0.1, 0.12, 0.1, 0.12)
# the wide repertoire's tools: (share of people, tool maker); the rest write with a ballpoint
WIDE_TOOLS_P = {"felt": 0.12, "pencil": 0.14, "faint_pencil": 0.08}
# how often each hard case is drawn, given that a field gets one
HARD_P = {"double": 0.24, "correction": 0.24, "faint": 0.2, "circled": 0.16, "stray": 0.16}
BLANK_FIELD_P = 0.04  # citizens skip a question now and then
BLANK_SHEET_P = 0.01  # and once in a while hand back an untouched sheet
TEXT_WRITTEN_P = 0.3


@dataclass(frozen=True)
class Person:
    """One respondent's habits: the same hand marks a whole sheet."""

    tool: Tool
    style: str  # preferred mark
    jitter: float  # 0.3 neat .. 1 sloppy: offset and rotation of marks
    overflow: float  # 0 .. 1: how far strokes run past the box edge
    wide: bool = False  # draws from the wide repertoire of marks

    @property
    def styles(self) -> tuple[tuple[str, ...], tuple[float, ...]]:
        return (WIDE_STYLES, WIDE_STYLE_P) if self.wide else (STYLES, STYLE_P)


def _wide_tool(rng: np.random.Generator) -> Tool:
    u = rng.random()
    for name, share in WIDE_TOOLS_P.items():
        if u < share:
            return {"felt": felt_pen, "pencil": pencil, "faint_pencil": faint_pencil}[name](rng)
        u -= share
    return pen(rng)


def make_person(rng: np.random.Generator, wide: bool = False) -> Person:
    if wide:
        tool = _wide_tool(rng)
        style = str(rng.choice(WIDE_STYLES, p=WIDE_STYLE_P))
        return Person(tool, style, float(rng.uniform(0.3, 1.0)), float(rng.uniform(0, 1) ** 2), True)
    tool = pencil(rng) if rng.random() < 0.2 else pen(rng)
    style = str(rng.choice(STYLES, p=STYLE_P))
    return Person(tool, style, float(rng.uniform(0.3, 1.0)), float(rng.uniform(0, 1) ** 2))


@dataclass
class Mark:
    value: str
    shape: str  # tick | cross | slash | fill | dot | stroke | circle


@dataclass
class FieldPlan:
    field_id: str
    kind: str
    value: str | None
    marks: list[Mark] = field(default_factory=list)

    def truth(self) -> dict:
        t: dict = {"value": self.value, "kind": self.kind, "expect": EXPECT[self.kind]}
        if self.marks:
            t["marks"] = [f"{m.shape}:{m.value}" for m in self.marks]
        return t


# --------------------------------------------------------------------------- what people answer


def _field_rng(f: Field) -> np.random.Generator:
    # a field's answer distribution is the same on every sheet of every stack
    return np.random.default_rng(zlib.crc32(f.id.encode()))


def _skewed(n: int, first: float) -> np.ndarray:
    w = first ** np.arange(n, dtype=float)
    return w / w.sum()


def answer_weights(f: Field, values: list[str]) -> np.ndarray:
    """Probability of each option: satisfaction questions lean hard towards the satisfied end."""
    if f.satisfied:
        sat = [v in f.satisfied for v in values]
        n_sat = sum(sat)
        ws, wo = iter(_skewed(n_sat, 0.65) * 0.86), iter(_skewed(len(values) - n_sat, 0.5) * 0.14)
        w = np.array([next(ws) if s else next(wo) for s in sat])
    else:
        w = _field_rng(f).dirichlet(np.full(len(values), 2.0))
    return w / w.sum()


def _choose(f: Field, values: list[str], rng: np.random.Generator) -> list[str]:
    w = answer_weights(f, values)
    k = 1
    if f.kind == "multi":
        k = min(len(values), int(rng.choice([1, 2, 3], p=[0.75, 0.2, 0.05])))
    picked = rng.choice(len(values), size=k, replace=False, p=w)
    return [values[i] for i in picked]


def _other(values: list[str], taken: list[str], rng: np.random.Generator) -> str:
    rest = [v for v in values if v not in taken]
    return str(rng.choice(rest))


def _style(person: Person, rng: np.random.Generator, allow_fill: bool) -> str:
    s = person.style if rng.random() < 0.85 else str(rng.choice(person.styles[0], p=person.styles[1]))
    return "tick" if s == "fill" and not allow_fill else s


def plan_field(
    fp: FieldPlacement, rng: np.random.Generator, person: Person, hard_rate: float, blank_sheet: bool
) -> FieldPlan:
    f = fp.field
    values = [o.value for o in fp.options]
    if blank_sheet:
        return FieldPlan(f.id, "blank", None)
    if rng.random() < hard_rate:
        return _plan_hard(f, values, rng, person)
    if rng.random() < BLANK_FIELD_P:
        return FieldPlan(f.id, "blank", None)
    chosen = _choose(f, values, rng)
    # a filled box beside another mark means "cancelled" on this sheet, so several fills never
    # stand for several answers
    style = _style(person, rng, allow_fill=len(chosen) == 1)
    return FieldPlan(f.id, "clear", join_values(chosen), [Mark(v, style) for v in chosen])


def _plan_hard(f: Field, values: list[str], rng: np.random.Generator, person: Person) -> FieldPlan:
    kinds = dict(HARD_P)
    if f.kind != "single":
        kinds.pop("double")
    if len(values) < 2:
        for k in ("double", "correction", "stray"):
            kinds.pop(k, None)
    names = list(kinds)
    p = np.array([kinds[k] for k in names])
    kind = str(rng.choice(names, p=p / p.sum()))
    chosen = _choose(f, values, rng)
    if len(chosen) == len(values) and kind in ("correction", "stray"):
        chosen = chosen[:-1]  # leave a box free for the cancelled mark or the stray stroke
    style = _style(person, rng, allow_fill=False)
    if kind == "double":
        second = _other(values, chosen, rng)
        return FieldPlan(f.id, kind, join_values([*chosen, second]), [Mark(chosen[0], style), Mark(second, style)])
    if kind == "correction":
        cancelled = _other(values, chosen, rng)
        how = "scribble" if person.wide and rng.random() < 0.5 else "fill"
        marks = [Mark(cancelled, how), *(Mark(v, style) for v in chosen)]
        return FieldPlan(f.id, kind, join_values(chosen), marks)
    if kind == "stray":
        slip = Mark(_other(values, chosen, rng), str(rng.choice(["dot", "stroke"])))
        marks = [*(Mark(v, style) for v in chosen), slip]
        return FieldPlan(f.id, kind, join_values(chosen), marks)
    if kind == "faint":
        return FieldPlan(f.id, kind, None, [Mark(chosen[0], str(rng.choice(["dot", "stroke"])))])
    return FieldPlan(f.id, "circled", chosen[0], [Mark(chosen[0], "circle")])


# --------------------------------------------------------------------------- how marks look


class Hand:
    """Draws one person's marks on a canvas."""

    def __init__(self, canvas: Canvas, person: Person, rng: np.random.Generator):
        self.c, self.p, self.rng = canvas, person, rng

    def mark(self, shape: str, box: Rect, printed: Rect) -> None:
        """``printed``: the option's printed matter a circle goes round (its label; in a table, its box)."""
        getattr(self, shape)(printed if shape == "circle" else box)

    def _frame(self, box: Rect, scale: tuple[float, float] = (0.85, 1.1)):
        """Maps unit-box coordinates (0..1, y down) to page mm, with this hand's offset and tilt."""
        r = self.rng
        s = r.uniform(*scale) * box.w
        a = np.radians(r.normal(0, 9 * self.p.jitter))
        rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        # the mark's centre stays well inside the box: people aim at the box
        off = np.clip(r.normal(0, 0.25 * self.p.jitter, 2), -0.45, 0.45)
        centre = np.array(box.center) + off

        def to_mm(u: np.ndarray) -> np.ndarray:
            return (np.asarray(u, dtype=float) - 0.5) * s @ rot.T + centre

        return to_mm

    def _line(self, pts: np.ndarray, width: float | None = None, tool: Tool | None = None, n: int = 8) -> None:
        path = wobble(smooth(pts, n), self.rng, 0.04 + 0.05 * self.p.jitter)
        self.c.stroke(path, tool or self.p.tool, self.rng, width)

    def _over(self) -> float:
        """How far (unit box) a stroke end runs past the edge."""
        return self.p.overflow * self.rng.uniform(0, 0.3)

    def tick(self, box: Rect) -> None:
        r, f = self.rng, self._frame(box)
        o = self._over()
        start = (r.uniform(0.1, 0.28), r.uniform(0.45, 0.62))
        valley = (r.uniform(0.36, 0.5), r.uniform(0.74, 0.88))
        end = (r.uniform(0.82, 0.98) + o, r.uniform(0.04, 0.16) - o)
        mid = (np.array(valley) + end) / 2 + (r.normal(0, 0.03), r.normal(0, 0.03))
        self._line(f(np.array([start, valley, mid, end])))

    def cross(self, box: Rect) -> None:
        r, f = self.rng, self._frame(box)
        for a, b in (((0.15, 0.15), (0.85, 0.85)), ((0.85, 0.15), (0.15, 0.85))):
            o1, o2 = self._over(), self._over()
            pa = np.array(a) + r.normal(0, 0.05, 2) + (np.array(a) - 0.5) * o1 * 2
            pb = np.array(b) + r.normal(0, 0.05, 2) + (np.array(b) - 0.5) * o2 * 2
            self._line(f(np.array([pa, (pa + pb) / 2 + r.normal(0, 0.025, 2), pb])))

    def long_tick(self, box: Rect) -> None:
        """A tick whose first stroke begins outside the box, left of it or below its left corner."""
        r, f = self.rng, self._frame(box)
        start = (r.uniform(-0.45, -0.15), r.uniform(0.35, 0.75))
        valley = (r.uniform(0.36, 0.5), r.uniform(0.74, 0.9))
        end = (r.uniform(0.85, 1.05), r.uniform(0.0, 0.15))
        mid = (np.array(valley) + end) / 2 + (r.normal(0, 0.03), r.normal(0, 0.03))
        self._line(f(np.array([start, valley, mid, end])))

    def big_cross(self, box: Rect) -> None:
        """A cross drawn larger than the box: its arms cross the border and run well past it."""
        r, f = self.rng, self._frame(box, (1.35, 1.8))
        for a, b in (((0.05, 0.05), (0.95, 0.95)), ((0.95, 0.05), (0.05, 0.95))):
            pa, pb = np.array(a) + r.normal(0, 0.04, 2), np.array(b) + r.normal(0, 0.04, 2)
            self._line(f(np.array([pa, (pa + pb) / 2 + r.normal(0, 0.02, 2), pb])))

    def gap_tick(self, box: Rect) -> None:
        """A tick where the pen skipped: its long stroke broken by a gap of 0.5-1 mm."""
        r, f = self.rng, self._frame(box)
        start = np.array((r.uniform(0.1, 0.28), r.uniform(0.45, 0.62)))
        valley = np.array((r.uniform(0.36, 0.5), r.uniform(0.74, 0.88)))
        end = np.array((r.uniform(0.82, 0.98), r.uniform(0.04, 0.16)))
        self._line(f(np.array([start, (start + valley) / 2, valley])))
        gap = r.uniform(0.5, 1.0) / box.w  # mm, as a share of the box
        t0 = r.uniform(0.3, 0.5)
        d = end - valley
        cut = valley + d * t0
        resume = cut + d / np.linalg.norm(d) * gap
        self._line(f(np.array([valley, (valley + cut) / 2, cut])))
        self._line(f(np.array([resume, (resume + end) / 2, end])))

    def scribble(self, box: Rect) -> None:
        """A box cancelled by scribbling over it: dense zigzags, not quite a solid fill."""
        r = self.rng
        f = self._frame(box, (1.0, 1.2))
        t = self.p.tool
        for _ in range(int(r.integers(1, 3))):
            n = int(r.integers(7, 12))
            ys = np.linspace(0.02, 0.98, n)
            zig = np.array([(0.0 if i % 2 == 0 else 1.0, y) for i, y in enumerate(ys)]) + r.normal(0, 0.05, (n, 2))
            if r.random() < 0.5:
                zig = zig[:, ::-1]
            self.c.stroke(f(zig), t, r, max(t.width_mm, 0.5))

    def slash(self, box: Rect) -> None:
        r, f = self.rng, self._frame(box)
        o = self._over()
        a = np.array((0.17, 0.86)) + r.normal(0, 0.05, 2) - o
        b = np.array((0.86, 0.14)) + r.normal(0, 0.05, 2) + (o, -o)
        self._line(f(np.array([a, (a + b) / 2 + r.normal(0, 0.03, 2), b])))

    def fill(self, box: Rect) -> None:
        """Blacked out: a solid patch slightly past the border, with the scribble that made it."""
        r = self.rng
        grow = r.uniform(-0.05, 0.45)
        corners = np.array(
            [(box.x, box.y), (box.x + box.w, box.y), (box.x + box.w, box.y + box.h), (box.x, box.y + box.h)]
        )
        corners = corners + (np.sign(corners - box.center) * grow) + r.normal(0, 0.12, corners.shape)
        t = self.p.tool
        dense = Tool(t.name, t.level, t.width_mm, t.grain * 0.4)  # pressing hard fills the paper's tooth
        self.c.fill(corners, dense, r)
        f = self._frame(box, (1.0, 1.15))
        n = int(r.integers(5, 9))
        ys = np.linspace(0.05, 0.95, n)
        zig = np.array([(0.05 if i % 2 == 0 else 0.95, y) for i, y in enumerate(ys)]) + r.normal(0, 0.04, (n, 2))
        self.c.stroke(f(zig), dense, r)

    def _slip_tool(self) -> Tool:
        """What a slip or a resting touch is made with: this person's pen (a felt tip's touch is a
        ballpoint-sized dot: it is not dragged) or a pencil."""
        r = self.rng
        if r.random() >= 0.5:
            return _visible_pencil(r)
        return pen(r, 0.5) if self.p.tool.name == "felt" else self.p.tool

    def dot(self, box: Rect) -> None:
        """A faint dot: the pen rested on the box, or a pencil touched it."""
        r = self.rng
        tool = self._slip_tool()
        rad = r.uniform(0.24, 0.35)  # 2-6 % of the box: more than paper noise, far less than a tick
        cx, cy = box.x + r.uniform(1.3, box.w - 1.3), box.y + r.uniform(1.3, box.h - 1.3)
        ang = np.linspace(0, 2 * np.pi, 16, endpoint=False)
        ell = np.column_stack([cx + rad * np.cos(ang) * r.uniform(0.8, 1.2), cy + rad * np.sin(ang)])
        self.c.fill(ell, tool, r)

    def stroke(self, box: Rect) -> None:
        """A tiny stray stroke inside the box: a slip, not a mark."""
        r = self.rng
        tool = self._slip_tool()
        # the wide repertoire's slips are finer: a faint touch stays well under a mark's share of a small box
        length, a = r.uniform(0.5, 0.8 if self.p.wide else 1.0), r.uniform(0, np.pi)
        cx, cy = box.x + r.uniform(1.4, box.w - 1.4), box.y + r.uniform(1.4, box.h - 1.4)
        d = np.array([np.cos(a), np.sin(a)]) * length / 2
        width = r.uniform(0.25, 0.32) if self.p.wide else r.uniform(0.3, 0.4)
        self.c.stroke(np.array([(cx, cy) - d, (cx, cy) + d]), tool, r, width_mm=width)

    def circle(self, printed: Rect) -> None:
        """A loop round an option's label (in a table, round its box) instead of a mark in the box."""
        r = self.rng
        # just clear of the printed matter, inside the band omr.sheet.layout keeps free round it
        a = printed.w / 2 + r.uniform(0.35, 0.8)
        b = printed.h / 2 + r.uniform(0.35, 0.8)
        cx = printed.center[0] + r.uniform(-0.1, 0.1)
        cy = printed.center[1] + r.uniform(-0.1, 0.1)
        start = r.uniform(0, 2 * np.pi)
        t = np.linspace(start, start + 2 * np.pi + r.uniform(0.15, 0.6), 90)
        # a squarish ellipse hugs a long label the way a hand-drawn loop does
        e = 2 / r.uniform(3.0, 4.5)
        drift = np.linspace(0, r.uniform(-0.25, 0.35), len(t))  # mm: the loop does not close exactly
        x = cx + (a + drift) * np.sign(np.cos(t)) * np.abs(np.cos(t)) ** e
        y = cy + (b + drift) * np.sign(np.sin(t)) * np.abs(np.sin(t)) ** e
        path = wobble(np.column_stack([x, y]), r, 0.08)
        self.c.stroke(path, self.p.tool, r, width_mm=min(self.p.tool.width_mm, 0.55))

    def handwriting(self, area: Rect) -> None:
        """A few lines of cursive-looking scribble inside a free-text area."""
        r = self.rng
        tool = self.p.tool if self.p.tool.name == "pen" else pen(r, 0.35)
        line_h = r.uniform(5.0, 6.5)
        lines = max(1, min(int((area.h - 3) // line_h), int(r.integers(1, 4))))
        xh = r.uniform(1.3, 1.9)
        slant = np.tan(np.radians(r.uniform(5, 20)))
        for li in range(lines):
            base = area.y + 2.5 + 2.4 * xh + li * line_h
            x = area.x + r.uniform(2.5, 6)
            right = area.x + area.w - 3
            end = right if li < lines - 1 else x + r.uniform(0.2, 1.0) * (right - x)
            while x < end - 6:
                x = self._word(x, base, xh, slant, min(end, right), tool) + r.uniform(1.5, 3.5)

    def _word(self, x: float, base: float, xh: float, slant: float, limit: float, tool: Tool) -> float:
        r = self.rng
        lw = r.uniform(1.2, 1.9)
        k = max(1, min(int(r.integers(2, 8)), int((limit - x) / lw)))
        t = np.linspace(0, k, k * 14 + 1)
        heights = np.where(r.random(k) < 0.2, 2.2 * xh, xh) * r.uniform(0.85, 1.1, k)
        h = heights[np.minimum(t.astype(int), k - 1)]
        loop = lw * r.uniform(0.22, 0.35)
        px = x + t * lw + loop * np.sin(2 * np.pi * t)  # the pen runs back at the top: a loop, as in l, e
        py = base - h * (1 - np.cos(2 * np.pi * t)) / 2
        px = px + (base - py) * slant
        pts = wobble(np.column_stack([px, py]), r, 0.05)
        self.c.stroke(pts, tool, r, width_mm=min(tool.width_mm, 0.5))
        return x + k * lw


def fill_page(
    canvas: Canvas,
    fields: list[FieldPlacement],
    rng: np.random.Generator,
    hard_rate: float,
    person: Person | None = None,
) -> tuple[dict[str, dict], dict[str, bool]]:
    """Fill one page's fields; returns its truth: answers per choice field, written per text area."""
    person = person or make_person(rng)
    hand = Hand(canvas, person, rng)
    blank_sheet = rng.random() < BLANK_SHEET_P
    answers: dict[str, dict] = {}
    texts: dict[str, bool] = {}
    for fp in fields:
        if fp.area is not None:
            written = not blank_sheet and rng.random() < TEXT_WRITTEN_P
            if written:
                hand.handwriting(fp.area)
            texts[fp.field.id] = written
            continue
        plan = plan_field(fp, rng, person, hard_rate, blank_sheet)
        by_value = {o.value: o for o in fp.options}
        for m in plan.marks:
            o = by_value[m.value]
            hand.mark(m.shape, o.box, o.hole)
        answers[fp.field.id] = plan.truth()
    return answers, texts


def _visible_pencil(rng: np.random.Generator) -> Tool:
    """A pencil touch dark enough to survive the scan. A lighter one vanishes under a bilevel
    scanner's threshold or into 150-dpi averaging: then nobody, person or machine, can see it in the
    stored image, and it is no test of the reader."""
    return Tool("pencil", float(rng.uniform(60, 95)), float(rng.uniform(0.3, 0.45)), float(rng.uniform(0.1, 0.3)))
