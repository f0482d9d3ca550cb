"""What reading one page produces: plain data, no storage, no web.

Raw measurements (``BoxMeasure``) travel beside every decision so that storage can keep them and a
page can be re-decided later with other thresholds (``omr.detect.decide``) without rescanning.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields

from omr.sheet.identity import SheetIdentity
from omr.vocab import BLANK_ANSWER, BLANK_PAGE
from omr.vocab import INVALID as INVALID
from omr.vocab import MARKED as MARKED
from omr.vocab import MULTIPLE as MULTIPLE
from omr.vocab import UNCERTAIN as UNCERTAIN
from omr.vocab import UNIDENTIFIED as UNIDENTIFIED

# the reader's names for omr.vocab's codes (CONTRACT.md): answer states, and the page outcomes the
# reader itself can tell (duplicate / conflict are for storage to decide), "read" its own
BLANK, EMPTY_PAGE = BLANK_ANSWER, BLANK_PAGE
READ = "read"


@dataclass(frozen=True)
class BoxMeasure:
    """Ink inside and around one checkbox, each a fraction 0..1 of its zone."""

    ink: float  # dark pixels inside the box (border excluded)
    core: float  # dark pixels in the central half of the box
    darkness: float  # mean darkness of the box interior relative to the paper (0 white .. 1 black)
    spill: float  # dark pixels in a ring just outside the border: strokes over the edge
    label: float  # dark pixels around the option's label beyond the printed text: a circle drawn there
    reach: float = 0.0  # share of the 3x3 cells of the interior that hold ink: a stroke across vs a dot
    # the printed border where the box was found, as a share of the page's typical border contrast
    # (1: as clear as the others; pages read before boxes were located again have 1)
    border: float = 1.0
    shift: float = 0.0  # mm the box was found away from where the corner markers put it
    # ink in strokes (clusters reaching across the box), not in a scatter of dirt; pages read before
    # strokes were told apart have -1: all their ink counts as strokes
    stroke: float = -1.0
    specks: float = 0.0  # share of the interior dropped as specks: a scatter of them is a faint mark
    bend: float = 0.0  # mm the box's border is out of square where it was found: a fold through it
    # the label's band measured as the less inked of its halves above and below the label, both of
    # which a loop round it crosses; pages read before reader 4 have -1: ``label`` stands for it
    circle: float = -1.0
    # ink on the blank paper along the box's column or row: a band of a scanner's dirt through it;
    # pages read before reader 10 have 0
    dirt: float = 0.0
    # 1 when the page was scanned in black and white (every pixel black or white): a pale pen's mark can
    # vanish whole from such a scan; pages read before reader 11 have 0
    bilevel: float = 0.0

    @property
    def circle_ink(self) -> float:
        return self.label if self.circle < 0 else self.circle

    @property
    def stroke_ink(self) -> float:
        return self.ink if self.stroke < 0 else self.stroke

    def as_list(self) -> list[float]:
        """The measurements in field order, as stored (``from_list`` reads back any prefix of it)."""
        return [round(getattr(self, name), 4) for name in _BOX_FIELDS]

    @classmethod
    def from_list(cls, v: list[float]) -> BoxMeasure:
        return cls(*v)


# looked up once: every box of every page stored goes through as_list, some 40 a page
_BOX_FIELDS = tuple(f.name for f in fields(BoxMeasure))


@dataclass(frozen=True)
class AnswerRead:
    field: str
    value: str | None  # the choice; a multi field's values sorted and comma-joined
    state: str  # marked | blank | multiple | uncertain
    confidence: float
    reason: str | None = None  # why a person should look: multiple, faint, stray, correction, circled, ...
    # dataclasses.field: the name ``field`` is this class's first attribute
    boxes: dict[str, BoxMeasure] = dataclasses.field(default_factory=dict)  # option value -> measurement


@dataclass(frozen=True)
class TextAreaRead:
    field: str
    written: bool
    ink: float
    jpeg: bytes  # the cropped area, deskewed, as JPEG (a tenth of the PNG's size and time)


@dataclass
class PageRead:
    status: str  # read | unidentified | invalid | blank
    identity: SheetIdentity | None = None
    answers: list[AnswerRead] = field(default_factory=list)
    texts: list[TextAreaRead] = field(default_factory=list)
    # 3x3 homography from page millimetres to pixels of the stored image (as given, before any rotation)
    transform: list[list[float]] | None = None
    rotation: int = 0  # 0/90/180/270: how the page lay in the scan
    note: str | None = None  # a one-line explanation for a person (why unidentified / invalid)
    image_size: tuple[int, int] = (0, 0)

    def measurements(self) -> dict:
        return {a.field: {v: m.as_list() for v, m in a.boxes.items()} for a in self.answers}
