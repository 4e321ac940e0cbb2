"""A job worker in a process of its own, for the crash tests: ``python -m
tests.lms_core.jobs.worker_process DATABASE_URL KIND LEASE_SECONDS``.

Its handler prints ``started <job id> <attempt>`` and then works "forever", so the test can
SIGKILL it mid-job. SIGTERM stops it gracefully.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import timedelta

from lms_core.db import create_engine, create_session_factory
from lms_core.jobs import JobContext, JobKind, JobRegistry, JobRunner
from tests.lms_core.jobs.helpers import Echo


async def main(database_url: str, kind_name: str, lease_seconds: float) -> None:
    async def forever(ctx: JobContext, payload: Echo) -> None:
        await ctx.progress(10, "working")
        print(f"started {ctx.job_id} {ctx.attempt}", flush=True)
        await asyncio.sleep(3600)

    registry = JobRegistry()
    registry.add(JobKind(kind_name, Echo, max_attempts=int(sys.argv[4])), forever)
    engine = create_engine(database_url, pool_size=4)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    runner = JobRunner(
        create_session_factory(engine),
        registry,
        engine=engine,
        lease=timedelta(seconds=lease_seconds),
        poll_interval=0.1,
        name=f"crash-test-worker:{os.getpid()}",
    )
    print("ready", flush=True)
    try:
        await runner.run(stop, grace=1.0)
    finally:
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3])))
