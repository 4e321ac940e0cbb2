"""Catalog search, course detail and similar courses against a one-row raw asyncpg floor.

Seeds a scratch database (bench/seed_catalog.py: 10,000 courses, 200,000 lessons, 100,000
enrollments), runs one Seminar app in this process with a pool as large as the concurrency,
and drives it from a second process at 50 concurrent connections, alternating rounds of:

  floor          GET /_bench/floor/{id}    one row by primary key, raw asyncpg pool, JSON
  search         GET /api/v1/catalog?q=... (full-text, relevance, 20 per page)
  search+filter  q plus level and price filters
  browse         category + sort=newest (no q)
  most_enrolled  sort=most_enrolled (no q)
  detail         GET /api/v1/catalog/{id}  (course, outline of 20 lessons, instructors, prereqs)
  similar        GET /api/v1/catalog/{id}/similar

Per case and round: requests/s, p50/p99 latency, server CPU per request (process_time of the
server process over the phase / requests), and the ratios to the floor of the same round.

    python bench/catalog.py --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from multiprocessing import Process, Queue
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent))

from seed_catalog import Seeded, admin_sql, asyncpg_dsn, create_scratch, seed

from server.app import create_app
from server.settings import Settings
from server.state import DATABASE

QUERIES = ["python", "rust testing", "painting or drawing", "statistics -finance", "spanish"]
CASES = (
    "floor",
    "search",
    "search+filter",
    "browse",
    "most_enrolled",
    "detail",
    "similar",
)


def url_makers(base: str, seeded: dict[str, list[str]]) -> dict[str, Callable[[], str]]:
    ids, cats = seeded["ids"], seeded["categories"]
    rnd = random.Random()
    catalog = f"{base}/api/v1/catalog"
    return {
        "floor": lambda: f"{base}/_bench/floor/{rnd.choice(ids)}",
        "search": lambda: f"{catalog}?q={rnd.choice(QUERIES)}",
        "search+filter": lambda: f"{catalog}?q={rnd.choice(QUERIES)}&level=beginner&price=free",
        "browse": lambda: f"{catalog}?category={rnd.choice(cats)}&sort=newest",
        "most_enrolled": lambda: f"{catalog}?sort=most_enrolled",
        "detail": lambda: f"{catalog}/{rnd.choice(ids)}",
        "similar": lambda: f"{catalog}/{rnd.choice(ids)}/similar",
    }


async def drive(
    session: aiohttp.ClientSession, make_url: Callable[[], str], seconds: float, concurrency: int
) -> dict[str, float]:
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            async with session.get(make_url()) as resp:
                await resp.read()
                assert resp.status == 200, (resp.status, resp.url)
            latencies.append(time.perf_counter() - start)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
    }


def client_process(base: str, seeded: dict[str, list[str]], args: Any, out: Queue) -> None:  # type: ignore[type-arg]
    async def cpu(session: aiohttp.ClientSession) -> float:
        async with session.get(f"{base}/_bench/cpu") as resp:
            return float((await resp.json())["cpu"])

    async def main() -> None:
        makers = url_makers(base, seeded)
        connector = aiohttp.TCPConnector(limit=args.concurrency)
        results: list[dict[str, Any]] = []
        async with aiohttp.ClientSession(connector=connector) as session:
            await drive(session, makers["search"], 1.0, args.concurrency)  # warm-up
            for round_no in range(args.rounds):
                row: dict[str, Any] = {"round": round_no + 1}
                for case in CASES:
                    async with session.post(f"{base}/_bench/phase/{case}") as resp:
                        assert resp.status == 200
                    await drive(session, makers[case], 0.5, args.concurrency)  # warm-up
                    before = await cpu(session)
                    r = await drive(session, makers[case], args.seconds, args.concurrency)
                    r["cpu_ms"] = (await cpu(session) - before) * 1000 / r["requests"]
                    row[case] = r
                results.append(row)
        out.put(results)

    asyncio.run(main())


async def run(args: argparse.Namespace, database_url: str, seeded: Seeded) -> None:
    settings = Settings(
        database_url=database_url,
        public_url="http://127.0.0.1:8080",
        run_workers=False,
        log_level="WARNING",
        db_pool_size=args.concurrency,
        sfu_workers=0,  # idle SFU workers would only add noise to an HTTP benchmark
    )
    app = create_app(settings)
    # PostgreSQL allows 100 connections: the floor's pool (as large as the concurrency) only
    # exists during floor phases, and the app's SQLAlchemy pool is emptied before them.
    pools: list[asyncpg.Pool] = []

    async def floor(request: web.Request) -> web.Response:
        row = await pools[0].fetchrow(
            "SELECT id, slug, title FROM courses WHERE id = $1", uuid.UUID(request.match_info["id"])
        )
        assert row is not None
        body = {"id": str(row["id"]), "slug": row["slug"], "title": row["title"]}
        return web.json_response(body)

    async def phase(request: web.Request) -> web.Response:
        while pools:
            await pools.pop().close()
        if request.match_info["case"] == "floor":
            await app[DATABASE].engine.dispose()
            pools.append(
                await asyncpg.create_pool(
                    asyncpg_dsn(database_url),
                    min_size=args.concurrency,
                    max_size=args.concurrency,
                )
            )
        return web.json_response({})

    async def cpu(request: web.Request) -> web.Response:
        return web.json_response({"cpu": time.process_time()})

    app.router.add_post("/_bench/phase/{case}", phase)
    app.router.add_get("/_bench/floor/{id}", floor)
    app.router.add_get("/_bench/cpu", cpu)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    base = f"http://127.0.0.1:{port}"
    sample = {
        "ids": [str(i) for i in seeded.published_ids],
        "categories": seeded.category_slugs,
    }
    out: Queue = Queue()  # type: ignore[type-arg]
    proc = Process(target=client_process, args=(base, sample, args, out))
    proc.start()
    results = await asyncio.to_thread(out.get)
    proc.join()
    await runner.cleanup()
    await phase_cleanup(pools)
    report(args, results)


async def phase_cleanup(pools: list[asyncpg.Pool]) -> None:
    while pools:
        await pools.pop().close()


def report(args: argparse.Namespace, results: list[dict[str, Any]]) -> None:
    print(f"concurrency={args.concurrency} seconds/round={args.seconds} rounds={args.rounds}")
    print(
        f"{'round':>5} {'case':>14} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'cpu ms':>7}"
        f" {'rps/floor':>9} {'cpu/floor':>9}"
    )
    ratios: dict[str, list[tuple[float, float]]] = {case: [] for case in CASES}
    for row in results:
        floor = row["floor"]
        for case in CASES:
            r = row[case]
            rps_ratio, cpu_ratio = r["rps"] / floor["rps"], r["cpu_ms"] / floor["cpu_ms"]
            ratios[case].append((rps_ratio, cpu_ratio))
            print(
                f"{row['round']:>5} {case:>14} {r['rps']:>7.0f} {r['p50_ms']:>7.1f}"
                f" {r['p99_ms']:>7.1f} {r['cpu_ms']:>7.2f} {rps_ratio:>9.2f} {cpu_ratio:>9.2f}"
            )
    print("median over rounds:")
    for case in CASES:
        rows = [row[case] for row in results]
        print(
            f"  {case:>14}: {statistics.median(r['rps'] for r in rows):6.0f} req/s,"
            f" p99 {statistics.median(r['p99_ms'] for r in rows):6.1f} ms,"
            f" cpu {statistics.median(r['cpu_ms'] for r in rows):5.2f} ms/req,"
            f" rps/floor {statistics.median(a for a, _ in ratios[case]):.2f},"
            f" cpu/floor {statistics.median(b for _, b in ratios[case]):.2f}"
        )
    if args.json:
        print(json.dumps(results))


async def main(args: argparse.Namespace) -> None:
    name, url = await create_scratch(args.database_url)
    try:
        start = time.perf_counter()
        seeded = await seed(url, vacuum=not args.no_vacuum)
        print(f"seeded in {time.perf_counter() - start:.1f} s")
        await run(args, url, seeded)
    finally:
        await admin_sql(args.database_url, f'DROP DATABASE "{name}" WITH (FORCE)')


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--json", action="store_true", help="also print raw results as JSON")
    parser.add_argument(
        "--no-vacuum",
        action="store_true",
        help="seed without the final VACUUM (the bloated courses table of the first runs)",
    )
    asyncio.run(main(parser.parse_args()))
