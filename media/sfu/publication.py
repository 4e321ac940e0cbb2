"""One published track: the SFU's receiver for it, its codec, and the subscriptions it feeds."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from aiortc import RTCPeerConnection, RTCRtpSender, RTCRtpTransceiver
from aiortc.codecs import is_rtx
from aiortc.rtcrtpparameters import (
    RTCRtpCodecCapability,
    RTCRtpCodecParameters,
    RTCRtpHeaderExtensionParameters,
)
from aiortc.rtp import RtpPacket

from media.sfu import aiortc_hooks
from media.sfu.active_speaker import AudioLevel, audio_level
from media.sfu.errors import NotNegotiated, UnsupportedCodec
from media.sfu.keyframe_detection import starts_keyframe
from media.sfu.keyframe_requests import MIN_INTERVAL, KeyframeRequester
from media.sfu.rewriting import abs_send_time
from media.sfu.subscription import Subscription

FORWARDED_CODECS = {"video": ("vp8", "h264"), "audio": ("opus",)}

REREQUEST_INTERVAL = 1.0
"""Seconds a subscriber waits for a keyframe before it is asked for again."""


PacketTap = Callable[[RtpPacket, bytes], None]
"""Sees each packet of a publication as it arrives (media and RTX, before unwrapping) with the
bytes it arrived as; called synchronously, before the publication forwards the packet."""


class PacketSource(Protocol):
    """Where a publication's packets come from: a publisher's receiver (:class:`ReceiverSource`)
    or another worker's pipe (``media.sfu.pipe.PipedSource``)."""

    @property
    def kind(self) -> str:
        """``audio`` or ``video``."""
        ...

    def codecs(self) -> list[RTCRtpCodecParameters]:
        """The negotiated codecs, preferred first, RTX entries included (empty before
        negotiation)."""
        ...

    def header_extensions(self) -> list[RTCRtpHeaderExtensionParameters]:
        """The ids the source's packets carry their header extensions by."""
        ...

    def start(self, handler: Callable[[RtpPacket], Awaitable[None]]) -> None:
        """Show every packet that arrives to ``handler`` (awaited, one at a time, in order)."""
        ...

    def stop(self) -> None:
        """No more packets to the handler."""
        ...

    async def send_pli(self, media_ssrc: int) -> None:
        """Ask whoever sends the stream for a keyframe."""
        ...

    def keep_datagrams(self) -> None:
        """Make :meth:`datagram` answer from now on (it may cost a little per packet)."""
        ...

    def datagram(self, packet: RtpPacket) -> bytes | None:
        """``packet`` as it arrived (RTP bytes, unparsed), while its handler runs before its
        first ``await``; None if unknown."""
        ...


PUBLISHER_MAX_BITRATE = 2_500_000
"""Bits/s every REMB to a video publisher allows (camera or screen share)."""


def publisher_remb(estimate: int) -> int:
    """The bitrate a video publisher is told it may send: the cap, whatever aiortc estimated.

    aiortc's delay-based estimator stamps arrivals when the event loop reads a packet, so the
    worker's own fan-out work looks like network delay to it: with a Chromium publisher on
    loopback it reported 110-150 kbit/s and the camera fell to 320x180 at ~50 kbit/s
    (tests/e2e). Chromium still lowers its rate on loss (its loss-based controller reads the
    receiver reports the worker sends), so a congested uplink is handled there.
    """
    return PUBLISHER_MAX_BITRATE


