"""The ``media:*`` events of ``/live``: who may do what (from the database, at each event),
then the control plane (server/sfu/plane.py) does it.

Everyone in a live room may ask for the room's tracks and subscribe; only the host and
presenters may publish (``publish_forbidden`` for an attendee, whatever the offer: nothing is
negotiated). A removed member is refused before the kick reaches them. The server decides the
room from the socket, never from the payload. The checks run on the socket's node; the event
itself runs on the room's owner node (server/sfu/relay.py), this one without Redis.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.errors import TooLarge
from lms_core.live import moderation
from server.live import events
from server.live.auth import Connection
from server.sfu import events as media_events
from server.sfu.plane import MediaPlane
from server.sfu.relay import SignalRelay

Transaction = Callable[[], AbstractAsyncContextManager[AsyncSession]]
CheckLive = Callable[[AsyncSession, Connection], Awaitable[None]]
Handler = Callable[[str, Connection, Any], Awaitable[Any]]


class MediaSignalling:
    """``plane``: this node's; ``relay``: set when several nodes share rooms (REDIS_URL)."""

    def __init__(
        self,
        plane: MediaPlane,
        transaction: Transaction,
        check_live: CheckLive,
        relay: SignalRelay | None = None,
    ) -> None:
        self.plane = plane
        self.relay = relay
        self._transaction = transaction
        self._check_live = check_live
        self._relayed: dict[str, tuple[str, uuid.UUID]] = {}  # sid -> (owner node, room)

    def handlers(self) -> dict[str, tuple[type[BaseModel], Handler]]:
        return {
            "media:publish": (media_events.MediaPublish, self.publish),
            "media:unpublish": (events.Empty, self.unpublish),
            "media:mute": (media_events.MediaMute, self.mute),
            "media:candidate": (media_events.MediaCandidate, self.candidate),
            "media:tracks": (events.Empty, self.tracks),
            "media:subscribe": (media_events.MediaSubscribe, self.subscribe),
            "media:unsubscribe": (media_events.MediaUnsubscribe, self.unsubscribe),
            "media:answer": (media_events.MediaAnswer, self.answer),
        }

    async def _check(self, conn: Connection, *, publisher: bool = False) -> None:
        async with self._transaction() as session:
            await self._check_live(session, conn)
            if publisher:
                await moderation.require_publisher(session, conn.live_session_id, conn.user_id)
            else:
                await moderation.check_not_removed(session, conn.live_session_id, conn.user_id)

    async def _run(self, sid: str, conn: Connection, op: str, args: dict[str, Any]) -> Any:
        """On the room's owner: this node's plane, or the owner's through the relay."""
        owner = None if self.relay is None else await self.relay.owner(conn.live_session_id)
        if self.relay is None or owner == self.relay.node_id:
            return await self.plane.execute(op, sid, conn.live_session_id, conn.user_id, args)
        assert owner is not None
        self._relayed[sid] = (owner, conn.live_session_id)
        request = {
            "op": op,
            "sid": sid,
            "room": str(conn.live_session_id),
            "user": str(conn.user_id),
            "args": args,
        }
        return await self.relay.call(owner, request)

    async def socket_gone(self, sid: str) -> None:
        """The socket disconnected: its media closes, wherever its room's owner is."""
        await self.plane.socket_gone(sid)
        relayed = self._relayed.pop(sid, None)
        if relayed is not None and self.relay is not None:
            await self.relay.notify(relayed[0], {"kind": "gone", "sid": sid})

    async def demoted(self, live_session_id: uuid.UUID, user_id: uuid.UUID) -> None:
        """The user is an attendee now: the owner stops their media on every node."""
        if self.relay is None:
            await self.plane.demote(live_session_id, user_id)
            return
        owner = await self.relay.owner(live_session_id)
        if owner == self.relay.node_id:
            await self.plane.demote(live_session_id, user_id)
        else:
            message = {"kind": "demote", "room": str(live_session_id), "user": str(user_id)}
            await self.relay.notify(owner, message)

    async def publish(
        self, sid: str, conn: Connection, p: media_events.MediaPublish
    ) -> dict[str, Any]:
        _check_size(p.sdp)
        await self._check(conn, publisher=True)
        sending = [[t.mid, t.kind] for t in p.tracks]
        args = {"sdp": p.sdp, "sending": sending, "restart": p.restart}
        return await self._run(sid, conn, "publish", args)  # type: ignore[no-any-return]

    async def unpublish(self, sid: str, conn: Connection, _: events.Empty) -> dict[str, Any]:
        # No role check: stopping is always allowed (a demoted presenter's tracks are gone).
        return await self._run(sid, conn, "unpublish", {})  # type: ignore[no-any-return]

    async def mute(self, sid: str, conn: Connection, p: media_events.MediaMute) -> dict[str, Any]:
        args = {"kind": p.kind, "muted": p.muted}
        return await self._run(sid, conn, "mute", args)  # type: ignore[no-any-return]

    async def candidate(
        self, sid: str, conn: Connection, p: media_events.MediaCandidate
    ) -> dict[str, Any]:
        found = None if p.candidate is None else p.candidate.model_dump()
        args = {"transport_id": str(p.transport_id), "candidate": found}
        return await self._run(sid, conn, "candidate", args)  # type: ignore[no-any-return]

    async def tracks(self, sid: str, conn: Connection, _: events.Empty) -> dict[str, Any]:
        await self._check(conn)
        return await self._run(sid, conn, "tracks", {})  # type: ignore[no-any-return]

    async def subscribe(
        self, sid: str, conn: Connection, p: media_events.MediaSubscribe
    ) -> dict[str, Any]:
        await self._check(conn)
        args = {"track_ids": [str(t) for t in p.track_ids], "restart": p.restart}
        return await self._run(sid, conn, "subscribe", args)  # type: ignore[no-any-return]

    async def unsubscribe(
        self, sid: str, conn: Connection, p: media_events.MediaUnsubscribe
    ) -> dict[str, Any]:
        args = {"track_ids": [str(t) for t in p.track_ids]}
        return await self._run(sid, conn, "unsubscribe", args)  # type: ignore[no-any-return]

    async def answer(
        self, sid: str, conn: Connection, p: media_events.MediaAnswer
    ) -> dict[str, Any]:
        _check_size(p.sdp)
        args = {"transport_id": str(p.transport_id), "revision": p.revision, "sdp": p.sdp}
        return await self._run(sid, conn, "answer", args)  # type: ignore[no-any-return]


def _check_size(sdp: str) -> None:
    if len(sdp.encode()) > media_events.MAX_SDP_BYTES:
        raise TooLarge(
            f"An SDP may be at most {media_events.MAX_SDP_BYTES} bytes.", code="payload_too_large"
        )
