"""Worker-to-worker pipes: a publisher's RTP from the worker that receives it to further workers.

When a room's audience is larger than one worker should carry, the worker that receives the
publisher (the *origin*) pipes each published track's RTP to other workers, each serving part of
the audience. On the receiving worker a piped track is a :class:`~media.sfu.Publication` like
any other: ``Publication.subscribe(pc)`` gives its subscribers the same keyframe hold, the same
per-subscriber rewriting, sender reports and NACK history as a track received from a browser.

**Plain UDP, no ICE, no DTLS/SRTP.** The workers trust each other's control plane, which sets
every pipe up; a pipe is meant for loopback or a private LAN between workers. The receiving
side (:class:`PipeReceiver`) binds the address it is given and takes datagrams from one peer
only: the address of the first datagram that arrives (the sending worker's socket), ignoring
any other. The sending side (:class:`PipeSender`) connects its socket to the receiver's
address, so the kernel delivers it nothing else.

**Datagrams** (3-byte header, then the body):

* origin -> receiver: ``0x01``, the track's 16-bit channel (big-endian), then the RTP packet
  exactly as the origin received it from the publisher after SRTP was removed: same SSRC,
  sequence number, timestamp, payload type and header extensions (by the publisher's ids). The
  send path is one ``send`` of those bytes behind the header, no re-serialisation
  (:class:`~media.sfu.aiortc_hooks.RtpDatagrams`).
* receiver -> origin: ``0x02``, the channel, nothing else: a keyframe request for the track.
  The origin passes it to its :meth:`Publication.request_keyframe`, throttled there with the
  origin's own subscribers' requests.

**What travels out of band** (:class:`PipedTrackInfo`, in the control messages): the channel,
the codec (MIME type, clock rate, channels, payload type, fmtp parameters), the RTX payload
type and the publisher's header-extension ids, so the receiving worker parses the packets and
negotiates its subscribers for exactly that codec.

**Repairs.** The publisher's RTX retransmissions (answers to the origin's NACKs) are piped like
any packet and unwrapped on the receiving side, so a loss between the publisher and the origin
is repaired for every worker's subscribers. A loss on the pipe itself is not repaired (the pipe
sends no NACKs): a subscriber's NACK is answered from the receiving worker's own history,
which lacks that packet, and a video decoder that breaks asks for a keyframe (PLI), which
travels back through the pipe. On loopback or a LAN such losses are rare.

**Audio levels** are not fed to the receiving worker's active-speaker detector: the origin
worker, which gets every packet of the microphone, decides the speaker.

A sending worker that dies leaves the receiving side's piped tracks silent (no error): the
control plane unpublishes them there.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import ipaddress
import logging
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiortc.codecs import is_rtx
from aiortc.rtcrtpparameters import (
    RTCRtpCodecParameters,
    RTCRtpHeaderExtensionParameters,
    RTCRtpParameters,
)
from aiortc.rtp import HeaderExtensionsMap, RtpPacket

from media.sfu.publication import Publication

log = logging.getLogger(__name__)

RTP = 0x01
KEYFRAME_REQUEST = 0x02
HEADER_SIZE = 3
MAX_DATAGRAM = 4096
MAX_CHANNEL = 0xFFFF
RECEIVE_BUFFER = 4 * 1024 * 1024
"""SO_RCVBUF asked for a receiving socket (the kernel caps it at ``net.core.rmem_max``)."""
READ_BATCH = 64
"""Datagrams read per wake-up of the loop before others get their turn."""
QUEUE_LIMIT = 2048
"""Datagrams waiting to be forwarded on the receiving side; more are dropped (overload)."""


@dataclass(frozen=True)
class PipedTrackInfo:
    """What the receiving side needs to know of one piped track (sent by the control plane)."""

    channel: int
    kind: str
    """``audio`` or ``video``."""
    codec: RTCRtpCodecParameters
    rtx_payload_type: int | None
    header_extensions: tuple[RTCRtpHeaderExtensionParameters, ...]

    @classmethod
    def of(cls, channel: int, publication: Publication) -> PipedTrackInfo:
        return cls(
            channel=channel,
            kind=publication.kind,
            codec=publication.codec,
            rtx_payload_type=publication.rtx_payload_type,
            header_extensions=tuple(publication.header_extensions),
        )


def _socket_for(host: str) -> socket.socket:
    """A non-blocking UDP socket for ``host``, an IP address (ValueError otherwise: no name is
    resolved on the event loop)."""
    family = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.setblocking(False)
    return sock


class PipeSender:
    """The origin's side of one pipe: taps publications and sends their packets to ``(host,
    port)``, a :class:`PipeReceiver` on another worker. Create it on the running loop."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.sent = 0
        self.dropped = 0
        """Packets the socket refused (buffer full, the receiver gone)."""
        self.keyframe_requests = 0
        """Keyframe requests that came back through the pipe."""
        self._next_channel = 0
        self._channels: dict[int, tuple[Publication, Callable[[], None]]] = {}
        self._by_publication: dict[int, int] = {}  # id(publication) -> channel
        self._sock = _socket_for(host)
        self._loop = asyncio.get_running_loop()
        try:
            self._sock.connect((host, port))
        except OSError:
            self._sock.close()
            raise
        self._loop.add_reader(self._sock.fileno(), self._on_readable)
        self.closed = False

    @property
    def local_address(self) -> tuple[str, int]:
        address = self._sock.getsockname()
        return address[0], address[1]

    def add(self, publication: Publication) -> PipedTrackInfo:
        """Pipe ``publication`` from now on (again: the same channel); the description for the
        receiving side."""
        if self.closed:
            raise RuntimeError("the pipe is closed")
        channel = self._by_publication.get(id(publication))
        if channel is None or self._channels[channel][0] is not publication:
            self._prune()
            if self._next_channel > MAX_CHANNEL:
                raise RuntimeError("the pipe has no channel left")
            channel = self._next_channel
            self._next_channel += 1
            remove = publication.add_tap(self._tap(channel))
            self._channels[channel] = (publication, remove)
            self._by_publication[id(publication)] = channel
        return PipedTrackInfo.of(channel, publication)

    def remove(self, publication: Publication) -> None:
        """Stop piping ``publication`` (a track that ended stops on its own)."""
        channel = self._by_publication.pop(id(publication), None)
        if channel is not None:
            _, remove = self._channels.pop(channel)
            remove()

    @property
    def publications(self) -> tuple[Publication, ...]:
        return tuple(p for p, _ in self._channels.values() if not p.closed)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for _, remove in self._channels.values():
            remove()
        self._channels.clear()
        self._by_publication.clear()
        self._loop.remove_reader(self._sock.fileno())
        self._sock.close()

    def _prune(self) -> None:
        for channel, (publication, _) in list(self._channels.items()):
            if publication.closed:
                del self._channels[channel]
                self._by_publication.pop(id(publication), None)

    def _tap(self, channel: int) -> Callable[[RtpPacket, bytes], None]:
        header = bytes([RTP]) + channel.to_bytes(2, "big")
        send = self._sock.send

        def tap(packet: RtpPacket, datagram: bytes) -> None:
            try:
                send(header + datagram)
            except OSError:  # full buffer, or ICMP unreachable from a receiver that is gone
                self.dropped += 1
            else:
                self.sent += 1

        return tap

    def _on_readable(self) -> None:
        for _ in range(READ_BATCH):
            try:
                data = self._sock.recv(MAX_DATAGRAM)
            except BlockingIOError:
                return
            except OSError:  # e.g. ICMP port unreachable: the receiver is gone
                return
            if len(data) != HEADER_SIZE or data[0] != KEYFRAME_REQUEST:
                continue
            entry = self._channels.get(int.from_bytes(data[1:3], "big"))
            if entry is not None:
                self.keyframe_requests += 1
                entry[0].request_keyframe()