class ReceiverSource:
    """A publisher's track as the SFU's ``RTCRtpReceiver`` gets it (through ``aiortc_hooks``):
    never decoded; the receiver still sends the publisher its reports, NACKs and REMB."""

    def __init__(self, transceiver: RTCRtpTransceiver) -> None:
        self._transceiver = transceiver
        self.receiver = transceiver.receiver
        self._undo: Callable[[], None] | None = None
        self._datagrams: aiortc_hooks.RtpDatagrams | None = None

    @property
    def kind(self) -> str:
        return self._transceiver.kind

    def codecs(self) -> list[RTCRtpCodecParameters]:
        return aiortc_hooks.negotiated_codecs(self._transceiver)

    def header_extensions(self) -> list[RTCRtpHeaderExtensionParameters]:
        return aiortc_hooks.negotiated_header_extensions(self._transceiver)

    def start(self, handler: Callable[[RtpPacket], Awaitable[None]]) -> None:
        aiortc_hooks.skip_decoding(self.receiver)
        self._undo = aiortc_hooks.intercept_rtp(self.receiver, handler)
        if self.kind == "video":
            aiortc_hooks.override_remb(self.receiver, publisher_remb)

    def stop(self) -> None:
        if self._undo is not None:
            self._undo()
            self._undo = None

    async def send_pli(self, media_ssrc: int) -> None:
        await aiortc_hooks.send_pli(self.receiver, media_ssrc)

    def keep_datagrams(self) -> None:
        if self._datagrams is None:
            self._datagrams = aiortc_hooks.RtpDatagrams.of(self.receiver)

    def datagram(self, packet: RtpPacket) -> bytes | None:
        if self._datagrams is None:
            return None
        data = self._datagrams.current
        # the datagram is this packet's: same sequence number and SSRC (bytes 2-3 and 8-11)
        if (
            len(data) >= 12
            and int.from_bytes(data[2:4]) == packet.sequence_number
            and int.from_bytes(data[8:12]) == packet.ssrc
        ):
            return data
        return None


