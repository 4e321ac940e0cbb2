"""User-supplied filenames, made safe to show and to put in ``Content-Disposition``.

A filename is only ever a label: storage keys are generated, never derived from it (ASVS 5.3.2).
"""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

MAX_FILENAME_BYTES = 200
"""UTF-8 bytes; below the 255 of common filesystems, so a browser can always save the file."""

_FALLBACK = "file"
# Characters that Windows refuses in names, that quote or escape a header value, or that split
# paths on some system; all become "_".
_REPLACED = frozenset('<>:"/\\|?*')
# Unicode categories removed outright: controls (Cc), format characters (Cf, including the
# right-to-left override used to disguise "evil\u202efdp.exe" as "evilexe.pdf"), line and
# paragraph separators, unassigned and private-use code points, and lone surrogates.
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cn", "Co", "Cs"})
_WINDOWS_RESERVED = frozenset(
    {"con", "prn", "aux", "nul"}
    | {f"com{i}" for i in range(1, 10)}
    | {f"lpt{i}" for i in range(1, 10)}
)
_MAX_EXTENSION = 16


def sanitize_filename(name: str | None, *, max_bytes: int = MAX_FILENAME_BYTES) -> str:
    """A display name for an uploaded file: the last path component, without control or
    invisible characters, without characters that break headers or filesystems, not hidden
    (no leading dot), at most ``max_bytes`` UTF-8 bytes with its extension kept. Never empty.
    """
    text = unicodedata.normalize("NFC", name or "")
    # Browsers send "C:\\fakepath\\x.pdf" or a bare name; tools may send "../../x.pdf".
    text = text.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = []
    for char in text:
        if char.isspace():  # tabs and line breaks too, before controls are dropped
            cleaned.append(" ")
        elif unicodedata.category(char) in _DROPPED_CATEGORIES:
            continue
        elif char in _REPLACED:
            cleaned.append("_")
        else:
            cleaned.append(char)
    text = " ".join("".join(cleaned).split())
    # Windows strips trailing dots and spaces; a leading dot hides the file on Unix.
    text = text.strip(" .")
    stem, dot, ext = text.rpartition(".")
    if not dot or not stem or len(ext) > _MAX_EXTENSION or " " in ext:
        stem, ext = text, ""
    if not stem:
        stem = _FALLBACK
    if stem.split(".", 1)[0].lower() in _WINDOWS_RESERVED:
        stem = "_" + stem
    suffix = f".{ext}" if ext else ""
    budget = max(1, max_bytes - len(suffix.encode()))
    stem = _truncate_utf8(stem, budget).rstrip(" .") or _FALLBACK
    return stem + suffix


def extension(name: str | None) -> str | None:
    """The lower-case extension of a (sanitized or raw) filename, without the dot."""
    _, dot, ext = sanitize_filename(name).rpartition(".")
    return ext.lower() if dot else None


def content_disposition(filename: str | None, *, inline: bool = False) -> str:
    """``Content-Disposition`` for a download (RFC 6266): an ASCII ``filename`` for old clients
    and the exact UTF-8 name in ``filename*`` (RFC 8187)."""
    name = sanitize_filename(filename)
    fallback = "".join(c if " " <= c < "\x7f" and c not in '"\\%' else "_" for c in name)
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def _truncate_utf8(text: str, max_bytes: int) -> str:
    encoded = text.encode()
    if len(encoded) <= max_bytes:
        return text
    # Cut on a character boundary, then drop a trailing combining mark left without its base.
    cut = encoded[:max_bytes].decode(errors="ignore")
    while cut and unicodedata.combining(cut[-1]):
        cut = cut[:-1]
    return cut
