from __future__ import annotations

import pytest

from media.sfu.keyframe_detection import (
    h264_starts_keyframe,
    starts_keyframe,
    vp8_starts_keyframe,
)

# A VP8 keyframe's payload header: P (bit 0) clear, then the start code 9d 01 2a.
VP8_KEY = bytes([0x50, 0x12, 0x00, 0x9D, 0x01, 0x2A])
VP8_INTER = bytes([0x51, 0x12, 0x00])


@pytest.mark.parametrize(
    ("descriptor", "expected"),
    [
        (bytes([0x10]), True),  # S=1, PID=0, no extension
        (bytes([0x00]), False),  # continuation packet of a frame
        (bytes([0x11]), False),  # S=1 but partition 1
        (bytes([0x90, 0x80, 0x05]), True),  # X, I: 7-bit picture id
        (bytes([0x90, 0x80, 0x85, 0x17]), True),  # X, I with M: 15-bit picture id
        (bytes([0x90, 0xE0, 0x85, 0x17, 0x03, 0x40]), True),  # X, I(15), L, T
        (bytes([0x90, 0x10, 0x40]), True),  # X, K only
    ],
)
def test_vp8_descriptor_variants(descriptor: bytes, expected: bool) -> None:
    assert vp8_starts_keyframe(descriptor + VP8_KEY) is expected
    assert vp8_starts_keyframe(descriptor + VP8_INTER) is False


def test_vp8_truncated_payloads_are_not_keyframes() -> None:
    assert not vp8_starts_keyframe(b"")
    assert not vp8_starts_keyframe(bytes([0x10]))
    assert not vp8_starts_keyframe(bytes([0x90, 0x80]))


def _nal(nal_type: int, body: bytes = b"\x88\x84") -> bytes:
    return bytes([0x60 | nal_type]) + body


def _stap_a(*nals: bytes) -> bytes:
    return bytes([0x78]) + b"".join(len(n).to_bytes(2, "big") + n for n in nals)


def _fu_a(nal_type: int, *, start: bool) -> bytes:
    return bytes([0x7C, (0x80 if start else 0x00) | nal_type]) + b"\x00" * 8


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (_nal(5), True),  # single IDR slice
        (_nal(7), True),  # single SPS
        (_nal(8), False),  # PPS alone
        (_nal(1), False),  # non-IDR slice
        (_stap_a(_nal(7), _nal(8)), True),  # SPS + PPS aggregated (the usual first packet)
        (_stap_a(_nal(6), _nal(5)), True),  # SEI + IDR
        (_stap_a(_nal(6), _nal(1)), False),
        (_fu_a(5, start=True), True),  # first fragment of an IDR
        (_fu_a(5, start=False), False),  # a later fragment of it
        (_fu_a(1, start=True), False),
        (bytes([0x78, 0x00, 0x09, 0x67]), False),  # STAP-A with a truncated unit
        (b"", False),
    ],
)
def test_h264_nal_units(payload: bytes, expected: bool) -> None:
    assert h264_starts_keyframe(payload) is expected


def test_dispatch_by_codec_name() -> None:
    assert starts_keyframe("VP8", bytes([0x10]) + VP8_KEY)
    assert starts_keyframe("h264", _nal(7))
    with pytest.raises(ValueError, match="opus"):
        starts_keyframe("opus", b"\x00")
