"""A worker's media: one :class:`~media.sfu.Router` driven by the media messages.

``run_worker(config, setup=host.install)`` then ``host.close()``: the host registers the handlers of
:mod:`media.workers.media_messages` on the worker's server, counts its open transports as the
worker's ``sessions``, and broadcasts the media events (``track_published``, ``track_ended``,
``transport_state``, ``speaker``) to every control connection.

A transport is one ``RTCPeerConnection`` created with the configured ICE servers (none by
default: host candidates only); aiortc gathers its candidates before it answers or offers, so
they are in the SDP of the reply. Publish transports receive, subscribe transports send; the
worker never sends on a publish transport nor forwards what arrives on a subscribe transport.

Pipes to and from other workers (``pipe_*`` messages) are in :mod:`media.workers.pipe_host`
(``host.pipes``): a track piped in is a track of this worker whose ``transport_id`` is the pipe.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import aioice.ice
from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.sdp import SessionDescription, candidate_from_sdp

from media.sfu import NotNegotiated, Publication, Router, Subscription, UnsupportedCodec
from media.sfu.active_speaker import ActiveSpeakerDetector, AudioLevel, SpeakerChange
from media.sfu.sdp_hints import with_start_bitrate
from media.workers.media_messages import (
    MEDIA_OF_KIND,
    AnswerApplied,
    CandidateAdded,
    CloseTransport,
    IceCandidate,
    MediaRequestError,
    Publish,
    PublishAnswer,
    PublishedTrack,
    Speaker,
    Subscribe,
    SubscribeAnswer,
    SubscribedTrack,
    SubscribeOffer,
    TrackEnded,
    TrackKind,
    TrackPublished,
    TransportClosed,
    TransportState,
    Unpublish,
    Unpublished,
    Unsubscribe,
)
from media.workers.pipe_host import PipeHost
from media.workers.protocol import ErrorReply, Event, Reply, Request
from media.workers.worker import WorkerContext

log = logging.getLogger(__name__)

SPEAKER_TICK = 0.25
"""Seconds between the detector's ticks (a room gone silent sends no packets to decide on)."""


@dataclass(frozen=True)
class MediaOptions:
    """``ice_servers``: RTCIceServer dicts (``urls``, ``username``, ``credential``) for every
    transport; ``host_addresses``: the addresses host candidates are gathered on (None: every
    interface but loopback, aioice's choice)."""

    ice_servers: Sequence[dict[str, Any]] = ()
    host_addresses: Sequence[str] | None = None

    @classmethod
    def parse(cls, ice_servers_json: str, host_addresses: Sequence[str] | None) -> MediaOptions:
        """From the command line: ``--ice-servers`` (a JSON list) and ``--media-address``."""
        try:
            ice_servers = json.loads(ice_servers_json)
        except ValueError:
            ice_servers = None
        if not isinstance(ice_servers, list) or not all(isinstance(s, dict) for s in ice_servers):
            raise ValueError("--ice-servers: a JSON list of RTCIceServer objects")
        return cls(ice_servers=ice_servers, host_addresses=host_addresses or None)


@dataclass
class Track:
    track_id: str
    kind: TrackKind
    transport_id: str  # its publish transport, or the pipe it arrives through
    mid: str
    publication: Publication
    group: str | None = None  # the speaker group (Publish.group)


@dataclass
class Transport:
    transport_id: str
    direction: str  # "publish" | "subscribe"
    pc: RTCPeerConnection
    group: str | None = None
    track_ids: list[str] = field(default_factory=list)
    subscriptions: list[Subscription] = field(default_factory=list)


Req = TypeVar("Req", bound=Request)


