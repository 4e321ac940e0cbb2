"""Coalesced presence broadcasts: one ``presence:changed`` per room and node per window.

Announcing every first connect on its own made a class joining at once cost C²/2 deliveries
(docs/benchmarks.md, "Joining is quadratic"). Here the joins and leaves of a room are collected
and sent as one event at most every ``window`` seconds (settings ``live_presence_window``):

* the first change after a quiet window goes out at once (a single join still shows up
  immediately); the changes that follow within the window wait for its end and go out together;
* a batch holds one entry per user, the last thing this node recorded for them: a user who
  joined and left within one window is only in ``left``, so no client can show them present;
* just before sending, the batch is checked against who is connected now on any node
  (``Check``): a join whose user has gone meanwhile (their last socket closed on another node,
  whose batch says so) is dropped, and so is a leave whose user is back (the node that took
  the new first connection announces it). Two nodes' batches are not ordered with each other;
  this keeps a batch held for a window from contradicting a newer one sent by another node;
* whatever else the room is told about its participants (``participant:changed``,
  ``hand:changed``) is preceded by the pending batch (``flush``), so on one node a client never
  sees a hand or a role before the join it belongs to.

A client that may have missed a batch (a reconnect, ``room:resync``) asks ``join`` for the
whole list again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger("seminar.live.presence")

EVENT = "presence:changed"
# (room name, payload): sends EVENT to the room on every node.
Emit = Callable[[str, dict[str, Any]], Awaitable[None]]
# (room name, user ids): those connected to the room now; None if that cannot be known.
Check = Callable[[str, list[str]], Awaitable[set[str] | None]]
Changes = dict[str, dict[str, Any] | None]  # user_id -> the participant (joined) or None (left)
_PRUNE_AT = 256  # rooms remembered with a last-batch time before the quiet ones are forgotten


def payload(changes: Changes) -> dict[str, Any]:
    """``{"joined": [participant...], "left": [user_id...]}``; a user is in at most one."""
    return {
        "joined": [p for p in changes.values() if p is not None],
        "left": [user_id for user_id, p in changes.items() if p is None],
    }


def still_true(changes: Changes, connected: set[str]) -> Changes:
    """The changes that the room's present state (``connected``) still agrees with."""
    return {u: p for u, p in changes.items() if (p is not None) == (u in connected)}


class PresenceBatcher:
    def __init__(self, emit: Emit, window: float, check: Check | None = None) -> None:
        self._emit = emit
        self._check = check
        self.window = window
        self._pending: dict[str, Changes] = {}  # per room, users in order of last change
        self._last: dict[str, float] = {}  # room -> loop time of its last batch
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._flushing: set[asyncio.Task[None]] = set()
        # One batch checked and sent at a time: a later batch of a room never overtakes an
        # earlier one still waiting for its check.
        self._sending = asyncio.Lock()

    async def joined(self, room: str, participant: dict[str, Any]) -> None:
        await self._change(room, str(participant["user_id"]), participant)

    async def left(self, room: str, user_id: str) -> None:
        await self._change(room, user_id, None)

    async def _change(self, room: str, user_id: str, participant: dict[str, Any] | None) -> None:
        pending = self._pending.setdefault(room, {})
        pending.pop(user_id, None)  # re-inserted: the batch lists users by their last change
        pending[user_id] = participant
        if room in self._timers:
            return  # a batch is due: this change goes with it
        loop = asyncio.get_running_loop()
        due = self._last.get(room, float("-inf")) + self.window
        if due <= loop.time():  # a quiet room: at once
            await self.flush(room)
        else:
            self._timers[room] = loop.call_later(due - loop.time(), self._due, room)

    def _due(self, room: str) -> None:
        task = asyncio.get_running_loop().create_task(self.flush(room))
        self._flushing.add(task)
        task.add_done_callback(self._flushing.discard)

    async def flush(self, room: str) -> None:
        """Send the room's pending changes now (nothing if there are none)."""
        timer = self._timers.pop(room, None)
        if timer is not None:
            timer.cancel()
        if room not in self._pending:
            return
        now = asyncio.get_running_loop().time()
        self._last[room] = now  # changes from now on wait for the next window
        if len(self._last) > _PRUNE_AT:
            self._last = {r: t for r, t in self._last.items() if now - t < self.window}
        async with self._sending:
            changes = self._pending.pop(room, None)
            if changes:
                await self._send(room, changes)

    async def _send(self, room: str, changes: Changes) -> None:
        if self._check is not None:
            try:
                connected = await self._check(room, list(changes))
            except Exception:
                log.warning("live: presence check for %s failed", room, exc_info=True)
                connected = None
            if connected is not None:  # unknown (the database is down): as recorded
                changes = still_true(changes, connected)
        if not changes:
            return
        try:
            await self._emit(room, payload(changes))
        except Exception:  # the local members may be gone (shutdown); a rejoin repairs the rest
            log.exception("live: a presence batch to %s was not sent", room)

    async def flush_all(self) -> None:
        """Send everything pending (a node shutting down or retiring)."""
        for room in list(self._pending):
            await self.flush(room)
        if self._flushing:
            await asyncio.gather(*self._flushing, return_exceptions=True)
