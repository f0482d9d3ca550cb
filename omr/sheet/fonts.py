"""The shipped fonts (SIL Open Font License): every Vietnamese diacritic, on any machine.

ReportLab is imported when a font is first needed, not with this module: every ``omr`` command imports
``omr.sheet.layout``, and many never measure text (``omr units``, ``omr users``, ``omr init``…).
"""

from dataclasses import dataclass
from functools import cache
from pathlib import Path

FONT_DIR = Path(__file__).parent / "fonts"


@dataclass(frozen=True)
class Family:
    """A font in its four faces; ``regular`` is also the file stem's prefix (``<regular>-Regular.ttf``,
    ``<regular>-Bold.ttf``, ...)."""

    regular: str

    def face(self, bold: bool = False, italic: bool = False) -> str:
        return self.regular + _SUFFIX[bold, italic]


_SUFFIX = {(False, False): "", (True, False): "-Bold", (False, True): "-Italic", (True, True): "-BoldItalic"}

SANS = Family("NotoSans")  # the sheets
# The serif of official documents (Nghị định 30/2020/NĐ-CP: Times New Roman or alike): Tinos, metric-compatible
# with Times New Roman, full Vietnamese (fonts/NOTICE-fonts-croscore.txt).
SERIF = Family("Tinos")


@cache
def _registered(family: Family) -> Family:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    faces = {style: family.face(*style) for style in _SUFFIX}
    for name in faces.values():
        file = f"{family.regular}-Regular" if name == family.regular else name
        pdfmetrics.registerFont(TTFont(name, str(FONT_DIR / f"{file}.ttf")))
    pdfmetrics.registerFontFamily(
        family.regular,
        normal=faces[False, False],
        bold=faces[True, False],
        italic=faces[False, True],
        boldItalic=faces[True, True],
    )
    return family


def font_name(bold: bool = False, italic: bool = False) -> str:
    """The sheets' face, registered with ReportLab."""
    return _registered(SANS).face(bold, italic)


def serif_name(bold: bool = False, italic: bool = False) -> str:
    """The reports' serif face, registered with ReportLab."""
    return _registered(SERIF).face(bold, italic)


def text_width(text: str, size: float, bold: bool = False, italic: bool = False) -> float:
    """Width in points, in the sheets' face."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    return stringWidth(text, font_name(bold, italic), size)
