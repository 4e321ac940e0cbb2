"""Does an RTP payload start a keyframe? Read from the payload's first bytes, no decoding.

A subscriber that joins mid-stream can only decode from a keyframe on, so the forwarder holds it
until a packet for which :func:`starts_keyframe` is true. Repaired (RTX) packets never open the
gate: the rest of that keyframe was already skipped for the waiting subscriber.
"""

from __future__ import annotations

# H.264 NAL unit types (RFC 6184 §5.2, ITU-T H.264 Table 7-1).
_H264_IDR = 5
_H264_SPS = 7
_H264_STAP_A = 24
_H264_FU_A = 28


def vp8_starts_keyframe(payload: bytes) -> bool:
    """True if ``payload`` is the first packet of a VP8 keyframe (RFC 7741 §4.2-4.3).

    The payload descriptor's S bit and partition index 0 mark the start of a frame; the first
    bit of the VP8 payload header that follows is the inverse keyframe flag (P = 0 is a key).
    """
    if len(payload) < 2:
        return False
    first = payload[0]
    start_of_partition = first & 0x10
    partition_index = first & 0x07
    if not start_of_partition or partition_index != 0:
        return False
    offset = 1
    if first & 0x80:  # X: an extension byte follows
        if len(payload) <= offset:
            return False
        extension = payload[offset]
        offset += 1
        if extension & 0x80:  # I: picture id, 7 or 15 bits (M flag)
            if len(payload) <= offset:
                return False
            offset += 2 if payload[offset] & 0x80 else 1
        if extension & 0x40:  # L: TL0PICIDX
            offset += 1
        if extension & 0x30:  # T or K: TID/Y/KEYIDX byte
            offset += 1
    if len(payload) <= offset:
        return False
    return not payload[offset] & 0x01


def h264_starts_keyframe(payload: bytes) -> bool:
    """True if ``payload`` carries an SPS or the start of an IDR slice (RFC 6184 §5.6-5.8).

    Encoders send the SPS (and PPS) right before each IDR picture, in one STAP-A or as single
    NAL units, so the first of these packets is where a new subscriber can start decoding.
    """
    if not payload:
        return False
    nal_type = payload[0] & 0x1F
    if nal_type in (_H264_IDR, _H264_SPS):
        return True
    if nal_type == _H264_STAP_A:
        offset = 1
        while offset + 2 < len(payload):
            size = int.from_bytes(payload[offset : offset + 2], "big")
            offset += 2
            if size == 0 or offset + size > len(payload):
                return False
            if payload[offset] & 0x1F in (_H264_IDR, _H264_SPS):
                return True
            offset += size
        return False
    if nal_type == _H264_FU_A:
        if len(payload) < 2:
            return False
        fu_header = payload[1]
        return bool(fu_header & 0x80) and fu_header & 0x1F in (_H264_IDR, _H264_SPS)
    return False


def starts_keyframe(codec_name: str, payload: bytes) -> bool:
    """Dispatch on the codec's name (``VP8`` or ``H264``, any case)."""
    name = codec_name.upper()
    if name == "VP8":
        return vp8_starts_keyframe(payload)
    if name == "H264":
        return h264_starts_keyframe(payload)
    raise ValueError(f"no keyframe detection for codec {codec_name!r}")
