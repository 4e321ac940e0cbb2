"""A class joining a live room at once: server CPU and wall time until everyone sees everyone.

At 9:00 a lecture starts and its C students connect to ``/live`` within seconds. Each connect
is recorded and announced to the room; before presence batching (server/live/presence_batch.py)
that was one ``participant:joined`` per person to everyone already there, C²/2 deliveries.

Per room size C and Seminar version (``--seminar LABEL=REF``, exported from git like
bench/live_broadcast.py, each with a scratch database migrated by that version): a fresh server
(pinned to CPU 0; ``SEMINAR_SFU_WORKERS=0``), a fresh course with C enrolled students and a
started session, C join tickets stored just before the storm with the product's 60 s lifetime
(minted by the bench straight into the database, so that the server's CPU is the storm's
alone), then a driver process on CPU 1 (Python, aiohttp WebSockets speaking Engine.IO v4 /
Socket.IO v5 by hand) opens all C connections at once; each client connects with its ticket,
asks ``join`` as the browser does, and applies what it is told as the browser does (the join's
``participants`` replace its list, then the presence events received while the join was in
flight are applied again, and ``participant:joined``/``left`` or ``presence:changed`` update
it). Reported: wall time until every client's list holds everyone who got in, the server's CPU
(``/proc``) until then and until the server is idle again, presence events per client, refused
connects (an expired ticket is refused), and the driver's CPU. Versions alternate in order
every round (``--rounds``), each size in turn, so the machine's noise falls on both.

    python bench/live_join_storm.py --database-url postgresql+asyncpg://127.0.0.1:5432/test \\
        --seminar before=bb1e468 --seminar after=HEAD --clients 250,500,1000 --rounds 2

``--no-join``: the clients do not ask ``join`` (only the announcements are measured, as the
connect phase of bench/live_broadcast.py did). ``--ticket-ttl 600``: tickets that outlive a
storm slower than 60 s, so that both versions finish it. Results: docs/benchmarks.md, "Join
storm with presence batches".
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parent))

import live_broadcast as lb

from lms_core.accounts.tokens import hash_token, new_token
from lms_core.clock import utcnow
from lms_core.live.models import LiveJoinTicket, LiveRole
from lms_core.live.tickets import TICKET_PREFIX, TICKET_TTL

SERVER_CPU = "0"
DRIVER_CPU = "1"
NS = "/live"

# --- the driver (a subprocess: ``--driver``; tickets on stdin, one JSON line out) -------------


class Client:
    """One student's socket: what its page would show (static/live/people.js)."""

    __slots__ = ("events", "in_flight", "joined", "people", "refused", "sizes")

    def __init__(self) -> None:
        self.people: set[str] = set()
        self.sizes: list[tuple[float, int]] = []  # (when, how many it showed) at each change
        self.joined = False  # its join ack has arrived
        # The presence frames received while its join is in flight: applied again on top of
        # the join's list, as the page does (the list may have been read before them).
        self.in_flight: list[str] | None = None
        self.events = 0  # presence events received
        self.refused: str | None = None

    def apply(self, frame: str) -> None:
        """One Socket.IO packet of /live (after the ``4`` of Engine.IO's message)."""
        if frame.startswith("3/live,0["):  # the join's ack: the list, as the page loads it
            ack = json.loads(frame[8:])[0]
            if not ack.get("ok"):
                self.refused = f"join: {ack}"
                return
            self.joined = True
            self.people = {p["user_id"] for p in ack["data"]["participants"]}
            meanwhile, self.in_flight = self.in_flight or [], None
            for earlier in meanwhile:
                self._presence(earlier)
        elif self._presence(frame):
            self.events += 1
            if self.in_flight is not None:
                self.in_flight.append(frame)
        if self.joined and (not self.sizes or self.sizes[-1][1] != len(self.people)):
            self.sizes.append((time.monotonic(), len(self.people)))

    def full_at(self, everyone: int) -> float | None:
        """When it first showed ``everyone`` (all the clients that got in)."""
        return next((t for t, n in self.sizes if n >= everyone), None)

    def _presence(self, frame: str) -> bool:
        if frame.startswith('2/live,["participant:joined"'):
            at = frame.index('"user_id":"') + 11
            self.people.add(frame[at : at + 36])
        elif frame.startswith('2/live,["participant:left"'):
            at = frame.index('"user_id":"') + 11
            self.people.discard(frame[at : at + 36])
        elif frame.startswith('2/live,["presence:changed"'):
            batch = json.loads(frame[7:])[1]
            self.people.difference_update(batch["left"])
            self.people.update(p["user_id"] for p in batch["joined"])
        else:
            return False
        return True


