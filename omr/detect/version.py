"""Which reader made a decision: recorded with every machine decision stored (pages and answers).

Bump ``READER_VERSION`` whenever a change to the reader can change what it decides on a page —
registration, measurement, the deciding rules, any threshold, QR reading — so that stored decisions
say which reader made them and ``omr reread`` reports which reader decided each changed answer.
"""

READER_VERSION = "22"  # 2: boxes found again by their borders, ink against local paper (issue 9)
# 3: a box's opposite borders found up to 2 px nearer or further apart than printed (bold fax
# borders, paper squeezed along a fold), a search that ends at its reach looked at once more
# 4: a weak box with no stroke in it beside a sure mark is dirt, not a second answer; a circle round a
# label must ink its band both above and below the label
# 5: the markers are looked for on a copy made from the scan's halvings, against the blank check's
# paper grey (marker centres move by up to a sixth of a pixel; no decision changed on 312 test pages)
# 6: a thin tick reaching four of the interior's nine cells (not five) is a mark; a circle must ink both
# halves of its label's band by 0.05 (not 0.025), what is between being something, not a circle
# 7: the QR code is tried once more with its black thinned by a pixel (a copier's spread toner); a
# weak box without a stroke is dirt beside a tick, cross or slash only, not beside a fill
# 8: the blank check judges each 1 mm cell against the brightest paper a millimetre around it (not
# 9 mm), and leaves the scan's outermost 3 mm out: a shadow's soft edge or a dark strip along an edge
# no longer keeps a blank back from being blank
# 9: a weak box without a stroke is dirt beside a clear mark only if its border was found clearly
# (BORDER_CLEAR_MIN): a box found weakly may have been measured off the tick it holds; a mark under
# MARK_SURE_INK_MIN in a question with a box not found clearly goes to a person; a lone fill is
# taken at confidence 0.9 at most (CONF_LONE_FILL); two fills and no tick in a question of several
# answers go to a person
# 10: ink on the paper the layout leaves blank, along each box's column and row (``BoxMeasure.dirt``,
# ``measure.BlankPaper``): a question where such a band of a scanner's dirt crosses a box with ink
# goes to a person (reason "dirt"), and a comment area is read without the band's columns and rows
# 11: the spill ring follows each box's border as found, not as printed, and leaves out a line running
# along a side of it (a table's rule a fold brought near, a border a fax printed bold); a straight line
# inside a box adds nothing to its darkness either; a question read blank on a black-and-white scan
# goes to a person (reason "bilevel_blank": such a scan can drop a pale mark whole), and each box
# stores whether its page was one (``BoxMeasure.bilevel``)
# 12: the QR code is read once more from its darkest ink alone (a drum's dirt greys a band across it)
# 13: a border a fax printed bold and a fold pushed inside a box is left out to its broken inner row
# (``measure._line_rows``), not only its rows inked from side to side
# 14: ... but only where an empty row follows the border: a tick's stroke running along the edge is ink
# 15: the blank check takes the scan's outermost millimetres as neither ink nor paper (a white lid beside a shadow)
# 16: the blank check leaves out a binder's punch holes by an edge and lines one cell thin (``read._ink_cells``)
# 17: thin lines drawn across the sheet (a copier drum's scratch, broken fax lines) painted over in the upright page
#     (``clean.repair_sheet_lines``): they read as a stray stroke, a band of dirt or writing; the QR code is
#     tried once more with thin dark lines closed away
# 18: a band of dirt through a box judged too little to be an answer beside a clear mark (``decide._minor``)
#     no longer sends the question to a person: dirt only adds ink, and that box counts for nothing
# 19: a line down the sheet is judged on all but the checkboxes' borders, the boxes' insides too: in a table
#     there is no blank paper between the boxes of a column, and a line through them read as a mark
# 20: what the line repair leaves of a line down the sheet about a checkbox's border is left out of the box as
#     found (``measure._interiors``): such a line within a millimetre of a border read as a stray stroke
# 21: a line down the sheet is a line if either all but the checkboxes or all but their borders show it (reader 19
#     judged on the second alone, and missed a broken line reader 17 had painted)
# 22: in a comment area, thin clusters in one row (not cut by its edge or a band left out) that together run as
#     far as a line are a broken line (a streak of dashes), and clusters lying partly in solid patches wider than
#     a pen's stroke are blots (a punch hole, a shadow's dark crest): neither is writing (``measure._writing``)
