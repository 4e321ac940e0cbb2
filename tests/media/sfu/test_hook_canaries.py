"""Canaries for media/sfu/aiortc_hooks.py: each fails loudly when an aiortc upgrade moves,
renames or re-signs a private the SFU relies on. Fix the hook, then these, then the pin."""

from __future__ import annotations

import inspect
import queue
from collections.abc import AsyncIterator, Callable

import aiortc
import pytest
from aiortc import RTCDtlsTransport, RTCPeerConnection, RTCRtpReceiver, RTCRtpSender
from aiortc import rtp as aiortc_rtp
from aiortc.rtcrtptransceiver import RTCRtpTransceiver

from media.sfu import aiortc_hooks
from media.sfu.errors import AiortcIncompatible
from tests.media.sfu.loopback import make_pc


@pytest.fixture
async def pc() -> AsyncIterator[RTCPeerConnection]:
    connection = make_pc()
    yield connection
    await connection.close()


def parameters(function: Callable[..., object]) -> list[str]:
    return list(inspect.signature(function).parameters)


def test_the_pinned_release_is_installed() -> None:
    assert aiortc.__version__ == aiortc_hooks.AIORTC_VERSION == "1.16.0"
    aiortc_hooks.check_aiortc_version()


def test_another_release_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aiortc, "__version__", "1.17.0")
    with pytest.raises(AiortcIncompatible, match=r"1\.17\.0"):
        aiortc_hooks.check_aiortc_version()


def test_receiver_privates() -> None:
    assert parameters(RTCRtpReceiver._handle_rtp_packet) == ["self", "packet", "arrival_time_ms"]
    assert parameters(RTCRtpReceiver._send_rtcp_pli) == ["self", "media_ssrc"]
    # the transport calls the handler as a bound attribute, so a per-instance override wins
    assert "receiver._handle_rtp_packet(" in inspect.getsource(RTCDtlsTransport._handle_rtp_data)
    # receive() hands the decoder thread the queue attribute that skip_decoding replaces
    assert "self.__decoder_queue," in inspect.getsource(RTCRtpReceiver.receive)
    assert "self.__decoder_queue.put(" in inspect.getsource(RTCRtpReceiver._handle_rtp_packet)
    # override_remb: the REMB goes out through the instance's _send_rtcp, built from these
    assert parameters(RTCRtpReceiver._send_rtcp) == ["self", "packet"]
    handler = inspect.getsource(RTCRtpReceiver._handle_rtp_packet)
    assert "fci=pack_remb_fci(*remb)" in handler
    assert "await self._send_rtcp(rtcp_packet)" in handler


def test_sender_privates() -> None:
    assert parameters(RTCRtpSender._send_keyframe) == ["self"]
    assert "self._send_keyframe()" in inspect.getsource(RTCRtpSender._handle_rtcp_packet)
    assert parameters(RTCRtpSender.send) == ["self", "parameters"]
    retransmit = inspect.getsource(RTCRtpSender._retransmit)
    assert "self.__rtp_history.get(sequence_number % RTP_HISTORY_SIZE)" in retransmit
    report = inspect.getsource(RTCRtpSender._run_rtcp)
    for counter in ("ntp_timestamp", "rtp_timestamp", "packet_count", "octet_count"):
        assert f"self.__{counter}" in report
    assert parameters(RTCDtlsTransport._send_rtp) == ["self", "data"]
    assert aiortc_rtp.RTP_HISTORY_SIZE == 128
    assert parameters(aiortc_rtp.unwrap_rtx) == ["rtx", "payload_type", "ssrc"]


async def test_instance_state_the_hooks_reach(pc: RTCPeerConnection) -> None:
    transceiver: RTCRtpTransceiver = pc.addTransceiver("video")
    receiver, sender = transceiver.receiver, transceiver.sender
    assert isinstance(receiver._RTCRtpReceiver__decoder_queue, queue.Queue)  # type: ignore[attr-defined]
    assert isinstance(transceiver._codecs, list)
    assert isinstance(sender._ssrc, int)
    aiortc_hooks.skip_decoding(receiver)  # raises AiortcIncompatible when the name is gone
    aiortc_hooks.negotiated_codecs(transceiver)
    outlet = aiortc_hooks.SenderOutlet(sender)  # reads every sender private it writes
    assert outlet.ssrc == sender._ssrc
    assert isinstance(sender._RTCRtpSender__rtp_history, dict)  # type: ignore[attr-defined]
    assert isinstance(
        sender._RTCRtpSender__rtp_header_extensions_map,  # type: ignore[attr-defined]
        aiortc_rtp.HeaderExtensionsMap,
    )


async def test_a_missing_private_is_reported_by_name(pc: RTCPeerConnection) -> None:
    transceiver = pc.addTransceiver("video")
    del transceiver.sender._RTCRtpSender__rtp_history  # type: ignore[attr-defined]
    with pytest.raises(AiortcIncompatible, match="__rtp_history"):
        aiortc_hooks.SenderOutlet(transceiver.sender)
