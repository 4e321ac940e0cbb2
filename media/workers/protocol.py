"""The SFU worker control protocol, version 1: typed messages as newline-delimited JSON.

Transport: any byte stream (a Unix domain socket the worker listens on when ``seminar serve``
starts it, or TCP for ``seminar sfu-worker --control-host`` on another node). One frame is one
UTF-8 JSON object on one line, ending in ``\\n``, at most :data:`MAX_FRAME_BYTES` long.

Every frame has a ``"type"``. Three kinds of message:

* **request** (control plane -> worker): ``{"type": "ping", "id": 7}``. ``id`` is a positive
  integer the sender chooses, unique among its requests in flight on that connection.
* **reply** (worker -> control plane): the same ``id`` and the reply type the request declares
  (``ping`` -> ``pong``), or ``{"type": "error", "id": 7, "code": ..., "message": ...}``.
  A worker answers the requests of one connection in order, one at a time.
* **event** (worker -> control plane, unsolicited, no ``id``): ``{"type": "stopping", ...}``,
  sent to every connection.

Version 1 messages:

=========== =============== ===================================================================
request     reply           meaning
=========== =============== ===================================================================
hello       welcome         first request; ``protocol`` must match the worker's major version;
                            the reply names the worker: ``worker_id``, ``pid``, ``version``,
                            ``protocol``, ``capacity`` (subscribers it should carry), ``udp_rcvbuf``
ping        pong            liveness; the supervisor pings every second
stats       stats_report    ``cpu_percent`` (since the previous stats request), ``rss_bytes``,
                            ``sessions``, ``uptime``
shutdown    shutting_down   the worker stops after replying (as on SIGTERM)
=========== =============== ===================================================================

Events: ``stopping`` (``reason``: ``"signal"``, ``"shutdown"``, ``"parent_gone"``).

Error codes: ``bad_frame`` (not a JSON object; ``id`` null), ``frame_too_large`` (the worker
then closes the connection), ``unknown_type``, ``bad_request`` (fields do not validate),
``protocol_mismatch``, ``internal`` (the handler failed; the worker logs it and carries on).

Adding a message type (the forwarding core's ``publish``, ``subscribe``, ``unpublish``,
``ice_candidate``...): subclass :class:`Request` with a ``type`` and a ``reply`` class
(a :class:`Reply` subclass), decorate both with :func:`message`, and register a handler on the
worker's :class:`~media.workers.server.WorkerServer`. Unknown fields are ignored, so adding an
optional field does not need a new protocol version; removing or changing one does.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

PROTOCOL_VERSION = 1
MAX_FRAME_BYTES = 1024 * 1024

ErrorCode = Literal[
    "bad_frame", "frame_too_large", "unknown_type", "bad_request", "protocol_mismatch", "internal"
]


class Message(BaseModel):
    """A protocol message; ``type`` is its wire name, set by :func:`message`."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    type: ClassVar[str]


class Reply(Message):
    """A worker's answer to one request."""


class Request(Message):
    """A control-plane request; ``reply`` is the class of its successful answer."""

    reply: ClassVar[type[Reply]]


class Event(Message):
    """An unsolicited worker -> control plane message."""


REQUESTS: dict[str, type[Request]] = {}
REPLIES: dict[str, type[Reply]] = {}
EVENTS: dict[str, type[Event]] = {}

M = TypeVar("M", bound=type[Message])


def message(name: str) -> Any:
    """Class decorator: give a message class its wire ``type`` and register it."""

    def register(cls: M) -> M:
        cls.type = name
        for base, table in ((Request, REQUESTS), (Reply, REPLIES), (Event, EVENTS)):
            if issubclass(cls, base):
                if name in table:
                    raise ValueError(f"message type {name!r} is already registered")
                table[name] = cls  # type: ignore[assignment]
                return cls
        raise TypeError(f"{cls.__name__} is not a Request, Reply or Event")

    return register


