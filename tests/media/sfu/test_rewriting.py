from __future__ import annotations

from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters
from aiortc.rtp import HeaderExtensions, HeaderExtensionsMap, RtpPacket

from media.sfu.rewriting import StreamRewriter, forwarded_extensions

VIDEO_CLOCK = 90_000


def test_sequence_and_timestamp_are_offset_from_the_anchor() -> None:
    rewriter = StreamRewriter(VIDEO_CLOCK, first_sequence=100, first_timestamp=5000)
    rewriter.start(source=1, sequence_number=40_000, timestamp=1_000_000, now=0.0)
    assert rewriter.rewrite(40_000, 1_000_000, 0.0) == (100, 5000)
    assert rewriter.rewrite(40_001, 1_003_000, 0.03) == (101, 8000)
    assert rewriter.rewrite(40_005, 1_006_000, 0.06) == (105, 11_000)  # a loss stays a loss
    assert rewriter.rewrite(40_003, 1_003_000, 0.07) == (103, 8000)  # the repair fills it


def test_wraparound_of_both_fields() -> None:
    rewriter = StreamRewriter(VIDEO_CLOCK, first_sequence=0xFFFE, first_timestamp=0xFFFF_FF00)
    rewriter.start(source=7, sequence_number=10, timestamp=0, now=0.0)
    assert rewriter.rewrite(10, 0, 0.0) == (0xFFFE, 0xFFFF_FF00)
    assert rewriter.rewrite(11, 0x100, 0.0) == (0xFFFF, 0)
    assert rewriter.rewrite(12, 0x200, 0.0) == (0, 0x100)


def test_source_sequence_wrap_after_the_anchor_is_followed() -> None:
    rewriter = StreamRewriter(VIDEO_CLOCK, first_sequence=500, first_timestamp=0)
    rewriter.start(source=7, sequence_number=0xFFFF, timestamp=0, now=0.0)
    assert rewriter.rewrite(0xFFFF, 0, 0.0) == (500, 0)
    assert rewriter.rewrite(0, 0, 0.0) == (501, 0)
    assert rewriter.rewrite(0xFFFF, 0, 0.0) == (500, 0)  # late repair across the wrap


def test_packets_from_before_the_anchor_are_not_forwarded() -> None:
    rewriter = StreamRewriter(VIDEO_CLOCK, first_sequence=0, first_timestamp=0)
    rewriter.start(source=7, sequence_number=3, timestamp=0, now=0.0)
    assert rewriter.rewrite(3, 0, 0.0) is not None
    assert rewriter.rewrite(2, 0, 0.0) is None  # a repair of a packet the subscriber never got
    assert rewriter.rewrite(0xFFF0, 0, 0.0) is None


def test_a_source_switch_continues_sequence_and_timestamp() -> None:
    rewriter = StreamRewriter(VIDEO_CLOCK, first_sequence=1000, first_timestamp=0)
    rewriter.start(source=1, sequence_number=50, timestamp=777, now=10.0)
    for i in range(10):
        assert rewriter.rewrite(50 + i, 777 + 3000 * i, 10.0 + i / 30) is not None
    # the last forwarded packet: sequence 1009, timestamp 27_000 at t = 10.3
    rewriter.start(source=2, sequence_number=9_000, timestamp=123_456, now=10.8)
    assert rewriter.source == 2
    sequence, timestamp = rewriter.rewrite(9_000, 123_456, 10.8) or (-1, -1)
    assert sequence == 1010  # no hole: the subscriber does not NACK what never existed
    assert timestamp == 27_000 + round(0.5 * VIDEO_CLOCK)  # advances with the wall clock
    assert rewriter.rewrite(8_999, 0, 10.8) is None  # the new source's past stays out


def _parameters(*extensions: tuple[int, str]) -> RTCRtpParameters:
    return RTCRtpParameters(
        headerExtensions=[RTCRtpHeaderExtensionParameters(id=i, uri=uri) for i, uri in extensions]
    )


MID = "urn:ietf:params:rtp-hdrext:sdes:mid"
AUDIO_LEVEL = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
ABS_SEND_TIME = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
TWCC = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"


def test_extensions_move_from_the_publishers_ids_to_the_subscribers() -> None:
    publisher_ids = HeaderExtensionsMap()
    publisher_ids.configure(_parameters((4, MID), (10, AUDIO_LEVEL), (5, TWCC)))
    subscriber_ids = HeaderExtensionsMap()
    subscriber_ids.configure(_parameters((1, MID), (2, AUDIO_LEVEL), (3, ABS_SEND_TIME)))

    incoming = RtpPacket(payload_type=111, sequence_number=1, timestamp=2, ssrc=3, payload=b"x")
    incoming.extensions.mid = "publisher-mid"
    incoming.extensions.audio_level = (True, 42)
    incoming.extensions.transport_sequence_number = 99
    parsed = RtpPacket.parse(incoming.serialize(publisher_ids), publisher_ids)
    assert parsed.extensions.audio_level == (True, 42)

    outgoing = RtpPacket(payload_type=96, sequence_number=1, timestamp=2, ssrc=4, payload=b"x")
    outgoing.extensions = forwarded_extensions(parsed.extensions, mid="0", send_time=0x123456)
    received = RtpPacket.parse(outgoing.serialize(subscriber_ids), subscriber_ids)
    assert received.extensions == HeaderExtensions(
        mid="0", audio_level=(True, 42), abs_send_time=0x123456
    )
    # Read with the publisher's ids, the subscriber's packet means something else: the ids
    # really were rewritten (id 4 is unused there, id 10 absent).
    assert RtpPacket.parse(outgoing.serialize(subscriber_ids), publisher_ids).extensions == (
        HeaderExtensions()
    )