class Publication:
    """Forwards one publisher track to its subscriptions, packet by packet, without decoding.

    The track comes from a :class:`PacketSource`: a publisher's transceiver on this worker, or a
    pipe from the worker that receives the publisher (``media.sfu.pipe``); subscribers see no
    difference.

    Call through :meth:`Router.publish` after the publisher's offer is applied. Packets of the
    negotiated codec are forwarded as they arrive; RTX retransmissions are unwrapped and
    forwarded too, so a packet lost between the publisher and the SFU reaches every subscriber
    once repaired. Keyframe requests (each subscriber's join, their PLI/FIR, a subscriber still
    waiting after :data:`REREQUEST_INTERVAL`) go to the publisher throttled with deferral.
    """

    def __init__(
        self,
        source: RTCRtpTransceiver | PacketSource,
        *,
        keyframe_interval: float = MIN_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if isinstance(source, RTCRtpTransceiver):
            source = ReceiverSource(source)
        self.source: PacketSource = source
        codecs = source.codecs()
        media = [codec for codec in codecs if not is_rtx(codec)]
        if not media:
            raise NotNegotiated("publish a transceiver after setRemoteDescription")
        self.kind = source.kind
        self.codec: RTCRtpCodecParameters = media[0]
        self.payload_type: int = self.codec.payloadType or 0
        if self.codec.name.lower() not in FORWARDED_CODECS.get(self.kind, ()):
            raise UnsupportedCodec(f"the SFU does not forward {self.codec.mimeType}")
        self.rtx_payload_type = next(
            (
                c.payloadType
                for c in codecs
                if is_rtx(c) and c.parameters.get("apt") == self.payload_type
            ),
            None,
        )
        self.header_extensions = source.header_extensions()
        self.media_ssrc: int | None = None
        self.received = 0
        self.repairs = 0
        self.keyframes = 0
        self.closed = False
        self.on_audio_level: Callable[[AudioLevel], None] | None = None
        """Called with the RFC 6464 level of each audio packet that carries one (the active
        speaker's input), subscribed or not."""
        self._clock = clock
        self._is_video = self.kind == "video"
        self._subscriptions: list[Subscription] = []
        self._taps: list[PacketTap] = []
        self.keyframe_requester = KeyframeRequester(
            self._send_pli, min_interval=keyframe_interval, clock=clock
        )
        source.start(self._on_rtp)

    @property
    def subscriptions(self) -> tuple[Subscription, ...]:
        return tuple(self._subscriptions)

    def codec_preferences(self) -> list[RTCRtpCodecCapability]:
        """What a subscriber's transceiver may negotiate: exactly this codec (and its RTX)."""
        wanted = [
            capability
            for capability in RTCRtpSender.getCapabilities(self.kind).codecs
            if capability.mimeType.lower() == self.codec.mimeType.lower()
            and capability.parameters == self.codec.parameters
        ]
        if not wanted:
            raise UnsupportedCodec(
                f"aiortc cannot offer {self.codec.mimeType} {self.codec.parameters}"
            )
        if self.rtx_payload_type is not None:
            wanted += [c for c in RTCRtpSender.getCapabilities(self.kind).codecs if is_rtx(c)]
        return wanted

    def subscribe(self, pc: RTCPeerConnection) -> Subscription:
        """Add this track to the subscriber's peer connection (offer it to them next)."""
        if self.closed:
            raise RuntimeError("the publication is closed")
        subscription = Subscription(self, pc)
        self._subscriptions.append(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)
        subscription.close()

    def add_tap(self, tap: PacketTap) -> Callable[[], None]:
        """Show ``tap`` every packet from now on (a worker pipe); returns its removal. A closed
        publication drops its taps."""
        if self.closed:
            raise RuntimeError("the publication is closed")
        self.source.keep_datagrams()
        self._taps.append(tap)

        def remove() -> None:
            if tap in self._taps:
                self._taps.remove(tap)

        return remove

    def request_keyframe(self) -> None:
        """Ask the publisher for a keyframe (throttled; deferred, never dropped).

        Before the first packet there is nothing to address and nothing to ask for: a stream
        begins with a keyframe."""
        if self._is_video and not self.closed and self.media_ssrc is not None:
            self.keyframe_requester.request()

    def subscriber_started(self, subscription: Subscription) -> None:
        """A subscriber's transport is up: a video subscriber needs a keyframe to start."""
        if subscription.waiting_for_keyframe:
            self.request_keyframe()

    async def close(self) -> None:
        """Stop forwarding; the receiver goes back to aiortc's own handling (minus decoding)."""
        if self.closed:
            return
        self.closed = True
        self._taps.clear()
        self.source.stop()
        for subscription in list(self._subscriptions):
            subscription.close()
        await self.keyframe_requester.close()

    async def _send_pli(self) -> None:
        if self.media_ssrc is not None:
            await self.source.send_pli(self.media_ssrc)

    async def _on_rtp(self, packet: RtpPacket) -> None:
        repair = False
        if packet.payload_type == self.payload_type:
            self.media_ssrc = packet.ssrc
        elif (
            packet.payload_type == self.rtx_payload_type
            and self.media_ssrc is not None
            and len(packet.payload) >= 2
        ):
            repair = True
        else:
            return
        if self._taps:
            datagram = self.source.datagram(packet)
            if datagram is not None:
                for tap in tuple(self._taps):
                    tap(packet, datagram)
        if repair:
            assert self.media_ssrc is not None
            packet = aiortc_hooks.unwrap_retransmission(packet, self.payload_type, self.media_ssrc)
            self.repairs += 1
        self.received += 1
        if self.on_audio_level is not None and not repair:
            level = audio_level(packet.extensions)
            if level is not None:
                self.on_audio_level(level)
        keyframe_start = (
            self._is_video and not repair and starts_keyframe(self.codec.name, packet.payload)
        )
        if keyframe_start:
            self.keyframes += 1
        if not self._subscriptions:
            return
        now = self._clock()
        send_time = abs_send_time()
        waiting = False
        for subscription in tuple(self._subscriptions):
            await subscription.forward(
                packet, keyframe_start=keyframe_start, repair=repair, now=now, send_time=send_time
            )
            waiting = waiting or (subscription.started and subscription.waiting_for_keyframe)
        if waiting:
            last = self.keyframe_requester.last_sent
            if last is None or now - last >= REREQUEST_INTERVAL:
                self.request_keyframe()
