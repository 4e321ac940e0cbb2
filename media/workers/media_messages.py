"""The control protocol's media messages: transports, tracks and the active speaker.

Served by :mod:`media.workers.media_host` (every worker started by ``python -m media.workers``
or ``seminar sfu-worker`` hosts a :class:`~media.sfu.Router`). The control plane names
transports and tracks (``transport_id``, ``track_id``: strings it chooses, e.g. UUIDs); the
worker holds one ``RTCPeerConnection`` per transport.

=================== =================== =========================================================
request             reply               meaning
=================== =================== =========================================================
publish             publish_answer      a publish transport from the client's ``sdp`` offer;
                                        ``tracks`` names each sending m-line (``mid``) with its
                                        ``track_id`` and ``kind``; the reply is the worker's SDP
                                        answer (its candidates in it) and each track's codec.
                                        On an open publish transport: a renegotiation (a newly
                                        listed m-line is published, a track no longer listed
                                        ends; a refused one closes the transport)
subscribe           subscribe_offer     a new subscribe transport carrying ``track_ids`` (one
                                        at least); the reply is the worker's SDP offer and the
                                        ``mid`` of each track the transport carries. On an open
                                        subscribe transport: a renegotiation that adds the
                                        tracks not yet carried (none: only marks the m-lines of
                                        ended tracks ``inactive``)
unsubscribe         subscribe_offer     stop sending ``track_ids`` on a subscribe transport
                                        (ids it does not carry are ignored): an offer with their
                                        m-lines ``inactive``
subscribe_answer    answer_applied      the client's SDP answer to that offer
ice_candidate       candidate_added     a remote candidate (``null``: end of candidates)
unpublish           unpublished         stop forwarding one track (its subscribers' senders
                                        stop: an RTCP BYE ends an aiortc receiver's track)
close_transport     transport_closed    close a transport; a publish transport's tracks end
=================== =================== =========================================================

Events: ``track_published`` {track_id, kind, transport_id}; ``track_ended`` {track_id,
reason: unpublished|transport_closed}; ``transport_state`` {transport_id, state} (the peer
connection's ``connectionState``; ``failed`` and ``closed`` are final: the worker forgets the
transport); ``speaker`` {track_id | null}: the dominant microphone track, from the RFC 6464 audio
levels (:class:`~media.sfu.active_speaker.ActiveSpeakerDetector`).

Error codes (an ``error`` reply; the worker carries on): ``transport_not_found``,
``transport_exists``, ``negotiation_in_progress`` (an offer of that transport is unanswered),
``track_not_found``, ``track_exists``, ``sdp_invalid`` (does not parse,
wrong type, a sending m-line not listed in ``tracks`` or a listed ``mid`` that is not one, the
wrong media for a kind), ``unsupported_codec`` (not VP8, H.264 or Opus), ``not_negotiated``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from media.workers.protocol import Event, Reply, Request, message

TrackKind = Literal["camera", "microphone", "screen"]
MEDIA_OF_KIND: dict[str, str] = {"camera": "video", "microphone": "audio", "screen": "video"}

MediaErrorCode = Literal[
    "transport_not_found",
    "transport_exists",
    "negotiation_in_progress",
    "track_not_found",
    "track_exists",
    "sdp_invalid",
    "unsupported_codec",
    "not_negotiated",
]

Id = Annotated[str, Field(min_length=1, max_length=100)]
MAX_SDP = 64 * 1024


class _Part(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class TrackSpec(_Part):
    track_id: Id
    kind: TrackKind
    mid: str = Field(min_length=1, max_length=32)


class PublishedTrack(_Part):
    track_id: str
    kind: TrackKind
    mid: str
    codec: str = Field(description="The negotiated codec's MIME type, e.g. video/VP8.")


class SubscribedTrack(_Part):
    track_id: str
    mid: str


class Candidate(_Part):
    candidate: str = Field(max_length=1024)
    # the names of the browser's RTCIceCandidateInit
    sdpMid: str | None = None
    sdpMLineIndex: int | None = None


@message("publish_answer")
class PublishAnswer(Reply):
    transport_id: str
    sdp: str
    tracks: list[PublishedTrack]


@message("publish")
class Publish(Request):
    reply = PublishAnswer
    transport_id: Id
    sdp: str = Field(max_length=MAX_SDP)
    tracks: list[TrackSpec] = Field(max_length=3)


@message("subscribe_offer")
class SubscribeOffer(Reply):
    transport_id: str
    sdp: str
    tracks: list[SubscribedTrack]


@message("subscribe")
class Subscribe(Request):
    reply = SubscribeOffer
    transport_id: Id
    track_ids: list[Id] = Field(max_length=50)


@message("unsubscribe")
class Unsubscribe(Request):
    reply = SubscribeOffer
    transport_id: Id
    track_ids: list[Id] = Field(min_length=1, max_length=50)


@message("answer_applied")
class AnswerApplied(Reply):
    transport_id: str


@message("subscribe_answer")
class SubscribeAnswer(Request):
    reply = AnswerApplied
    transport_id: Id
    sdp: str = Field(max_length=MAX_SDP)


@message("candidate_added")
class CandidateAdded(Reply):
    transport_id: str


@message("ice_candidate")
class IceCandidate(Request):
    reply = CandidateAdded
    transport_id: Id
    candidate: Candidate | None


@message("unpublished")
class Unpublished(Reply):
    track_id: str


@message("unpublish")
class Unpublish(Request):
    reply = Unpublished
    track_id: Id


@message("transport_closed")
class TransportClosed(Reply):
    transport_id: str
    track_ids: list[str] = Field(description="The tracks this closing ended (publish transport).")


@message("close_transport")
class CloseTransport(Request):
    reply = TransportClosed
    transport_id: Id


@message("track_published")
class TrackPublished(Event):
    track_id: str
    kind: TrackKind
    transport_id: str


@message("track_ended")
class TrackEnded(Event):
    track_id: str
    reason: Literal["unpublished", "transport_closed"]


@message("transport_state")
class TransportState(Event):
    transport_id: str
    state: str


@message("speaker")
class Speaker(Event):
    track_id: str | None