class PipedSource:
    """A track arriving through a :class:`PipeReceiver`: the :class:`PacketSource` of its
    publication on the receiving worker (``Router.publish(source)``)."""

    def __init__(self, pipe: PipeReceiver, info: PipedTrackInfo) -> None:
        self.info = info
        self._pipe = pipe
        self._map = HeaderExtensionsMap()
        self._map.configure(RTCRtpParameters(headerExtensions=list(info.header_extensions)))
        self._handler: Callable[[RtpPacket], Awaitable[None]] | None = None
        self._current = b""
        self.received = 0
        self.keyframe_requests = 0
        """Keyframe requests sent back through the pipe."""

    @property
    def kind(self) -> str:
        return self.info.kind

    def codecs(self) -> list[RTCRtpCodecParameters]:
        codecs = [self.info.codec]
        if self.info.rtx_payload_type is not None:
            codecs.append(
                RTCRtpCodecParameters(
                    mimeType=f"{self.info.kind}/rtx",
                    clockRate=self.info.codec.clockRate,
                    payloadType=self.info.rtx_payload_type,
                    parameters={"apt": self.info.codec.payloadType},
                )
            )
        return codecs

    def header_extensions(self) -> list[RTCRtpHeaderExtensionParameters]:
        return list(self.info.header_extensions)

    def start(self, handler: Callable[[RtpPacket], Awaitable[None]]) -> None:
        self._handler = handler

    def stop(self) -> None:
        self._handler = None
        self._pipe.forget(self)

    async def send_pli(self, media_ssrc: int) -> None:
        self.keyframe_requests += 1
        self._pipe.send_keyframe_request(self.info.channel)

    def keep_datagrams(self) -> None:
        pass  # always kept: the pipe has the bytes anyway

    def datagram(self, packet: RtpPacket) -> bytes | None:
        return self._current

    async def handle(self, rtp: bytes) -> None:
        handler = self._handler
        if handler is None:
            return
        try:
            packet = RtpPacket.parse(rtp, self._map)
        except ValueError:
            return
        self.received += 1
        self._current = rtp
        try:
            await handler(packet)
        except Exception:  # one bad packet must not stop the pipe
            log.exception("forwarding a piped RTP packet failed")


