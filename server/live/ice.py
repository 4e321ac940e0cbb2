"""ICE servers for a room member's ``RTCPeerConnection``: the configured STUN URLs as they are,
and the TURN URLs with time-limited credentials (the TURN REST API of
draft-uberti-behave-turn-rest-00, which coturn checks with ``use-auth-secret`` and
``static-auth-secret``):

* username = ``"<expiry unix time>:<user id>"``;
* credential = ``base64(HMAC-SHA1(secret, username))``.

The TURN server needs no user database: it recomputes the HMAC with the shared secret and
refuses a username whose time has passed. Without a secret no TURN entry is issued (a TURN
server would refuse every allocation anyway); without any URL the list is empty and the
peers use host candidates only. Pure functions: the clock is an argument.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

STUN_SCHEMES = ("stun:", "stuns:")
TURN_SCHEMES = ("turn:", "turns:")


@dataclass(frozen=True, slots=True)
class TurnCredential:
    username: str
    credential: str
    expires: int  # unix time


def turn_credential(secret: str, user: str, expires: int) -> TurnCredential:
    """The TURN REST API credential of ``user`` valid until ``expires`` (unix seconds)."""
    if ":" in user:  # coturn's default rest-api-separator: the expiry is the part before it
        raise ValueError("a TURN REST user id must not contain ':'")
    username = f"{expires}:{user}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return TurnCredential(username, base64.b64encode(digest).decode("ascii"), expires)


def is_turn(url: str) -> bool:
    return url.lower().startswith(TURN_SCHEMES)


@dataclass(frozen=True, slots=True)
class IceServers:
    """What ``media:ice`` answers: RTCIceServer dicts, and when the TURN credential ends
    (``None`` when there is no TURN entry)."""

    servers: list[dict[str, Any]]
    expires: int | None


def ice_servers(urls: list[str], secret: str | None, ttl: int, user: str, now: float) -> IceServers:
    """The ``iceServers`` for ``user`` at ``now``: one entry for the STUN URLs, one for the
    TURN URLs (with a credential valid for ``ttl`` seconds), in that order; the TURN entry only
    with a secret."""
    stun = [u for u in urls if not is_turn(u)]
    turn = [u for u in urls if is_turn(u)]
    servers: list[dict[str, Any]] = []
    if stun:
        servers.append({"urls": stun})
    if not turn or not secret:
        return IceServers(servers, None)
    cred = turn_credential(secret, user, int(now) + ttl)
    servers.append({"urls": turn, "username": cred.username, "credential": cred.credential})
    return IceServers(servers, cred.expires)
