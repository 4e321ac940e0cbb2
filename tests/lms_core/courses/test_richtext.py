"""Author text becomes safe HTML: Markdown rendered, then an allow-list applied."""

from __future__ import annotations

import pytest

from lms_core.courses.richtext import TextFormat, to_safe_html
from lms_core.courses.service import slugify


@pytest.mark.parametrize(
    ("source", "text_format", "expected"),
    [
        ("**bold** _it_", TextFormat.MARKDOWN, "<p><strong>bold</strong> <em>it</em></p>"),
        ('<img src="a.png" onerror="alert(1)">', TextFormat.HTML, '<img src="a.png">'),
        ("<script>alert(1)</script>ok", TextFormat.HTML, "ok"),
        (
            '<a href="javascript:alert(1)">x</a>',
            TextFormat.HTML,
            '<a rel="noopener noreferrer nofollow">x</a>',
        ),
        (
            '<a href="data:text/html,x">x</a>',
            TextFormat.HTML,
            '<a rel="noopener noreferrer nofollow">x</a>',
        ),
        ('<p style="color:red" class="x">t</p>', TextFormat.HTML, "<p>t</p>"),
        ("<svg onload=alert(1)></svg>", TextFormat.HTML, ""),
        ("<!-- hidden -->t", TextFormat.HTML, "t"),
        ("| a |\n|---|\n| 1 |", TextFormat.MARKDOWN, None),
    ],
)
def test_to_safe_html(source: str, text_format: TextFormat, expected: str | None) -> None:
    html = to_safe_html(source, text_format)
    if expected is not None:
        assert html == expected
    else:
        assert "<table>" in html


def test_links_get_safe_rel() -> None:
    html = to_safe_html("[x](https://example.com)", TextFormat.MARKDOWN)
    assert html == '<p><a href="https://example.com" rel="noopener noreferrer nofollow">x</a></p>'


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("Intro to Python", "intro-to-python"),
        ("  Café à la carte!! ", "cafe-a-la-carte"),
        ("日本語", "course"),
        ("C++ & Rust -- 2025", "c-rust-2025"),
        ("x" * 300, "x" * 100),
    ],
)
def test_slugify(title: str, slug: str) -> None:
    assert slugify(title) == slug
