"""Charts of a tally as PNG bytes (matplotlib, Agg): the PDF report and the web pages use the same.

Drawn with the object API (``Figure``, no pyplot state), so web workers can draw at the same time,
and with the shipped Noto Sans so every Vietnamese diacritic shows on any machine.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from functools import cache

import matplotlib

matplotlib.use("Agg")  # no display, ever: reports are drawn by commands and web workers

from matplotlib import font_manager  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

from omr.reports.fmt import num, pct  # noqa: E402
from omr.services.tally import DEFAULT_TARGET, TallyResult, TrendPoint  # noqa: E402
from omr.sheet.fonts import FONT_DIR  # noqa: E402

OK_COLOR, LOW_COLOR, TARGET_COLOR, LINE_COLOR = "#2e7d32", "#ef6c00", "#c62828", "#1565c0"
DPI = 150


@cache
def _setup() -> None:
    """Noto Sans as matplotlib's font, once per process. Set globally rather than in an
    ``rc_context`` per chart: that swaps the global settings back and forth, and web threads
    drawing at the same time would catch each other's half-restored state."""
    for style in ("Regular", "Bold"):
        font_manager.fontManager.addfont(str(FONT_DIR / f"NotoSans-{style}.ttf"))
    matplotlib.rcParams.update(
        {"font.family": "Noto Sans", "font.size": 9, "axes.spines.top": False, "axes.spines.right": False}
    )


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    FigureCanvasAgg(fig)
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def _percent_axis(ax, axis: str = "x") -> None:
    fmt = FuncFormatter(lambda v, _pos: f"{v * 100:.0f} %")
    (ax.xaxis if axis == "x" else ax.yaxis).set_major_formatter(fmt)


def _wrap(text: str, width: int = 34) -> str:
    """Long element names on two lines at most, so the bars keep their room."""
    words, lines, line = text.split(), [], ""
    for w in words:
        if line and len(line) + 1 + len(w) > width:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}".strip()
    lines.append(line)
    if len(lines) > 2:
        lines = [lines[0], " ".join(lines[1:])[: width - 1] + "…"]
    return "\n".join(lines)


def index_bars(result: TallyResult, form_id: str | None = None) -> list[tuple[str, float | None, int]]:
    """(label, index, answers) per element of the form(s), then the whole: what the bar chart shows."""
    forms = [f for f in result.forms if form_id is None or f.form_id == form_id]
    bars: list[tuple[str, float | None, int]] = []
    for f in forms:
        for e in f.elements:
            label = e.element if len(forms) == 1 else f"{e.element} ({f.form_id})"
            bars.append((label, e.index.value, e.index.answered))
    whole = forms[0].index if len(forms) == 1 else result.index
    bars.append(("Chỉ số chung", whole.value, whole.answered))
    return bars


def index_chart_png(result: TallyResult, form_id: str | None = None, width_in: float = 7.0) -> bytes:
    """Horizontal bars: the satisfaction index per element and overall, n beside each, the target
    as a dashed line. Elements below the target are drawn in orange."""
    bars = index_bars(result, form_id)
    target = result.target
    _setup()
    fig = Figure(figsize=(width_in, 0.42 * len(bars) + 0.95), layout="constrained")
    ax = fig.add_subplot()
    labels = [_wrap(b[0]) for b in bars][::-1]
    values = [b[1] or 0.0 for b in bars][::-1]
    colors = ["#9e9e9e" if b[1] is None else (OK_COLOR if b[1] >= target - 1e-12 else LOW_COLOR) for b in bars][::-1]
    y = range(len(bars))
    ax.barh(y, values, color=colors, height=0.6)
    ax.set_yticks(list(y), labels)
    ax.set_xlim(0, 1.18)
    ax.set_xticks([0, 0.25, 0.5, 0.75, 1.0])
    _percent_axis(ax, "x")
    ax.axvline(target, color=TARGET_COLOR, linestyle="--", linewidth=1.2)
    ax.text(target, len(bars) - 0.35, f"Mục tiêu {pct(target, 0)}", color=TARGET_COLOR, ha="center", va="bottom")
    for i, (_label, value, n) in enumerate(bars[::-1]):
        if value is None:
            ax.text(0.01, i, "chưa có dữ liệu", va="center", fontsize=8, color="#616161")
        elif value > 0.4:  # inside the bar's end, clear of the target line
            ax.text(value - 0.01, i, f"{pct(value)}  (n = {n})", va="center", ha="right", fontsize=8, color="white")
        else:
            ax.text(value + 0.01, i, f"{pct(value)}  (n = {n})", va="center", fontsize=8)
    ax.set_ylim(-0.6, len(bars) - 0.1)
    ax.set_xlabel("Tỉ lệ hài lòng (Rất hài lòng + Hài lòng)")
    return _png(fig)


def trend_chart_png(
    trend: TallyResult | Sequence[TrendPoint], target: float | None = None, width_in: float = 7.0
) -> bytes:
    """The index month by month (12 months to the period's end), gaps where there was no answer,
    the target as a dashed line; the number of sheets under each month's name."""
    if isinstance(trend, TallyResult):
        target = trend.target if target is None else target
        points = list(trend.trend)
    else:
        points = list(trend)
    target = DEFAULT_TARGET if target is None else target
    _setup()
    fig = Figure(figsize=(width_in, 2.9), layout="constrained")
    ax = fig.add_subplot()
    xs = list(range(len(points)))
    ys = [p.index.value for p in points]
    ax.plot(
        xs,
        [float("nan") if v is None else v for v in ys],
        marker="o",
        color=LINE_COLOR,
        linewidth=1.8,
        label="Chỉ số hài lòng",
    )
    for x, p in zip(xs, points, strict=True):
        if p.index.value is not None:
            ax.annotate(
                pct(p.index.value),
                (x, p.index.value),
                textcoords="offset points",
                xytext=(0, 7),
                ha="center",
                fontsize=6.5,
            )
    ax.axhline(target, color=TARGET_COLOR, linestyle="--", linewidth=1.2, label=f"Mục tiêu {pct(target, 0)}")
    # month over its number of sheets; "1.234" with the Vietnamese thousands mark
    ax.set_xticks(xs, [f"{p.label}\n{num(p.responses)}" for p in points], fontsize=6.5)
    known = [v for v in ys if v is not None]
    low = min([*known, target]) if known else target
    bottom = max(0.0, min(low - 0.08, 0.8))
    ax.set_ylim(bottom, 1.06)
    step = 0.05 if 1 - bottom <= 0.3 else (0.1 if 1 - bottom <= 0.6 else 0.2)
    ticks = [round(1 - i * step, 2) for i in range(int((1 - bottom) / step) + 1)]
    ax.set_yticks(sorted(t for t in ticks if t >= bottom - 1e-9))
    _percent_axis(ax, "y")
    ax.set_xlim(-0.5, len(points) - 0.5)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="lower left", fontsize=7, frameon=False, ncols=2)
    if not known:
        ax.text(0.5, 0.5, "Chưa có dữ liệu trong 12 tháng", transform=ax.transAxes, ha="center", color="#757575")
    return _png(fig)
