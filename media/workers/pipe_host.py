"""A worker's pipes: the ``pipe_*`` media messages over :mod:`media.sfu.pipe`.

Part of :class:`~media.workers.media_host.MediaHost` (``host.pipes``): a sending pipe taps
tracks published on this worker; a receiving pipe's tracks are tracks of this worker
(``host.tracks``, ``transport_id`` = the pipe id) that ``subscribe`` serves like any other.
The contract is in :mod:`media.workers.media_messages`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiortc.rtcrtpparameters import RTCRtpCodecParameters, RTCRtpHeaderExtensionParameters

from media.sfu import NotNegotiated, Publication, UnsupportedCodec
from media.sfu.pipe import PipedTrackInfo, PipeReceiver, PipeSender
from media.workers.media_messages import (
    MEDIA_OF_KIND,
    ClosePipe,
    HeaderExtension,
    MediaErrorCode,
    MediaRequestError,
    PipeClosed,
    PipeReady,
    PipeReceive,
    PipeSend,
    PipeSending,
    PipeTrack,
    PipeTracks,
    PipeTracksAdded,
)

if TYPE_CHECKING:
    from media.workers.media_host import MediaHost, Track
    from media.workers.server import WorkerServer

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"


@dataclass
class SendingPipe:
    pipe_id: str
    sender: PipeSender
    tracks: dict[str, PipeTrack] = field(default_factory=dict)


@dataclass
class ReceivingPipe:
    pipe_id: str
    receiver: PipeReceiver
    track_ids: list[str] = field(default_factory=list)


class PipeHost:
    """The pipes of one :class:`MediaHost`, sending and receiving, by pipe id."""

    def __init__(self, host: MediaHost) -> None:
        self._host = host
        self.sending: dict[str, SendingPipe] = {}
        self.receiving: dict[str, ReceivingPipe] = {}

    def register(self, server: WorkerServer) -> None:
        guarded = self._host.guarded
        server.register(PipeReceive, guarded(self.pipe_receive))
        server.register(PipeSend, guarded(self.pipe_send))
        server.register(PipeTracks, guarded(self.pipe_tracks))
        server.register(ClosePipe, guarded(self.close_pipe))

    async def close(self) -> None:
        for pipe_id in list(self.sending) + list(self.receiving):
            await self._close(pipe_id)

    # --- requests -----------------------------------------------------------------------------

    async def pipe_receive(self, request: PipeReceive) -> PipeReady:
        self._check_free(request.pipe_id)
        addresses = self._host.options.host_addresses
        host = request.host or (addresses[0] if addresses else DEFAULT_HOST)
        try:
            receiver = PipeReceiver(host)
        except OSError as exc:
            raise MediaRequestError("pipe_address", f"cannot bind {host}: {exc}") from None
        self.receiving[request.pipe_id] = ReceivingPipe(request.pipe_id, receiver)
        bound_host, port = receiver.address
        return PipeReady(pipe_id=request.pipe_id, host=bound_host, port=port)

    async def pipe_send(self, request: PipeSend) -> PipeSending:
        pipe = self.sending.get(request.pipe_id)
        if pipe is None:
            self._check_free(request.pipe_id)
        elif (pipe.sender.host, pipe.sender.port) != (request.host, request.port):
            raise MediaRequestError(
                "pipe_exists",
                f"{request.pipe_id} sends to {pipe.sender.host}:{pipe.sender.port}",
            )
        tracks = self._host.tracks
        missing = [t for t in request.track_ids if t not in tracks]
        if missing:
            raise MediaRequestError("track_not_found", f"not published here: {missing}")
        if pipe is None:
            try:
                sender = PipeSender(request.host, request.port)
            except (OSError, ValueError) as exc:
                raise MediaRequestError(
                    "pipe_address", f"cannot send to {request.host}:{request.port}: {exc}"
                ) from None
            pipe = SendingPipe(request.pipe_id, sender)
            self.sending[request.pipe_id] = pipe
        described = []
        for track_id in request.track_ids:
            track = tracks[track_id]
            info = pipe.sender.add(track.publication)
            pipe.tracks[track_id] = _describe(track, info)
            described.append(pipe.tracks[track_id])
        return PipeSending(
            pipe_id=pipe.pipe_id, host=pipe.sender.host, port=pipe.sender.port, tracks=described
        )

    async def pipe_tracks(self, request: PipeTracks) -> PipeTracksAdded:
        pipe = self.receiving.get(request.pipe_id)
        if pipe is None:
            raise MediaRequestError("pipe_not_found", f"no receiving pipe {request.pipe_id}")
        host = self._host
        sources = pipe.receiver.sources
        new: list[PipeTrack] = []
        for spec in request.tracks:
            track = host.tracks.get(spec.track_id)
            if track is not None:
                source = sources.get(spec.channel)
                if (
                    track.transport_id != pipe.pipe_id
                    or source is None
                    or (track.publication.source is not source)
                ):
                    raise MediaRequestError("track_exists", f"{spec.track_id} is published")
                continue  # already added
            if spec.channel in sources or spec.channel in (s.channel for s in new):
                raise MediaRequestError("track_exists", f"channel {spec.channel} is taken")
            if spec.track_id in (s.track_id for s in new):
                raise MediaRequestError("track_exists", f"{spec.track_id} is named twice")
            media = spec.mime_type.partition("/")[0].lower()
            if media != MEDIA_OF_KIND[spec.kind]:
                raise MediaRequestError("sdp_invalid", f"{spec.kind} cannot be {spec.mime_type}")
            new.append(spec)
        added: list[tuple[PipeTrack, Publication]] = []
        try:
            for spec in new:
                try:
                    source = pipe.receiver.add(_info(spec))
                except ValueError as exc:  # an RTX codec
                    raise MediaRequestError("sdp_invalid", str(exc)) from None
                try:
                    added.append((spec, host.router.publish(source)))
                except (UnsupportedCodec, NotNegotiated) as exc:
                    source.stop()
                    code: MediaErrorCode = (
                        "unsupported_codec" if isinstance(exc, UnsupportedCodec) else "sdp_invalid"
                    )
                    raise MediaRequestError(code, str(exc)) from None
        except BaseException:
            for _, publication in added:
                await host.router.unpublish(publication)
            raise
        for spec, publication in added:
            host.add_piped_track(spec.track_id, spec.kind, pipe.pipe_id, publication)
            if spec.track_id not in pipe.track_ids:
                pipe.track_ids.append(spec.track_id)
        return PipeTracksAdded(
            pipe_id=pipe.pipe_id, track_ids=[spec.track_id for spec in request.tracks]
        )

    async def close_pipe(self, request: ClosePipe) -> PipeClosed:
        if request.pipe_id not in self.sending and request.pipe_id not in self.receiving:
            raise MediaRequestError("pipe_not_found", f"no pipe {request.pipe_id}")
        ended = await self._close(request.pipe_id)
        return PipeClosed(pipe_id=request.pipe_id, track_ids=ended)

    # --- internals ----------------------------------------------------------------------------

    def _check_free(self, pipe_id: str) -> None:
        if pipe_id in self.sending or pipe_id in self.receiving:
            raise MediaRequestError("pipe_exists", f"{pipe_id} is open")

    async def _close(self, pipe_id: str) -> list[str]:
        ended: list[str] = []
        sending = self.sending.pop(pipe_id, None)
        if sending is not None:
            sending.sender.close()
        receiving = self.receiving.pop(pipe_id, None)
        if receiving is not None:
            host = self._host
            for track_id in receiving.track_ids:
                track = host.tracks.get(track_id)
                if track is not None and track.transport_id == pipe_id:
                    await host.end_track(track, "transport_closed")
                    ended.append(track_id)
            await receiving.receiver.close()
        return ended


def _describe(track: Track, info: PipedTrackInfo) -> PipeTrack:
    codec = info.codec
    return PipeTrack(
        track_id=track.track_id,
        kind=track.kind,
        channel=info.channel,
        mime_type=codec.mimeType,
        clock_rate=codec.clockRate,
        channels=codec.channels,
        payload_type=codec.payloadType or 0,
        rtx_payload_type=info.rtx_payload_type,
        parameters=dict(codec.parameters),
        header_extensions=[HeaderExtension(id=e.id, uri=e.uri) for e in info.header_extensions],
    )


def _info(spec: PipeTrack) -> PipedTrackInfo:
    return PipedTrackInfo(
        channel=spec.channel,
        kind=MEDIA_OF_KIND[spec.kind],
        codec=RTCRtpCodecParameters(
            mimeType=spec.mime_type,
            clockRate=spec.clock_rate,
            channels=spec.channels,
            payloadType=spec.payload_type,
            parameters=dict(spec.parameters),
        ),
        rtx_payload_type=spec.rtx_payload_type,
        header_extensions=tuple(
            RTCRtpHeaderExtensionParameters(id=e.id, uri=e.uri) for e in spec.header_extensions
        ),
    )