class MediaHost:
    """The worker's transports and tracks over one :class:`Router`."""

    def __init__(
        self,
        options: MediaOptions | None = None,
        *,
        emit: Callable[[Event], Awaitable[None]] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.options = options or MediaOptions()
        self.router = Router()
        self.transports: dict[str, Transport] = {}
        self.tracks: dict[str, Track] = {}
        # One detector per speaker group (a room): two rooms on a worker never mask each other.
        self.detectors: dict[str | None, ActiveSpeakerDetector[str]] = {}
        self._emit_event = emit
        self._clock = clock
        self._tasks: set[asyncio.Task[Any]] = set()
        self._ticker: asyncio.Task[None] | None = None
        self.pipes = PipeHost(self)
        """Pipes to and from other workers (``pipe_*`` messages)."""

    def install(self, ctx: WorkerContext) -> None:
        """The ``setup`` for :func:`~media.workers.worker.run_worker`; :meth:`close` the host
        after ``run_worker`` returns (``python -m media.workers`` does)."""
        if self._emit_event is None:
            self._emit_event = ctx.server.broadcast
        if self.options.host_addresses is not None:
            addresses = list(self.options.host_addresses)
            # aioice gathers host candidates on what this module function returns.
            aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: addresses
        server = ctx.server
        server.register(Publish, self._guarded(self.publish))
        server.register(Subscribe, self._guarded(self.subscribe))
        server.register(SubscribeAnswer, self._guarded(self.subscribe_answer))
        server.register(IceCandidate, self._guarded(self.ice_candidate))
        server.register(Unpublish, self._guarded(self.unpublish))
        server.register(CloseTransport, self._guarded(self.close_transport))
        server.register(Unsubscribe, self._guarded(self.unsubscribe))
        self.pipes.register(server)
        ctx.sessions = lambda: len(self.transports)
        self.start()

    def start(self) -> None:
        """Start the speaker detector's timer."""
        if self._ticker is None:
            self._ticker = asyncio.get_running_loop().create_task(self._tick())

    async def close(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        for transport in list(self.transports.values()):
            await self._close_transport(transport)
        await self.pipes.close()
        await self.router.close()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                while self._tasks:
                    await asyncio.gather(*self._tasks, return_exceptions=True)

    @staticmethod
    def guarded(
        handler: Callable[[Req], Awaitable[Reply]],
    ) -> Callable[[Req], Awaitable[Reply]]:
        """``handler`` answering a :class:`MediaRequestError` with an ``error`` reply."""

        async def answer(request: Req) -> Reply:
            try:
                return await handler(request)
            except MediaRequestError as exc:
                return ErrorReply(code=exc.code, message=exc.message)

        return answer

    _guarded = guarded

    # --- requests -----------------------------------------------------------------------------

    async def publish(self, request: Publish) -> PublishAnswer:
        transport = self.transports.get(request.transport_id)
        if transport is not None and transport.direction != "publish":
            raise MediaRequestError("transport_exists", f"{request.transport_id} subscribes")
        if transport is not None:
            self._check_stable(transport)
        _check_tracks(request)
        current = {} if transport is None else self._tracks_by_mid(transport)
        for spec in request.tracks:
            kept = current.get(spec.mid)
            if kept is not None and (kept.track_id, kept.kind) != (spec.track_id, spec.kind):
                raise MediaRequestError(
                    "sdp_invalid", f"m-line {spec.mid} carries {kept.kind} {kept.track_id}"
                )
            if kept is None and spec.track_id in self.tracks:
                raise MediaRequestError("track_exists", f"{spec.track_id} is published")
        _check_offer(request)
        is_new = transport is None
        if transport is None:
            transport = Transport(
                request.transport_id, "publish", self._new_pc(), group=request.group
            )
        pc = transport.pc
        published: list[Track] = []
        try:
            try:
                await pc.setRemoteDescription(RTCSessionDescription(request.sdp, "offer"))
            except (ValueError, LookupError, AssertionError, TypeError) as exc:
                raise MediaRequestError("sdp_invalid", f"the offer was refused: {exc}") from None
            by_mid = {t.mid: t for t in pc.getTransceivers()}
            for spec in request.tracks:
                if spec.mid in current:
                    continue
                transceiver = by_mid.get(spec.mid)
                if transceiver is None or transceiver.kind != MEDIA_OF_KIND[spec.kind]:
                    raise MediaRequestError("sdp_invalid", f"no {spec.kind} m-line {spec.mid}")
                try:
                    publication = self.router.publish(transceiver)
                except UnsupportedCodec as exc:
                    raise MediaRequestError("unsupported_codec", str(exc)) from None
                except NotNegotiated as exc:
                    raise MediaRequestError("not_negotiated", str(exc)) from None
                published.append(
                    Track(
                        spec.track_id,
                        spec.kind,
                        request.transport_id,
                        spec.mid,
                        publication,
                        transport.group,
                    )
                )
            await pc.setLocalDescription(await pc.createAnswer())
        except BaseException:
            for track in published:
                await self.router.unpublish(track.publication)
            if is_new:
                await pc.close()
            else:
                # aiortc cannot roll an applied offer back: the transport is lost, its tracks
                # end (the client publishes again, as after an ICE restart).
                await self._close_transport(transport)
            raise
        listed = {spec.mid for spec in request.tracks}
        for mid, track in current.items():
            if mid not in listed:  # dropped from the offer: e.g. a screen share stopped
                await self._end_track(track, "unpublished")
        for track in published:
            self.tracks[track.track_id] = track
            transport.track_ids.append(track.track_id)
            if track.kind == "microphone":
                track.publication.on_audio_level = self._level_feeder(track)
        if is_new:
            self._watch(transport)
            self.transports[transport.transport_id] = transport
        for track in published:
            self._emit(TrackPublished(**_track_fields(track)))
        return PublishAnswer(
            transport_id=transport.transport_id,
            sdp=with_start_bitrate(pc.localDescription.sdp),
            tracks=[
                PublishedTrack(
                    track_id=t.track_id,
                    kind=t.kind,
                    mid=t.mid,
                    codec=t.publication.codec.mimeType,
                )
                for t in self._tracks_by_mid(transport).values()
            ],
        )

    def _tracks_by_mid(self, transport: Transport) -> dict[str, Track]:
        """The tracks a publish transport publishes now, by m-line."""
        tracks = (self.tracks.get(track_id) for track_id in transport.track_ids)
        return {
            t.mid: t for t in tracks if t is not None and t.transport_id == transport.transport_id
        }

    async def subscribe(self, request: Subscribe) -> SubscribeOffer:
        transport = self.transports.get(request.transport_id)
        if transport is not None and transport.direction != "subscribe":
            raise MediaRequestError("transport_exists", f"{request.transport_id} publishes")
        if transport is not None:
            self._check_stable(transport)
        if len(set(request.track_ids)) != len(request.track_ids):
            raise MediaRequestError("track_exists", "a track is named twice")
        carried = set() if transport is None else set(_carried(transport))
        wanted = [t for t in request.track_ids if t not in carried]
        missing = [t for t in wanted if t not in self.tracks]
        if missing:
            raise MediaRequestError("track_not_found", f"not published here: {missing}")
        if transport is None:
            if not wanted:
                raise MediaRequestError("track_not_found", "a new transport needs a track")
            transport = Transport(request.transport_id, "subscribe", self._new_pc())
            is_new = True
        else:
            is_new = False
        pc = transport.pc
        added: list[Subscription] = []
        try:
            for track_id in wanted:
                added.append(self.tracks[track_id].publication.subscribe(pc))
                transport.subscriptions.append(added[-1])
                transport.track_ids.append(track_id)
            offer = await self._offer(transport)
        except BaseException:
            for subscription in added:
                subscription.close()
            if is_new:
                await pc.close()
            raise
        if is_new:
            self._watch(transport)
            self.transports[transport.transport_id] = transport
        return offer

    async def unsubscribe(self, request: Unsubscribe) -> SubscribeOffer:
        transport = self._transport(request.transport_id, "subscribe")
        self._check_stable(transport)
        for track_id, subscription in zip(
            transport.track_ids, transport.subscriptions, strict=True
        ):
            if track_id in request.track_ids and not subscription.closed:
                subscription.close()
                await subscription.sender.stop()
        return await self._offer(transport)

    async def _offer(self, transport: Transport) -> SubscribeOffer:
        """The transport's next offer: the m-lines of ended subscriptions made inactive."""
        for subscription in transport.subscriptions:
            if subscription.closed:
                subscription.transceiver.direction = "inactive"
        pc = transport.pc
        await pc.setLocalDescription(await pc.createOffer())
        return SubscribeOffer(
            transport_id=transport.transport_id,
            sdp=pc.localDescription.sdp,
            tracks=[
                SubscribedTrack(track_id=track_id, mid=subscription.transceiver.mid or "")
                for track_id, subscription in zip(
                    transport.track_ids, transport.subscriptions, strict=True
                )
                if not subscription.closed
            ],
        )

    @staticmethod
    def _check_stable(transport: Transport) -> None:
        if transport.pc.signalingState != "stable":
            raise MediaRequestError(
                "negotiation_in_progress", f"an offer of {transport.transport_id} is unanswered"
            )

    async def subscribe_answer(self, request: SubscribeAnswer) -> AnswerApplied:
        transport = self._transport(request.transport_id, "subscribe")
        if transport.pc.signalingState != "have-local-offer":
            raise MediaRequestError("sdp_invalid", "no offer of this transport is outstanding")
        try:
            parsed = SessionDescription.parse(request.sdp)
            if any((m.direction or "sendrecv") in ("sendonly", "sendrecv") for m in parsed.media):
                raise MediaRequestError("sdp_invalid", "a subscriber's answer must not send")
            await transport.pc.setRemoteDescription(RTCSessionDescription(request.sdp, "answer"))
        except (ValueError, LookupError, AssertionError, TypeError) as exc:
            raise MediaRequestError("sdp_invalid", f"the answer was refused: {exc}") from None
        return AnswerApplied(transport_id=transport.transport_id)

    async def ice_candidate(self, request: IceCandidate) -> CandidateAdded:
        transport = self._transport(request.transport_id)
        if request.candidate is not None:
            init = request.candidate
            if init.sdpMid is None and init.sdpMLineIndex is None:
                raise MediaRequestError("sdp_invalid", "a candidate needs sdpMid or sdpMLineIndex")
            line = init.candidate.removeprefix("a=").removeprefix("candidate:")
            if line:  # an empty candidate is the end of a generation, as null
                try:
                    candidate = candidate_from_sdp(line)
                except (ValueError, IndexError, AssertionError) as exc:
                    raise MediaRequestError("sdp_invalid", f"bad candidate: {exc}") from None
                candidate.sdpMid = init.sdpMid
                candidate.sdpMLineIndex = init.sdpMLineIndex
                await transport.pc.addIceCandidate(candidate)
        return CandidateAdded(transport_id=transport.transport_id)

    async def unpublish(self, request: Unpublish) -> Unpublished:
        track = self.tracks.get(request.track_id)
        if track is None:
            raise MediaRequestError("track_not_found", f"{request.track_id} is not published")
        await self._end_track(track, "unpublished")
        return Unpublished(track_id=track.track_id)

    async def close_transport(self, request: CloseTransport) -> TransportClosed:
        transport = self._transport(request.transport_id)
        ended = await self._close_transport(transport)
        return TransportClosed(transport_id=transport.transport_id, track_ids=ended)

    # --- internals ----------------------------------------------------------------------------

    def _new_pc(self) -> RTCPeerConnection:
        servers = [RTCIceServer(**server) for server in self.options.ice_servers]
        return RTCPeerConnection(RTCConfiguration(iceServers=servers))

    def _transport(self, transport_id: str, direction: str | None = None) -> Transport:
        transport = self.transports.get(transport_id)
        if transport is None or (direction is not None and transport.direction != direction):
            raise MediaRequestError("transport_not_found", f"no {direction or ''} {transport_id}")
        return transport

    def _watch(self, transport: Transport) -> None:
        pc = transport.pc

        @pc.on("connectionstatechange")
        def on_state() -> None:
            state = pc.connectionState
            if self.transports.get(transport.transport_id) is not transport:
                return  # closed by a request: already announced
            self._emit(TransportState(transport_id=transport.transport_id, state=state))
            if state in ("failed", "closed"):
                self._spawn(self._close_transport(transport))

    async def _close_transport(self, transport: Transport) -> list[str]:
        """Forget ``transport``, end its published tracks and close its peer connection."""
        if self.transports.get(transport.transport_id) is transport:
            del self.transports[transport.transport_id]
        ended = []
        if transport.direction == "publish":
            for track_id in transport.track_ids:
                track = self.tracks.get(track_id)
                if track is not None and track.transport_id == transport.transport_id:
                    await self._end_track(track, "transport_closed")
                    ended.append(track_id)
        for subscription in transport.subscriptions:
            subscription.close()
        await transport.pc.close()
        return ended

    def add_piped_track(
        self, track_id: str, kind: TrackKind, pipe_id: str, publication: Publication
    ) -> None:
        """A track arriving through pipe ``pipe_id`` is a track of this worker from now on (its
        audio level is not fed to the speaker detector: the origin worker's decides)."""
        track = Track(track_id, kind, pipe_id, "", publication)
        self.tracks[track_id] = track
        self._emit(TrackPublished(**_track_fields(track)))

    async def end_track(
        self, track: Track, reason: Literal["unpublished", "transport_closed"]
    ) -> None:
        """Forget ``track``, stop forwarding it and tell its subscribers and the control plane."""
        await self._end_track(track, reason)

    async def _end_track(
        self, track: Track, reason: Literal["unpublished", "transport_closed"]
    ) -> None:
        del self.tracks[track.track_id]
        senders = [s.sender for s in track.publication.subscriptions]
        track.publication.on_audio_level = None
        await self.router.unpublish(track.publication)
        self._emit(TrackEnded(track_id=track.track_id, reason=reason))
        detector = self.detectors.get(track.group)
        if detector is not None:
            self._speaker_changed(track.group, detector.remove(track.track_id))
            if not len(detector):
                del self.detectors[track.group]
        for sender in senders:
            # Stopping the sender sends an RTCP BYE: an aiortc receiver ends its track on it.
            # A browser needs the m-line made inactive by a renegotiation (the control plane's).
            await sender.stop()

    def _level_feeder(self, track: Track) -> Callable[[AudioLevel], None]:
        group, clock = track.group, self._clock
        detector = self.detectors.setdefault(group, ActiveSpeakerDetector())
        track_id = track.track_id

        def feed(level: AudioLevel) -> None:
            change = detector.feed(track_id, level.level_dbov, level.voice, clock())
            self._speaker_changed(group, change)

        return feed

    def _speaker_changed(self, group: str | None, change: SpeakerChange[str] | None) -> None:
        if change is not None:
            self._emit(Speaker(track_id=change.speaker, group=group))

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(SPEAKER_TICK)
            for group, detector in list(self.detectors.items()):
                self._speaker_changed(group, detector.tick(self._clock()))

    def _emit(self, event: Event) -> None:
        if self._emit_event is not None:
            self._spawn(self._emit_event(event))

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("sfu worker: media task failed", exc_info=task.exception())


def _carried(transport: Transport) -> list[str]:
    """The tracks a subscribe transport sends now (not unsubscribed, not ended)."""
    return [
        track_id
        for track_id, subscription in zip(transport.track_ids, transport.subscriptions, strict=True)
        if not subscription.closed
    ]


def _track_fields(track: Track) -> dict[str, Any]:
    return {"track_id": track.track_id, "kind": track.kind, "transport_id": track.transport_id}


def _check_tracks(request: Publish) -> None:
    kinds = [t.kind for t in request.tracks]
    mids = [t.mid for t in request.tracks]
    ids = [t.track_id for t in request.tracks]
    if len(set(kinds)) != len(kinds) or len(set(mids)) != len(mids) or len(set(ids)) != len(ids):
        raise MediaRequestError("sdp_invalid", "tracks must differ in kind, mid and track_id")


def _check_offer(request: Publish) -> None:
    """The offer parses and its sending m-lines are exactly the listed tracks, of their media."""
    try:
        parsed = SessionDescription.parse(request.sdp)
    except (ValueError, LookupError, AssertionError, TypeError) as exc:
        raise MediaRequestError("sdp_invalid", f"the offer does not parse: {exc}") from None
    if not parsed.media:
        raise MediaRequestError("sdp_invalid", "the offer has no m-line")
    sending = {
        m.rtp.muxId: m.kind
        for m in parsed.media
        if (m.direction or "sendrecv") in ("sendonly", "sendrecv")
    }
    listed = {t.mid: MEDIA_OF_KIND[t.kind] for t in request.tracks}
    if sending != listed:
        raise MediaRequestError(
            "sdp_invalid",
            f"the offer sends {sorted(sending.items())}, tracks list {sorted(listed.items())}",
        )
