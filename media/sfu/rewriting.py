"""One subscriber's rewrite of a forwarded stream's RTP header.

Each subscriber sees its own stream: its sender's SSRC and payload type, a sequence number that
runs on without holes (also when the forwarded source changes, e.g. the publisher restarts or the
subscription is moved to another publication) and a timestamp that keeps advancing with real
time across such a switch. Header extensions are re-encoded with the ids the subscriber
negotiated (aiortc parses them by the publisher's ids into named values and serialises them by
the subscriber sender's ids); only values that mean the same hop after hop are kept.
"""

from __future__ import annotations

from aiortc import clock
from aiortc.rtp import HeaderExtensions

_HALF_SEQ = 0x8000


class StreamRewriter:
    """Maps a source's (sequence number, timestamp) to the subscriber's.

    :meth:`start` anchors the mapping at a packet where the subscriber may begin (at once for
    audio, a keyframe start for video); packets from before that anchor (late repairs) are not
    forwarded, since their numbers would fall before what the subscriber already got.
    """

    def __init__(self, clock_rate: int, *, first_sequence: int, first_timestamp: int) -> None:
        self.clock_rate = clock_rate
        self.source: int | None = None
        self._next_sequence = first_sequence & 0xFFFF
        self._first_timestamp = first_timestamp & 0xFFFFFFFF
        self._last_timestamp: int | None = None
        self._last_time = 0.0
        self._sequence_offset = 0
        self._timestamp_offset = 0
        self._start = 0  # extended (unwrapped) source sequence number of the anchor
        self._highest = 0

    def start(self, source: int, sequence_number: int, timestamp: int, now: float) -> None:
        """Anchor at this packet of ``source``; ``now`` in seconds (monotonic)."""
        if self._last_timestamp is None:
            out_timestamp = self._first_timestamp
        else:
            elapsed = round((now - self._last_time) * self.clock_rate)
            out_timestamp = (self._last_timestamp + max(1, elapsed)) & 0xFFFFFFFF
        self._sequence_offset = (self._next_sequence - sequence_number) & 0xFFFF
        self._timestamp_offset = (out_timestamp - timestamp) & 0xFFFFFFFF
        self.source = source
        # Extended numbers start high enough that a late packet's never goes negative.
        self._start = self._highest = 0x10000 + sequence_number

    def rewrite(self, sequence_number: int, timestamp: int, now: float) -> tuple[int, int] | None:
        """The subscriber's (sequence number, timestamp), or None for a packet from before the
        anchor. Call :meth:`start` first, and again when the source changes."""
        delta = ((sequence_number - self._highest + _HALF_SEQ) & 0xFFFF) - _HALF_SEQ
        extended = self._highest + delta
        if extended < self._start:
            return None
        out_sequence = (sequence_number + self._sequence_offset) & 0xFFFF
        out_timestamp = (timestamp + self._timestamp_offset) & 0xFFFFFFFF
        if extended >= self._highest:
            self._highest = extended
            self._next_sequence = (out_sequence + 1) & 0xFFFF
            self._last_timestamp = out_timestamp
            self._last_time = now
        return out_sequence, out_timestamp


def abs_send_time() -> int:
    """The abs-send-time extension's value for now (6.18 fixed-point seconds, 24 bits)."""
    return (clock.current_ntp_time() >> 14) & 0x00FFFFFF


def forwarded_extensions(
    source: HeaderExtensions, *, mid: str | None, send_time: int
) -> HeaderExtensions:
    """The header extensions a forwarded packet carries to one subscriber.

    ``mid`` is the subscriber's media id (BUNDLE demultiplexing on its side), abs-send-time is
    stamped at the SFU (the subscriber's bandwidth estimate measures the SFU-to-subscriber hop),
    and the audio level travels unchanged (active-speaker detection downstream). The rest (the
    publisher's transport-wide sequence numbers, RIDs) describe the publisher's hop only.
    """
    extensions = HeaderExtensions()
    extensions.mid = mid
    extensions.abs_send_time = send_time
    extensions.audio_level = source.audio_level
    return extensions