async def run_client(
    http: aiohttp.ClientSession, url: str, ticket: str, client: Client, join: bool
) -> None:
    """Connect, join, and read until cancelled (a client that stops reading is dropped)."""
    try:
        async with http.ws_connect(url, max_msg_size=0) as ws:
            opened = await ws.receive_str()
            assert opened.startswith("0{"), opened
            await ws.send_str(f"40{NS}," + json.dumps({"ticket": ticket}))
            async for msg in ws:
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    break
                data: str = msg.data
                if data == "2":
                    await ws.send_str("3")
                elif data.startswith(f"40{NS},") and not join:
                    client.joined = True  # --no-join: it only counts what it is told
                elif data.startswith(f"40{NS},"):
                    client.in_flight = []
                    await ws.send_str(f'42{NS},0["join"]')
                elif data.startswith(f"44{NS},"):
                    client.refused = data[9:200]
                    return
                elif data.startswith("4"):
                    client.apply(data[1:])
            if client.refused is None:
                client.refused = "closed by the server"
    except (aiohttp.ClientError, OSError, AssertionError) as exc:
        client.refused = f"{type(exc).__name__}: {exc}"


async def drive(port: int, tickets: list[str], limit_s: float, join: bool) -> dict[str, Any]:
    url = f"http://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket"
    clients = [Client() for _ in tickets]
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        began = time.monotonic()
        tasks = [
            asyncio.create_task(run_client(http, url, t, c, join))
            for t, c in zip(tickets, clients, strict=True)
        ]
        deadline = began + limit_s
        while time.monotonic() < deadline:
            if all(c.joined or c.refused for c in clients):  # everyone in (or turned away)
                if not join:  # everyone in; then 1 s without a change: all told
                    last = max((c.sizes[-1][0] for c in clients if c.sizes), default=0.0)
                    if time.monotonic() - last > 1.0:
                        break
                    await asyncio.sleep(0.05)
                    continue
                got_in = sum(c.joined for c in clients)
                if all(c.refused or c.sizes[-1][1] >= got_in for c in clients):
                    break  # and shown to everyone who got in
            await asyncio.sleep(0.05)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    admitted = [c for c in clients if c.joined]
    # --no-join: a client is told of those who came after it; it has all it can get when it
    # has heard of everyone after it (the last one in: nobody), so the wall time is the last
    # change anywhere.
    full = (
        [c.full_at(len(admitted)) for c in admitted]
        if join
        else [c.sizes[-1][0] if c.sizes else began for c in admitted]
    )
    done = [t - began for t in full if t is not None]
    refusals = [c.refused for c in clients if c.refused is not None]
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "clients": len(clients),
        "admitted": len(admitted),
        "complete": len(done),
        "refused": len(refusals),
        "refusals": refusals[:3],
        "wall_s": max(done) if done and len(done) == len(admitted) else None,
        "p50_s": statistics.median(done) if done else None,
        "events_mean": statistics.mean(c.events for c in clients),
        "events_max": max(c.events for c in clients),
        "driver_cpu_s": usage.ru_utime + usage.ru_stime,
    }


def driver_main(port: int, limit_s: float, join: bool) -> None:
    tickets = [line.strip() for line in sys.stdin if line.strip()]
    result = asyncio.run(drive(port, tickets, limit_s, join))
    print(json.dumps(result), flush=True)


# --- the orchestrator -------------------------------------------------------------------------


def cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def idle(pid: int, limit_s: float = 120.0) -> float:
    """Wait until the server uses under 2 % of a core over 0.5 s; its CPU then."""
    deadline = time.monotonic() + limit_s
    last = cpu_s(pid)
    while time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        now = cpu_s(pid)
        if now - last < 0.01:
            return now
        last = now
    return last


