"""What a file really is, from its first bytes, and whether that matches what it claims to be.

Detection uses the magic numbers of ``filetype`` (pure Python, no libmagic; it tells DOCX, XLSX,
PPTX and OpenDocument apart from a plain ZIP and names ELF and PE executables, where
``puremagic`` 1.x returned the same guesses for every ZIP and no type at all for executables),
plus the few signatures it lacks (Mach-O, Java classes, scripts, generic OLE containers).

The claim is the filename's extension when it has a known one, else the declared
``Content-Type``: browsers derive the declared type from the extension anyway, and some get it
wrong (CSV sent as ``application/vnd.ms-excel`` by browsers on Windows). The stored and served
type comes from this check, never from the client's header alone.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Collection, Mapping

import filetype

from lms_core.errors import UnsupportedMediaType
from lms_core.storage.filenames import extension

SNIFF_BYTES = 8192
"""How many leading bytes ``check_content_type`` wants (fewer only when the file is shorter)."""

PDF = "application/pdf"
ZIP = "application/zip"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
ODT = "application/vnd.oasis.opendocument.text"
ODS = "application/vnd.oasis.opendocument.spreadsheet"
ODP = "application/vnd.oasis.opendocument.presentation"
EPUB = "application/epub+zip"
DOC = "application/msword"
XLS = "application/vnd.ms-excel"
PPT = "application/vnd.ms-powerpoint"
OLE = "application/x-ole-storage"  # an OLE2 container filetype could not name more precisely

EXTENSIONS: Mapping[str, str] = {
    "pdf": PDF,
    "zip": ZIP,
    "docx": DOCX,
    "xlsx": XLSX,
    "pptx": PPTX,
    "odt": ODT,
    "ods": ODS,
    "odp": ODP,
    "epub": EPUB,
    "doc": DOC,
    "xls": XLS,
    "ppt": PPT,
    "rtf": "application/rtf",
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "avif": "image/avif",
    "heic": "image/heic",
    "bmp": "image/bmp",
    "tif": "image/tiff",
    "tiff": "image/tiff",
    "svg": "image/svg+xml",
    "html": "text/html",
    "htm": "text/html",
    "mp4": "video/mp4",
    "m4v": "video/x-m4v",
    "mov": "video/quicktime",
    "webm": "video/webm",
    "mkv": "video/x-matroska",
    "mp3": "audio/mpeg",
    "m4a": "audio/mp4",
    "aac": "audio/aac",
    "ogg": "audio/ogg",
    "oga": "audio/ogg",
    "wav": "audio/x-wav",
    "flac": "audio/x-flac",
    "txt": "text/plain",
    "csv": "text/csv",
    "md": "text/markdown",
    "vtt": "text/vtt",
    "exe": "application/x-msdownload",
    "dll": "application/x-msdownload",
    "msi": "application/x-msi",
}

# Other spellings of the same type that clients send.
_ALIASES: Mapping[str, str] = {
    "application/x-pdf": PDF,
    "application/x-zip-compressed": ZIP,
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "audio/mp3": "audio/mpeg",
    "audio/x-mp3": "audio/mpeg",
    "audio/x-m4a": "audio/mp4",
    "audio/m4a": "audio/mp4",
    "audio/wav": "audio/x-wav",
    "audio/wave": "audio/x-wav",
    "audio/vnd.wave": "audio/x-wav",
    "audio/flac": "audio/x-flac",
    "application/ogg": "audio/ogg",
    "text/x-markdown": "text/markdown",
}

# Types sharing one container format: the first bytes cannot tell them apart reliably (an .m4a
# may carry the "isom" brand of a video, a .docx whose parts are ordered unusually looks like
# any ZIP in its first 8 KiB), so a claim within the family of the bytes is accepted as made.
_FAMILIES: tuple[frozenset[str], ...] = (
    frozenset({"video/mp4", "video/x-m4v", "video/quicktime", "video/3gpp", "audio/mp4"}),
    frozenset({"video/webm", "video/x-matroska", "audio/webm"}),
    frozenset({"audio/ogg", "video/ogg"}),
    frozenset({ZIP, DOCX, XLSX, PPTX, ODT, ODS, ODP, EPUB}),
    frozenset({OLE, DOC, XLS, PPT}),
)

TEXT_TYPES = frozenset({"text/plain", "text/csv", "text/markdown", "text/vtt"})
"""Types without magic numbers: accepted when the bytes are UTF-8 text."""

EXECUTABLE_TYPES = frozenset(
    {
        "application/x-executable",  # ELF
        "application/x-msdownload",  # PE (.exe, .dll); filetype names anything starting "MZ"
        "application/x-msi",
        "application/x-mach-binary",
        "application/java-vm",
        "application/x-shellscript",
        "application/wasm",
        "application/x-shockwave-flash",
        "application/x-deb",
        "application/x-rpm",
        "application/x-google-chrome-extension",
    }
)
"""Refused whatever the allow-list says."""

DOCUMENT_TYPES = frozenset({PDF, DOCX, XLSX, PPTX, ODT, ODS, ODP, EPUB, DOC, XLS, PPT})
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "image/avif"})
VIDEO_TYPES = frozenset({"video/mp4", "video/x-m4v", "video/quicktime", "video/webm"})
AUDIO_TYPES = frozenset({"audio/mpeg", "audio/mp4", "audio/aac", "audio/ogg", "audio/x-wav"})
COURSE_FILE_TYPES = (
    DOCUMENT_TYPES | IMAGE_TYPES | VIDEO_TYPES | AUDIO_TYPES | TEXT_TYPES | frozenset({ZIP})
)
"""What a course file lesson accepts by default."""

_EXTRA_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\xfe\xed\xfa\xce", "application/x-mach-binary"),
    (b"\xfe\xed\xfa\xcf", "application/x-mach-binary"),
    (b"\xce\xfa\xed\xfe", "application/x-mach-binary"),
    (b"\xcf\xfa\xed\xfe", "application/x-mach-binary"),
    (b"\xca\xfe\xba\xbe", "application/java-vm"),  # also a universal Mach-O binary
    (b"#!", "application/x-shellscript"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", OLE),
)


_CONTROL = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f]")


def normalize_type(value: str | None) -> str | None:
    """``text/CSV; charset=utf-8`` -> ``text/csv``; aliases to one spelling; None if empty."""
    if not value:
        return None
    base = value.split(";", 1)[0].strip().lower()
    if not base or base == "application/octet-stream":
        return None
    return _ALIASES.get(base, base)


def sniff(head: bytes) -> str | None:
    """The type the bytes announce, or None when they carry no known magic number."""
    kind = filetype.guess(head[:SNIFF_BYTES]) if head else None
    if kind is not None:
        return normalize_type(kind.mime)
    for signature, mime in _EXTRA_SIGNATURES:
        if head.startswith(signature):
            return mime
    return None


def looks_like_text(head: bytes) -> bool:
    """UTF-8 (a sequence cut at the end of ``head`` is fine) with no control characters but
    tab, newline, carriage return and form feed."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    try:
        text = decoder.decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return _CONTROL.search(text) is None


