"""Every use of aiortc's private API by the SFU, in one place (aiortc pinned to 1.16.0).

aiortc has no supported way to forward RTP without decoding and re-encoding it (upstream
declined it: aiortc#449, #627, PR #562), so the SFU reaches into the objects below. Each hook
names the aiortc 1.16.0 source it relies on (``site-packages/aiortc/...``, line numbers of that
release). ``tests/media/sfu/test_hook_canaries.py`` fails when an upgrade moves or renames any
of them, and :func:`check_aiortc_version` refuses to run the forwarder on another release.
See ``../shared/research/sfu-spike/REPORT.md`` §1.2 for how each was found and measured.
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Awaitable, Callable
from typing import Any

import aiortc
from aiortc import RTCRtpReceiver, RTCRtpSender, RTCRtpTransceiver, clock
from aiortc.rtcrtpparameters import (
    RTCRtpCodecParameters,
    RTCRtpHeaderExtensionParameters,
    RTCRtpSendParameters,
)
from aiortc.rtp import (
    RTCP_PSFB_APP,
    RTP_HISTORY_SIZE,
    RtcpPsfbPacket,
    RtpPacket,
    pack_remb_fci,
    unpack_remb_fci,
    unwrap_rtx,
)

from media.sfu.errors import AiortcIncompatible

log = logging.getLogger(__name__)

AIORTC_VERSION = "1.16.0"

RtpHandler = Callable[[RtpPacket], Awaitable[None]]


def check_aiortc_version() -> None:
    """Refuse any aiortc but the pinned release: the hooks below depend on its internals."""
    if aiortc.__version__ != AIORTC_VERSION:
        raise AiortcIncompatible(
            f"media.sfu hooks aiortc {AIORTC_VERSION} privates; found {aiortc.__version__}: "
            "re-check media/sfu/aiortc_hooks.py and its canary tests before upgrading"
        )


def _private(obj: object, name: str) -> Any:
    try:
        return getattr(obj, name)
    except AttributeError as exc:
        raise AiortcIncompatible(f"{type(obj).__name__} has no {name} any more") from exc


# --- publisher side: the SFU's RTCRtpReceiver -------------------------------------------------


def negotiated_codecs(transceiver: RTCRtpTransceiver) -> list[RTCRtpCodecParameters]:
    """The codecs negotiated for a transceiver, preferred first, RTX entries included.

    ``RTCRtpTransceiver._codecs`` (rtcrtptransceiver.py:45), set by
    ``RTCPeerConnection.setRemoteDescription`` (rtcpeerconnection.py:919-931) and by
    ``createOffer`` (:646-650). The receiver only learns them in ``receive()``, once DTLS is up.
    """
    codecs: list[RTCRtpCodecParameters] = _private(transceiver, "_codecs")
    return list(codecs)


def negotiated_header_extensions(
    transceiver: RTCRtpTransceiver,
) -> list[RTCRtpHeaderExtensionParameters]:
    """The header extensions (id, URI) negotiated for a transceiver: how its packets are parsed.

    ``RTCRtpTransceiver._headerExtensions`` (rtcrtptransceiver.py:46), set with the codecs by
    ``setRemoteDescription`` (rtcpeerconnection.py:932-934).
    """
    extensions: list[RTCRtpHeaderExtensionParameters] = _private(transceiver, "_headerExtensions")
    return list(extensions)


class RtpDatagrams:
    """The decrypted bytes of the RTP packet a DTLS transport is handling, as received.

    Wraps ``RTCDtlsTransport._handle_rtp_data(data, arrival_time_ms)`` (rtcdtlstransport.py:
    614-624) on the instance: it parses ``data`` (SRTP already removed, :676) and hands the
    packet to its receiver's ``_handle_rtp_packet`` without yielding to the loop, so while a
    receiver's packet handler runs before its first ``await``, :attr:`current` is that packet's
    datagram. A worker pipe sends those bytes on unchanged instead of serialising the parsed
    packet again. One per transport (BUNDLE: every receiver of a peer connection shares it).
    """

    def __init__(self, transport: Any) -> None:
        self.current = b""
        original = _private(transport, "_handle_rtp_data")

        async def handle_rtp_data(data: bytes, arrival_time_ms: int) -> None:
            self.current = data
            await original(data, arrival_time_ms)

        transport._handle_rtp_data = handle_rtp_data

    @staticmethod
    def of(receiver: RTCRtpReceiver) -> RtpDatagrams:
        """The (one) instance of ``receiver``'s DTLS transport, installed on first use."""
        transport: Any = receiver.transport
        datagrams = transport.__dict__.get("_sfu_rtp_datagrams")
        if not isinstance(datagrams, RtpDatagrams):
            datagrams = RtpDatagrams(transport)
            transport._sfu_rtp_datagrams = datagrams
        return datagrams


