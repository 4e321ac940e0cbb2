"""Content types are decided by the bytes: ASVS 5.2.2 (an .exe renamed .pdf is refused)."""

from __future__ import annotations

import pytest

from lms_core.errors import UnsupportedMediaType
from lms_core.storage.sniff import (
    COURSE_FILE_TYPES,
    DOCX,
    ODT,
    PDF,
    SNIFF_BYTES,
    check_content_type,
    normalize_type,
    sniff,
)
from tests.lms_core.storage import samples


def check(
    head: bytes,
    filename: str | None,
    declared: str | None = None,
    allowed: frozenset[str] = COURSE_FILE_TYPES,
) -> str:
    return check_content_type(
        head[:SNIFF_BYTES], filename=filename, declared=declared, allowed=allowed
    )


def refused(code: str, head: bytes, filename: str | None, declared: str | None = None) -> None:
    with pytest.raises(UnsupportedMediaType) as caught:
        check(head, filename, declared)
    assert caught.value.code == code


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (samples.pdf(), PDF),
        (samples.png(), "image/png"),
        (samples.mp4(), "video/mp4"),
        (samples.mp4(b"qt  "), "video/quicktime"),
        (samples.docx(), DOCX),
        (samples.odt(), ODT),
        (samples.zip_with(["a.txt"]), "application/zip"),
        (samples.elf(), "application/x-executable"),
        (samples.pe(), "application/x-msdownload"),
        (b"\xcf\xfa\xed\xfe" + bytes(60), "application/x-mach-binary"),
        (b"#!/bin/sh\nrm -rf ~\n", "application/x-shellscript"),
        (b"plain words", None),
        (b"", None),
    ],
)
def test_sniff(data: bytes, expected: str | None) -> None:
    assert sniff(data) == expected


@pytest.mark.parametrize(
    ("data", "filename", "declared", "expected"),
    [
        (samples.pdf(), "Lecture 1.pdf", "application/pdf", PDF),
        (samples.pdf(), "notes.PDF", None, PDF),
        (samples.pdf(), None, "application/pdf; charset=binary", PDF),
        (samples.pdf(), None, None, PDF),  # no claim: the bytes decide
        (samples.pdf(), "weird.name", "application/octet-stream", PDF),
        (samples.png(), "diagram.png", "image/png", "image/png"),
        (samples.mp4(), "lecture.mp4", "video/mp4", "video/mp4"),
        (samples.mp4(), "song.m4a", "audio/x-m4a", "audio/mp4"),  # same container family
        (samples.mp4(b"qt  "), "clip.mov", "video/quicktime", "video/quicktime"),
        (samples.docx(), "essay.docx", None, DOCX),
        (samples.zip_with(["word/document.xml"]), "essay.docx", None, DOCX),  # ZIP family
        (
            samples.zip_with(["a.txt"]),
            "bundle.zip",
            "application/x-zip-compressed",
            "application/zip",
        ),
        (b"Name,Grade\nAda,A\n", "grades.csv", "application/vnd.ms-excel", "text/csv"),
        ("# Notes\n\nCafé ☕\n".encode(), "notes.md", None, "text/markdown"),
        (b"just text", None, None, "text/plain"),
        (b"\xef\xbb\xbfwith a BOM\r\n", "a.txt", "text/plain", "text/plain"),
        ("é".encode() * SNIFF_BYTES, "long.txt", None, "text/plain"),  # cut mid-character
    ],
)
def test_accepted(data: bytes, filename: str | None, declared: str | None, expected: str) -> None:
    assert check(data, filename, declared) == expected


@pytest.mark.parametrize("fake", [samples.elf(), samples.pe()], ids=["elf", "pe"])
@pytest.mark.parametrize("declared", ["application/pdf", None])
def test_program_renamed_pdf_is_refused(fake: bytes, declared: str | None) -> None:
    refused("executable_refused", fake, "syllabus.pdf", declared)


def test_programs_are_refused_whatever_they_claim() -> None:
    refused("executable_refused", samples.pe(), "setup.exe", "application/x-msdownload")
    refused("executable_refused", samples.elf(), None, None)
    refused("executable_refused", samples.pdf(), "looks-like.exe")  # a name that runs
    refused("executable_refused", b"#!/bin/sh\necho hi\n", "script.txt")


@pytest.mark.parametrize(
    ("data", "filename", "declared"),
    [
        (samples.png(), "slides.pdf", None),
        (samples.pdf(), "photo.png", "image/png"),
        (samples.mp4(), "lecture.webm", None),
        (samples.docx(), "essay.pdf", None),
        (b"not really a pdf", "paper.pdf", "application/pdf"),
        (b"\x00\x01\x02binary", "notes.txt", None),
        (samples.pdf(), "notes.txt", None),
    ],
)
def test_mismatch_is_refused(data: bytes, filename: str | None, declared: str | None) -> None:
    refused("content_type_mismatch", data, filename, declared)


def test_unknown_binary_is_refused() -> None:
    refused("unsupported_media_type", b"\x00\x01\x02\x03\xfe\xff", None)
    refused("unsupported_media_type", b"\x00\x01\x02\x03\xfe\xff", "data.bin")


def test_types_outside_the_allow_list_are_refused() -> None:
    with pytest.raises(UnsupportedMediaType) as caught:
        check(samples.png(), "a.png", allowed=frozenset({PDF}))
    assert caught.value.code == "unsupported_media_type"
    assert caught.value.extra == {"content_type": "image/png"}
    refused("unsupported_media_type", b"BM" + bytes(60), "picture.bmp", "image/bmp")
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    refused("unsupported_media_type", svg, "logo.svg")
    refused("unsupported_media_type", svg, None, "image/svg+xml")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Text/CSV; charset=utf-8", "text/csv"),
        ("image/jpg", "image/jpeg"),
        ("application/octet-stream", None),
        ("", None),
        (None, None),
    ],
)
def test_normalize_type(raw: str | None, expected: str | None) -> None:
    assert normalize_type(raw) == expected
