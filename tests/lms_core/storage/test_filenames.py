"""User filenames are labels, cleaned for display and for Content-Disposition (RFC 6266)."""

from __future__ import annotations

from urllib.parse import unquote

import pytest

from lms_core.storage.filenames import content_disposition, extension, sanitize_filename


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Lecture 1.pdf", "Lecture 1.pdf"),
        ("../../etc/passwd", "passwd"),
        ("C:\\fakepath\\Report.docx", "Report.docx"),
        ("/absolute/path/notes.txt", "notes.txt"),
        ("evil\u202efdp.exe", "evilfdp.exe"),  # right-to-left override dropped
        ("tab\there\nnewline\r.txt", "tab here newline.txt"),
        ("nul\x00byte.pdf", "nulbyte.pdf"),
        ('quote"and<angle>|pipe?.pdf', "quote_and_angle__pipe_.pdf"),
        ("  spaced   out  .pdf  ", "spaced out.pdf"),
        (".bashrc", "bashrc"),
        ("trailing dots...", "trailing dots"),
        ("CON.txt", "_CON.txt"),
        ("com1", "_com1"),
        ("", "file"),
        (None, "file"),
        ("..", "file"),
        ("/", "file"),
        (".pdf", "pdf"),
        ("Cafe\u0301.pdf", "Café.pdf"),  # NFC
        ("Résumé 履歴書.pdf", "Résumé 履歴書.pdf"),
    ],
)
def test_sanitize(raw: str | None, clean: str) -> None:
    assert sanitize_filename(raw) == clean


def test_long_names_keep_their_extension_within_the_byte_limit() -> None:
    name = sanitize_filename("履" * 300 + ".pdf")
    assert name.endswith(".pdf")
    assert len(name.encode()) <= 200
    assert sanitize_filename("a" * 500 + ".pdf", max_bytes=20) == "a" * 16 + ".pdf"
    assert len(sanitize_filename("x" * 500).encode()) == 200


def test_extension() -> None:
    assert extension("Slides.PPTX") == "pptx"
    assert extension("archive.tar.gz") == "gz"
    assert extension("README") is None
    assert extension(None) is None
    assert extension("../x.pdf") == "pdf"


def test_content_disposition() -> None:
    header = content_disposition('Résumé "final".pdf')
    assert header == (
        'attachment; filename="R_sum_ _final_.pdf"; '
        "filename*=UTF-8''R%C3%A9sum%C3%A9%20_final_.pdf"
    )
    encoded = header.split("filename*=UTF-8''", 1)[1]
    assert unquote(encoded) == "Résumé _final_.pdf"
    assert content_disposition("a.pdf", inline=True).startswith("inline; ")
    assert "\n" not in content_disposition("x\r\nSet-Cookie: a=b.pdf")
