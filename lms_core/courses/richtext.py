"""Author text to safe HTML: Markdown rendered with markdown-it-py, then an nh3 allow-list.

Everything authors write (course descriptions, text lessons) goes through ``to_safe_html`` before
it is stored, so readers' browsers only ever receive sanitised markup: no scripts, no event
handler attributes, no ``javascript:`` (or ``data:``) URLs.
"""

from __future__ import annotations

import enum

import nh3
from markdown_it import MarkdownIt


class TextFormat(enum.StrEnum):
    MARKDOWN = "markdown"
    HTML = "html"


_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "del", "div", "em", "figcaption", "figure",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "mark", "ol", "p",
    "pre", "s", "span", "strong", "sub", "sup", "table", "tbody", "td", "th", "thead", "tr", "u",
    "ul",
}  # fmt: skip
_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "ol": {"start"},
    "code": {"class"},
}
_URL_SCHEMES = {"http", "https", "mailto"}

# CommonMark with tables and strikethrough; raw HTML inside Markdown is allowed through the
# renderer and then sanitised like any HTML input.
_markdown = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def sanitise_html(html: str) -> str:
    return nh3.clean(
        html,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes=_URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


def to_safe_html(text: str, text_format: TextFormat) -> str:
    html = _markdown.render(text) if text_format is TextFormat.MARKDOWN else text
    return sanitise_html(html).strip()