class ProtocolError(Exception):
    """A frame could not be read as a message; ``code`` is the error code to answer with."""

    def __init__(self, code: ErrorCode, message: str, request_id: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = request_id


# --- version 1 messages -------------------------------------------------------------------------


@message("welcome")
class Welcome(Reply):
    worker_id: str
    pid: int
    version: str
    protocol: int
    capacity: int = Field(ge=0, description="Subscribers this worker should carry at most.")
    udp_rcvbuf: int = Field(ge=0, description="Effective SO_RCVBUF of a media socket, bytes.")


@message("hello")
class Hello(Request):
    reply = Welcome
    protocol: int = PROTOCOL_VERSION
    # The worker's control token, when it has one (a TCP channel): until a hello carries it,
    # the worker answers nothing else (``unauthorized``, then it hangs up).
    token: str | None = Field(default=None, max_length=256)


@message("pong")
class Pong(Reply):
    pass


@message("ping")
class Ping(Request):
    reply = Pong


@message("stats_report")
class StatsReport(Reply):
    cpu_percent: float = Field(ge=0, description="Of one core, since the previous stats request.")
    rss_bytes: int = Field(ge=0)
    sessions: int = Field(ge=0, description="Peer connections the worker carries.")
    uptime: float = Field(ge=0, description="Seconds since the worker started.")


@message("stats")
class Stats(Request):
    reply = StatsReport


@message("shutting_down")
class ShuttingDown(Reply):
    pass


@message("shutdown")
class Shutdown(Request):
    reply = ShuttingDown


@message("error")
class ErrorReply(Reply):
    code: str
    message: str = ""


@message("stopping")
class Stopping(Event):
    reason: Literal["signal", "shutdown", "parent_gone"]


# --- framing ------------------------------------------------------------------------------------


def encode(msg: Message, request_id: int | None = None) -> bytes:
    """One frame: the message's fields, its ``type`` and (requests, replies) its ``id``."""
    body: dict[str, Any] = {"type": msg.type}
    if request_id is not None or isinstance(msg, ErrorReply):
        body["id"] = request_id
    body.update(msg.model_dump(mode="json"))
    return json.dumps(body, separators=(",", ":")).encode() + b"\n"


def _frame_object(frame: bytes) -> dict[str, Any]:
    try:
        body = json.loads(frame)
    except ValueError as exc:
        raise ProtocolError("bad_frame", f"not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ProtocolError("bad_frame", "a frame must be a JSON object")
    return body


def _request_id(body: dict[str, Any]) -> int | None:
    value = body.get("id")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def decode_request(frame: bytes) -> tuple[int, Request]:
    """Parse a request frame; raises :class:`ProtocolError` with the code to answer."""
    body = _frame_object(frame)
    request_id = _request_id(body)
    kind = body.get("type")
    cls = REQUESTS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ProtocolError("unknown_type", f"no request type {kind!r}", request_id)
    if request_id is None or request_id <= 0:
        raise ProtocolError("bad_request", "a request needs a positive integer id", request_id)
    return request_id, _validate(cls, body, request_id)


def decode_incoming(frame: bytes) -> tuple[int | None, Reply | Event | dict[str, Any]]:
    """Parse a frame the control plane received: ``(id, reply)``, ``(None, event)``, or a raw
    reply body (``(id, dict)``) whose class only the waiting request knows (see
    :func:`reply_for`). Raises :class:`ProtocolError` for a frame that is neither."""
    body = _frame_object(frame)
    kind = body.get("type")
    if "id" not in body:
        event_cls = EVENTS.get(kind) if isinstance(kind, str) else None
        if event_cls is None:
            raise ProtocolError("unknown_type", f"no event type {kind!r}")
        return None, _validate(event_cls, body, None)
    return _request_id(body), body


def reply_for(request: Request, body: dict[str, Any]) -> Reply:
    """The reply ``body`` validated as ``request``'s reply (or an :class:`ErrorReply`)."""
    cls: type[Reply] = ErrorReply if body.get("type") == "error" else request.reply
    if body.get("type") != cls.type:
        raise ProtocolError("bad_frame", f"{request.type} answered with {body.get('type')!r}")
    return _validate(cls, body, _request_id(body))


MT = TypeVar("MT", bound=Message)


def _validate(cls: type[MT], body: dict[str, Any], request_id: int | None) -> MT:
    fields = {k: v for k, v in body.items() if k not in ("type", "id")}
    try:
        return cls.model_validate(fields)
    except ValidationError as exc:
        errors = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or cls.type}: {e['msg']}" for e in exc.errors()
        )
        raise ProtocolError("bad_request", errors, request_id) from None