async def mint_tickets(
    seeder: lb.Seeder, live_id: uuid.UUID, people: list[Any], ttl: timedelta
) -> list[str]:
    """Join tickets as ``POST .../join-ticket`` stores them, without the server's CPU."""
    now = utcnow()
    tickets = [TICKET_PREFIX + new_token() for _ in people]
    rows = [
        {
            "id": uuid.uuid4(),
            "token_hash": hash_token(t),
            "user_id": p.id,
            "live_session_id": live_id,
            "role": LiveRole.ATTENDEE,
            "created_at": now,
            "expires_at": now + ttl,
        }
        for t, p in zip(tickets, people, strict=True)
    ]
    async with seeder.engine.begin() as conn:
        await conn.execute(insert(LiveJoinTicket), rows)
    return tickets


def server_env(tree: lb.Tree, work: Path) -> dict[str, str]:
    _, env = lb.seminar_cmd(tree.src, "serve")
    env |= {
        "DATABASE_URL": tree.db_url,
        "SEMINAR_DATA_DIR": str(work / f"data-{tree.label}"),
        "SEMINAR_SECRET_KEY": "live-join-storm-bench-" + "x" * 32,
        "SEMINAR_RUN_WORKERS": "false",
        "SEMINAR_LOG_LEVEL": "WARNING",
        "SEMINAR_SHUTDOWN_TIMEOUT": "2",
        "SEMINAR_SFU_WORKERS": "0",
    }
    env.pop("REDIS_URL", None)
    env.pop("SEMINAR_REDIS_URL", None)
    return env


async def one_storm(
    tree: lb.Tree, c: int, args: argparse.Namespace, work: Path, run: int
) -> dict[str, Any]:
    assert tree.seeder is not None
    port = lb.free_port()
    cmd, _ = lb.seminar_cmd(tree.src, "serve", "--port", str(port))
    log = work / f"server-{tree.label}-{c}-{run}.log"
    proc = lb.spawn(lb.pinned(SERVER_CPU, cmd, args.pin), log, server_env(tree, work), work)
    try:
        await lb.wait_http(f"http://127.0.0.1:{port}/healthz", proc)
        live_id = await tree.seeder.room(c)
        students = tree.seeder.people[1 : c + 1]
        ttl = timedelta(seconds=args.ticket_ttl)
        tickets = await mint_tickets(tree.seeder, live_id, students, ttl)
        driver = await asyncio.create_subprocess_exec(
            *lb.pinned(
                DRIVER_CPU,
                [
                    sys.executable,
                    __file__,
                    "--driver",
                    str(port),
                    "--limit",
                    str(args.limit),
                    *([] if args.join else ["--no-join"]),
                ],
                args.pin,
            ),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        await asyncio.to_thread(lb.wait_quiet, args.quiet_wait)
        before = cpu_s(proc.pid)
        out, _ = await driver.communicate(("\n".join(tickets) + "\n").encode())
        at_done = cpu_s(proc.pid)
        settled = await idle(proc.pid)
        result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
        result |= {
            "label": tree.label,
            "c": c,
            "run": run,
            "server_cpu_s": at_done - before,
            "server_cpu_settled_s": settled - before,
        }
        return result
    finally:
        lb.stop(proc)


def show(r: dict[str, Any]) -> str:
    wall = f"{r['wall_s']:.1f}" if r["wall_s"] is not None else "incomplete"
    return (
        f"{r['label']:>8} C={r['c']:<5} wall {wall} s (p50 {r['p50_s'] or 0:.1f}), server CPU "
        f"{r['server_cpu_s']:.1f} s (until idle {r['server_cpu_settled_s']:.1f}), presence "
        f"events/client {r['events_mean']:.0f} (max {r['events_max']}), got in "
        f"{r['admitted']}/{r['clients']}, shown all {r['complete']}, refused {r['refused']} "
        f"{r['refusals'][:1]}, driver CPU "
        f"{r['driver_cpu_s']:.1f} s"
    )


def report(rows: list[dict[str, Any]], labels: list[str]) -> None:
    print(
        "\n| C | version | runs | wall s (each) | server CPU s (each) | CPU until idle s | "
        "presence events/client | complete |"
    )
    print("|---|---|---|---|---|---|---|---|")
    sizes = sorted({r["c"] for r in rows})
    for c in sizes:
        for label in labels:
            mine = [r for r in rows if r["c"] == c and r["label"] == label]
            if not mine:
                continue
            walls = " / ".join(f"{r['wall_s']:.1f}" if r["wall_s"] else "-" for r in mine)
            cpus = " / ".join(f"{r['server_cpu_s']:.1f}" for r in mine)
            idle_cpu = " / ".join(f"{r['server_cpu_settled_s']:.1f}" for r in mine)
            events = " / ".join(f"{r['events_mean']:.0f}" for r in mine)
            complete = " / ".join(f"{r['complete']}" for r in mine)
            print(
                f"| {c} | {label} | {len(mine)} | {walls} | {cpus} | {idle_cpu} | {events} "
                f"| {complete} |"
            )
    if len(labels) == 2:
        a, b = labels
        print(f"\nratios {a} / {b} (median over runs):")
        for c in sizes:
            ra = [r for r in rows if r["c"] == c and r["label"] == a]
            rb = [r for r in rows if r["c"] == c and r["label"] == b]
            if not ra or not rb:
                continue

            def med(rs: list[dict[str, Any]], key: str) -> float:
                return statistics.median(float(r[key] or "nan") for r in rs)

            print(
                f"  C={c}: server CPU {med(ra, 'server_cpu_s') / med(rb, 'server_cpu_s'):.1f}x, "
                f"CPU until idle "
                f"{med(ra, 'server_cpu_settled_s') / med(rb, 'server_cpu_settled_s'):.1f}x, "
                f"wall {med(ra, 'wall_s') / med(rb, 'wall_s'):.1f}x"
            )


def write_rows(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("a") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)


@contextlib.contextmanager
def workdir(keep: bool) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="seminar-join-storm-"))
    try:
        yield path
    finally:
        if keep:
            print(f"work dir kept: {path}")
        else:
            subprocess.run(["rm", "-rf", str(path)], check=False)  # noqa: S603, S607


