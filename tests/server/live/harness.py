"""A real server on a real port with its own pool (committed data, deleted afterwards), people
signed in over HTTP, a live session started over HTTP, and Socket.IO clients that record
every event they receive."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import socketio  # type: ignore[import-untyped]
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncEngine

from lms_core.accounts.models import Role, User
from lms_core.courses.models import Course
from lms_core.db import create_session_factory, unit_of_work
from lms_core.enrollment.models import Enrollment
from server.app import create_app
from server.cookies import session_cookie_name
from server.live.presence import live_presence
from server.state import SETTINGS
from tests.conftest import FAST_HASHER, ORIGIN, PASSWORD, make_settings

AppClient = TestClient[web.Request, web.Application]
LIMITS = {
    "register_rate_limit": "1000/hour",
    "login_rate_limit": "1000/minute",
    "ip_rate_limit": "100000/minute",
}


async def ok(resp: Any, status: int = 200) -> Any:
    assert resp.status == status, await resp.text()
    return await resp.json()


class Sock:
    """A Socket.IO client on ``/live`` remembering what it received."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.client = socketio.AsyncClient(reconnection=False)
        self.events: list[tuple[str, Any]] = []
        self.refusal: Any = None
        self.client.on("*", self._any, namespace="/live")
        self.client.on("connect_error", self._refused, namespace="/live")

    async def _any(self, event: str, data: Any) -> None:
        self.events.append((event, data))

    async def _refused(self, data: Any) -> None:
        assert isinstance(data, dict)
        assert data["message"] == data["data"]["detail"]
        self.refusal = data["data"]  # the problem

    async def connect(self, auth: Any = None, headers: dict[str, str] | None = None) -> None:
        await self.client.connect(
            self.url,
            namespaces=["/live"],
            auth=auth,
            headers=headers or {},
            transports=["websocket"],
            wait_timeout=5,
        )

    async def call(self, event: str, data: Any = None) -> Any:
        return await self.client.call(event, data, namespace="/live", timeout=5)

    def of(self, event: str) -> list[Any]:
        return [d for e, d in self.events if e == event]

    async def wait(self, event: str, count: int = 1) -> list[Any]:
        await until(lambda: len(self.of(event)) >= count)
        return self.of(event)

    def joins(self, user_id: str | None = None) -> list[dict[str, Any]]:
        """The participants announced as joined (``presence:changed``), in order."""
        found = [p for batch in self.of("presence:changed") for p in batch["joined"]]
        return [p for p in found if user_id is None or p["user_id"] == user_id]

    def lefts(self, user_id: str | None = None) -> list[str]:
        """The user ids announced as gone (``presence:changed``), in order."""
        found = [u for batch in self.of("presence:changed") for u in batch["left"]]
        return [u for u in found if user_id is None or u == user_id]

    async def wait_joined(self, user_id: str) -> dict[str, Any]:
        await until(lambda: bool(self.joins(user_id)))
        return self.joins(user_id)[-1]

    async def wait_left(self, user_id: str) -> None:
        await until(lambda: bool(self.lefts(user_id)))

    async def close(self) -> None:
        if self.client.connected:
            await self.client.disconnect()


async def until(predicate: Callable[[], bool]) -> None:
    async with asyncio.timeout(5):
        while not predicate():  # noqa: ASYNC110 -- polling what socket callbacks append
            await asyncio.sleep(0.02)


