"""One request to an SFU worker, with the worker's answer turned into the problem a browser
gets (docs/live-protocol.md "Errors of the media events").

A worker's ``error`` reply names a media error code (media/workers/media_messages.py); a
worker that does not answer in time, or whose channel closes, is ``media_unavailable`` (503):
the browser retries, and by then the supervisor has restarted or replaced the worker.
"""

from __future__ import annotations

import logging
from typing import TypeVar

from lms_core.errors import Conflict, DomainError, InvalidInput, NotFound, Unavailable
from media.workers.client import ChannelClosed, WorkerClient, WorkerError
from media.workers.protocol import Reply, Request

log = logging.getLogger("seminar.sfu")

Rep = TypeVar("Rep", bound=Reply)

NEGOTIATION_TIMEOUT = 20.0
"""Seconds for a publish or subscribe: aiortc gathers every candidate before it answers, which
takes a TURN server's round trips when one is configured."""
REQUEST_TIMEOUT = 5.0
RETRY_AFTER = 2


def media_unavailable(
    detail: str = "No SFU worker can take this now; retry shortly.",
) -> DomainError:
    return Unavailable(detail, code="media_unavailable", extra={"retry_after": RETRY_AFTER})


def transport_not_found() -> DomainError:
    return NotFound("This transport is not one of this socket's.", code="transport_not_found")


def negotiation_in_progress() -> DomainError:
    return Conflict(
        "An earlier negotiation of this transport is still outstanding; retry after it.",
        code="negotiation_in_progress",
    )


def _from_worker(exc: WorkerError) -> DomainError:
    if exc.code in ("sdp_invalid", "unsupported_codec", "not_negotiated"):
        return InvalidInput(exc.message, code="sdp_invalid")
    if exc.code == "negotiation_in_progress":
        return negotiation_in_progress()
    if exc.code == "transport_not_found":
        return transport_not_found()
    if exc.code == "track_not_found":
        return NotFound(exc.message, code="track_not_found")
    # transport_exists / track_exists: the control plane named something twice (a bug here,
    # not the client's doing); the client's retry gets fresh ids.
    log.error("sfu worker refused a request: %s", exc)
    return media_unavailable()


async def call(
    client: WorkerClient,
    request: Request,
    reply: type[Rep],
    *,
    timeout: float = REQUEST_TIMEOUT,  # noqa: ASYNC109 (a per-request timeout is the API)
) -> Rep:
    """``client.call`` with its failures as the browser's problems (module docstring)."""
    try:
        return await client.call(request, reply, timeout=timeout)
    except WorkerError as exc:
        raise _from_worker(exc) from None
    except (TimeoutError, ChannelClosed) as exc:
        log.warning("sfu worker did not answer %s: %s", type(request).__name__, type(exc).__name__)
        raise media_unavailable() from None


async def call_quietly(
    client: WorkerClient | None, request: Request, reply: type[Rep]
) -> Rep | None:
    """A best-effort request (closing what a browser left): ``None`` when it fails."""
    if client is None:
        return None
    try:
        return await client.call(request, reply, timeout=REQUEST_TIMEOUT)
    except (WorkerError, TimeoutError, ChannelClosed):
        return None