def check_content_type(
    head: bytes,
    *,
    filename: str | None,
    declared: str | None,
    allowed: Collection[str],
) -> str:
    """The type to store and serve the file as, checked against its first bytes.

    ``head`` is the file's first ``SNIFF_BYTES`` bytes (all of it if shorter). Raises
    ``UnsupportedMediaType`` with code ``executable_refused`` for programs whatever they claim,
    ``content_type_mismatch`` when the bytes are not what the name or declared type says (an
    ``.exe`` renamed ``.pdf``), ``unsupported_media_type`` when the type is not in ``allowed``.
    """
    ext = extension(filename)
    claimed = EXTENSIONS.get(ext) if ext else None
    if claimed is None:
        claimed = normalize_type(declared)
    sniffed = sniff(head)

    if sniffed in EXECUTABLE_TYPES or claimed in EXECUTABLE_TYPES:
        raise UnsupportedMediaType("Programs cannot be uploaded.", code="executable_refused")
    if claimed is not None and claimed not in allowed:
        raise _not_accepted(claimed)
    if sniffed is not None:
        if claimed is not None and not _same_kind(claimed, sniffed):
            raise _mismatch(claimed)
        result = claimed or sniffed
    elif not looks_like_text(head):
        if claimed is None:
            raise UnsupportedMediaType("The file's type could not be recognised.")
        raise _mismatch(claimed)
    elif claimed is None:
        result = "text/plain"
    elif claimed in TEXT_TYPES:
        result = claimed
    else:
        raise _mismatch(claimed)

    if result not in allowed:
        raise _not_accepted(result)
    return result


def _not_accepted(content_type: str) -> UnsupportedMediaType:
    return UnsupportedMediaType(
        f"Files of type {content_type} are not accepted here.",
        extra={"content_type": content_type},
    )


def _same_kind(claimed: str, sniffed: str) -> bool:
    return claimed == sniffed or any(
        claimed in family and sniffed in family for family in _FAMILIES
    )


def _mismatch(claimed: str) -> UnsupportedMediaType:
    return UnsupportedMediaType(
        f"The file's content is not {claimed}, as its name or type says.",
        code="content_type_mismatch",
        extra={"content_type": claimed},
    )
