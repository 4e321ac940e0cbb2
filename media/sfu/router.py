"""The SFU's entry point: publications of one worker's peer connections."""

from __future__ import annotations

from aiortc import RTCRtpTransceiver

from media.sfu.aiortc_hooks import check_aiortc_version
from media.sfu.keyframe_requests import MIN_INTERVAL
from media.sfu.publication import PacketSource, Publication


class Router:
    """Holds the publications forwarded in this process.

    A worker creates one; the control plane's signalling calls :meth:`publish` for each track a
    publisher sends (after applying its offer) and :meth:`Publication.subscribe` for each
    subscriber's peer connection (then sends that connection's offer).
    """

    def __init__(self, *, keyframe_interval: float = MIN_INTERVAL) -> None:
        check_aiortc_version()
        self.keyframe_interval = keyframe_interval
        self._publications: list[Publication] = []

    @property
    def publications(self) -> tuple[Publication, ...]:
        return tuple(self._publications)

    def publish(self, source: RTCRtpTransceiver | PacketSource) -> Publication:
        """Forward what arrives on ``source``: the SFU's receiving side of a publisher's track
        (call after ``setRemoteDescription`` of the publisher's offer), or a track piped from
        another worker (``media.sfu.pipe.PipeReceiver.add``)."""
        publication = Publication(source, keyframe_interval=self.keyframe_interval)
        self._publications.append(publication)
        return publication

    async def unpublish(self, publication: Publication) -> None:
        if publication in self._publications:
            self._publications.remove(publication)
        await publication.close()

    async def close(self) -> None:
        for publication in list(self._publications):
            await self.unpublish(publication)
