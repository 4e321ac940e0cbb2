"""What authentication and the ORM cost per request, against a framework-only baseline.

Runs one Seminar app (real PostgreSQL, real middlewares) in this process and drives it from
a client in a second process, alternating rounds of:

  baseline  GET /healthz            (routing, middlewares, JSON; no database)
  cookie    GET /api/v1/users/me    (session lookup + user load through the ORM, one transaction)
  bearer    GET /api/v1/users/me    (personal access token instead of the cookie)

and prints requests/s and p50/p99 latency per round, plus each figure's ratio to the baseline
measured in the same round (this machine is noisy; only the ratios are comparable).

    python bench/http_auth_overhead.py --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test

(a scratch database is created on that server, migrated, and dropped afterwards)
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from multiprocessing import Process, Queue
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from lms_core.accounts.passwords import PasswordHasher
from lms_core.db import create_engine
from lms_core.migrate import migrate
from server.app import create_app
from server.settings import Settings

PASSWORD = "benchmark passphrase"


async def drive(
    url: str, headers: dict[str, str], seconds: float, concurrency: int
) -> dict[str, float]:
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    async with aiohttp.ClientSession(headers=headers) as session:

        async def worker() -> None:
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                async with session.get(url) as resp:
                    await resp.read()
                    assert resp.status == 200, resp.status
                latencies.append(time.perf_counter() - start)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
    }


def client_process(base: str, auth: dict[str, dict[str, str]], args: Any, out: Queue) -> None:  # type: ignore[type-arg]
    async def main() -> None:
        results: list[dict[str, Any]] = []
        for round_no in range(args.rounds):
            row: dict[str, Any] = {"round": round_no + 1}
            row["baseline"] = await drive(f"{base}/healthz", {}, args.seconds, args.concurrency)
            row["cookie"] = await drive(
                f"{base}/api/v1/users/me", auth["cookie"], args.seconds, args.concurrency
            )
            row["bearer"] = await drive(
                f"{base}/api/v1/users/me", auth["bearer"], args.seconds, args.concurrency
            )
            results.append(row)
        out.put(results)

    asyncio.run(main())


async def prepare(base: str) -> dict[str, dict[str, str]]:
    email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
    origin = {"Origin": "http://127.0.0.1:8080"}
    async with aiohttp.ClientSession(headers=origin) as s:
        body = {"email": email, "password": PASSWORD, "name": "Bench"}
        async with s.post(f"{base}/api/v1/auth/register", json=body) as r:
            assert r.status == 201, await r.text()
        async with s.post(
            f"{base}/api/v1/auth/login", json={"email": email, "password": PASSWORD}
        ) as r:
            assert r.status == 200
            cookie = r.cookies["seminar_sid"].value
        async with s.post(
            f"{base}/api/v1/users/me/tokens",
            json={"name": "bench"},
            headers={"Cookie": f"seminar_sid={cookie}"},
        ) as r:
            token = (await r.json())["token"]
    return {
        "cookie": {"Cookie": f"seminar_sid={cookie}"},
        "bearer": {"Authorization": f"Bearer {token}"},
    }


async def scratch_database(server_url: str, sql: str) -> None:
    engine = create_async_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    async with engine.connect() as conn:
        await conn.execute(text(sql))
    await engine.dispose()


async def main(args: argparse.Namespace) -> None:
    name = f"seminar_bench_{uuid.uuid4().hex[:8]}"
    await scratch_database(args.database_url, f'CREATE DATABASE "{name}"')
    url = make_url(args.database_url).set(database=name).render_as_string(hide_password=False)
    engine = create_engine(url, pool_size=1)
    await migrate(engine)
    await engine.dispose()
    try:
        await run(args, url)
    finally:
        await scratch_database(args.database_url, f'DROP DATABASE "{name}" WITH (FORCE)')


async def run(args: argparse.Namespace, database_url: str) -> None:
    settings = Settings(
        database_url=database_url,
        public_url="http://127.0.0.1:8080",
        run_workers=False,
        log_level="WARNING",
        register_rate_limit="1000/hour",
        sfu_workers=0,  # idle SFU workers would only add noise to an HTTP benchmark
    )
    app = create_app(settings, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    base = f"http://127.0.0.1:{port}"
    auth = await prepare(base)
    out: Queue = Queue()  # type: ignore[type-arg]
    proc = Process(target=client_process, args=(base, auth, args, out))
    proc.start()
    results = await asyncio.to_thread(out.get)
    proc.join()
    await runner.cleanup()

    print(f"concurrency={args.concurrency} seconds/round={args.seconds} rounds={args.rounds}")
    print(f"{'round':>5} {'case':>8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'rps/base':>9}")
    ratios: dict[str, list[float]] = {"cookie": [], "bearer": []}
    for row in results:
        base_rps = row["baseline"]["rps"]
        for case in ("baseline", "cookie", "bearer"):
            r = row[case]
            ratio = r["rps"] / base_rps
            if case in ratios:
                ratios[case].append(ratio)
            print(
                f"{row['round']:>5} {case:>8} {r['rps']:>8.0f} {r['p50_ms']:>8.2f} "
                f"{r['p99_ms']:>8.2f} {ratio:>9.2f}"
            )
    for case, values in ratios.items():
        print(f"median throughput ratio {case}/baseline: {statistics.median(values):.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    asyncio.run(main(parser.parse_args()))
    sys.exit(0)
