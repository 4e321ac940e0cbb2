"""The SFU's control plane on one API node: which socket's transports are on which worker,
which tracks each room publishes, and what a browser is told when that changes.

The browser talks ``media:*`` on ``/live`` (server/sfu/signalling.py checks who may do what);
this module turns those events into requests to the node's SFU workers
(media/workers/media_messages.py) and the workers' events and losses into ``media:tracks``,
``media:offer``, ``media:restart`` and ``media:speaker`` for the browsers.

Placement: a room's transports go to its *home* worker, picked by load
(:func:`~media.workers.supervisor.pick_worker`, over the node's local workers and the remote
ones it is configured with) when the room's first transport is made and again whenever
the home is gone. A lost worker (:class:`WorkerLost`) takes its transports and tracks with
it: every socket that had one there gets ``media:restart`` and the room's ``media:tracks``
loses those tracks; the browsers' restarts land on the new home.

A ``track_id`` stands for (room, user, kind): the same across a publisher's renegotiations,
restarts and tabs, so a browser can match a track that comes back to the tile it had.

State here is this node's only: a room whose sockets are spread over several API nodes sees on
each node the tracks published through that node (docs/live-protocol.md says so).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web

from lms_core.errors import Conflict, NotFound
from media.workers.client import WorkerClient
from media.workers.media_messages import (
    AnswerApplied,
    Candidate,
    CandidateAdded,
    CloseTransport,
    IceCandidate,
    Publish,
    PublishAnswer,
    Speaker,
    Subscribe,
    SubscribeAnswer,
    SubscribeOffer,
    TrackKind,
    TrackSpec,
    TransportClosed,
    TransportState,
    Unsubscribe,
)
from media.workers.pool import PooledWorker, WorkerLost, WorkerPool
from media.workers.protocol import Event
from media.workers.supervisor import pick_worker
from server.sfu.calls import (
    NEGOTIATION_TIMEOUT,
    call,
    call_quietly,
    media_unavailable,
    negotiation_in_progress,
    transport_not_found,
)
from server.sfu.pipes import PipeNetwork, WorkerKey
from server.sfu.tasks import BackgroundTasks

log = logging.getLogger("seminar.sfu")

Direction = Literal["publish", "subscribe"]
ToSocket = Callable[[str, str, Any], Awaitable[None]]  # (sid, event, data)
ToRoom = Callable[[uuid.UUID, str, Any], Awaitable[None]]  # (live session id, event, data)

OFFER_TIMEOUT = 10.0
"""Seconds a browser has to answer a subscribe offer before its transport is closed."""
SETTLE_DELAY = 0.5
"""Before offering again when a worker still carried a track the room no longer has (the
worker closes a failed publisher's tracks just after telling us)."""


def track_id_for(live_session_id: uuid.UUID, user_id: uuid.UUID, kind: str) -> str:
    return str(uuid.uuid5(live_session_id, f"{user_id}:{kind}"))


@dataclass(eq=False)
class MediaTransport:
    transport_id: str
    direction: Direction
    worker_id: str
    generation: int
    # subscribe transports: the outstanding offer, what the worker sends on it
    revision: int = 0
    outstanding: bool = False
    needs_offer: bool = False
    carried: list[str] = field(default_factory=list)
    offer_timer: asyncio.TimerHandle | None = None


@dataclass(eq=False)
class SocketMedia:
    sid: str
    live_session_id: uuid.UUID
    user_id: uuid.UUID
    publish: MediaTransport | None = None
    subscribe: MediaTransport | None = None
    publishing: asyncio.Lock = field(default_factory=asyncio.Lock)
    subscribing: asyncio.Lock = field(default_factory=asyncio.Lock)

    def transport(self, transport_id: str) -> MediaTransport:
        for transport in (self.publish, self.subscribe):
            if transport is not None and transport.transport_id == transport_id:
                return transport
        raise transport_not_found()


@dataclass(eq=False)
class RoomTrack:
    track_id: str
    user_id: uuid.UUID
    kind: TrackKind
    sid: str
    transport_id: str
    origin: WorkerKey  # the worker receiving it from the publisher
    muted: bool = False

    def out(self) -> dict[str, Any]:
        return {
            "track_id": self.track_id,
            "user_id": str(self.user_id),
            "kind": self.kind,
            "muted": self.muted,
        }


@dataclass(eq=False)
class MediaRoom:
    live_session_id: uuid.UUID
    version: int = 0
    home: WorkerKey | None = None  # where the room's publishers (and first subscribers) go
    tracks: dict[str, RoomTrack] = field(default_factory=dict)
    sids: set[str] = field(default_factory=set)
    speaker: str | None = None

    def tracks_out(self) -> dict[str, Any]:
        return {"version": self.version, "tracks": [t.out() for t in self.tracks.values()]}


class MediaPlane:
    """This node's media state; :meth:`attach` it to the node's worker supervisor."""

    def __init__(self, to_socket: ToSocket, to_room: ToRoom) -> None:
        # Replaced by the signal relay's (server/sfu/relay.py) when several nodes share rooms.
        self.to_socket = to_socket
        self._to_room = to_room
        self._pools: list[WorkerPool] = []
        self._sockets: dict[str, SocketMedia] = {}
        self._rooms: dict[uuid.UUID, MediaRoom] = {}
        self._tasks = BackgroundTasks("sfu control plane")
        self.pipes = PipeNetwork(lambda key: self._worker(*key))

    def attach(self, pool: WorkerPool) -> None:
        """Place media on ``pool``'s workers too (the local ones, the remote ones)."""
        self._pools.append(pool)
        pool.on_worker_lost.append(self._worker_lost)
        pool.on_worker_event.append(self._worker_event)

    async def close(self) -> None:
        await self._tasks.cancel()

    def rooms(self) -> list[uuid.UUID]:
        """The rooms this node drives media for now."""
        return list(self._rooms)

    async def execute(
        self,
        op: str,
        sid: str,
        live_session_id: uuid.UUID,
        user_id: uuid.UUID,
        args: dict[str, Any],
    ) -> Any:
        """One ``media:*`` event of an authorized socket (server/sfu/signalling.py), as plain
        data: the same call whether the socket is on this node or relayed from another."""
        sock = self.socket(sid, live_session_id, user_id)
        match op:
            case "publish":
                sending = [(mid, kind) for mid, kind in args["sending"]]
                return await self.publish(sock, args["sdp"], sending, args["restart"])
            case "unpublish":
                return await self.unpublish(sock)
            case "mute":
                return await self.mute(sock, args["kind"], args["muted"])
            case "candidate":
                return await self.candidate(sock, args["transport_id"], args["candidate"])
            case "tracks":
                return self.tracks(live_session_id)
            case "subscribe":
                return await self.subscribe(sock, args["track_ids"], args["restart"])
            case "unsubscribe":
                return await self.unsubscribe(sock, args["track_ids"])
            case "answer":
                return await self.answer(sock, args["transport_id"], args["revision"], args["sdp"])
        raise ValueError(f"no media operation {op!r}")

    # --- lookups ------------------------------------------------------------------------------

    def socket(self, sid: str, live_session_id: uuid.UUID, user_id: uuid.UUID) -> SocketMedia:
        sock = self._sockets.get(sid)
        if sock is None:
            sock = self._sockets[sid] = SocketMedia(sid, live_session_id, user_id)
            self.room(live_session_id).sids.add(sid)
        return sock

    def room(self, live_session_id: uuid.UUID) -> MediaRoom:
        room = self._rooms.get(live_session_id)
        if room is None:
            room = self._rooms[live_session_id] = MediaRoom(live_session_id)
            room.version = _now_version(0)
        return room

    def _worker(self, worker_id: str, generation: int) -> PooledWorker | None:
        """That worker process, if it is live now (not a later generation in its place)."""
        for pool in self._pools:
            handle = pool.worker(worker_id)
            if handle is not None and handle.generation == generation:
                return handle
        return None

    def _client(self, worker_id: str, generation: int) -> WorkerClient | None:
        handle = self._worker(worker_id, generation)
        return None if handle is None else handle.client

    def _transport_client(self, transport: MediaTransport) -> WorkerClient:
        client = self._client(transport.worker_id, transport.generation)
        if client is None:
            raise media_unavailable()
        return client

    def _place(self, room: MediaRoom) -> tuple[str, int, WorkerClient]:
        """The room's home worker, picked again when it is gone."""
        if room.home is not None:
            client = self._client(*room.home)
            if client is not None:
                return room.home[0], room.home[1], client
        chosen = pick_worker(h.load() for pool in self._pools for h in pool.workers())
        client = None if chosen is None else self._client(chosen.worker_id, chosen.generation)
        if chosen is None or client is None:
            raise media_unavailable()
        room.home = (chosen.worker_id, chosen.generation)
        return chosen.worker_id, chosen.generation, client

    def _place_audience(self, room: MediaRoom) -> tuple[str, int, WorkerClient]:
        """A subscribe transport's worker: the room's home while it has room, else the live
        worker of the home's pool with the most room left (fed by pipes: :meth:`_pipe_to`;
        pipes stay within a pool: loopback for local workers, the network for remote ones)."""
        home_id, home_generation, home_client = self._place(room)
        load = self._load()
        free: dict[WorkerKey, int] = {}
        pool = next(p for p in self._pools if p.worker(home_id) is not None)
        for handle in pool.workers():
            key = (handle.worker_id, handle.generation)
            free[key] = handle.load().capacity - load[key]
        home = (home_id, home_generation)
        if free.get(home, 0) > 0:
            return home_id, home_generation, home_client
        best = max(free, key=lambda key: (free[key], key == home), default=home)
        client = self._client(*best) if free.get(best, 0) > 0 else None
        if client is None:  # every worker is full: the home takes it rather than nobody
            return home_id, home_generation, home_client
        return best[0], best[1], client

    def _load(self) -> Counter[WorkerKey]:
        """Open transports per worker (ours, counted now: the workers' stats lag)."""
        load: Counter[WorkerKey] = Counter()
        for sock in self._sockets.values():
            for transport in (sock.publish, sock.subscribe):
                if transport is not None:
                    load[(transport.worker_id, transport.generation)] += 1
        return load

    async def _pipe_to(self, room: MediaRoom, target: WorkerKey, track_ids: list[str]) -> None:
        """Tracks published on other workers than ``target`` are piped to it first."""
        by_origin: dict[WorkerKey, list[str]] = {}
        for track_id in track_ids:
            track = room.tracks[track_id]
            if track.origin != target:
                by_origin.setdefault(track.origin, []).append(track_id)
        for origin, ids in by_origin.items():
            await self.pipes.carry(origin, target, ids)

    # --- publishing ---------------------------------------------------------------------------

    async def publish(
        self, sock: SocketMedia, sdp: str, sending: list[tuple[str, TrackKind]], restart: bool
    ) -> dict[str, Any]:
        """Answer the socket's offer on its publish transport (a new one on ``restart``)."""
        if sock.publishing.locked():
            raise negotiation_in_progress()
        async with sock.publishing:
            room = self.room(sock.live_session_id)
            await self._take_over(room, sock)
            transport = sock.publish
            if transport is not None and (
                restart or self._client(transport.worker_id, transport.generation) is None
            ):
                await self._close_publish(room, sock)
                transport = None
            if transport is None:
                worker_id, generation, client = self._place(room)
                transport = MediaTransport(str(uuid.uuid4()), "publish", worker_id, generation)
            else:
                client = self._transport_client(transport)
            specs = [
                TrackSpec(
                    track_id=track_id_for(sock.live_session_id, sock.user_id, kind),
                    kind=kind,
                    mid=mid,
                )
                for mid, kind in sending
            ]
            request = Publish(
                transport_id=transport.transport_id,
                sdp=sdp,
                tracks=specs,
                group=str(sock.live_session_id),  # the active speaker is decided per room
            )
            try:
                answer = await call(client, request, PublishAnswer, timeout=NEGOTIATION_TIMEOUT)
            except Exception:
                if sock.publish is None:  # the worker may have made it after our timeout
                    self._tasks.spawn(call_quietly(client, _close(transport), TransportClosed))
                raise
            sock.publish = transport
            now = {t.track_id: t for t in answer.tracks}
            mine = [t for t in room.tracks.values() if t.sid == sock.sid]
            changed = await self._drop(room, [t.track_id for t in mine if t.track_id not in now])
            for published in answer.tracks:
                kept = room.tracks.get(published.track_id)
                if kept is None or kept.transport_id != transport.transport_id:
                    room.tracks[published.track_id] = RoomTrack(
                        published.track_id,
                        sock.user_id,
                        published.kind,
                        sock.sid,
                        transport.transport_id,
                        (transport.worker_id, transport.generation),
                    )
                    changed = True
            if changed:
                await self._announce(room)
            return {
                "transport_id": transport.transport_id,
                "sdp": answer.sdp,
                "tracks": [t.out() for t in room.tracks.values() if t.sid == sock.sid],
            }

    async def _take_over(self, room: MediaRoom, sock: SocketMedia) -> None:
        """The same user's other tabs in this room stop publishing: the newest one presents."""
        for sid in list(room.sids):
            other = self._sockets.get(sid)
            if other is None or other is sock or other.user_id != sock.user_id:
                continue
            if other.publish is not None:
                ended = await self._close_publish(room, other)
                await self.to_socket(
                    sid, "media:unpublished", {"track_ids": ended, "reason": "replaced"}
                )

    async def unpublish(self, sock: SocketMedia) -> dict[str, Any]:
        async with sock.publishing:
            room = self.room(sock.live_session_id)
            ended = await self._close_publish(room, sock)
            if ended:
                await self._announce(room)
            return {"track_ids": ended}

    async def demote(self, live_session_id: uuid.UUID, user_id: uuid.UUID) -> None:
        """The user is an attendee now: their tracks stop at once, on every tab of this node."""
        room = self._rooms.get(live_session_id)
        if room is None:
            return
        changed = False
        for sid in list(room.sids):
            sock = self._sockets.get(sid)
            if sock is None or sock.user_id != user_id or sock.publish is None:
                continue
            ended = await self._close_publish(room, sock)
            changed = True
            await self.to_socket(
                sid, "media:unpublished", {"track_ids": ended, "reason": "demoted"}
            )
        if changed:
            await self._announce(room)

    async def mute(self, sock: SocketMedia, kind: str, muted: bool) -> dict[str, Any]:
        room = self.room(sock.live_session_id)
        for track in room.tracks.values():
            if track.sid == sock.sid and track.kind == kind:
                if track.muted != muted:
                    track.muted = muted
                    await self._announce(room)
                return track.out()
        raise NotFound(f"This socket does not publish a {kind} track.", code="track_not_found")

    async def _close_publish(self, room: MediaRoom, sock: SocketMedia) -> list[str]:
        """Close the socket's publish transport; returns the tracks that ended (dropped from
        the room without announcing: the caller announces once)."""
        transport, sock.publish = sock.publish, None
        if transport is None:
            return []
        client = self._client(transport.worker_id, transport.generation)
        await call_quietly(client, _close(transport), TransportClosed)
        ended = [t.track_id for t in room.tracks.values() if t.sid == sock.sid]
        await self._drop(room, ended)
        return ended

    # --- subscribing --------------------------------------------------------------------------

    async def subscribe(
        self, sock: SocketMedia, track_ids: list[str], restart: bool
    ) -> dict[str, Any]:
        if sock.subscribing.locked():
            raise negotiation_in_progress()
        async with sock.subscribing:
            room = self.room(sock.live_session_id)
            for track_id in track_ids:
                track = room.tracks.get(track_id)
                if track is None or track.user_id == sock.user_id:
                    raise NotFound(
                        f"No track {track_id} is published in this room by someone else.",
                        code="track_not_found",
                    )
            transport = sock.subscribe
            if transport is not None and (
                restart or self._client(transport.worker_id, transport.generation) is None
            ):
                await self._close_subscribe(sock)
                transport = None
            if transport is not None and transport.outstanding:
                raise negotiation_in_progress()
            if transport is None:
                worker_id, generation, client = self._place_audience(room)
                transport = MediaTransport(str(uuid.uuid4()), "subscribe", worker_id, generation)
            else:
                client = self._transport_client(transport)
            await self._pipe_to(room, (transport.worker_id, transport.generation), track_ids)
            request = Subscribe(transport_id=transport.transport_id, track_ids=track_ids)
            try:
                offer = await call(client, request, SubscribeOffer, timeout=NEGOTIATION_TIMEOUT)
            except Exception:
                if sock.subscribe is None:
                    self._tasks.spawn(call_quietly(client, _close(transport), TransportClosed))
                raise
            sock.subscribe = transport
            return self._offered(sock, transport, offer)

    async def unsubscribe(self, sock: SocketMedia, track_ids: list[str]) -> dict[str, Any]:
        async with sock.subscribing:
            transport = sock.subscribe
            if transport is None:
                raise transport_not_found()
            if transport.outstanding:
                raise negotiation_in_progress()
            request = Unsubscribe(transport_id=transport.transport_id, track_ids=track_ids)
            offer = await call(self._transport_client(transport), request, SubscribeOffer)
            return self._offered(sock, transport, offer)

    def _offered(
        self, sock: SocketMedia, transport: MediaTransport, offer: SubscribeOffer
    ) -> dict[str, Any]:
        """Record an offer the browser must answer within ``OFFER_TIMEOUT``."""
        transport.revision += 1
        transport.outstanding = True
        transport.needs_offer = False
        transport.carried = [t.track_id for t in offer.tracks]
        if transport.offer_timer is not None:
            transport.offer_timer.cancel()
        revision = transport.revision
        transport.offer_timer = asyncio.get_running_loop().call_later(
            OFFER_TIMEOUT, lambda: self._tasks.spawn(self._offer_expired(sock, transport, revision))
        )
        return {
            "transport_id": transport.transport_id,
            "revision": transport.revision,
            "sdp": offer.sdp,
            "tracks": [{"track_id": t.track_id, "mid": t.mid} for t in offer.tracks],
        }

    async def answer(
        self, sock: SocketMedia, transport_id: str, revision: int, sdp: str
    ) -> dict[str, Any]:
        transport = sock.transport(transport_id)
        if transport.direction != "subscribe":
            raise transport_not_found()
        if not transport.outstanding or revision != transport.revision:
            raise Conflict(
                f"Offer {revision} is not the outstanding one ({transport.revision}).",
                code="offer_superseded",
                extra={"revision": transport.revision},
            )
        request = SubscribeAnswer(transport_id=transport_id, sdp=sdp)
        await call(self._transport_client(transport), request, AnswerApplied)
        transport.outstanding = False
        if transport.offer_timer is not None:
            transport.offer_timer.cancel()
            transport.offer_timer = None
        room = self.room(sock.live_session_id)
        if transport.needs_offer or any(t not in room.tracks for t in transport.carried):
            self._tasks.spawn(self._renegotiate(sock, delay=SETTLE_DELAY))
        return {"transport_id": transport_id, "revision": revision}

    async def _renegotiate(self, sock: SocketMedia, delay: float = 0.0) -> None:
        """A server-initiated offer: the m-lines of the socket's ended tracks made inactive."""
        if delay:
            await asyncio.sleep(delay)
        async with sock.subscribing:
            transport = sock.subscribe
            if transport is None or self._sockets.get(sock.sid) is not sock:
                return
            if transport.outstanding:
                transport.needs_offer = True  # offered again after the answer
                return
            client = self._client(transport.worker_id, transport.generation)
            if client is None:
                return  # the worker is gone: media:restart is on its way
            request = Subscribe(transport_id=transport.transport_id, track_ids=[])
            offer = await call_quietly(client, request, SubscribeOffer)
            if offer is None:
                return
            await self.to_socket(sock.sid, "media:offer", self._offered(sock, transport, offer))

    async def _offer_expired(
        self, sock: SocketMedia, transport: MediaTransport, revision: int
    ) -> None:
        if sock.subscribe is not transport or transport.revision != revision:
            return
        if not transport.outstanding:
            return
        await self._close_subscribe(sock)
        await self._restart(sock.sid, transport, "offer_timeout")

    async def _close_subscribe(self, sock: SocketMedia) -> None:
        transport, sock.subscribe = sock.subscribe, None
        if transport is None:
            return
        if transport.offer_timer is not None:
            transport.offer_timer.cancel()
        client = self._client(transport.worker_id, transport.generation)
        await call_quietly(client, _close(transport), TransportClosed)

    # --- candidates, the room's tracks --------------------------------------------------------

    async def candidate(
        self, sock: SocketMedia, transport_id: str, candidate: dict[str, Any] | None
    ) -> dict[str, Any]:
        transport = sock.transport(transport_id)
        request = IceCandidate(
            transport_id=transport_id,
            candidate=None if candidate is None else Candidate.model_validate(candidate),
        )
        await call(self._transport_client(transport), request, CandidateAdded)
        return {"transport_id": transport_id}

    def tracks(self, live_session_id: uuid.UUID) -> dict[str, Any]:
        return self.room(live_session_id).tracks_out()

    async def _drop(self, room: MediaRoom, track_ids: list[str]) -> bool:
        """Forget tracks; the sockets receiving them get an offer without them."""
        gone = [room.tracks.pop(t) for t in track_ids if t in room.tracks]
        if not gone:
            return False
        ids = {t.track_id for t in gone}
        for track_id in ids:  # their copies on other workers end too
            await self.pipes.track_ended(track_id)
        for sid in room.sids:
            sock = self._sockets.get(sid)
            transport = None if sock is None else sock.subscribe
            if sock is not None and transport is not None and ids & set(transport.carried):
                self._tasks.spawn(self._renegotiate(sock))
        return True

    async def _announce(self, room: MediaRoom) -> None:
        room.version = _now_version(room.version)
        await self._to_room(room.live_session_id, "media:tracks", room.tracks_out())

    # --- sockets and workers going away -------------------------------------------------------

    async def socket_gone(self, sid: str) -> None:
        """The socket disconnected: close its transports; its tracks leave the room."""
        sock = self._sockets.pop(sid, None)
        if sock is None:
            return
        room = self.room(sock.live_session_id)
        room.sids.discard(sid)
        ended = await self._close_publish(room, sock)
        await self._close_subscribe(sock)
        if ended:
            await self._announce(room)
        if not room.sids:
            del self._rooms[room.live_session_id]

    async def _worker_lost(self, lost: WorkerLost) -> None:
        """Everything on the lost worker is gone: each socket restarts what it had there."""
        on_it = (lost.worker_id, lost.generation)
        for room in list(self._rooms.values()):
            if room.home == on_it:
                room.home = None
            ended: list[str] = []
            for sid in list(room.sids):
                sock = self._sockets.get(sid)
                if sock is None:
                    continue
                for transport in (sock.publish, sock.subscribe):
                    if transport is None or (transport.worker_id, transport.generation) != on_it:
                        continue
                    if transport is sock.publish:
                        sock.publish = None
                        ended += [t.track_id for t in room.tracks.values() if t.sid == sid]
                    else:
                        sock.subscribe = None
                        if transport.offer_timer is not None:
                            transport.offer_timer.cancel()
                    await self._restart(sid, transport, "worker_lost")
            if await self._drop(room, ended):
                await self._announce(room)
        await self.pipes.worker_lost(on_it)

    async def _restart(self, sid: str, transport: MediaTransport, reason: str) -> None:
        await self.to_socket(
            sid,
            "media:restart",
            {
                "transport_id": transport.transport_id,
                "direction": transport.direction,
                "reason": reason,
            },
        )

    def _worker_event(self, worker_id: str, event: Event) -> None:
        """On the worker channel's reader: anything async runs in a task."""
        if isinstance(event, TransportState) and event.state in ("failed", "closed"):
            self._tasks.spawn(self._transport_failed(worker_id, event.transport_id))
        elif isinstance(event, Speaker) and event.group is not None:
            self._tasks.spawn(self._speaker(event.group, event.track_id))

    async def _transport_failed(self, worker_id: str, transport_id: str) -> None:
        """The worker gave up a transport (ICE failed): the browser restarts it."""
        for sock in list(self._sockets.values()):
            for transport in (sock.publish, sock.subscribe):
                if transport is None or transport.transport_id != transport_id:
                    continue
                if transport.worker_id != worker_id:
                    continue
                room = self.room(sock.live_session_id)
                if transport is sock.publish:
                    sock.publish = None
                    if await self._drop(
                        room, [t.track_id for t in room.tracks.values() if t.sid == sock.sid]
                    ):
                        await self._announce(room)
                else:
                    sock.subscribe = None
                    if transport.offer_timer is not None:
                        transport.offer_timer.cancel()
                await self._restart(sock.sid, transport, "transport_failed")
                return

    async def _speaker(self, group: str, track_id: str | None) -> None:
        """The room's loudest microphone changed (the worker decides per room: ``group``)."""
        try:
            room = self._rooms.get(uuid.UUID(group))
        except ValueError:
            return
        track = None if room is None or track_id is None else room.tracks.get(track_id)
        if room is None or (track_id is not None and track is None) or room.speaker == track_id:
            return
        room.speaker = track_id
        await self._to_room(
            room.live_session_id,
            "media:speaker",
            {"user_id": str(track.user_id) if track else None, "track_id": track_id},
        )


def _close(transport: MediaTransport) -> CloseTransport:
    return CloseTransport(transport_id=transport.transport_id)


def _now_version(previous: int) -> int:
    """Versions keep increasing across this process's restarts: milliseconds since the epoch,
    or one more than the last when changes come faster."""
    return max(previous + 1, int(time.time() * 1000))


MEDIA_PLANE = web.AppKey("media_plane", MediaPlane)