class World:
    def __init__(self, engine: AsyncEngine, database_url: str, aiohttp_client: Any) -> None:
        self.engine = engine
        self.database_url = database_url
        self.aiohttp_client = aiohttp_client
        self.servers: list[TestServer] = []
        self.user_ids: list[uuid.UUID] = []
        self.course_ids: list[uuid.UUID] = []
        self.socks: list[Sock] = []
        self.ids: dict[str, str] = {}

    async def start_server(
        self, presence: tuple[timedelta, timedelta] | None = None, **overrides: Any
    ) -> TestServer:
        """``presence``: also run a heartbeat and sweeper with this (beat every, stale after),
        short ones for a test (the app's own run every 10 s)."""
        settings = make_settings(self.database_url, **LIMITS, **overrides)
        app = await asyncio.to_thread(create_app, settings, hasher=FAST_HASHER)
        if presence is not None:
            app.cleanup_ctx.append(live_presence(*presence))
        server = TestServer(app)
        await server.start_server()
        self.servers.append(server)
        return server

    async def two_nodes(self, redis_url: str, **overrides: Any) -> None:
        """Replace the fixture's node (no Redis) by two nodes sharing ``redis_url``."""
        await self.servers.pop(0).close()
        await self.start_server(redis_url=redis_url, **overrides)
        await self.start_server(redis_url=redis_url, **overrides)

    async def restart(self, **overrides: Any) -> None:
        """Replace the fixture's node by one with these settings."""
        await self.servers.pop(0).close()
        await self.start_server(**overrides)

    async def person(self, label: str, role: Role = Role.STUDENT) -> AppClient:
        client: AppClient = await self.aiohttp_client(self.servers[0], headers={"Origin": ORIGIN})
        email = f"live-{label}-{uuid.uuid4().hex[:8]}@example.com"
        body = await ok(
            await client.post(
                "/api/v1/auth/register",
                json={"email": email, "password": PASSWORD, "name": label.title()},
            ),
            201,
        )
        self.ids[label] = body["id"]
        self.user_ids.append(uuid.UUID(body["id"]))
        if role is not Role.STUDENT:
            async with unit_of_work(create_session_factory(self.engine)) as s:
                await s.execute(update(User).where(User.email == email).values(role=role))
        await ok(
            await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        )
        return client

    async def live_session(self, owner: AppClient, *students: str) -> str:
        course = await ok(await owner.post("/api/v1/courses", json={"title": "Live"}), 201)
        self.course_ids.append(uuid.UUID(course["id"]))
        module = await ok(
            await owner.post(f"/api/v1/courses/{course['id']}/modules", json={"title": "W1"}), 201
        )
        await ok(
            await owner.post(
                f"/api/v1/modules/{module['id']}/lessons", json={"title": "L", "kind": "text"}
            ),
            201,
        )
        await ok(await owner.post(f"/api/v1/courses/{course['id']}/publish"))
        async with unit_of_work(create_session_factory(self.engine)) as s:
            for label in students:
                s.add(
                    Enrollment(
                        course_id=uuid.UUID(course["id"]), user_id=uuid.UUID(self.ids[label])
                    )
                )
        start = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        live = await ok(
            await owner.post(
                f"/api/v1/courses/{course['id']}/live-sessions",
                json={"title": "Class", "scheduled_start": start, "duration_minutes": 60},
            ),
            201,
        )
        await ok(await owner.post(f"/api/v1/live-sessions/{live['id']}/start"))
        return str(live["id"])

    async def ticket(self, client: AppClient, live_id: str) -> str:
        body = await ok(await client.post(f"/api/v1/live-sessions/{live_id}/join-ticket"), 201)
        return str(body["ticket"])

    def sock(self, server: int = 0) -> Sock:
        sock = Sock(str(self.servers[server].make_url("/")).rstrip("/"))
        self.socks.append(sock)
        return sock

    async def join(self, client: AppClient, live_id: str, server: int = 0) -> Sock:
        sock = self.sock(server)
        await sock.connect(auth={"ticket": await self.ticket(client, live_id)})
        return sock

    def cookie(self, client: AppClient) -> str:
        app = self.servers[0].app
        assert app is not None
        name = session_cookie_name(app[SETTINGS])
        for cookie in client.session.cookie_jar:
            if cookie.key == name:
                return f"{name}={cookie.value}"
        raise AssertionError("no session cookie")

    async def close(self) -> None:
        for sock in self.socks:
            await sock.close()
        for server in self.servers:
            await server.close()
        async with unit_of_work(create_session_factory(self.engine)) as s:
            await s.execute(delete(Course).where(Course.id.in_(self.course_ids)))
            await s.execute(delete(User).where(User.id.in_(self.user_ids)))
