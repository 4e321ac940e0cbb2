"""What Router.publish refuses, and a subscriber gone before it ever connected."""

from __future__ import annotations

import pytest
from aiortc import RTCRtpSender

from media.sfu import NotNegotiated, Router, UnsupportedCodec
from tests.media.sfu.loopback import make_pc


async def test_a_transceiver_without_a_negotiated_codec_is_refused() -> None:
    pc = make_pc()
    try:
        with pytest.raises(NotNegotiated):
            Router().publish(pc.addTransceiver("video"))
    finally:
        await pc.close()


async def test_a_codec_the_sfu_does_not_forward_is_refused() -> None:
    publisher, sfu = make_pc(), make_pc()
    try:
        transceiver = publisher.addTransceiver("audio", direction="sendonly")
        pcmu = [
            c for c in RTCRtpSender.getCapabilities("audio").codecs if c.mimeType == "audio/PCMU"
        ]
        transceiver.setCodecPreferences(pcmu)
        await publisher.setLocalDescription(await publisher.createOffer())
        await sfu.setRemoteDescription(publisher.localDescription)
        with pytest.raises(UnsupportedCodec, match="PCMU"):
            Router().publish(sfu.getTransceivers()[0])
    finally:
        await publisher.close()
        await sfu.close()


async def test_a_subscriber_closed_before_connecting_leaves_the_publication() -> None:
    publisher, sfu, subscriber_sfu = make_pc(), make_pc(), make_pc()
    try:
        publisher.addTransceiver("audio", direction="sendonly")
        await publisher.setLocalDescription(await publisher.createOffer())
        await sfu.setRemoteDescription(publisher.localDescription)
        router = Router()
        publication = router.publish(sfu.getTransceivers()[0])
        subscription = publication.subscribe(subscriber_sfu)
        assert list(publication.subscriptions) == [subscription]
        assert not subscription.started
        await subscriber_sfu.close()
        assert subscription.closed
        assert publication.subscriptions == ()
        await router.close()
        assert publication.closed
        assert router.publications == ()
    finally:
        await publisher.close()
        await sfu.close()
