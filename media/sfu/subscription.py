"""One subscriber's copy of a publication: a sender on the subscriber's peer connection that
never encodes, fed with the publication's packets rewritten for this subscriber."""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import TYPE_CHECKING, Any

from aiortc import RTCPeerConnection, RTCRtpSender
from aiortc.mediastreams import MediaStreamTrack
from aiortc.rtcrtpparameters import RTCRtpSendParameters
from aiortc.rtp import RtpPacket
from av.frame import Frame
from av.packet import Packet

from media.sfu import aiortc_hooks
from media.sfu.rewriting import StreamRewriter, forwarded_extensions

if TYPE_CHECKING:
    from media.sfu.publication import Publication

log = logging.getLogger(__name__)


class ParkedTrack(MediaStreamTrack):
    """A track that never yields: the sender's own encode loop waits on it forever, while the
    forwarder writes packets on the sender's behalf."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    async def recv(self) -> Frame | Packet[Any]:
        never: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        return await never


class Subscription:
    """Created by :meth:`Publication.subscribe`; adds a send-only transceiver to ``pc`` limited
    to the publication's codec, so the SFU's next offer carries it.

    Forwarding starts once the subscriber's transport is up (aiortc then starts the sender):
    audio at once, video at the next keyframe start, for which a keyframe request goes to the
    publisher (the join PLI). Until then :attr:`waiting_for_keyframe` is true.
    """

    def __init__(self, publication: Publication, pc: RTCPeerConnection) -> None:
        self.publication = publication
        self.kind = publication.kind
        self.transceiver = pc.addTransceiver(ParkedTrack(self.kind), direction="sendonly")
        self.transceiver.setCodecPreferences(publication.codec_preferences())
        self.sender: RTCRtpSender = self.transceiver.sender
        self.waiting_for_keyframe = self.kind == "video"
        self.closed = False
        self.forwarded = 0
        self.held_back = 0
        self.keyframe_requests = 0
        self._rewriter = StreamRewriter(
            publication.codec.clockRate,
            first_sequence=secrets.randbelow(0x8000),
            first_timestamp=secrets.randbits(32),
        )
        self._outlet: aiortc_hooks.SenderOutlet | None = None
        self._payload_type = 0
        self._mid: str | None = None
        aiortc_hooks.intercept_keyframe_requests(self.sender, self._on_keyframe_request)
        aiortc_hooks.on_send_parameters(self.sender, self._on_started)
        self._pc = pc
        pc.on("connectionstatechange", self._on_connection_state)

    @property
    def started(self) -> bool:
        """The subscriber's transport is up and packets are (or, for video waiting for a
        keyframe, are about to be) forwarded."""
        return self._outlet is not None

    @property
    def ssrc(self) -> int | None:
        """The SSRC this subscriber receives the stream on (once started)."""
        return None if self._outlet is None else self._outlet.ssrc

    def close(self) -> None:
        """Stop forwarding (the transceiver stays until the next renegotiation removes it)."""
        if not self.closed:
            self.closed = True
            self._outlet = None
            self.publication.unsubscribe(self)

    def _on_started(self, parameters: RTCRtpSendParameters) -> None:
        if self.closed:
            return
        codec = parameters.codecs[0]
        if codec.mimeType.lower() != self.publication.codec.mimeType.lower():
            log.error(
                "subscriber negotiated %s for a %s publication", codec, self.publication.codec
            )
            return
        self._payload_type = codec.payloadType or 0
        self._mid = parameters.muxId or None
        self._outlet = aiortc_hooks.SenderOutlet(self.sender)
        self.publication.subscriber_started(self)

    def _on_connection_state(self) -> None:
        if self._pc.connectionState in ("closed", "failed"):
            self.close()

    def _on_keyframe_request(self) -> None:
        self.keyframe_requests += 1
        self.publication.request_keyframe()

    async def forward(
        self, packet: RtpPacket, *, keyframe_start: bool, repair: bool, now: float, send_time: int
    ) -> None:
        """Rewrite ``packet`` for this subscriber and send it (the per-packet path)."""
        outlet = self._outlet
        if outlet is None:
            return
        rewriter = self._rewriter
        if packet.ssrc != rewriter.source:
            if self.kind == "video" and (repair or not keyframe_start):
                self.waiting_for_keyframe = True
                self.held_back += 1
                return
            rewriter.start(packet.ssrc, packet.sequence_number, packet.timestamp, now)
            self.waiting_for_keyframe = False
        mapped = rewriter.rewrite(packet.sequence_number, packet.timestamp, now)
        if mapped is None:
            return
        out = RtpPacket(
            payload_type=self._payload_type,
            marker=packet.marker,
            sequence_number=mapped[0],
            timestamp=mapped[1],
            ssrc=outlet.ssrc,
            payload=packet.payload,
        )
        out.extensions = forwarded_extensions(packet.extensions, mid=self._mid, send_time=send_time)
        try:
            await outlet.send(out)
        except ConnectionError:
            return
        self.forwarded += 1
