"""Undo of one's own erase and clear over Socket.IO: the stored erase and clear say what they
removed, the undo carries the ops it puts back, the room receives them, a late joiner draws the
same board from its join state; an undo cannot be undone, nothing twice, nobody else's."""

from __future__ import annotations

from typing import Any

import pytest

from lms_core.accounts.models import Role
from tests.server.live.harness import World
from tests.server.live.test_namespace import data, problem
from tests.server.live.test_whiteboard import stroke

pytestmark = pytest.mark.timeout(60)


def op(client_op_id: str, kind: str, body: dict[str, Any], page: int = 0) -> dict[str, Any]:
    return {"client_op_id": client_op_id, "page": page, "kind": kind, "data": body}


def board(state: dict[str, Any]) -> dict[str, list[int]]:
    """What a client draws from the join state: the snapshot's pages, then the ops in order."""
    pages = {p: [o["seq"] for o in drawn] for p, drawn in state["snapshot"]["pages"].items()}
    for o in state["ops"]:
        key = str(o["page"])
        if o["kind"] in ("stroke", "shape", "text"):
            pages.setdefault(key, []).append(o["seq"])
        elif o["kind"] == "clear":
            pages[key] = []
        else:
            for p in pages:
                pages[p] = [s for s in pages[p] if s != o["data"]["target"]]
            for back in o["data"].get("restore", []):
                pages.setdefault(str(back["page"]), []).append(back["seq"])
                pages[str(back["page"])].sort()
    return {p: seqs for p, seqs in pages.items() if seqs}


async def test_undo_of_erase_and_clear_reaches_the_room_and_late_joiners(world: World) -> None:
    owner = await world.person("owner", Role.INSTRUCTOR)
    ann = await world.person("ann")
    live_id = await world.live_session(owner, "ann")
    host = await world.join(owner, live_id)
    a = await world.join(ann, live_id)

    one = data(await host.call("wb:op", stroke("1")))
    two = data(await host.call("wb:op", stroke("2")))
    erase = data(await host.call("wb:op", op("e", "erase", {"target": one["seq"]})))
    assert erase["data"] == {"target": one["seq"], "removed": [one["seq"]]}
    clear = data(await host.call("wb:op", op("c", "clear", {})))
    assert clear["data"] == {"removed": [two["seq"]]}
    undo_clear = data(await host.call("wb:op", op("u1", "undo", {"target": clear["seq"]})))
    assert undo_clear["data"]["restore"] == [two]
    undo_erase = data(await host.call("wb:op", op("u2", "undo", {"target": erase["seq"]})))
    assert undo_erase["data"]["restore"] == [one]
    got = await a.wait("wb:op", 6)
    assert got[-2:] == [undo_clear, undo_erase]

    # The attendee may not undo (not a presenter); the host may not undo an undo, nor twice.
    problem(await a.call("wb:op", op("x", "undo", {"target": erase["seq"]})), "forbidden")
    problem(
        await host.call("wb:op", op("u3", "undo", {"target": undo_erase["seq"]})),
        "op_not_undoable",
    )
    problem(
        await host.call("wb:op", op("u4", "undo", {"target": erase["seq"]})), "op_already_undone"
    )
    # A presenter may not undo the host's clear either.
    data(await host.call("participant:role", {"user_id": world.ids["ann"], "role": "presenter"}))
    problem(await a.call("wb:op", op("y", "undo", {"target": clear["seq"]})), "forbidden")
    # A client may not say what an op removes or restores: the server does.
    forged = op("f", "undo", {"target": clear["seq"], "restore": [one]})
    problem(await host.call("wb:op", forged), "invalid_payload")

    late = await world.join(owner, live_id)
    state = data(await late.call("join"))["whiteboard"]
    assert board(state) == {"0": [one["seq"], two["seq"]]}
