"""The shipped font (Noto Sans, SIL Open Font License): every Vietnamese diacritic, on any machine.

ReportLab is imported when a font is first needed, not with this module: every ``omr`` command imports
``omr.sheet.layout``, and many never measure text (``omr units``, ``omr users``, ``omr init``…).
"""

from functools import cache
from pathlib import Path

FONT_DIR = Path(__file__).parent / "fonts"
REGULAR, BOLD, ITALIC, BOLD_ITALIC = "NotoSans", "NotoSans-Bold", "NotoSans-Italic", "NotoSans-BoldItalic"


@cache
def register() -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    for name in (REGULAR, BOLD, ITALIC, BOLD_ITALIC):
        file = "NotoSans-Regular" if name == REGULAR else name
        pdfmetrics.registerFont(TTFont(name, str(FONT_DIR / f"{file}.ttf")))
    pdfmetrics.registerFontFamily(REGULAR, normal=REGULAR, bold=BOLD, italic=ITALIC, boldItalic=BOLD_ITALIC)


def font_name(bold: bool = False, italic: bool = False) -> str:
    register()
    return {(False, False): REGULAR, (True, False): BOLD, (False, True): ITALIC, (True, True): BOLD_ITALIC}[
        (bold, italic)
    ]


def text_width(text: str, size: float, bold: bool = False, italic: bool = False) -> float:
    """Width in points."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    return stringWidth(text, font_name(bold, italic), size)


# The serif of official documents (Nghị định 30/2020/NĐ-CP: Times New Roman or alike): Tinos, metric-compatible
# with Times New Roman, full Vietnamese, SIL Open Font License (fonts/NOTICE-fonts-croscore.txt).
SERIF, SERIF_BOLD, SERIF_ITALIC, SERIF_BOLD_ITALIC = "Tinos", "Tinos-Bold", "Tinos-Italic", "Tinos-BoldItalic"


@cache
def register_serif() -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    for name in (SERIF, SERIF_BOLD, SERIF_ITALIC, SERIF_BOLD_ITALIC):
        file = "Tinos-Regular" if name == SERIF else name
        pdfmetrics.registerFont(TTFont(name, str(FONT_DIR / f"{file}.ttf")))
    pdfmetrics.registerFontFamily(
        SERIF, normal=SERIF, bold=SERIF_BOLD, italic=SERIF_ITALIC, boldItalic=SERIF_BOLD_ITALIC
    )


def serif_name(bold: bool = False, italic: bool = False) -> str:
    register_serif()
    return {
        (False, False): SERIF,
        (True, False): SERIF_BOLD,
        (False, True): SERIF_ITALIC,
        (True, True): SERIF_BOLD_ITALIC,
    }[(bold, italic)]
