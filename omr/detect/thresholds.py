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
SPILL_RING_MM = (0.6, 1.6)  # ring outside the box edge where strokes over the edge show

# --- what counts as ink ---------------------------------------------------------------------
# A pixel is ink when it is this much darker than the page's paper (0 = paper, 1 = black).
# Pencil on a 300 dpi grey scan sits around 0.35–0.6; JPEG ringing and paper texture below 0.2.
INK_DARKNESS = 0.33

# --- one box --------------------------------------------------------------------------------
# Share of the box interior covered by ink. A 0.3 mm tick covers about 12 %, a cross about 30 %,
# a fill over 80 %; a faint dot 1–5 %; scanner noise on an empty box stays under 1 %.
BLANK_INK_MAX = 0.025  # at or below: the box is empty
MARK_INK_MIN = 0.075  # at or above: a deliberate mark
FILLED_INK_MIN = 0.72  # at or above, with the centre filled too: a filled box (a cancellation)
FILLED_CORE_MIN = 0.80
# Light pencil that never reaches INK_DARKNESS still greys the box: mean darkness of the interior.
FAINT_DARKNESS_MIN = 0.10

# --- around a box ---------------------------------------------------------------------------
# A circle drawn round a label (instead of a mark in the box) puts ink in the empty band around it.
CIRCLE_INK_MIN = 0.04
# Ink just outside an otherwise empty box: a stroke that missed the box.
STRAY_SPILL_MIN = 0.06

# --- confidence -----------------------------------------------------------------------------
# Below this the machine's answer is sent to a person even when its state is decided.
REVIEW_CONFIDENCE = 0.70

# --- free-text areas ------------------------------------------------------------------------
TEXT_INSET_MM = 1.2  # keep the dotted border out of the measurement
TEXT_WRITTEN_INK_MIN = 0.004  # a few short words in a 180 x 18 mm area is about 1 %

# --- whole pages ----------------------------------------------------------------------------
# Below this share of ink the page is empty (the back of a one-page sheet), markers or not.
BLANK_PAGE_INK_MAX = 0.0015
