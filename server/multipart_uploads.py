"""Streaming a ``multipart/form-data`` body into storage: text fields and files, never buffered.

The counterpart of ``server/uploads.py`` for forms that carry several files beside text (an
assignment submission). Each file part is sniffed from its first bytes (415 when the bytes are
not what its filename or part ``Content-Type`` claims, or a type that is not allowed) before
anything is stored, then streamed to storage with a byte limit enforced while it arrives
(413). The number of files is checked before each new file is stored, and a ``Content-Length``
that cannot fit the limits is refused before a byte is read. Every object stored follows the
request's transaction: deleted if it does not commit.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Collection
from contextlib import aclosing
from dataclasses import dataclass, field

from aiohttp import BodyPartReader, hdrs, web
from aiohttp.http_exceptions import HttpProcessingError

from lms_core.errors import FieldError, InvalidInput, TooLarge, UnsupportedMediaType
from lms_core.storage import Storage, StoredObject
from lms_core.storage.sniff import SNIFF_BYTES, check_content_type
from server.unit_of_work import after_rollback
from server.uploads import READ_CHUNK, UploadInterrupted

# Part headers and boundaries: generous, but bounded.
_OVERHEAD_PER_PART = 16 * 1024


@dataclass(frozen=True, slots=True)
class FormLimits:
    text_fields: frozenset[str]
    file_field: str
    max_text_bytes: int
    max_files: int
    max_file_bytes: int
    allowed_types: Collection[str]


@dataclass
class ReceivedForm:
    texts: dict[str, str] = field(default_factory=dict)
    files: list[tuple[StoredObject, str | None]] = field(default_factory=list)


def _invalid(name: str, message: str, code: str = "invalid_form") -> InvalidInput:
    return InvalidInput(message, code=code, errors=[FieldError(("body", name), message, "invalid")])


async def receive_form(
    request: web.Request,
    storage: Storage,
    limits: FormLimits,
    new_key: Callable[[], str],
    *,
    too_many_files: Callable[[], Exception],
) -> ReceivedForm:
    """Read the form; store each file under ``new_key()``. Raises ``UnsupportedMediaType``
    (415: not a form, or a file's type), ``TooLarge`` (413), ``InvalidInput`` (422: an unknown
    or repeated field, text that is not UTF-8), ``UploadInterrupted`` (400), or what
    ``too_many_files`` makes."""
    if request.content_type != "multipart/form-data":
        raise UnsupportedMediaType(
            "Send the submission as multipart/form-data.", code="multipart_required"
        )
    budget = (
        limits.max_files * (limits.max_file_bytes + _OVERHEAD_PER_PART)
        + len(limits.text_fields) * (limits.max_text_bytes + _OVERHEAD_PER_PART)
        + _OVERHEAD_PER_PART
    )
    length = request.content_length
    if length is not None and length > budget:
        raise TooLarge(
            f"The form is larger than the limit of {budget} bytes.", extra={"max_bytes": budget}
        )
    form = ReceivedForm()
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                raise _invalid("form", "Nested multipart bodies are not accepted.")
            name = part.name or ""
            if name in limits.text_fields:
                if name in form.texts:
                    raise _invalid(name, "This field is given more than once.")
                form.texts[name] = await _read_text(part, name, limits.max_text_bytes)
            elif name == limits.file_field:
                if len(form.files) >= limits.max_files:
                    raise too_many_files()
                stored = await _store_file(request, part, storage, new_key(), limits)
                form.files.append((stored, part.filename))
            else:
                raise _invalid(name or "form", f"Unknown form field {name!r}.")
    except (HttpProcessingError, ConnectionError) as exc:
        raise UploadInterrupted() from exc
    except (ValueError, AssertionError) as exc:
        # aiohttp's parser reports a malformed body (no boundary, a broken part) this way.
        raise _invalid("form", "The multipart body is malformed.", "malformed_form") from exc
    return form


async def _read_text(part: BodyPartReader, name: str, max_bytes: int) -> str:
    data = bytearray()
    while chunk := await part.read_chunk(READ_CHUNK):
        data += chunk
        if len(data) > max_bytes:
            raise TooLarge(
                f"The field {name!r} is longer than {max_bytes} bytes.",
                extra={"max_bytes": max_bytes},
            )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise _invalid(name, "The text is not UTF-8.") from None
    if "\x00" in text:
        raise _invalid(name, "The text must not contain the NUL character.")
    return text


async def _store_file(
    request: web.Request,
    part: BodyPartReader,
    storage: Storage,
    key: str,
    limits: FormLimits,
) -> StoredObject:
    head = bytearray()
    want = min(SNIFF_BYTES, limits.max_file_bytes + 1)
    while len(head) < want and (chunk := await part.read_chunk(want - len(head))):
        head += chunk
    content_type = check_content_type(
        bytes(head),
        filename=part.filename,
        declared=part.headers.get(hdrs.CONTENT_TYPE),
        allowed=limits.allowed_types,
    )
    async with aclosing(_chunks(bytes(head), part)) as chunks:
        stored = await storage.put_stream(
            key, chunks, content_type=content_type, max_bytes=limits.max_file_bytes
        )
    after_rollback(request, lambda: storage.delete(stored.key))
    return stored


async def _chunks(head: bytes, part: BodyPartReader) -> AsyncGenerator[bytes, None]:
    if head:
        yield head
    while chunk := await part.read_chunk(READ_CHUNK):
        yield chunk