async def main(args: argparse.Namespace) -> int:
    sizes = [int(c) for c in args.clients.split(",") if c]
    specs = lb.parse_trees(args.seminar)
    print(
        f"clients={sizes} rounds={args.rounds} seminar={specs} pin={args.pin} "
        f"started={time.strftime('%H:%M:%S')}",
        flush=True,
    )
    rows: list[dict[str, Any]] = []
    with workdir(args.keep) as work:
        trees = [lb.Tree(label, ref, lb.export_tree(ref, work, label)) for label, ref in specs]
        async with contextlib.AsyncExitStack() as stack:
            for tree in trees:
                tree.db_url = await stack.enter_async_context(
                    lb.scratch_database(args.database_url, tree.src)
                )
                tree.seeder = lb.Seeder(tree.db_url)
                stack.push_async_callback(tree.seeder.close)
            for c in sizes:
                for run in range(args.rounds):
                    order = trees if run % 2 == 0 else trees[::-1]
                    for tree in order:
                        row = await one_storm(tree, c, args, work, run)
                        print(show(row), flush=True)
                        rows.append(row)
    report(rows, [t.label for t in trees])
    if args.out:
        write_rows(Path(args.out), rows)
    print(f"finished={time.strftime('%H:%M:%S')}")
    return 0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", help="a PostgreSQL server (any db)")
    parser.add_argument("--seminar", action="append", default=[], metavar="LABEL=REF")
    parser.add_argument("--clients", default="250,500,1000")
    parser.add_argument("--rounds", type=int, default=2, help="runs per version and size")
    parser.add_argument("--limit", type=float, default=180.0, help="max s per storm")
    parser.add_argument(
        "--ticket-ttl",
        type=float,
        default=TICKET_TTL.total_seconds(),
        help="seconds the minted tickets live (the product's: 60; longer to measure a storm "
        "that outlasts them)",
    )
    parser.add_argument("--quiet-wait", type=float, default=5.0, help="max s to wait for idle")
    parser.add_argument("--no-pin", dest="pin", action="store_false", help="no taskset")
    parser.add_argument("--out", default=None, help="append the rows (JSON lines) here")
    parser.add_argument("--keep", action="store_true", help="keep the work dir (logs)")
    parser.add_argument(
        "--no-join",
        dest="join",
        action="store_false",
        help="clients do not ask join: only the announcements (what siobench's connect phase "
        "measured in bench/live_broadcast.py); wall time = the last presence change anywhere",
    )
    parser.add_argument("--driver", type=int, default=None, help=argparse.SUPPRESS)
    return parser.parse_args()


if __name__ == "__main__":
    ARGS = parse_args()
    if ARGS.driver is not None:
        driver_main(ARGS.driver, ARGS.limit, ARGS.join)
        raise SystemExit(0)
    if not ARGS.database_url:
        raise SystemExit("--database-url is required")
    raise SystemExit(asyncio.run(main(ARGS)))
