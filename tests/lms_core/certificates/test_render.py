"""The certificate's PDF: every script a name may be written in comes out as text (TrueType
fonts with a CJK fallback), and without the fonts a PDF is still made (Latin-1, "?" for the
rest)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pypdf import PdfReader

from lms_core.certificates import render
from tests.conftest import REQUIRE_SERVICES

URL = "https://seminar.example/certificates/ABCDEFGHIJKLMNOPQRSTUVWX"


def content(name: str, title: str = "Intro to Logic") -> render.CertificateText:
    return render.CertificateText(
        student_name=name,
        course_title=title,
        instructor_name="Ада Лавлейс",
        completed_at=datetime(2026, 11, 23, 9, 30, tzinfo=UTC),
        code="ABCDEFGHIJKLMNOPQRSTUVWX",
        verify_url=URL,
    )


def text_of(pdf: bytes) -> str:
    [page] = PdfReader(io.BytesIO(pdf)).pages
    return page.extract_text()


@pytest.fixture
def fonts() -> None:
    missing = [
        name
        for name in (render.REGULAR, render.BOLD, *render.FALLBACKS)
        if not any((folder / name).is_file() for folder in render.FONT_DIRS)
    ]
    if missing:
        message = f"certificate fonts missing: {missing} (apt-get install fonts-dejavu-core "
        message += "fonts-droid-fallback)"
        if REQUIRE_SERVICES:
            pytest.fail(message)
        pytest.skip(message)


@pytest.mark.parametrize(
    "name",
    ["Zoë Łukasiewicz", "李雷", "Σωκράτης Παπαδόπουλος", "Ngô Bảo Châu", "José O'Brien-Smith"],
)
def test_names_in_any_script_render_as_text(fonts: None, name: str) -> None:
    pdf = render.render_pdf(content(name, title=f"Course of {name}"))
    assert pdf.startswith(b"%PDF-")
    text = text_of(pdf)
    assert name in text
    assert f"Course of {name}" in text
    assert "Ада Лавлейс" in text
    assert "23 November 2026" in text
    assert "ABCDEFGHIJKLMNOPQRSTUVWX" in text


def test_a_long_title_wraps_and_a_long_name_shrinks(fonts: None) -> None:
    name = "Maximilian Alexander Wolfgang von und zu Hohenzollern-Sigmaringen " * 2
    title = "An Unusually Long Course Title About Many Things " * 4
    text = text_of(render.render_pdf(content(name.strip(), title.strip())))
    squashed = " ".join(text.split())
    assert " ".join(name.split()) in squashed
    assert " ".join(title.split()) in squashed


def test_without_the_fonts_a_latin1_pdf_is_still_made() -> None:
    pdf = render.render_pdf(content("Zoë Łukasiewicz 李雷"), font_dirs=())
    text = text_of(pdf)
    assert "Zoë ?ukasiewicz ??" in text  # Latin-1 kept, the rest replaced
    assert "ABCDEFGHIJKLMNOPQRSTUVWX" in text


def test_the_completion_date_is_the_utc_day_in_english() -> None:
    late_evening = datetime(2026, 1, 31, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert render.completion_date(late_evening) == "1 February 2026"
    assert render.completion_date(datetime(2026, 12, 5, tzinfo=UTC)) == "5 December 2026"
