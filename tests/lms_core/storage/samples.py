"""Small but well-formed files of each kind, built in memory (no binary fixtures in the repo)."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib


def pdf() -> bytes:
    return (
        b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
        b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n"
        b"%%EOF\n"
    )


def png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * 4 for _ in range(4))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def jpeg() -> bytes:
    """The start of a JFIF JPEG (what sniffing reads)."""
    return b"\xff\xd8\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01" + bytes(600)


def gif() -> bytes:
    return b"GIF89a" + struct.pack("<HH", 1, 1) + b"\x80\x00\x00" + bytes(600) + b";"


def mp4(brand: bytes = b"isom") -> bytes:
    compatible = b"isomiso2" if brand == b"isom" else brand * 2
    ftyp = struct.pack(">I", 24) + b"ftyp" + brand + struct.pack(">I", 512) + compatible
    return ftyp + struct.pack(">I", 8) + b"free" + struct.pack(">I", 16) + b"mdat" + bytes(8)


def elf() -> bytes:
    """The start of a 64-bit little-endian x86-64 Linux executable."""
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    header = struct.pack("<HHIQQQIHHHHHH", 2, 0x3E, 1, 0x401000, 64, 0, 0, 64, 56, 1, 0, 0, 0)
    return ident + header + bytes(200)


def pe() -> bytes:
    """A DOS stub pointing at a PE header, as every Windows .exe starts."""
    stub = bytearray(b"MZ" + bytes(0x3A) + struct.pack("<I", 0x80))
    stub += b"This program cannot be run in DOS mode.\r\n$".ljust(0x80 - len(stub), b"\x00")
    return bytes(stub) + b"PE\x00\x00" + struct.pack("<HH", 0x8664, 3) + bytes(200)


def zip_with(names: list[str], first: tuple[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        if first is not None:
            archive.writestr(zipfile.ZipInfo(first[0]), first[1])  # stored, as ODF demands
        for name in names:
            archive.writestr(name, "<x/>")
    return buffer.getvalue()


def docx() -> bytes:
    return zip_with(["[Content_Types].xml", "_rels/.rels", "word/document.xml"])


def odt() -> bytes:
    return zip_with(["content.xml"], first=("mimetype", "application/vnd.oasis.opendocument.text"))
