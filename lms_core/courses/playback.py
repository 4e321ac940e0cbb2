"""Signed playback links for lesson videos.

A student's player fetches a master playlist, two rendition playlists and a segment every few
seconds; checking enrollment on each of those requests would cost a query per segment per
viewer and would not work for players that cannot send our cookie or bearer token (native HLS
on phones, smart TVs). Instead the lesson's video endpoint, which does check who may open the
lesson, hands out a link whose path carries a token: an HMAC, under the server's secret key, of
the video, the version of its output and an expiry time. Relative URIs inside the playlists
inherit the token, so one check covers the whole playback.

The price is revocation: a link stays valid until it expires (``PLAYBACK_TTL``), even if the
student unenrolls meanwhile. Tokens are bound to one output version, so replacing a video ends
the old links when the old output is deleted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from lms_core.errors import PermissionDenied

PLAYBACK_TTL = timedelta(hours=6)

# The objects of an HLS output, by extension: what they are served as.
HLS_CONTENT_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".ts": "video/mp2t",
    ".jpg": "image/jpeg",
}
_SIGNATURE_BYTES = 20


class PlaybackLinkInvalid(PermissionDenied):
    default_code = "playback_link_invalid"
    default_detail = "This playback link is not valid. Open the lesson again to get a new one."


class PlaybackLinkExpired(PermissionDenied):
    default_code = "playback_link_expired"
    default_detail = "This playback link has expired. Open the lesson again to get a new one."


@dataclass(frozen=True, slots=True)
class PlaybackGrant:
    token: str
    expires_at: datetime


class PlaybackSigner:
    """Issues and checks playback tokens (``<version>.<expiry>.<signature>``)."""

    def __init__(self, secret: str | bytes, *, ttl: timedelta = PLAYBACK_TTL) -> None:
        raw = secret.encode() if isinstance(secret, str) else secret
        # A key of its own, derived from the server secret, so a token can never be replayed
        # as another kind of signed value the secret may sign later.
        self._key = hmac.new(raw, b"seminar/hls-playback/v1", hashlib.sha256).digest()
        self.ttl = ttl

    def _signature(self, video_id: uuid.UUID, version: int, expires: int) -> str:
        message = f"{video_id}:{version}:{expires}".encode()
        digest = hmac.new(self._key, message, hashlib.sha256).digest()[:_SIGNATURE_BYTES]
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def grant(self, video_id: uuid.UUID, version: int, *, now: datetime) -> PlaybackGrant:
        expires = int((now + self.ttl).timestamp())
        token = f"{version}.{expires}.{self._signature(video_id, version, expires)}"
        return PlaybackGrant(token, datetime.fromtimestamp(expires, UTC))

    def verify(self, video_id: uuid.UUID, token: str, *, now: datetime) -> int:
        """The output version the token grants, or ``PlaybackLinkInvalid``/``Expired``."""
        parts = token.split(".")
        if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
            raise PlaybackLinkInvalid()
        version, expires = int(parts[0]), int(parts[1])
        if version > 2**31 or expires > 2**40:
            raise PlaybackLinkInvalid()
        expected = self._signature(video_id, version, expires)
        if not hmac.compare_digest(expected, parts[2]):
            raise PlaybackLinkInvalid()
        if now.timestamp() >= expires:
            raise PlaybackLinkExpired()
        return version
