"""Payloads of the ``/live`` events (validated with pydantic) and the wire shape of what the
server sends back. Acks are ``{"ok": true, "data": ...}`` or ``{"ok": false, "problem": ...}``
with the same problem shape and codes as HTTP (server/problems.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from lms_core.live import moderation, polls, room, whiteboard
from lms_core.live.room_models import (
    MAX_CLIENT_ID_CHARS,
    MAX_POLL_OPTION_CHARS,
    MAX_POLL_OPTIONS,
    MAX_POLL_QUESTION_CHARS,
    MIN_POLL_OPTIONS,
)
from server.live import ice


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Empty(Payload):
    """Events that carry nothing (``null``, ``{}`` or no argument)."""


class ChatSend(Payload):
    # The length limit is checked by lms_core (payload_too_large, not invalid_payload).
    body: str
    client_id: str = Field(min_length=1, max_length=MAX_CLIENT_ID_CHARS)


class ChatHistory(Payload):
    after_seq: int = Field(default=0, ge=0)
    limit: int = Field(default=100, ge=1, le=room.MAX_HISTORY)


class ParticipantMute(Payload):
    user_id: uuid.UUID = Field(strict=False)  # a UUID string on the wire
    muted: bool


class ParticipantRemove(Payload):
    user_id: uuid.UUID = Field(strict=False)


class ParticipantReadmit(Payload):
    user_id: uuid.UUID = Field(strict=False)


class ParticipantRole(Payload):
    user_id: uuid.UUID = Field(strict=False)
    role: Literal["presenter", "attendee"]


PollOption = Annotated[str, Field(min_length=1, max_length=MAX_POLL_OPTION_CHARS)]


class PollOpen(Payload):
    question: str = Field(min_length=1, max_length=MAX_POLL_QUESTION_CHARS)
    options: list[PollOption] = Field(min_length=MIN_POLL_OPTIONS, max_length=MAX_POLL_OPTIONS)


class PollVote(Payload):
    poll_id: uuid.UUID = Field(strict=False)
    option: int = Field(ge=0, lt=MAX_POLL_OPTIONS)  # the option's index


class PollClose(Payload):
    poll_id: uuid.UUID = Field(strict=False)


class WhiteboardOp(Payload):
    # The 64 KB limit and the per-kind data are checked by lms_core (payload_too_large).
    client_op_id: str = Field(min_length=1, max_length=MAX_CLIENT_ID_CHARS)
    page: int = Field(ge=0)
    kind: Literal["stroke", "shape", "text", "erase", "clear", "undo"]
    data: dict[str, Any] = Field(default_factory=dict)


class WhiteboardHistory(Payload):
    after_seq: int = Field(default=0, ge=0)
    limit: int = Field(default=whiteboard.MAX_HISTORY, ge=1, le=whiteboard.MAX_HISTORY)


def board_out(b: whiteboard.Board) -> dict[str, Any]:
    """The join state's whiteboard: the latest snapshot, the ops after it, the last seq."""
    return {
        "snapshot": {"seq": b.snapshot_seq, "pages": b.pages},
        "ops": [o.out() for o in b.ops],
        "last_seq": b.last_seq,
    }


def poll_out(p: polls.Poll) -> dict[str, Any]:
    """A poll as broadcast to the room: counts, never who voted what."""
    return {
        "id": str(p.id),
        "question": p.question,
        "options": list(p.options),
        "status": p.status.value,
        "counts": list(p.counts),
        "total": p.total,
        "created_at": p.created_at.isoformat(),
        "closed_at": p.closed_at.isoformat() if p.closed_at else None,
    }


def my_poll_out(p: polls.Poll) -> dict[str, Any]:
    """A poll for one user (an ack, the join state): with that user's own vote."""
    return {**poll_out(p), "your_vote": p.your_vote}


def results_out(p: polls.Poll) -> dict[str, Any]:
    return {"poll_id": str(p.id), "counts": list(p.counts), "total": p.total}


def message_out(m: room.ChatMessage) -> dict[str, Any]:
    return {
        "seq": m.seq,
        "id": str(m.id),
        "user_id": str(m.user_id) if m.user_id else None,
        "author": m.author,
        "body": m.body,
        "client_id": m.client_id,
        "created_at": m.created_at.isoformat(),
    }


def removed_out(r: moderation.RemovedUser) -> dict[str, Any]:
    return {"user_id": str(r.user_id), "name": r.name, "removed_at": r.removed_at.isoformat()}


def participant_out(p: room.Participant) -> dict[str, Any]:
    return {
        "user_id": str(p.user_id),
        "name": p.name,
        "role": p.role.value,
        "hand_raised_at": p.hand_raised_at.isoformat() if p.hand_raised_at else None,
        "chat_muted": p.chat_muted,
    }


def ice_out(found: ice.IceServers) -> dict[str, Any]:
    """The ack of ``media:ice``: RTCIceServer dicts, and when the TURN credential expires."""
    at = found.expires
    expires = None if at is None else datetime.fromtimestamp(at, UTC).isoformat()
    return {"ice_servers": found.servers, "expires_at": expires}


def ok(data: Any) -> dict[str, Any]:
    return {"ok": True, "data": data}


def failed(problem: dict[str, Any]) -> dict[str, Any]:
    return {"ok": False, "problem": problem}
