"""aiortc peers that talk ``media:*`` over a ``/live`` socket, as a browser does: a publisher
sending the numbered test video (tests/media/sfu/loopback.py) and a tone, and a subscriber that
decodes what the SFU forwards and reads the publisher's frame numbers back."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import VideoFrame

from tests.media.sfu.loopback import NumberedVideoTrack, ToneAudioTrack, make_pc, read_frame_number
from tests.server.live.harness import Sock

MEDIA_TIMEOUT = 30.0  # aiortc gathers candidates before answering; the machine is shared


async def media_call(sock: Sock, event: str, data: Any = None) -> Any:
    """An event's ack, with a timeout long enough for a negotiation."""
    return await sock.client.call(event, data, namespace="/live", timeout=MEDIA_TIMEOUT)


def data_of(ack: Any) -> Any:
    assert ack["ok"] is True, ack
    return ack["data"]


def problem_code(ack: Any) -> str:
    assert ack["ok"] is False, ack
    code: str = ack["problem"]["code"]
    return code


async def eventually(predicate: Callable[[], bool], within: float = 30.0) -> None:
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110 -- polling what callbacks append
            await asyncio.sleep(0.05)


@dataclass
class Publisher:
    sock: Sock
    pc: RTCPeerConnection = field(default_factory=make_pc)
    video: NumberedVideoTrack = field(default_factory=NumberedVideoTrack)
    audio: ToneAudioTrack = field(default_factory=ToneAudioTrack)
    transport_id: str = ""

    def offer_tracks(self) -> list[dict[str, str]]:
        kinds = {"video": "camera", "audio": "microphone"}
        return [
            {"mid": t.mid or "", "kind": kinds[t.kind]}
            for t in self.pc.getTransceivers()
            if t.direction == "sendonly"
        ]

    async def offer(self, *, audio: bool = True) -> dict[str, Any]:
        """A fresh offer (camera, and microphone with ``audio``) as ``media:publish`` data, from
        a new peer connection if this one offered before."""
        if self.pc.getTransceivers():
            await self.pc.close()
            self.pc, self.video, self.audio = make_pc(), NumberedVideoTrack(), ToneAudioTrack()
        self.pc.addTransceiver(self.video, direction="sendonly")
        if audio:
            self.pc.addTransceiver(self.audio, direction="sendonly")
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return {"sdp": self.pc.localDescription.sdp, "tracks": self.offer_tracks()}

    async def publish(self, *, audio: bool = True, restart: bool = False) -> dict[str, Any]:
        offer = await self.offer(audio=audio)
        data = data_of(await media_call(self.sock, "media:publish", {**offer, "restart": restart}))
        await self.apply_answer(data)
        return data  # type: ignore[no-any-return]

    async def apply_answer(self, data: dict[str, Any]) -> None:
        """Set a ``media:publish`` ack's answer."""
        await self.pc.setRemoteDescription(RTCSessionDescription(data["sdp"], "answer"))
        self.transport_id = data["transport_id"]

    async def close(self) -> None:
        await self.pc.close()


@dataclass
class Subscriber:
    sock: Sock
    pc: RTCPeerConnection = field(default_factory=make_pc)
    numbers: list[int] = field(default_factory=list)
    audio_frames: int = 0
    transport_id: str = ""
    revision: int = 0
    mids: dict[str, str] = field(default_factory=dict)  # mid -> track id
    _readers: list[asyncio.Task[None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._watch(self.pc)

    def _watch(self, pc: RTCPeerConnection) -> None:
        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            self._readers.append(asyncio.ensure_future(self._read(track)))

    async def _read(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                if isinstance(frame, VideoFrame):
                    self.numbers.append(read_frame_number(frame))
                else:
                    self.audio_frames += 1

    async def subscribe(self, track_ids: list[str], *, restart: bool = False) -> dict[str, Any]:
        if restart:
            await self.pc.close()
            self.pc = make_pc()
            self._watch(self.pc)
        offer = data_of(
            await media_call(
                self.sock, "media:subscribe", {"track_ids": track_ids, "restart": restart}
            )
        )
        await self.apply(offer)
        return offer  # type: ignore[no-any-return]

    async def apply(self, offer: dict[str, Any]) -> None:
        """Answer an offer (the ack of media:subscribe or a media:offer event)."""
        await self.pc.setRemoteDescription(RTCSessionDescription(offer["sdp"], "offer"))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        self.transport_id = offer["transport_id"]
        self.revision = offer["revision"]
        self.mids = {t["mid"]: t["track_id"] for t in offer["tracks"]}
        data_of(
            await media_call(
                self.sock,
                "media:answer",
                {
                    "transport_id": self.transport_id,
                    "revision": self.revision,
                    "sdp": self.pc.localDescription.sdp,
                },
            )
        )

    async def frames_after(self, count: int, within: float = 30.0) -> None:
        """``count`` more decoded video frames than now."""
        start = len(self.numbers)
        await eventually(lambda: len(self.numbers) >= start + count, within)

    async def close(self) -> None:
        await self.pc.close()
        for reader in self._readers:
            reader.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)
