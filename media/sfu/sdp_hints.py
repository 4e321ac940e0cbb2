"""Hints a browser reads from the SFU's SDP answer, which aiortc does not write.

``x-google-start-bitrate`` (kbit/s) in a video codec's ``a=fmtp`` line makes Chromium start
its send-side estimate there instead of at 300 kbit/s shared by every stream, so a presenter's
camera and screen share are sharp within seconds rather than after half a minute of ramp-up
(its loss-based controller then takes over, capped by the SFU's REMB: media/sfu/publication.py).
Other browsers ignore the parameter. aiortc never reads its own answer back, so only the
browser sees it.
"""

from __future__ import annotations

import re

START_BITRATE_KBPS = 1000
_VIDEO_CODECS = ("VP8", "H264")
_RTPMAP = re.compile(r"^a=rtpmap:(\d+) ([A-Za-z0-9-]+)/", re.MULTILINE)


def with_start_bitrate(sdp: str, kbps: int = START_BITRATE_KBPS) -> str:
    """``sdp`` with ``x-google-start-bitrate`` on every VP8 and H.264 payload type."""
    lines = sdp.split("\r\n")
    payload_types = {pt for pt, name in _RTPMAP.findall(sdp) if name.upper() in _VIDEO_CODECS}
    hint = f"x-google-start-bitrate={kbps}"
    out: list[str] = []
    for line in lines:
        if line.startswith("a=fmtp:"):
            pt = line[len("a=fmtp:") :].split(" ", 1)[0]
            if pt in payload_types and "x-google-start-bitrate" not in line:
                line = f"{line};{hint}" if " " in line else f"{line} {hint}"
                payload_types.discard(pt)
                out.append(line)
                continue
        out.append(line)
        match = _RTPMAP.match(line)
        if match and match.group(1) in payload_types and not _has_fmtp(lines, match.group(1)):
            out.append(f"a=fmtp:{match.group(1)} {hint}")
            payload_types.discard(match.group(1))
    return "\r\n".join(out)


def _has_fmtp(lines: list[str], pt: str) -> bool:
    return any(line.startswith(f"a=fmtp:{pt} ") for line in lines)
