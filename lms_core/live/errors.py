"""Why a live-session request is refused; each has a stable problem ``code``."""

from __future__ import annotations

from lms_core.errors import Conflict, NotAuthenticated, NotFound, PermissionDenied, Unavailable

__all__ = [
    "CalendarNotFound",
    "LiveSessionCancelled",
    "LiveSessionEnded",
    "LiveSessionNotFound",
    "LiveSessionNotLive",
    "LiveSessionNotScheduled",
    "LiveSessionStarted",
    "NodeNotRegistered",
    "RemovedFromSession",
    "TicketRejected",
]


class LiveSessionNotFound(NotFound):
    default_code = "live_session_not_found"
    default_detail = "No such live session."


class LiveSessionNotLive(Conflict):
    default_code = "live_session_not_live"
    default_detail = "The live session is not live."


class LiveSessionNotScheduled(Conflict):
    """Cancelling one that has already started, ended or been cancelled."""

    default_code = "live_session_not_scheduled"
    default_detail = "Only a scheduled live session can be cancelled."


class LiveSessionStarted(Conflict):
    default_code = "live_session_started"
    default_detail = "The live session has started: its start time can no longer change."


class LiveSessionEnded(Conflict):
    default_code = "live_session_ended"
    default_detail = "The live session has ended."


class LiveSessionCancelled(Conflict):
    default_code = "live_session_cancelled"
    default_detail = "The live session was cancelled."


class TicketRejected(NotAuthenticated):
    # One answer for unknown, used and expired tickets: a guesser learns nothing.
    default_code = "join_ticket_invalid"
    default_detail = "The join ticket is unknown, used or expired."


class CalendarNotFound(NotFound):
    default_code = "calendar_not_found"
    default_detail = "No such calendar."


class RemovedFromSession(PermissionDenied):
    """The host removed the user: no ticket, no connect until the host readmits them."""

    default_code = "removed_from_session"
    default_detail = "The host removed you from this live session."


class NodeNotRegistered(Unavailable):
    """This server's node row is missing (its heartbeat lapsed and it was swept); it registers
    again within seconds."""

    default_code = "live_node_unavailable"
    default_detail = "This server is re-registering for live rooms; retry shortly."
