"""One published track: the SFU's receiver for it, its codec, and the subscriptions it feeds."""

from __future__ import annotations

import time
from collections.abc import Callable

from aiortc import RTCPeerConnection, RTCRtpSender, RTCRtpTransceiver
from aiortc.codecs import is_rtx
from aiortc.rtcrtpparameters import RTCRtpCodecCapability, RTCRtpCodecParameters
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


class Publication:
    """Forwards one publisher track to its subscriptions, packet by packet, without decoding.

    Call through :meth:`Router.publish` after the publisher's offer is applied. Packets of the
    negotiated codec are forwarded as they arrive; RTX retransmissions are unwrapped and
    forwarded too, so a packet lost between the publisher and the SFU reaches every subscriber
    once repaired. Keyframe requests (each subscriber's join, their PLI/FIR, a subscriber still
    waiting after :data:`REREQUEST_INTERVAL`) go to the publisher throttled with deferral.
    """

    def __init__(
        self,
        transceiver: RTCRtpTransceiver,
        *,
        keyframe_interval: float = MIN_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        codecs = aiortc_hooks.negotiated_codecs(transceiver)
        media = [codec for codec in codecs if not is_rtx(codec)]
        if not media:
            raise NotNegotiated("publish a transceiver after setRemoteDescription")
        self.kind = transceiver.kind
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
        self.receiver = transceiver.receiver
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
        self.keyframe_requester = KeyframeRequester(
            self._send_pli, min_interval=keyframe_interval, clock=clock
        )
        aiortc_hooks.skip_decoding(self.receiver)
        self._undo_intercept = aiortc_hooks.intercept_rtp(self.receiver, self._on_rtp)

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
        self._undo_intercept()
        for subscription in list(self._subscriptions):
            subscription.close()
        await self.keyframe_requester.close()

    async def _send_pli(self) -> None:
        if self.media_ssrc is not None:
            await aiortc_hooks.send_pli(self.receiver, self.media_ssrc)

    async def _on_rtp(self, packet: RtpPacket) -> None:
        repair = False
        if packet.payload_type == self.payload_type:
            self.media_ssrc = packet.ssrc
        elif (
            packet.payload_type == self.rtx_payload_type
            and self.media_ssrc is not None
            and len(packet.payload) >= 2
        ):
            packet = aiortc_hooks.unwrap_retransmission(packet, self.payload_type, self.media_ssrc)
            repair = True
            self.repairs += 1
        else:
            return
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
