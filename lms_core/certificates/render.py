"""The certificate's PDF (fpdf2) with its verification QR code (segno).

fpdf2's core fonts are Latin-1 only, so the text is set in TrueType fonts: DejaVu Sans (Latin,
Greek, Cyrillic and more) with Droid Sans Fallback for the scripts DejaVu lacks (Chinese,
Japanese, Korean), from Debian's ``fonts-dejavu-core`` and ``fonts-droid-fallback`` (CI installs
them). Without DejaVu the PDF is still made, in Helvetica, with the characters Latin-1 cannot
hold replaced by "?" (and a warning logged): a certificate with a mangled name beats none.

Rendering is CPU work (font subsetting, compression): callers run it in a thread.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import segno
from fpdf import FPDF
from fpdf.fonts import TTFFont

log = logging.getLogger(__name__)

FONT_DIRS: tuple[Path, ...] = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/truetype/droid"),
)
REGULAR, BOLD = "DejaVuSans.ttf", "DejaVuSans-Bold.ttf"
FALLBACKS = ("DroidSansFallbackFull.ttf",)

# A4 landscape, in millimetres.
PAGE_W, PAGE_H = 297.0, 210.0
MARGIN = 20.0
QR_SIZE = 34.0
INK = (33, 37, 41)
ACCENT = (31, 78, 121)


@dataclass(frozen=True, slots=True)
class CertificateText:
    student_name: str
    course_title: str
    instructor_name: str
    completed_at: datetime
    code: str
    verify_url: str


MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def completion_date(moment: datetime) -> str:
    """e.g. "23 November 2026" (UTC; month names in English whatever the process locale)."""
    moment = moment.astimezone(UTC)
    return f"{moment.day} {MONTHS[moment.month - 1]} {moment.year}"


def qr_png(url: str) -> bytes:
    """The QR code of ``url`` as a PNG: 8 pixels a module, the standard 4-module quiet zone."""
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="png", scale=QR_SCALE, border=QR_BORDER)
    return buffer.getvalue()


QR_SCALE = 8
QR_BORDER = 4


class _Fonts:
    """Which family to use, and how to make text safe for it."""

    def __init__(self, pdf: FPDF, dirs: Sequence[Path], needed: str) -> None:
        regular = _find(dirs, REGULAR)
        bold = _find(dirs, BOLD)
        self.unicode = regular is not None
        if regular is None:
            log.warning("certificate fonts not found in %s: using Helvetica (Latin-1 only)", dirs)
            self.family = "helvetica"
            return
        self.family = "body"
        pdf.add_font(self.family, "", str(regular))
        pdf.add_font(self.family, "B", str(bold or regular))
        # The CJK fallback is 4 MB to parse (ten times the rest of the work): only when needed.
        font = pdf.fonts[self.family]
        if isinstance(font, TTFFont) and all(ord(c) in font.cmap or c.isspace() for c in needed):
            return
        fallbacks = []
        for index, name in enumerate(FALLBACKS):
            path = _find(dirs, name)
            if path is not None:
                family = f"fallback{index}"
                pdf.add_font(family, "", str(path))
                pdf.add_font(family, "B", str(path))
                fallbacks.append(family)
        if fallbacks:
            pdf.set_fallback_fonts(fallbacks, exact_match=False)

    def text(self, value: str) -> str:
        if self.unicode:
            return value
        return value.encode("latin-1", "replace").decode("latin-1")


def _find(dirs: Sequence[Path], name: str) -> Path | None:
    for folder in dirs:
        path = folder / name
        if path.is_file():
            return path
    return None


def render_pdf(content: CertificateText, *, font_dirs: Sequence[Path] = FONT_DIRS) -> bytes:
    pdf = FPDF(orientation="L", unit="mm", format="A4")
    pdf.set_title(f"Certificate of completion: {content.course_title}")
    pdf.set_author(content.instructor_name)
    pdf.set_creator("Seminar")
    pdf.set_auto_page_break(auto=False)
    pdf.add_page()
    needed = content.student_name + content.course_title + content.instructor_name
    fonts = _Fonts(pdf, font_dirs, needed)
    text = fonts.text

    pdf.set_draw_color(*ACCENT)
    pdf.set_line_width(1.2)
    pdf.rect(10, 10, PAGE_W - 20, PAGE_H - 20)
    pdf.set_line_width(0.3)
    pdf.rect(13, 13, PAGE_W - 26, PAGE_H - 26)

    width = PAGE_W - 2 * MARGIN
    pdf.set_text_color(*ACCENT)
    pdf.set_y(32)
    pdf.set_font(fonts.family, "B", 30)
    pdf.cell(width, 14, text("Certificate of Completion"), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(*INK)
    pdf.ln(6)
    pdf.set_font(fonts.family, "", 14)
    pdf.cell(width, 8, text("This certifies that"), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    _fitted(pdf, fonts.family, "B", text(content.student_name), width, 28, 12)
    pdf.ln(3)
    pdf.set_font(fonts.family, "", 14)
    pdf.cell(width, 8, text("has completed the course"), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font(fonts.family, "B", 20)
    pdf.multi_cell(width, 10, text(content.course_title), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font(fonts.family, "", 13)
    pdf.cell(
        width,
        8,
        text(f"Completed on {completion_date(content.completed_at)}"),
        align="C",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.cell(
        width,
        8,
        text(f"Instructor: {content.instructor_name}"),
        align="C",
        new_x="LMARGIN",
        new_y="NEXT",
    )

    qr_x, qr_y = PAGE_W - MARGIN - QR_SIZE, PAGE_H - MARGIN - QR_SIZE
    pdf.image(io.BytesIO(qr_png(content.verify_url)), x=qr_x, y=qr_y, w=QR_SIZE, h=QR_SIZE)
    pdf.set_font(fonts.family, "", 9)
    pdf.set_xy(MARGIN, PAGE_H - MARGIN - 12)
    pdf.cell(qr_x - MARGIN - 4, 5, text(f"Verification code: {content.code}"))
    pdf.set_xy(MARGIN, PAGE_H - MARGIN - 6)
    pdf.cell(qr_x - MARGIN - 4, 5, text(f"Verify at {content.verify_url}"), link=content.verify_url)
    return bytes(pdf.output())


def _fitted(
    pdf: FPDF, family: str, style: str, value: str, width: float, size: float, smallest: float
) -> None:
    """One centred line, its font shrunk (down to ``smallest``) until it fits; else wrapped."""
    while size > smallest:
        pdf.set_font(family, style, size)
        if pdf.get_string_width(value) <= width:
            break
        size -= 1
    pdf.set_font(family, style, size)
    pdf.multi_cell(width, size * 0.5, value, align="C", new_x="LMARGIN", new_y="NEXT")