class PipeReceiver:
    """The receiving side of one pipe: a UDP socket bound on ``(host, port)`` (port 0: any)
    whose tracks become :class:`PipedSource`\\ s. Create it on the running loop."""

    def __init__(self, host: str, port: int = 0, *, receive_buffer: int = RECEIVE_BUFFER) -> None:
        self._sock = _socket_for(host)
        try:
            with contextlib.suppress(OSError):
                self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
            self._sock.bind((host, port))
        except OSError:
            self._sock.close()
            raise
        self._loop = asyncio.get_running_loop()
        self._sources: dict[int, PipedSource] = {}
        self._peer: tuple[str, int] | None = None
        self._queue: collections.deque[bytes] = collections.deque()
        self._wake = asyncio.Event()
        self.received = 0
        self.dropped = 0
        """Datagrams dropped: unknown channel, a stranger's, or the queue was full."""
        self.closed = False
        self._loop.add_reader(self._sock.fileno(), self._on_readable)
        self._forwarding = self._loop.create_task(self._forward())

    @property
    def address(self) -> tuple[str, int]:
        """Where the sending side sends to."""
        address = self._sock.getsockname()
        return address[0], address[1]

    @property
    def peer(self) -> tuple[str, int] | None:
        """The sending side's address, once its first datagram came."""
        return self._peer

    @property
    def sources(self) -> dict[int, PipedSource]:
        return dict(self._sources)

    def add(self, info: PipedTrackInfo) -> PipedSource:
        """Receive the track of ``info.channel`` (publish the source on the Router)."""
        if self.closed:
            raise RuntimeError("the pipe is closed")
        if info.channel in self._sources:
            raise ValueError(f"channel {info.channel} is taken")
        if is_rtx(info.codec):
            raise ValueError("a piped track's codec cannot be RTX")
        source = PipedSource(self, info)
        self._sources[info.channel] = source
        return source

    def forget(self, source: PipedSource) -> None:
        if self._sources.get(source.info.channel) is source:
            del self._sources[source.info.channel]

    def send_keyframe_request(self, channel: int) -> None:
        if self._peer is None or self.closed:
            return  # nothing came yet: the stream starts with a keyframe anyway
        with contextlib.suppress(OSError):  # the origin is gone: its tracks are silent anyway
            self._sock.sendto(bytes([KEYFRAME_REQUEST]) + channel.to_bytes(2, "big"), self._peer)

    async def close(self) -> None:
        """Close the socket; the sources get nothing more (unpublish their publications)."""
        if self.closed:
            return
        self.closed = True
        self._loop.remove_reader(self._sock.fileno())
        self._sock.close()
        self._queue.clear()
        self._forwarding.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._forwarding

    def _on_readable(self) -> None:
        queue = self._queue
        for _ in range(READ_BATCH):
            try:
                data, address = self._sock.recvfrom(MAX_DATAGRAM)
            except BlockingIOError:
                break
            except OSError:
                break
            if self._peer is None:
                self._peer = (address[0], address[1])
            elif (address[0], address[1]) != self._peer:
                self.dropped += 1
                continue
            if len(queue) >= QUEUE_LIMIT:
                self.dropped += 1
                continue
            queue.append(data)
        if queue:
            self._wake.set()

    async def _forward(self) -> None:
        queue, sources = self._queue, self._sources
        while True:
            await self._wake.wait()
            self._wake.clear()
            while queue:
                data = queue.popleft()
                if len(data) <= HEADER_SIZE or data[0] != RTP:
                    self.dropped += 1
                    continue
                source = sources.get(int.from_bytes(data[1:3], "big"))
                if source is None:
                    self.dropped += 1
                    continue
                self.received += 1
                await source.handle(data[HEADER_SIZE:])
