"""Every number the reader decides with, in one place, each with the reason for its value.

Measurements are fractions of a zone's pixels (0..1) taken on the page after it is warped to
``PX_PER_MM`` pixels per millimetre, so they do not depend on the scan's resolution. They were
calibrated on generated stacks (samples/generate.py: ticks, crosses, slashes, fills, pencil, faint
dots, stray strokes, 150–300 dpi, JPEG, bilevel) with benchmarks/calibrate.py, which prints the
distribution of each measurement per kind of mark; change a value here and re-run it and
tests/test_accuracy.py. Stored pages can be re-decided with new values without rescanning.
"""

# --- geometry of the measurement --------------------------------------------------------------
PX_PER_MM = 6.0  # canonical page resolution (~152 dpi): a 0.3 mm pencil line is still ~2 px wide
BOX_INSET_MM = 0.75  # measure inside the printed border: 0.3 mm line + registration error
# Ring outside the box edge where strokes over the edge show; it stops short of the label text
# (1.5 mm away) and of a matrix row's rule (1.25 mm) even with 0.3 mm of registration error.
SPILL_RING_MM = (0.45, 0.9)

# --- what counts as ink ---------------------------------------------------------------------
# A pixel is ink when it is this much darker than the page's paper (0 = paper, 1 = black).
# Pencil on a 300 dpi grey scan sits around 0.35–0.6; JPEG ringing and paper texture below 0.2.
INK_DARKNESS = 0.33

# --- one box --------------------------------------------------------------------------------
# Share of the box interior covered by ink. Measured on generated stacks (benchmarks/calibrate.py,
# 150-300 dpi, grey/bilevel/JPEG): an empty box stays at 0.000 even at the 99.9th percentile; faint
# dots and tiny strokes cover 0.009-0.083; ticks 0.04-0.55 (1st percentile 0.08), crosses over 0.14,
# slashes over 0.10, fills 1.0. Between BLANK and MARK a person decides.
BLANK_INK_MAX = 0.004  # at or below (and no grey either): the box is empty
MARK_INK_MIN = 0.09  # at or above: a deliberate mark
# A thin tick (0.04-0.09) covers as little as a faint stroke but runs across the box: it reaches
# at least REACH_MIN of the interior's 3x3 cells, where a dot or a slip stays in one to three.
THIN_MARK_INK_MIN = 0.04
REACH_MIN = 5 / 9
REACH_CELL_INK = 0.03  # a cell "holds ink" from this share on
FILLED_INK_MIN = 0.72  # at or above, with the centre filled too: a filled box (a cancellation)
FILLED_CORE_MIN = 0.80
# Light pencil that never reaches INK_DARKNESS still greys the box. Empty boxes stay under 0.02
# mean darkness, and within 0.005 of the emptiest box of the same question (99.9th percentile);
# faint dots stand out from it by 0.010 or more.
FAINT_DARKNESS_MIN = 0.04
FAINT_EXCESS_MIN = 0.008

# --- around a box ---------------------------------------------------------------------------
# A circle drawn round a label (instead of a mark in the box) puts ink in the empty band around it:
# 0.03-0.6 above the question's emptiest band; empty bands stay within 0.005 (99th percentile).
CIRCLE_INK_MIN = 0.025
# Ink just outside an otherwise empty box: a stroke that missed the box.
STRAY_SPILL_MIN = 0.06

# --- free-text areas ------------------------------------------------------------------------
TEXT_INSET_MM = 1.2  # keep the dotted border out of the measurement
TEXT_WRITTEN_INK_MIN = 0.004  # a few short words in a 180 x 18 mm area is about 1 %

# --- whole pages ----------------------------------------------------------------------------
# Below this share of ink the page is empty (the back of a one-page sheet), markers or not.
BLANK_PAGE_INK_MAX = 0.0015