def intercept_rtp(receiver: RTCRtpReceiver, handler: RtpHandler) -> Callable[[], None]:
    """Show every RTP packet of ``receiver`` to ``handler`` first; returns an undo.

    Overrides ``RTCRtpReceiver._handle_rtp_packet(packet, arrival_time_ms)``
    (rtcrtpreceiver.py:471) on this instance only: ``RTCDtlsTransport._handle_rtp_data``
    (rtcdtlstransport.py:614-624) calls it as a bound attribute, so the instance attribute wins.
    The original still runs after the handler, so the publisher keeps getting receiver reports,
    NACKs and REMB (:481-538). A handler error is logged and never breaks the receive loop.
    """
    original = receiver._handle_rtp_packet

    async def handle_rtp_packet(packet: RtpPacket, arrival_time_ms: int) -> None:
        try:
            await handler(packet)
        except Exception:  # one bad packet must not stop the transport's receive loop
            log.exception("forwarding an RTP packet failed")
        await original(packet, arrival_time_ms)

    receiver._handle_rtp_packet = handle_rtp_packet  # type: ignore[method-assign]

    def undo() -> None:
        receiver.__dict__.pop("_handle_rtp_packet", None)

    return undo


class _NoDecodeQueue(queue.Queue[Any]):
    """Drops encoded frames; passes the stop sentinel (None) on, so ``stop()`` still ends the
    decoder thread whichever queue it was started with."""

    def __init__(self, previous: queue.Queue[Any]) -> None:
        super().__init__()
        self._previous = previous

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        if item is None:
            super().put(None, block, timeout)
            self._previous.put(None, block, timeout)


def skip_decoding(receiver: RTCRtpReceiver) -> None:
    """Stop ``receiver`` from decoding what it receives (an SFU never shows it).

    Replaces ``RTCRtpReceiver.__decoder_queue`` (rtcrtpreceiver.py:291), the queue between
    ``_handle_rtp_packet`` (:562-567) and ``decoder_worker`` (:54-94, started in ``receive()``
    :405-416). The jitter buffer still assembles frames, so its PLI on overflow still works.
    """
    previous = _private(receiver, "_RTCRtpReceiver__decoder_queue")
    receiver._RTCRtpReceiver__decoder_queue = _NoDecodeQueue(previous)  # type: ignore[attr-defined]


def override_remb(receiver: RTCRtpReceiver, bitrate: Callable[[int], int]) -> None:
    """Send the publisher ``bitrate(estimate)`` instead of aiortc's own estimate in every REMB.

    Wraps ``RTCRtpReceiver._send_rtcp`` (rtcrtpreceiver.py:612) on this instance: the REMB
    that ``_handle_rtp_packet`` builds (:481-498, an ``RtcpPsfbPacket`` with ``fmt`` APP and a
    ``REMB`` FCI, rtp.py:174-213) is repacked with the new bitrate; every other RTCP packet
    passes untouched.
    """
    original = receiver._send_rtcp

    async def send_rtcp(packet: Any) -> None:
        if (
            isinstance(packet, RtcpPsfbPacket)
            and packet.fmt == RTCP_PSFB_APP
            and packet.fci[:4] == b"REMB"
        ):
            estimate, ssrcs = unpack_remb_fci(packet.fci)
            packet.fci = pack_remb_fci(bitrate(estimate), ssrcs)
        await original(packet)

    receiver._send_rtcp = send_rtcp  # type: ignore[method-assign]


