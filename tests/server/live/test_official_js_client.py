"""The official JavaScript client (npm ``socket.io-client``, pinned in tests/js/package.json with
its package-lock.json) works against a real Seminar server on a real port: two clients join with
tickets over WebSocket, chat both ways (acks and broadcasts), a resend is idempotent, a bad
payload gets the problem ack and a reused ticket the connect_error problem.

Needs ``node`` and ``npm ci --prefix tests/js`` (CI runs it). Without them the test skips, and
fails instead when ``SEMINAR_TEST_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from lms_core.accounts.models import Role
from tests.conftest import REQUIRE_SERVICES
from tests.server.live.harness import World

pytestmark = pytest.mark.timeout(60)

JS = Path(__file__).resolve().parents[2] / "js"
SCRIPT = JS / "official_client.mjs"


@pytest.fixture
def node() -> str:
    """The ``node`` binary, with the pinned client installed; checked before the server starts."""
    reason = None
    node = shutil.which("node")
    if node is None:
        reason = "no `node` on PATH: install Node.js (v20) to run the official JS client test"
    elif not (JS / "node_modules" / "socket.io-client" / "package.json").is_file():
        reason = "tests/js/node_modules is missing: run `npm ci --prefix tests/js`"
    if reason is not None:
        if REQUIRE_SERVICES:
            pytest.fail(f"{reason} (SEMINAR_TEST_REQUIRE_SERVICES=1: this test must run)")
        pytest.skip(reason)
    assert node is not None
    return node


async def _run(node: str, *args: str) -> dict[str, Any]:
    process = await asyncio.create_subprocess_exec(
        node,
        str(SCRIPT),
        *args,
        cwd=JS,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=40)
    assert process.returncode == 0, (process.returncode, err.decode(errors="replace"))
    result: dict[str, Any] = json.loads(out)
    return result


async def test_official_js_client_chats_through_a_real_server(node: str, world: World) -> None:
    owner = await world.person("owner", Role.INSTRUCTOR)
    student = await world.person("student")
    live_id = await world.live_session(owner, "student")
    url = str(world.servers[0].make_url("/")).rstrip("/")

    result = await _run(
        node, url, await world.ticket(owner, live_id), await world.ticket(student, live_id)
    )

    assert result["transport"] == "websocket"
    assert result["join_ok"] == [True, True]
    assert result["you"] == [world.ids["owner"], world.ids["student"]]
    assert result["participants_seen_by_b"] == sorted([world.ids["owner"], world.ids["student"]])

    ack_a, ack_b = result["ack_a"], result["ack_b"]
    assert ack_a["ok"], result
    assert ack_b["ok"], result
    assert ack_a["data"]["body"] == "hello from the JS client"
    assert ack_a["data"]["user_id"] == world.ids["owner"]
    assert ack_b["data"]["seq"] == ack_a["data"]["seq"] + 1
    # Each side receives the other's broadcast, identical to the sender's ack.
    assert result["received_b"] == ack_a["data"]
    assert result["received_a"] == ack_b["data"]

    assert result["resend_a"] == ack_a
    history = result["history_b"]
    assert history["ok"], history
    assert [m["seq"] for m in history["data"]["messages"]] == [
        ack_a["data"]["seq"],
        ack_b["data"]["seq"],
    ]
    assert history["data"]["more"] is False

    bad = result["bad_payload"]
    assert bad["ok"] is False
    assert bad["problem"]["code"] == "invalid_payload"
    assert bad["problem"]["status"] == 422

    reused = result["reused_ticket"]
    assert reused != "accepted"
    assert reused["data"]["code"] == "join_ticket_invalid"
    assert reused["message"] == reused["data"]["detail"]
