from __future__ import annotations

from media.sfu.sdp_hints import with_start_bitrate

ANSWER = "\r\n".join(
    [
        "v=0",
        "m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103",
        "a=rtpmap:96 VP8/90000",
        "a=rtcp-fb:96 nack",
        "a=rtpmap:97 rtx/90000",
        "a=fmtp:97 apt=96",
        "a=rtpmap:102 H264/90000",
        "a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
        "m=audio 9 UDP/TLS/RTP/SAVPF 111",
        "a=rtpmap:111 opus/48000/2",
        "a=fmtp:111 minptime=10;useinbandfec=1",
        "",
    ]
)


def test_vp8_and_h264_get_a_start_bitrate_and_nothing_else_changes() -> None:
    hinted = with_start_bitrate(ANSWER, 1000).split("\r\n")
    assert "a=fmtp:96 x-google-start-bitrate=1000" in hinted
    assert (
        hinted.index("a=fmtp:96 x-google-start-bitrate=1000")
        == hinted.index("a=rtpmap:96 VP8/90000") + 1
    )
    assert (
        "a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f;"
        "x-google-start-bitrate=1000"
    ) in hinted
    assert "a=fmtp:97 apt=96" in hinted  # RTX untouched
    assert "a=fmtp:111 minptime=10;useinbandfec=1" in hinted  # audio untouched
    assert len(hinted) == len(ANSWER.split("\r\n")) + 1
    assert with_start_bitrate("\r\n".join(hinted)) == "\r\n".join(hinted)  # idempotent
