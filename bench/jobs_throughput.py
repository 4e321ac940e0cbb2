"""Job queue throughput: no-op jobs per second, beside bare database round trips.

Per round, on a scratch database (created, migrated, dropped afterwards):

  floor      raw asyncpg ``SELECT 1`` on C connections (one round trip each)
  baseline   ``BEGIN; SELECT 1; COMMIT`` through SQLAlchemy sessions on C connections: the
             cheapest transaction the queue's own code path can make
  jobs       N no-op jobs (enqueued beforehand) run by one JobRunner with concurrency C; each
             job is a claim (batched) plus its own transaction writing the outcome
  2 runners  the same N jobs shared by two runners with their own engines (as two processes
             would), concurrency C each

and prints operations per second and jobs/s as a ratio of the baseline (this machine is noisy;
compare ratios, not absolute numbers). Then the wake-up latency: an idle runner whose poll
interval is 5 s, one job enqueued and committed at a time, time until its handler starts
(LISTEN/NOTIFY makes this milliseconds instead of up to the poll interval).

    python bench/jobs_throughput.py --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from typing import Any

from pydantic import BaseModel
from sqlalchemy import delete, insert, make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from lms_core.clock import utcnow
from lms_core.db import create_engine, create_session_factory, unit_of_work
from lms_core.jobs import Job, JobContext, JobKind, JobRegistry, JobRunner, JobStatus, enqueue
from lms_core.migrate import migrate


class Noop(BaseModel):
    n: int


async def admin_sql(server_url: str, sql: str) -> None:
    admin = make_url(server_url).set(drivername="postgresql+asyncpg")
    engine = create_async_engine(admin, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    async with engine.connect() as conn:
        await conn.execute(text(sql))
    await engine.dispose()


async def floor(engine: AsyncEngine, total: int, connections: int) -> float:
    """Raw asyncpg SELECT 1, ``total`` times over ``connections`` connections; ops/s."""

    async def loop(count: int) -> None:
        async with engine.connect() as conn:
            driver: Any = (await conn.get_raw_connection()).driver_connection
            for _ in range(count):
                await driver.fetchval("SELECT 1")

    started = time.perf_counter()
    await asyncio.gather(*(loop(total // connections) for _ in range(connections)))
    return total / (time.perf_counter() - started)


async def baseline(engine: AsyncEngine, total: int, connections: int) -> float:
    """A transaction with one statement through a SQLAlchemy session; ops/s."""
    sessions = create_session_factory(engine)

    async def loop(count: int) -> None:
        for _ in range(count):
            async with unit_of_work(sessions) as session:
                await session.execute(text("SELECT 1"))

    started = time.perf_counter()
    await asyncio.gather(*(loop(total // connections) for _ in range(connections)))
    return total / (time.perf_counter() - started)


async def fill(engine: AsyncEngine, kind: JobKind[Noop], total: int) -> None:
    now = utcnow()
    rows = [
        {
            "id": uuid.uuid4(),
            "kind": kind.name,
            "payload": {"n": i},
            "status": JobStatus.QUEUED,
            "max_attempts": 1,
            "run_at": now,
        }
        for i in range(total)
    ]
    async with unit_of_work(create_session_factory(engine)) as session:
        await session.execute(insert(Job), rows)


async def jobs(url: str, total: int, concurrency: int, runners: int) -> float:
    """Run ``total`` queued no-op jobs with ``runners`` runners; jobs/s."""
    kind = JobKind(f"bench.noop.{uuid.uuid4().hex[:8]}", Noop, max_attempts=1)
    done = 0
    finished = asyncio.Event()

    async def noop(ctx: JobContext, payload: Noop) -> None:
        nonlocal done
        done += 1
        if done == total:
            finished.set()

    registry = JobRegistry()
    registry.add(kind, noop)
    engines = [create_engine(url, pool_size=concurrency + 3) for _ in range(runners)]
    await fill(engines[0], kind, total)
    stop = asyncio.Event()
    started = time.perf_counter()
    tasks = [
        asyncio.create_task(
            JobRunner(
                create_session_factory(engine), registry, engine=engine, concurrency=concurrency
            ).run(stop)
        )
        for engine in engines
    ]
    await finished.wait()
    elapsed = time.perf_counter() - started
    stop.set()
    await asyncio.gather(*tasks)
    async with unit_of_work(create_session_factory(engines[0])) as session:
        await session.execute(delete(Job).where(Job.kind == kind.name))
    for engine in engines:
        await engine.dispose()
    return total / elapsed


async def wake_latency(url: str, samples: int) -> list[float]:
    kind = JobKind(f"bench.wake.{uuid.uuid4().hex[:8]}", Noop)
    started_at: dict[int, float] = {}
    arrived = asyncio.Event()

    async def mark(ctx: JobContext, payload: Noop) -> None:
        started_at[payload.n] = time.perf_counter()
        arrived.set()

    registry = JobRegistry()
    registry.add(kind, mark)
    engine = create_engine(url, pool_size=4)
    sessions = create_session_factory(engine)
    stop = asyncio.Event()
    runner = JobRunner(sessions, registry, engine=engine, poll_interval=5.0)
    task = asyncio.create_task(runner.run(stop))
    await asyncio.sleep(0.5)
    latencies = []
    for n in range(samples):
        arrived.clear()
        async with unit_of_work(sessions) as session:
            await enqueue(session, kind, Noop(n=n))
        committed = time.perf_counter()
        await asyncio.wait_for(arrived.wait(), 10)
        latencies.append(started_at[n] - committed)
        await asyncio.sleep(0.05)
    stop.set()
    await task
    async with unit_of_work(sessions) as session:
        await session.execute(delete(Job).where(Job.kind == kind.name))
    await engine.dispose()
    return latencies


async def run(args: argparse.Namespace, url: str) -> None:
    c, n = args.concurrency, args.jobs
    print(f"N={n} no-op jobs per round, C={c} connections / concurrency, {args.rounds} rounds\n")
    print(
        "| round | floor SELECT 1/s | baseline tx/s | jobs/s | 2 runners jobs/s "
        "| jobs / baseline | 2 runners / baseline |"
    )
    print("|---|---|---|---|---|---|---|")
    ratios: list[tuple[float, float]] = []
    for i in range(1, args.rounds + 1):
        engine = create_engine(url, pool_size=c)
        raw = await floor(engine, n, c)
        base = await baseline(engine, n, c)
        await engine.dispose()
        one = await jobs(url, n, c, 1)
        two = await jobs(url, n, c, 2)
        ratios.append((one / base, two / base))
        print(
            f"| {i} | {raw:.0f} | {base:.0f} | {one:.0f} | {two:.0f} "
            f"| {one / base:.2f} | {two / base:.2f} |",
            flush=True,
        )
    print(
        f"\nmedian ratio: jobs / baseline {statistics.median(r[0] for r in ratios):.2f}, "
        f"2 runners / baseline {statistics.median(r[1] for r in ratios):.2f}"
    )
    latencies = sorted(await wake_latency(url, args.wake_samples))
    print(
        f"\nwake-up latency (idle runner, poll interval 5 s), {len(latencies)} jobs: "
        f"p50 {statistics.median(latencies) * 1000:.1f} ms, "
        f"max {latencies[-1] * 1000:.1f} ms"
    )


async def main(args: argparse.Namespace) -> None:
    name = f"seminar_bench_{uuid.uuid4().hex[:8]}"
    await admin_sql(args.database_url, f'CREATE DATABASE "{name}"')
    try:
        url = make_url(args.database_url).set(database=name).render_as_string(hide_password=False)
        engine = create_engine(url, pool_size=1)
        await migrate(engine)
        await engine.dispose()
        await run(args, url)
    finally:
        await admin_sql(args.database_url, f'DROP DATABASE "{name}" WITH (FORCE)')


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--wake-samples", type=int, default=20)
    asyncio.run(main(parser.parse_args()))
