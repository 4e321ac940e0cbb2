"""Real ``seminar serve`` processes sharing PostgreSQL and a Redis, a private ``redis-server``
that a test may stop and start again, and ``/live`` clients that recover like a real one.

Used by tests/faults/test_live_two_processes.py and tests/faults/test_live_redis_outage.py.

* ``Cluster`` starts the nodes (each on a free port, with its own data dir, all with the same
  ``DATABASE_URL``, ``REDIS_URL`` and secret key), signs people up over HTTP, creates a course
  and starts a live session over HTTP, and at the end closes every client, stops every node
  (SIGTERM, then SIGKILL) and deletes the users and courses it committed, even on failure.
* ``LiveClient`` is a python-socketio ``AsyncClient`` (websocket transport, ``/live``) that
  fetches a fresh join ticket from its node for every (re)connect, keeps chat messages and
  whiteboard ops by ``seq`` (a second copy of a ``seq`` is dropped and counted), and catches
  up with ``chat:history {"after_seq": <last contiguous seq>}`` (repeated while ``more``) on a
  reconnect, on a ``room:resync`` event and when it sees a gap in the sequence.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio  # type: ignore[import-untyped]
from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from lms_core.accounts.models import Role, User
from lms_core.courses.models import Course
from tests.conftest import PASSWORD, REQUIRE_SERVICES

SEMINAR = str(Path(sys.executable).parent / "seminar")
HOST = "127.0.0.1"
NAMESPACE = "/live"
CALL_TIMEOUT = 5.0
START_TIMEOUT = 60.0

# Generous limits: the test clients register, log in and replay much faster than people do.
NODE_SETTINGS = {
    "SEMINAR_REGISTER_RATE_LIMIT": "1000/hour",
    "SEMINAR_LOGIN_RATE_LIMIT": "1000/minute",
    "SEMINAR_IP_RATE_LIMIT": "100000/minute",
    "SEMINAR_LIVE_EVENT_RATE": "200",
    "SEMINAR_LIVE_EVENT_BURST": "200",
    "SEMINAR_RUN_WORKERS": "false",
    "SEMINAR_LOG_FORMAT": "json",
    "SEMINAR_LOG_LEVEL": "INFO",
    "SEMINAR_SHUTDOWN_TIMEOUT": "2",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def redis_server_binary() -> str:
    """The ``redis-server`` executable; skip (or, when services are required, fail) without."""
    found = shutil.which("redis-server")
    if found is None:
        if REQUIRE_SERVICES:
            pytest.fail("redis-server is not installed but services are required")
        pytest.skip("no redis-server binary: install Redis to run the Redis outage test")
    return found


async def _collect(stream: asyncio.StreamReader | None, lines: list[str]) -> None:
    assert stream is not None
    while line := await stream.readline():
        lines.append(line.decode(errors="replace"))


async def _stop(process: asyncio.subprocess.Process, grace: float) -> None:
    if process.returncode is None:
        process.terminate()
        try:
            async with asyncio.timeout(grace):
                await process.wait()
        except TimeoutError:
            process.kill()
    await process.wait()


# --------------------------------------------------------------------------- redis-server


class RedisServer:
    """A private ``redis-server`` on a free port (no persistence) that a test may stop and
    start again on the same port. Never the machine's Redis."""

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.port = free_port()
        self.process: asyncio.subprocess.Process | None = None
        self.lines: list[str] = []
        self._collector: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    async def start(self) -> None:
        assert self.process is None or self.process.returncode is not None
        self.process = await asyncio.create_subprocess_exec(
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            HOST,
            "--save",
            "",
            "--appendonly",
            "no",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        self._collector = asyncio.create_task(_collect(self.process.stdout, self.lines))
        async with asyncio.timeout(15):
            while not await self.ping():
                assert self.process.returncode is None, "".join(self.lines)
                await asyncio.sleep(0.05)

    async def ping(self) -> bool:
        try:
            reader, writer = await asyncio.open_connection(HOST, self.port)
        except OSError:
            return False
        try:
            writer.write(b"PING\r\n")
            await writer.drain()
            return (await reader.readline()).startswith(b"+PONG")
        except OSError:
            return False
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def stop(self) -> None:
        if self.process is not None:
            await _stop(self.process, grace=5)
        if self._collector is not None:
            await self._collector
            self._collector = None


@contextlib.asynccontextmanager
async def private_redis() -> AsyncIterator[RedisServer]:
    server = RedisServer(redis_server_binary())
    try:
        await server.start()
        yield server
    finally:
        await server.stop()


# --------------------------------------------------------------------------- seminar serve


@dataclass
class Node:
    name: str
    port: int
    process: asyncio.subprocess.Process
    lines: list[str] = field(default_factory=list)
    collector: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def log_events(self, *words: str) -> list[str]:
        """The JSON log lines (event, level, extras) mentioning any of ``words``."""
        found = []
        for line in self.lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if not isinstance(record, dict):
                continue
            text = json.dumps(record)
            if not words or any(w in text for w in words):
                found.append(text)
        return found


async def start_node(
    name: str, database_url: str, redis_url: str, data_dir: Path, secret_key: str
) -> Node:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SEMINAR_") and k not in ("DATABASE_URL", "REDIS_URL")
    }
    port = free_port()
    env.update(NODE_SETTINGS)
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        SEMINAR_HOST=HOST,
        SEMINAR_PORT=str(port),
        SEMINAR_SECRET_KEY=secret_key,
        SEMINAR_DATA_DIR=str(data_dir),
    )
    await asyncio.to_thread(data_dir.mkdir, parents=True, exist_ok=True)
    process = await asyncio.create_subprocess_exec(
        SEMINAR,
        "serve",
        env=env,
        cwd=data_dir,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    node = Node(name, port, process)
    node.collector = asyncio.create_task(_collect(process.stdout, node.lines))
    return node


async def wait_ready(node: Node) -> None:
    # The banner is printed once the server listens and its signal handlers are installed.
    async with asyncio.timeout(START_TIMEOUT):
        while "Seminar is running" not in node.output:
            assert node.process.returncode is None, f"{node.name} exited:\n{node.output}"
            await asyncio.sleep(0.05)


async def stop_node(node: Node) -> None:
    await _stop(node.process, grace=10)
    if node.collector is not None:
        await node.collector


# --------------------------------------------------------------------------- people over HTTP


@dataclass
class Person:
    label: str
    email: str
    user_id: str
    http: aiohttp.ClientSession


async def _json(resp: aiohttp.ClientResponse, status: int) -> Any:
    text = await resp.text()
    assert resp.status == status, f"{resp.method} {resp.url}: {resp.status} {text}"
    return json.loads(text)


# --------------------------------------------------------------------------- a /live client


class LiveClient:
    """A ``/live`` client that keeps what it receives and recovers like a real client."""

    def __init__(self, name: str, node: Node, ticket: Callable[[], Any]) -> None:
        self.name = name
        self.node = node
        self._ticket = ticket
        self.sio = socketio.AsyncClient(
            reconnection=True, reconnection_delay=0.2, reconnection_delay_max=1.0
        )
        self.events: list[tuple[str, Any]] = []
        self.messages: dict[int, dict[str, Any]] = {}
        self.ops: dict[int, dict[str, Any]] = {}
        self.last_seq = 0  # every message up to here is held
        self.duplicates = 0  # second copies of a seq, dropped
        self.conflicts: list[tuple[dict[str, Any], dict[str, Any]]] = []  # same seq, not same
        self.connects = 0
        self.refusals: list[Any] = []
        self.recoveries: list[str] = []  # why each catch-up ran: reconnect, room:resync, gap
        self.errors: list[str] = []
        self._pending = False
        self._catch_up_task: asyncio.Task[None] | None = None
        self.sio.on("*", self._on_event, namespace=NAMESPACE)
        self.sio.on("connect", self._on_connect, namespace=NAMESPACE)
        self.sio.on("connect_error", self._on_refused, namespace=NAMESPACE)

    # --- connection ---------------------------------------------------------------------

    async def _auth(self) -> dict[str, str]:
        # A ticket is single use: every connect, reconnects included, needs a fresh one.
        return {"ticket": await self._ticket()}

    async def connect(self) -> None:
        try:
            await self.sio.connect(
                self.node.url,
                namespaces=[NAMESPACE],
                auth=self._auth,
                transports=["websocket"],
                wait_timeout=CALL_TIMEOUT,
            )
        except socketio.exceptions.ConnectionError as exc:
            raise AssertionError(
                f"{self.name} could not connect ({exc}); refused with {self.refusals}; "
                f"{self.node.name} said:\n{''.join(self.node.lines[-30:])}"
            ) from None

    async def close(self) -> None:
        task = self._catch_up_task
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        with contextlib.suppress(Exception):
            await self.sio.disconnect()

    async def _on_connect(self) -> None:
        self.connects += 1
        if self.connects > 1:
            self.recover("reconnect")

    async def _on_refused(self, data: Any) -> None:
        self.refusals.append(data)

    async def call(self, event: str, data: Any = None) -> Any:
        return await self.sio.call(event, data, namespace=NAMESPACE, timeout=CALL_TIMEOUT)

    async def ok(self, event: str, data: Any = None) -> Any:
        ack = await self.call(event, data)
        assert isinstance(ack, dict), f"{self.name} {event}: {ack}"
        assert ack.get("ok"), f"{self.name} {event}: {ack}"
        return ack["data"]

    async def join(self) -> dict[str, Any]:
        state: dict[str, Any] = await self.ok("join")
        for message in state["chat"]:
            self._store(message)
        for op in state["whiteboard"]["ops"]:
            self.ops.setdefault(op["seq"], op)
        return state

    # --- what arrives -------------------------------------------------------------------

    async def _on_event(self, event: str, data: Any) -> None:
        self.events.append((event, data))
        if event == "chat:message":
            self._store(data)
            if data["seq"] > self.last_seq:  # a hole below this message
                self.recover("gap")
        elif event == "wb:op":
            self.ops.setdefault(data["seq"], data)
        elif event == "room:resync":
            self.recover("room:resync")

    def of(self, event: str) -> list[Any]:
        return [d for e, d in self.events if e == event]

    def joins(self, user_id: str) -> list[dict[str, Any]]:
        """This user's entries in the ``joined`` lists of ``presence:changed``, in order."""
        batches = self.of("presence:changed")
        return [p for b in batches for p in b["joined"] if p["user_id"] == user_id]

    def lefts(self, user_id: str) -> list[str]:
        """This user in the ``left`` lists of ``presence:changed``, in order."""
        return [u for b in self.of("presence:changed") for u in b["left"] if u == user_id]

    def _store(self, message: dict[str, Any]) -> None:
        seq = int(message["seq"])
        held = self.messages.get(seq)
        if held is not None:
            self.duplicates += 1
            if held != message:  # checked by the tests (a socket callback cannot fail them)
                self.conflicts.append((held, message))
            return
        self.messages[seq] = message
        while self.last_seq + 1 in self.messages:
            self.last_seq += 1

    # --- recovery -----------------------------------------------------------------------

    def recover(self, reason: str) -> None:
        self.recoveries.append(reason)
        self._pending = True
        if self._catch_up_task is None or self._catch_up_task.done():
            self._catch_up_task = asyncio.create_task(self._catch_up())

    async def _catch_up(self) -> None:
        while self._pending:
            self._pending = False
            try:
                while True:
                    ack = await self.call(
                        "chat:history", {"after_seq": self.last_seq, "limit": 200}
                    )
                    if not ack.get("ok"):
                        raise RuntimeError(f"chat:history answered {ack}")
                    for message in ack["data"]["messages"]:
                        self._store(message)
                    if not ack["data"]["more"]:
                        break
            except (socketio.exceptions.SocketIOError, RuntimeError) as exc:
                # A disconnect or a timeout: retried while connected, else the reconnect does.
                self.errors.append(f"catch-up: {type(exc).__name__}: {exc}")
                if self.sio.connected:
                    self._pending = True
                    await asyncio.sleep(0.2)

    # --- sending ------------------------------------------------------------------------

    async def send_chat(self, body: str, client_id: str, attempts: int = 10) -> dict[str, Any]:
        """Send until acknowledged, resending the same ``client_id`` after a lost ack (the
        server stores it once)."""
        last: Any = None
        for _ in range(attempts):
            if not self.sio.connected:
                await asyncio.sleep(0.2)
                continue
            try:
                ack = await self.call("chat:send", {"body": body, "client_id": client_id})
            except (socketio.exceptions.TimeoutError, socketio.exceptions.BadNamespaceError) as e:
                last = e
                self.errors.append(f"chat:send {client_id}: {type(e).__name__}")
                continue
            last = ack
            if ack.get("ok"):
                message: dict[str, Any] = ack["data"]
                self._store(message)
                return message
            code = ack["problem"]["code"]
            self.errors.append(f"chat:send {client_id}: {code}")
            if code not in ("rate_limited", "database_unavailable"):
                break
            await asyncio.sleep(0.2)
        raise AssertionError(f"{self.name}: chat:send {client_id} never acknowledged: {last}")

    async def draw(self, op: dict[str, Any]) -> dict[str, Any]:
        stored: dict[str, Any] = await self.ok("wb:op", op)
        self.ops.setdefault(stored["seq"], stored)
        return stored

    def ordered(self) -> list[dict[str, Any]]:
        return [self.messages[s] for s in sorted(self.messages)]


# --------------------------------------------------------------------------- the cluster


class Cluster:
    """Nodes, people and live clients of one test; ``close`` undoes all of it."""

    def __init__(self, database_url: str, redis_url: str, work: Path) -> None:
        self.database_url = database_url
        self.redis_url = redis_url
        self.work = work
        self.secret_key = uuid.uuid4().hex * 2
        self.nodes: list[Node] = []
        self.people: dict[str, Person] = {}
        self.clients: list[LiveClient] = []
        self.user_ids: list[uuid.UUID] = []
        self.course_ids: list[uuid.UUID] = []
        self.engine: AsyncEngine = create_async_engine(database_url, poolclass=NullPool)

    async def start(self, count: int) -> list[Node]:
        started = []
        for _ in range(count):
            name = f"node{len(self.nodes) + 1}"
            node = await start_node(
                name, self.database_url, self.redis_url, self.work / name, self.secret_key
            )
            self.nodes.append(node)
            started.append(node)
        await asyncio.gather(*(wait_ready(n) for n in started))
        return started

    def logs(self) -> str:
        return "\n".join(f"--- {n.name} ({n.url})\n{n.output}" for n in self.nodes)

    async def person(self, label: str, node: Node, role: Role = Role.STUDENT) -> Person:
        """Sign up and in over HTTP on ``node``; the session cookie works on every node."""
        http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        email = f"live2p-{label}-{uuid.uuid4().hex[:10]}@example.com"
        try:
            body = await _json(
                await http.post(
                    f"{node.url}/api/v1/auth/register",
                    json={"email": email, "password": PASSWORD, "name": label.title()},
                    headers={"Origin": node.url},
                ),
                201,
            )
        except BaseException:
            await http.close()
            raise
        person = Person(label, email, str(body["id"]), http)
        self.people[label] = person
        self.user_ids.append(uuid.UUID(person.user_id))
        if role is not Role.STUDENT:  # there is no HTTP route to become an instructor
            async with self.engine.begin() as conn:
                await conn.execute(update(User).where(User.email == email).values(role=role))
        await self.request(
            person, node, "POST", "/api/v1/auth/login", 200, {"email": email, "password": PASSWORD}
        )
        return person

    async def request(
        self,
        person: Person,
        node: Node,
        method: str,
        path: str,
        status: int,
        body: dict[str, Any] | None = None,
    ) -> Any:
        # Cookie requests must come from the node's own origin (the CSRF check).
        async with person.http.request(
            method, f"{node.url}{path}", json=body, headers={"Origin": node.url}
        ) as resp:
            return await _json(resp, status)

    async def live_session(self, owner: Person, node: Node, *students: Person) -> str:
        """A published course of ``owner`` with ``students`` enrolled, and a live session of
        it started: all over HTTP on ``node``."""
        course = await self.request(owner, node, "POST", "/api/v1/courses", 201, {"title": "Live"})
        self.course_ids.append(uuid.UUID(course["id"]))
        module = await self.request(
            owner, node, "POST", f"/api/v1/courses/{course['id']}/modules", 201, {"title": "W1"}
        )
        await self.request(
            owner,
            node,
            "POST",
            f"/api/v1/modules/{module['id']}/lessons",
            201,
            {"title": "L", "kind": "text"},
        )
        await self.request(owner, node, "POST", f"/api/v1/courses/{course['id']}/publish", 200)
        for student in students:
            await self.request(
                student, node, "POST", f"/api/v1/courses/{course['id']}/enrollments", 201
            )
        start = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        live = await self.request(
            owner,
            node,
            "POST",
            f"/api/v1/courses/{course['id']}/live-sessions",
            201,
            {"title": "Class", "scheduled_start": start, "duration_minutes": 60},
        )
        await self.request(owner, node, "POST", f"/api/v1/live-sessions/{live['id']}/start", 200)
        return str(live["id"])

    def client(self, person: Person, node: Node, live_id: str, name: str = "") -> LiveClient:
        async def ticket() -> str:
            # Asked of the node the socket connects to (any node would do: it is in PostgreSQL).
            body = await self.request(
                person, node, "POST", f"/api/v1/live-sessions/{live_id}/join-ticket", 201
            )
            return str(body["ticket"])

        client = LiveClient(name or f"{person.label}@{node.name}", node, ticket)
        self.clients.append(client)
        return client

    async def join(self, person: Person, node: Node, live_id: str, name: str = "") -> LiveClient:
        client = self.client(person, node, live_id, name)
        await client.connect()
        await client.join()
        return client

    async def close(self) -> None:
        try:
            for client in self.clients:
                await client.close()
            await asyncio.gather(*(stop_node(n) for n in self.nodes), return_exceptions=True)
            for person in self.people.values():
                await person.http.close()
            async with self.engine.begin() as conn:
                if self.course_ids:
                    await conn.execute(delete(Course).where(Course.id.in_(self.course_ids)))
                if self.user_ids:
                    await conn.execute(delete(User).where(User.id.in_(self.user_ids)))
        finally:
            for node in self.nodes:  # whatever failed above, no process outlives the test
                if node.process.returncode is None:
                    node.process.kill()
                    await node.process.wait()
            await self.engine.dispose()


@contextlib.asynccontextmanager
async def cluster(database_url: str, redis_url: str, work: Path) -> AsyncIterator[Cluster]:
    c = Cluster(database_url, redis_url, work)
    try:
        yield c
    finally:
        await c.close()


async def until(predicate: Callable[[], bool], within: float, what: Callable[[], str]) -> None:
    """Wait for ``predicate``; after ``within`` seconds fail with ``what()`` (the state worth
    seeing)."""
    try:
        async with asyncio.timeout(within):
            while not predicate():  # noqa: ASYNC110 -- polling what socket callbacks store
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"not within {within} s: {what()}") from None
