"""Payloads of the ``media:*`` events on ``/live`` (docs/live-protocol.md "Media (SFU)
signalling"), validated like every other event (server/live/events.py's ``Payload``)."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import Field

from server.live.events import Payload

MediaKind = Literal["camera", "microphone", "screen"]
MAX_SDP_BYTES = 64 * 1024
"""An SDP over this is answered ``payload_too_large`` (413), checked by the handler: a browser's
offer for three m-lines is 4-8 KB."""

WireUuid = Annotated[uuid.UUID, Field(strict=False)]


class SendingTrack(Payload):
    mid: str = Field(min_length=1, max_length=32)
    kind: MediaKind


class MediaPublish(Payload):
    sdp: str
    tracks: list[SendingTrack] = Field(max_length=3)
    restart: bool = False


class CandidateInit(Payload):
    """The browser's ``RTCIceCandidateInit``, as ``JSON.stringify(event.candidate)`` gives it."""

    candidate: str = Field(max_length=1024)
    sdpMid: str | None = Field(default=None, max_length=32)
    sdpMLineIndex: int | None = Field(default=None, ge=0, le=64)
    usernameFragment: str | None = Field(default=None, max_length=256)


class MediaCandidate(Payload):
    transport_id: WireUuid
    candidate: CandidateInit | None


class MediaMute(Payload):
    kind: MediaKind
    muted: bool


class MediaSubscribe(Payload):
    track_ids: list[WireUuid] = Field(min_length=1, max_length=50)
    restart: bool = False


class MediaUnsubscribe(Payload):
    track_ids: list[WireUuid] = Field(min_length=1, max_length=50)


class MediaAnswer(Payload):
    transport_id: WireUuid
    revision: int = Field(ge=1)
    sdp: str
