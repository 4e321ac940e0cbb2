"""The ``/live`` namespace: connect puts the socket in its session's room (the server decides
which, from the ticket or the cookie), and every event runs through one dispatcher that
rate-limits, validates the payload with pydantic, runs the handler in its own transaction and
answers with an ack ``{"ok": true, "data": ...}`` or ``{"ok": false, "problem": ...}``. A bad
event never disconnects the socket.

State shared by the nodes serving a room (participants, hands, chat) is in PostgreSQL
(lms_core/live/room.py); only per-socket things live here: which connection is whose, and the
socket's rate-limit bucket.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import socketio  # type: ignore[import-untyped]
from aiohttp import web
from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.clock import utcnow
from lms_core.db import unit_of_work
from lms_core.errors import DomainError, FieldError, InvalidInput, PermissionDenied, RateLimited
from lms_core.live import chat, join_state, moderation, nodes, polls, room, whiteboard
from lms_core.live.errors import LiveSessionNotLive
from lms_core.live.models import LiveRole, LiveSession, LiveSessionStatus
from lms_core.live.room_models import WhiteboardOpKind
from server.live import events, ice
from server.live.admission import Admission
from server.live.auth import Connection, authenticate
from server.live.presence_batch import EVENT as PRESENCE_EVENT
from server.live.presence_batch import PresenceBatcher
from server.problems import from_domain, problem
from server.sfu.plane import MEDIA_PLANE, MediaPlane
from server.sfu.relay import SIGNAL_RELAY, SignalRelay
from server.sfu.signalling import MediaSignalling
from server.state import DATABASE, SETTINGS

log = logging.getLogger("seminar.live")

NAMESPACE = "/live"
# This process's id among the nodes serving /live (its live_nodes row: server/live/presence.py).
LIVE_NODE: web.AppKey[uuid.UUID] = web.AppKey("live_node", uuid.UUID)

Handler = Callable[[str, Connection, Any], Awaitable[Any]]
# A room emit of one of these is a notice followed by a disconnect of its recipients, on every
# node (server/live/app.py's managers do it after delivering).
KICK_EVENTS = frozenset({"session:ended", "removed"})
# Room events about participants: the room's pending presence batch goes out before them.
AFTER_PRESENCE = frozenset({"participant:changed", "hand:changed"})


def room_name(live_session_id: uuid.UUID) -> str:
    return f"live:{live_session_id}"


def room_session(room: str) -> uuid.UUID | None:
    """The live session of a room named by ``room_name`` (None for any other room)."""
    prefix, _, rest = room.partition(":")
    if prefix != "live" or ":" in rest:
        return None
    try:
        return uuid.UUID(rest)
    except ValueError:
        return None


def user_room(live_session_id: uuid.UUID, user_id: uuid.UUID) -> str:
    """Every socket of one user in one room (on any node): where a removal is sent."""
    return f"live:{live_session_id}:user:{user_id}"


def ended_payload(live_session_id: uuid.UUID) -> dict[str, Any]:
    return {"live_session_id": str(live_session_id)}


class TokenBucket:
    """``burst`` events at once, refilled at ``rate`` per second (settings live_event_*)."""

    __slots__ = ("burst", "rate", "stamp", "tokens")

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.stamp = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class LiveNamespace(socketio.AsyncNamespace):  # type: ignore[misc]
    def __init__(self, app: web.Application) -> None:
        super().__init__(NAMESPACE)
        self._app = app
        self.node_id = uuid.uuid4()
        app[LIVE_NODE] = self.node_id
        # Set once this node has registered its live_nodes row, on its first connect: a node
        # that never serves a socket (an HTTP-only test app) never touches live presence. Its
        # heartbeat and sweeper (server/live/presence.py) start then.
        self.active = asyncio.Event()
        self._connections: dict[str, Connection] = {}
        self._connection_ids: dict[str, uuid.UUID] = {}  # sid -> its live_connections row
        self._buckets: dict[str, TokenBucket] = {}
        # Joins and leaves, coalesced per room (server/live/presence_batch.py).
        # Connects and joins use the database in turn (server/live/admission.py).
        self.admission = Admission(app[SETTINGS].live_admission)
        self.presence = PresenceBatcher(
            self._presence_emit, app[SETTINGS].live_presence_window, self._connected
        )
        self._handlers: dict[str, tuple[type[BaseModel], Handler]] = {
            "join": (events.Empty, self._join),
            "chat:send": (events.ChatSend, self._chat_send),
            "chat:history": (events.ChatHistory, self._chat_history),
            "hand:raise": (events.Empty, self._hand_raise),
            "hand:lower": (events.Empty, self._hand_lower),
            "hand:lower_all": (events.Empty, self._hand_lower_all),
            "session:end": (events.Empty, self._session_end),
            "participant:mute": (events.ParticipantMute, self._participant_mute),
            "participant:remove": (events.ParticipantRemove, self._participant_remove),
            "participant:readmit": (events.ParticipantReadmit, self._participant_readmit),
            "participant:role": (events.ParticipantRole, self._participant_role),
            "poll:open": (events.PollOpen, self._poll_open),
            "poll:vote": (events.PollVote, self._poll_vote),
            "poll:close": (events.PollClose, self._poll_close),
            "wb:op": (events.WhiteboardOp, self._wb_op),
            "wb:history": (events.WhiteboardHistory, self._wb_history),
            "media:ice": (events.Empty, self._media_ice),
        }
        # The SFU's signalling (server/sfu/): the plane is attached to the node's workers at
        # start-up (server/sfu/__init__.py).
        plane = MediaPlane(self._to_socket, self._to_room)
        app[MEDIA_PLANE] = plane
        relay = None
        redis_url = app[SETTINGS].redis_url
        if redis_url:  # several nodes: a room's media runs on its owner node
            relay = SignalRelay(redis_url, plane, self._to_socket)
            plane.to_socket = relay.to_socket
            app[SIGNAL_RELAY] = relay
        self.media = MediaSignalling(plane, self._transaction, self._require_live, relay)
        self._handlers |= self.media.handlers()

    def _transaction(self) -> AbstractAsyncContextManager[AsyncSession]:
        return unit_of_work(self._app[DATABASE].sessions)

    async def _to_socket(self, sid: str, event: str, data: Any) -> None:
        await self.emit(event, data, to=sid)

    async def _to_room(self, live_session_id: uuid.UUID, event: str, data: Any) -> None:
        await self.emit(event, data, room=room_name(live_session_id))

    async def _presence_emit(self, room: str, data: dict[str, Any]) -> None:
        await super().emit(PRESENCE_EVENT, data, room=room)

    async def _connected(self, name: str, user_ids: list[str]) -> set[str] | None:
        """Which of these users are connected to the room ``name`` now (a batch's check)."""
        live_session_id = room_session(name)
        if live_session_id is None:
            return None
        async with self._transaction() as session:
            found = await room.connected(session, live_session_id, [uuid.UUID(u) for u in user_ids])
        return {str(u) for u in found}

    async def emit(self, event: str, data: Any = None, **kwargs: Any) -> None:
        room = kwargs.get("room") or kwargs.get("to")
        if event in AFTER_PRESENCE and isinstance(room, str):
            await self.presence.flush(room)
        await super().emit(event, data, **kwargs)

    async def trigger_event(self, event: str, *args: Any) -> Any:
        if event == "connect":
            sid, environ, auth = (*args, None)[:3]
            return await self._connect(sid, environ, auth)
        if event == "disconnect":
            return await self._disconnect(args[0])
        sid, *data = args
        return await self._dispatch(event, sid, data)

    # --- connect / disconnect -------------------------------------------------------------

    async def _connect(self, sid: str, environ: dict[str, Any], auth: Any) -> None:
        # A ticket is judged when the connect arrived, not after its wait for admission.
        arrived = utcnow()
        try:
            async with self.admission:  # a storm of connects queues here, not in the pool
                conn = await authenticate(self._app, environ, auth, presented_at=arrived)
                await self._enter(sid, conn)
        except DomainError as exc:
            # The client's connect_error gets {"message": detail, "data": problem}.
            raise _refused(from_domain(exc, None)[1]) from None
        except (OperationalError, PoolTimeout) as exc:
            raise _refused(_unavailable(exc)) from None

    async def _enter(self, sid: str, conn: Connection) -> None:
        """Record the connection and put the socket in its rooms."""
        if not self.active.is_set():
            async with self._transaction() as session:
                await nodes.beat(session, self.node_id)
            self.active.set()
        async with self._transaction() as session:
            presence = await room.connect(
                session, conn.live_session_id, conn.user_id, conn.role, node_id=self.node_id
            )
        self._connections[sid] = conn
        assert presence.connection_id is not None
        self._connection_ids[sid] = presence.connection_id
        settings = self._app[SETTINGS]
        self._buckets[sid] = TokenBucket(settings.live_event_rate, settings.live_event_burst)
        await self.enter_room(sid, room_name(conn.live_session_id))
        await self.enter_room(sid, user_room(conn.live_session_id, conn.user_id))
        if presence.changed:  # the room hears of it in the next presence batch
            await self.presence.joined(
                room_name(conn.live_session_id), events.participant_out(presence.participant)
            )
        # A removal committed while this connect was in flight was sent to the user's room
        # before this socket entered it: look again now that it is in.
        await self._kick_if_removed(sid, conn)

    async def _kick_if_removed(self, sid: str, conn: Connection) -> None:
        try:
            async with self._transaction() as session:
                banned = await moderation.is_removed(session, conn.live_session_id, conn.user_id)
        except (OperationalError, PoolTimeout, DBAPIError):
            return  # the common case is no removal; the next event's transaction will fail
        if banned:  # the notice and, after delivery, the disconnect (server/live/app.py)
            await self.emit(
                "removed",
                _removed_notice(conn.live_session_id),
                room=user_room(conn.live_session_id, conn.user_id),
            )

    async def drop_all(self) -> None:
        """Disconnect every socket of this node (its connection rows were swept: its clients
        reconnect and are recorded again)."""
        for sid in list(self._connections):
            self._connection_ids.pop(sid, None)  # nothing left to delete
            with contextlib.suppress(Exception):
                await self.disconnect(sid)

    async def _disconnect(self, sid: str) -> None:
        self._buckets.pop(sid, None)
        try:
            await self.media.socket_gone(sid)
        except Exception:
            log.exception("live: closing a socket's media failed")
        conn = self._connections.pop(sid, None)
        connection_id = self._connection_ids.pop(sid, None)
        if conn is None or connection_id is None:
            return
        try:
            async with self._transaction() as session:
                presence = await room.disconnect(
                    session, conn.live_session_id, conn.user_id, connection_id
                )
        except Exception:
            log.exception("live: recording a disconnect failed")
            return
        if presence is not None and presence.changed:
            await self.presence.left(room_name(conn.live_session_id), str(conn.user_id))

    # --- the dispatcher -------------------------------------------------------------------

    async def _dispatch(self, event: str, sid: str, data: list[Any]) -> dict[str, Any]:
        conn = self._connections.get(sid)
        bucket = self._buckets.get(sid)
        if conn is None or bucket is None:
            return events.failed(problem(409, "not_joined", "This socket is not in a room."))
        if not bucket.take():
            return _failed(RateLimited("Too many events; slow down.", retry_after=1))
        found = self._handlers.get(event)
        if found is None:
            return events.failed(problem(404, "unknown_event", f"No event named {event!r}."))
        model, handler = found
        raw = data[0] if data else None
        try:
            payload = model.model_validate({} if raw is None else raw)
        except ValidationError as exc:
            return _failed(_invalid(exc))
        try:
            return events.ok(await handler(sid, conn, payload))
        except DomainError as exc:
            return _failed(exc)
        except (OperationalError, PoolTimeout) as exc:
            return events.failed(_unavailable(exc))
        except DBAPIError as exc:
            if exc.connection_invalidated:
                return events.failed(_unavailable(exc))
            log.exception("live: event %s failed", event)
            return events.failed(problem(500, "internal_error", "An internal error occurred."))
        except Exception:
            log.exception("live: event %s failed", event)
            return events.failed(problem(500, "internal_error", "An internal error occurred."))

    async def _require_live_host(
        self, session: AsyncSession, conn: Connection, action: str
    ) -> None:
        """The session is live and this socket's user is its host (else a problem naming
        ``action``)."""
        await self._require_live(session, conn)
        await moderation.require_host(session, conn.live_session_id, conn.user_id, action)

    async def _require_live(self, session: AsyncSession, conn: Connection) -> None:
        status = await session.scalar(
            select(LiveSession.status).where(LiveSession.id == conn.live_session_id)
        )
        if status is not LiveSessionStatus.LIVE:
            raise LiveSessionNotLive(extra={"status": status.value if status else None})

    # --- events ---------------------------------------------------------------------------

    async def _join(self, sid: str, conn: Connection, _: events.Empty) -> dict[str, Any]:
        # Hand-written statements on an autocommit connection (lms_core/live/join_state.py),
        # in turn with the other connects and joins of this node (server/live/admission.py).
        async with self.admission, chat.autocommit(self._app[DATABASE].engine) as db:
            state = await join_state.load(db, conn.live_session_id, conn.user_id)
        return {
            "live_session_id": str(conn.live_session_id),
            "you": events.participant_out(state.me),
            "participants": [events.participant_out(p) for p in state.participants],
            "chat": [events.message_out(m) for m in state.chat],
            "last_seq": state.last_seq,
            "poll": events.my_poll_out(state.poll) if state.poll else None,
            "whiteboard": events.board_out(state.board),
            "removed": [events.removed_out(r) for r in state.removed],  # the host's only
        }

    async def _chat_send(self, sid: str, conn: Connection, p: events.ChatSend) -> dict[str, Any]:
        # One statement, its own transaction: the live check, the mute, a resend and the seq
        # together (lms_core/live/chat.py).
        async with chat.autocommit(self._app[DATABASE].engine) as db:
            message, created = await chat.send(
                db, conn.live_session_id, conn.user_id, p.body, p.client_id
            )
        out = events.message_out(message)
        if created:  # after the commit: nobody sees a message that could still roll back
            await self.emit("chat:message", out, room=room_name(conn.live_session_id), skip_sid=sid)
        return out

    async def _chat_history(
        self, sid: str, conn: Connection, p: events.ChatHistory
    ) -> dict[str, Any]:
        async with self._transaction() as session:
            await self._require_live(session, conn)
            found = await room.history(session, conn.live_session_id, p.after_seq, p.limit + 1)
            last_seq = await room.last_seq(session, conn.live_session_id)
        return {
            "messages": [events.message_out(m) for m in found[: p.limit]],
            "more": len(found) > p.limit,
            "last_seq": last_seq,
        }

    async def _set_hand(self, conn: Connection, raised: bool) -> dict[str, Any]:
        async with self._transaction() as session:
            await self._require_live(session, conn)
            me = await room.set_hand(session, conn.live_session_id, conn.user_id, raised)
        out = _hand(me.user_id, me.hand_raised_at.isoformat() if me.hand_raised_at else None)
        await self.emit("hand:changed", out, room=room_name(conn.live_session_id))
        return out

    async def _hand_raise(self, sid: str, conn: Connection, _: events.Empty) -> dict[str, Any]:
        return await self._set_hand(conn, True)

    async def _hand_lower(self, sid: str, conn: Connection, _: events.Empty) -> dict[str, Any]:
        return await self._set_hand(conn, False)

    async def _hand_lower_all(self, sid: str, conn: Connection, _: events.Empty) -> dict[str, Any]:
        async with self._transaction() as session:
            await self._require_live(session, conn)
            me = await room.participant(session, conn.live_session_id, conn.user_id)
            if me.role is not LiveRole.HOST:
                raise PermissionDenied("Only the host may lower every hand.", code="forbidden")
            lowered = await room.lower_all(session, conn.live_session_id)
        for user_id in lowered:
            await self.emit(
                "hand:changed", _hand(user_id, None), room=room_name(conn.live_session_id)
            )
        return {"lowered": [str(u) for u in lowered]}

    # --- moderation (host only) -------------------------------------------------------------

    async def _session_end(self, sid: str, conn: Connection, _: events.Empty) -> dict[str, Any]:
        async with self._transaction() as session:
            await moderation.require_host(
                session, conn.live_session_id, conn.user_id, "end the session"
            )
            await room.end_live(session, conn.live_session_id)
        # After the commit; an ended session's room is told again (and emptied) on a repeat.
        out = ended_payload(conn.live_session_id)
        await self.emit("session:ended", out, room=room_name(conn.live_session_id))
        return out

    async def _participant_mute(
        self, sid: str, conn: Connection, p: events.ParticipantMute
    ) -> dict[str, Any]:
        async with self._transaction() as session:
            await self._require_live_host(session, conn, "mute chat")
            changed = await moderation.set_muted(session, conn.live_session_id, p.user_id, p.muted)
        out = events.participant_out(changed)
        await self.emit("participant:changed", out, room=room_name(conn.live_session_id))
        return out

    async def _participant_role(
        self, sid: str, conn: Connection, p: events.ParticipantRole
    ) -> dict[str, Any]:
        async with self._transaction() as session:
            await self._require_live_host(session, conn, "change roles")
            changed = await moderation.set_role(
                session, conn.live_session_id, p.user_id, LiveRole(p.role)
            )
        out = events.participant_out(changed)
        await self.emit("participant:changed", out, room=room_name(conn.live_session_id))
        if changed.role is LiveRole.ATTENDEE:  # their media stops at once
            await self.media.demoted(conn.live_session_id, p.user_id)
        return out

    async def _participant_remove(
        self, sid: str, conn: Connection, p: events.ParticipantRemove
    ) -> dict[str, Any]:
        async with self._transaction() as session:
            await self._require_live_host(session, conn, "remove people")
            await moderation.remove(session, conn.live_session_id, p.user_id)
        out = {"user_id": str(p.user_id)}
        # Every socket of that user in this room, on every node: the notice, then a disconnect
        # (whose handler records the leave; the room hears it in a presence batch). The ban is
        # committed: the user's tickets and connects are refused until readmitted.
        await self.emit(
            "removed",
            _removed_notice(conn.live_session_id),
            room=user_room(conn.live_session_id, p.user_id),
        )
        return out

    async def _participant_readmit(
        self, sid: str, conn: Connection, p: events.ParticipantReadmit
    ) -> dict[str, Any]:
        async with self._transaction() as session:
            await self._require_live_host(session, conn, "readmit people")
            await moderation.readmit(session, conn.live_session_id, p.user_id)
        return {"user_id": str(p.user_id)}

    # --- polls (the host opens and closes; anyone in the room votes) ------------------------

    async def _poll_open(self, sid: str, conn: Connection, p: events.PollOpen) -> dict[str, Any]:
        async with self._transaction() as session:
            await self._require_live_host(session, conn, "open a poll")
            poll = await polls.open_poll(
                session, conn.live_session_id, conn.user_id, p.question, p.options
            )
        out = events.poll_out(poll)
        await self.emit("poll:opened", out, room=room_name(conn.live_session_id))
        return out

    async def _poll_vote(self, sid: str, conn: Connection, p: events.PollVote) -> dict[str, Any]:
        async with self._transaction() as session:
            await self._require_live(session, conn)
            poll, created = await polls.vote(
                session, conn.live_session_id, p.poll_id, conn.user_id, p.option
            )
        if created:  # after the commit; counts only, never who voted what
            await self.emit(
                "poll:results", events.results_out(poll), room=room_name(conn.live_session_id)
            )
        return events.my_poll_out(poll)

    async def _poll_close(self, sid: str, conn: Connection, p: events.PollClose) -> dict[str, Any]:
        async with self._transaction() as session:
            await self._require_live_host(session, conn, "close a poll")
            poll, closed = await polls.close_poll(session, conn.live_session_id, p.poll_id)
        out = events.poll_out(poll)
        if closed:
            await self.emit("poll:closed", out, room=room_name(conn.live_session_id))
        return out

    # --- whiteboard (the host and presenters draw; lms_core/live/whiteboard.py) -------------

    async def _wb_op(self, sid: str, conn: Connection, p: events.WhiteboardOp) -> dict[str, Any]:
        async with self._transaction() as session:
            await self._require_live(session, conn)
            op, created = await whiteboard.add_op(
                session,
                conn.live_session_id,
                conn.user_id,
                p.client_op_id,
                p.page,
                WhiteboardOpKind(p.kind),
                p.data,
            )
        out = op.out()
        if created:  # after the commit: nobody draws an op that could still roll back
            await self.emit("wb:op", out, room=room_name(conn.live_session_id), skip_sid=sid)
        return out

    async def _wb_history(
        self, sid: str, conn: Connection, p: events.WhiteboardHistory
    ) -> dict[str, Any]:
        async with self._transaction() as session:
            await self._require_live(session, conn)
            found = await whiteboard.history(
                session, conn.live_session_id, p.after_seq, p.limit + 1
            )
            last_seq = await whiteboard.last_seq(session, conn.live_session_id)
        return {
            "ops": [o.out() for o in found[: p.limit]],
            "more": len(found) > p.limit,
            "last_seq": last_seq,
        }

    # --- media (the SFU's signalling; docs/live-protocol.md "Media (SFU) signalling") -------

    async def _media_ice(self, sid: str, conn: Connection, _: events.Empty) -> dict[str, Any]:
        # Only for a member of a live room: the socket's own room (never one the client names),
        # not removed since it connected (the kick follows a removal by 0.1 s).
        async with self._transaction() as session:
            await self._require_live(session, conn)
            await moderation.check_not_removed(session, conn.live_session_id, conn.user_id)
        settings = self._app[SETTINGS]
        found = ice.ice_servers(
            settings.ice_servers,
            settings.turn_secret_value,
            settings.turn_ttl,
            str(conn.user_id),
            time.time(),
        )
        return events.ice_out(found)


def _removed_notice(live_session_id: uuid.UUID) -> dict[str, Any]:
    return {"live_session_id": str(live_session_id), "reason": "removed_by_host"}


def _refused(body: dict[str, Any]) -> Exception:
    refusal: Exception = socketio.exceptions.ConnectionRefusedError(body["detail"], body)
    return refusal


def _hand(user_id: uuid.UUID, raised_at: str | None) -> dict[str, Any]:
    return {"user_id": str(user_id), "hand_raised_at": raised_at}


def _failed(exc: DomainError) -> dict[str, Any]:
    return events.failed(from_domain(exc, None)[1])


def _invalid(exc: ValidationError) -> InvalidInput:
    errors = [
        FieldError(tuple(e["loc"]), e["msg"], e["type"])
        for e in exc.errors(include_url=False, include_context=False, include_input=False)
    ]
    return InvalidInput("The event's payload is not valid.", code="invalid_payload", errors=errors)


def _unavailable(exc: Exception) -> dict[str, Any]:
    log.warning("live: database unavailable: %s", type(exc).__name__)
    return problem(503, "database_unavailable", "The database is unavailable; retry shortly.")
