"""Server nodes and the presence they leave behind when they die.

Every node serving ``/live`` has a ``live_nodes`` row and beats it (``beat``, every
``BEAT_EVERY``) with the database's clock, so nodes with skewed clocks agree. Each socket is a
``live_connections`` row naming its node (``room.connect``). A node killed without a clean
shutdown leaves rows behind; every node runs a sweeper (``sweep``) that takes the rows of nodes
not seen for ``STALE_AFTER``: for every participant left with no connection, it closes the open
attendance interval at the dead node's last beat and lowers the hand, and says who left so the
caller can tell the room. A node shutting down cleanly does the same for itself (``retire``)
once its sockets are gone, at the current time.

Sweepers on several nodes at once: the dead node rows are taken ``FOR UPDATE SKIP LOCKED``, so
each is handled by one sweeper; a connect on a node holds its node row ``FOR KEY SHARE`` (which
the sweeper skips), and the participants are locked in one order (by id), after the nodes, as
``room.connect`` does, so sweepers and connects cannot deadlock.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.live import room
from lms_core.live.room_models import LiveConnection, LiveNode, LiveParticipant

BEAT_EVERY = timedelta(seconds=10)
STALE_AFTER = timedelta(seconds=30)


@dataclass(frozen=True, slots=True)
class Left:
    """A participant whose last connection was on a node that is gone."""

    live_session_id: uuid.UUID
    user_id: uuid.UUID


async def beat(session: AsyncSession, node_id: uuid.UUID) -> bool:
    """Mark the node alive now; False if its row was missing (first start, or swept after
    missing beats: its sockets' rows are gone, so it should drop those sockets)."""
    seen = await session.scalar(
        update(LiveNode)
        .where(LiveNode.id == node_id)
        .values(last_seen_at=func.now())
        .returning(LiveNode.id)
    )
    if seen is not None:
        return True
    await session.execute(insert(LiveNode).values(id=node_id).on_conflict_do_nothing())
    return False


async def sweep(session: AsyncSession, stale_after: timedelta = STALE_AFTER) -> list[Left]:
    """Remove the nodes not seen for ``stale_after`` and their connections; who left. The
    caller commits, then tells each room."""
    dead = (
        await session.execute(
            select(LiveNode.id, LiveNode.last_seen_at)
            .where(LiveNode.last_seen_at < func.now() - stale_after)
            .order_by(LiveNode.id)
            .with_for_update(skip_locked=True)
        )
    ).all()
    return await _drop(session, {row.id: row.last_seen_at for row in dead})


async def retire(session: AsyncSession, node_id: uuid.UUID) -> list[Left]:
    """A clean shutdown: remove this node and whatever connections it still has (now)."""
    found = await session.scalar(
        select(LiveNode.id).where(LiveNode.id == node_id).with_for_update()
    )
    if found is None:
        return []
    return await _drop(session, {node_id: func.now()})


async def _drop(session: AsyncSession, nodes: dict[uuid.UUID, datetime | Any]) -> list[Left]:
    if not nodes:
        return []
    rows = (
        await session.execute(
            select(LiveConnection.participant_id, LiveConnection.node_id).where(
                LiveConnection.node_id.in_(nodes)
            )
        )
    ).all()
    # The latest time any of the dead nodes holding a participant's connections was seen.
    last_seen: dict[uuid.UUID, list[Any]] = {}
    for participant_id, node_id in rows:
        assert node_id is not None
        last_seen.setdefault(participant_id, []).append(nodes[node_id])
    left = []
    for participant_id in sorted(last_seen):
        found = (
            await session.execute(
                select(LiveParticipant.live_session_id, LiveParticipant.user_id)
                .where(LiveParticipant.id == participant_id)
                .with_for_update()
            )
        ).one_or_none()
        if found is None:
            continue
        gone = await session.scalars(
            delete(LiveConnection)
            .where(
                LiveConnection.participant_id == participant_id,
                LiveConnection.node_id.in_(nodes),
            )
            .returning(LiveConnection.id)
        )
        if not list(gone):
            continue
        remaining = await session.scalar(
            select(func.count())
            .select_from(LiveConnection)
            .where(LiveConnection.participant_id == participant_id)
        )
        if remaining:
            continue
        times = last_seen[participant_id]
        await room.leave(
            session, participant_id, times[0] if len(times) == 1 else func.greatest(*times)
        )
        left.append(Left(found.live_session_id, found.user_id))
    await session.execute(delete(LiveNode).where(LiveNode.id.in_(nodes)))
    return left