async def send_pli(receiver: RTCRtpReceiver, media_ssrc: int) -> None:
    """Ask the publisher for a keyframe: ``RTCRtpReceiver._send_rtcp_pli(media_ssrc)``
    (rtcrtpreceiver.py:630-638; silently nothing before the receiver's RTCP SSRC is set)."""
    await receiver._send_rtcp_pli(media_ssrc)


def unwrap_retransmission(packet: RtpPacket, payload_type: int, media_ssrc: int) -> RtpPacket:
    """The original packet inside an RTX retransmission (RFC 4588 §4): ``aiortc.rtp.unwrap_rtx``
    (rtp.py:757-771)."""
    return unwrap_rtx(packet, payload_type=payload_type, ssrc=media_ssrc)


# --- subscriber side: the SFU's RTCRtpSender --------------------------------------------------


def intercept_keyframe_requests(sender: RTCRtpSender, on_request: Callable[[], None]) -> None:
    """Call ``on_request`` when the subscriber sends PLI or FIR for ``sender``'s stream.

    ``RTCRtpSender._handle_rtcp_packet`` (rtcrtpsender.py:277-281) calls
    ``self._send_keyframe()`` (:351-355), which only flags an encoder this sender never has;
    the instance attribute replaces it (RTCP is routed to the sender by ``media_ssrc``,
    rtcdtlstransport.py:278-307).
    """
    sender._send_keyframe = on_request  # type: ignore[method-assign]


def on_send_parameters(
    sender: RTCRtpSender, callback: Callable[[RTCRtpSendParameters], None]
) -> None:
    """Call ``callback`` with the negotiated parameters when ``sender`` starts.

    ``RTCPeerConnection.__connect`` calls ``sender.send(parameters)`` once DTLS is connected
    (rtcpeerconnection.py:1089); the instance attribute wraps it (payload type, mid).
    """
    original = sender.send

    async def send(parameters: RTCRtpSendParameters) -> None:
        await original(parameters)
        callback(parameters)

    sender.send = send  # type: ignore[method-assign]


class SenderOutlet:
    """Writes forwarded RTP as if ``sender`` had produced it.

    * the sender's SSRC: ``RTCRtpSender._ssrc`` (rtcrtpsender.py:99), which RTCP is routed by;
    * protect and send on the sender's DTLS-SRTP transport: ``RTCDtlsTransport._send_rtp``
      (rtcdtlstransport.py:711-721);
    * header extensions by the ids this subscriber negotiated:
      ``RTCRtpSender.__rtp_header_extensions_map`` (rtcrtpsender.py:109, configured in
      ``send()`` :216);
    * keep NACK retransmission working: ``RTCRtpSender.__rtp_history`` (:112), read by
      ``_retransmit`` (:332-349), which wraps repairs in the subscriber's RTX;
      ``RTP_HISTORY_SIZE`` packets (128, rtp.py:13);
    * keep RTCP sender reports true: ``__ntp_timestamp``, ``__rtp_timestamp``,
      ``__packet_count``, ``__octet_count`` (:125-128), read by ``_run_rtcp`` (:426-473).

    Create it once the sender has started (its transport no longer changes after BUNDLE).
    """

    def __init__(self, sender: RTCRtpSender) -> None:
        # Any: the name-mangled attributes are invisible to the type checker.
        self._sender: Any = sender
        self.ssrc = sender._ssrc
        self._history: dict[int, RtpPacket] = _private(sender, "_RTCRtpSender__rtp_history")
        self._extensions_map = _private(sender, "_RTCRtpSender__rtp_header_extensions_map")
        for counter in ("ntp_timestamp", "rtp_timestamp", "packet_count", "octet_count"):
            _private(sender, f"_RTCRtpSender__{counter}")
        self._transport = sender.transport
        self._send_rtp = _private(self._transport, "_send_rtp")

    async def send(self, packet: RtpPacket) -> None:
        """Send one packet (raises ConnectionError when the transport is not connected)."""
        self._history[packet.sequence_number % RTP_HISTORY_SIZE] = packet
        await self._send_rtp(packet.serialize(self._extensions_map))
        sender = self._sender
        sender._RTCRtpSender__ntp_timestamp = clock.current_ntp_time()
        sender._RTCRtpSender__rtp_timestamp = packet.timestamp
        sender._RTCRtpSender__packet_count += 1
        sender._RTCRtpSender__octet_count += len(packet.payload)
