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
pipe_receive        pipe_ready          receiving side of a worker pipe: a UDP socket bound on
                                        ``host`` (default: the worker's first
                                        ``--media-address``, else 127.0.0.1), port chosen by
                                        the system; the reply gives ``host`` and ``port``
pipe_send           pipe_sending        sending side: pipe ``track_ids`` (published on this
                                        worker) to ``host``:``port`` (a ``pipe_ready``'s);
                                        ``tracks`` describes each (``PipeTrack``: its channel
                                        in the pipe, codec, RTX payload type, header-extension
                                        ids). On an open pipe (same address): adds the tracks
                                        not yet piped; those already piped are described again
pipe_tracks         pipe_tracks_added   receiving side: ``tracks`` (the ``pipe_sending``
                                        descriptions, unchanged) become tracks of this worker:
                                        ``subscribe`` accepts their ``track_ids``. Each is
                                        announced as ``track_published`` with ``transport_id``
                                        = the pipe's id. Tracks already added are skipped
close_pipe          pipe_closed         close a pipe (either side). Receiving side: its tracks
                                        end (``track_ended``, reason ``transport_closed``),
                                        listed in ``track_ids``; sending side: ``[]``
=================== =================== =========================================================

Pipes (``media.sfu.pipe``: plain UDP, no ICE or SRTP, for workers that trust their control
plane, on loopback or a private LAN). The control plane opens one with ``pipe_receive`` on the
target worker, ``pipe_send`` on the origin worker, ``pipe_tracks`` on the target (the helper:
``media.workers.piping.open_pipe``). A piped track that ends at the origin (``unpublish``, its
publish transport closed) stops being sent; the control plane then sends ``unpublish`` for it
to the target worker, which ends it there (``track_ended`` to the control plane, an RTCP BYE to
its subscribers). A target worker whose origin died keeps serving: its piped tracks are silent
until unpublished. The active speaker of a piped microphone is only decided (``speaker``
events) on the origin worker. Pipe ids are the control plane's, like transport ids, and are
neither transports (``close_transport``, ``sessions``) nor reusable while open.

Events: ``track_published`` {track_id, kind, transport_id}; ``track_ended`` {track_id,
reason: unpublished|transport_closed}; ``transport_state`` {transport_id, state} (the peer
connection's ``connectionState``; ``failed`` and ``closed`` are final: the worker forgets the
transport); ``speaker`` {track_id | null, group}: the dominant microphone track of a speaker
group (``publish``'s ``group``: the control plane passes the room, so rooms sharing a worker
never mask each other), from the RFC 6464 audio levels
(:class:`~media.sfu.active_speaker.ActiveSpeakerDetector`, one per group).

Error codes (an ``error`` reply; the worker carries on): ``transport_not_found``,
``transport_exists``, ``negotiation_in_progress`` (an offer of that transport is unanswered),
``track_not_found``, ``track_exists``, ``sdp_invalid`` (does not parse,
wrong type, a sending m-line not listed in ``tracks`` or a listed ``mid`` that is not one, the
wrong media for a kind), ``unsupported_codec`` (not VP8, H.264 or Opus), ``not_negotiated``,
``pipe_not_found``, ``pipe_exists`` (the id is open on this worker, or ``pipe_send`` names
another address for an open pipe), ``pipe_address`` (the address cannot be bound or sent to).
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
    "pipe_not_found",
    "pipe_exists",
    "pipe_address",
]


class MediaRequestError(Exception):
    """A media request that cannot be done; answered as an ``error`` reply with ``code``."""

    def __init__(self, code: MediaErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


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
    group: str | None = Field(
        default=None,
        max_length=100,
        description="The speaker group (a room): the active speaker is decided among the "
        "microphones of one group; the transport's first publish sets it.",
    )


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
    group: str | None = None


# --- pipes --------------------------------------------------------------------------------------

Host = Annotated[str, Field(min_length=1, max_length=255)]
Port = Annotated[int, Field(ge=1, le=65535)]


class HeaderExtension(_Part):
    id: int = Field(ge=1, le=255)
    uri: str = Field(max_length=256)


class PipeTrack(_Part):
    """One piped track as the origin describes it (``pipe_sending``) and the target takes it
    (``pipe_tracks``): what the target's subscribers are negotiated with and the piped packets
    are parsed by."""

    track_id: Id
    kind: TrackKind
    channel: int = Field(ge=0, le=0xFFFF, description="The track's number in the pipe.")
    mime_type: str = Field(max_length=64, description="e.g. video/VP8, audio/opus")
    clock_rate: int = Field(gt=0)
    channels: int | None = Field(default=None, ge=1, le=8)
    payload_type: int = Field(ge=0, le=127)
    rtx_payload_type: int | None = Field(default=None, ge=0, le=127)
    parameters: dict[str, int | str | None] = Field(
        default_factory=dict, max_length=32, description="The codec's fmtp parameters."
    )
    header_extensions: list[HeaderExtension] = Field(default_factory=list, max_length=16)


@message("pipe_ready")
class PipeReady(Reply):
    pipe_id: str
    host: str
    port: int


@message("pipe_receive")
class PipeReceive(Request):
    reply = PipeReady
    pipe_id: Id
    host: Host | None = None


@message("pipe_sending")
class PipeSending(Reply):
    pipe_id: str
    host: str
    port: int
    tracks: list[PipeTrack]


@message("pipe_send")
class PipeSend(Request):
    reply = PipeSending
    pipe_id: Id
    host: Host
    port: Port
    track_ids: list[Id] = Field(max_length=200)


@message("pipe_tracks_added")
class PipeTracksAdded(Reply):
    pipe_id: str
    track_ids: list[str]


@message("pipe_tracks")
class PipeTracks(Request):
    reply = PipeTracksAdded
    pipe_id: Id
    tracks: list[PipeTrack] = Field(max_length=200)


@message("pipe_closed")
class PipeClosed(Reply):
    pipe_id: str
    track_ids: list[str] = Field(description="The tracks its closing ended (receiving side).")


@message("close_pipe")
class ClosePipe(Request):
    reply = PipeClosed
    pipe_id: Id
