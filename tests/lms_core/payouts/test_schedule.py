"""The payout job's schedule: slots, one queued run per slot however often workers start, the
chain continued by each scheduled run, nothing at all while Connect is off."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest_asyncio
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import delete, select

from lms_core.jobs import Job, JobRegistry, JobRunner, JobStatus, enqueue
from lms_core.payouts.jobs import PAYOUT_RUN, PayoutRunPayload, next_slot, queue_now
from server.jobs import payout_job, schedule_payouts
from server.state import Database
from tests.conftest import make_settings

CONNECT = {
    "stripe_secret_key": "sk_test_schedule",
    "stripe_webhook_secret": "whsec_test_schedule",
    "stripe_api_base": "http://127.0.0.1:9",  # never called: nobody has an account here
    "stripe_max_network_retries": 0,
    "stripe_connect": True,
    "payout_interval_hours": 6,
}


def test_slots_are_multiples_of_the_interval_after_now() -> None:
    now = datetime(2026, 11, 23, 7, 30, tzinfo=UTC)
    assert next_slot(now, timedelta(hours=24)) == datetime(2026, 11, 24, tzinfo=UTC)
    assert next_slot(now, timedelta(hours=6)) == datetime(2026, 11, 23, 12, tzinfo=UTC)
    on_the_dot = datetime(2026, 11, 23, 12, tzinfo=UTC)
    assert next_slot(on_the_dot, timedelta(hours=6)) == datetime(2026, 11, 23, 18, tzinfo=UTC)


@given(
    # hypothesis wants naive bounds, then attaches the timezone
    st.datetimes(
        min_value=datetime(2020, 1, 1),  # noqa: DTZ001
        max_value=datetime(2040, 1, 1),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
    st.integers(min_value=1, max_value=24 * 31),
)
def test_a_slot_is_after_now_within_one_interval_and_the_same_for_every_worker(
    now: datetime, hours: int
) -> None:
    interval = timedelta(hours=hours)
    slot = next_slot(now, interval)
    assert now < slot <= now + interval
    assert slot.timestamp() % interval.total_seconds() == 0
    # Anyone asking at any moment before that slot gets the same one.
    assert next_slot(slot - timedelta(seconds=1), interval) == slot


@pytest_asyncio.fixture(autouse=True)
async def _no_earlier_runs(database: Database) -> None:
    """Runs other tests committed to the shared database (a browser test's server with Connect
    schedules one) are out of the picture; the test's transaction rolls this back."""
    async with database.sessions() as s:
        await s.execute(delete(Job).where(Job.kind == PAYOUT_RUN.name))
        await s.commit()


async def _payout_jobs(database: Database) -> list[Job]:
    async with database.sessions() as s:
        return list(
            await s.scalars(select(Job).where(Job.kind == PAYOUT_RUN.name).order_by(Job.run_at))
        )


def _settings(database_url: str, **overrides: Any) -> Any:
    return make_settings(database_url, **{**CONNECT, **overrides})


async def test_workers_starting_queue_one_scheduled_run(
    database: Database, database_url: str
) -> None:
    settings = _settings(database_url)
    for _ in range(3):  # three workers start
        await schedule_payouts(database, settings)
    [job] = await _payout_jobs(database)
    assert job.status is JobStatus.QUEUED
    assert job.payload == {"scheduled": True}
    assert job.run_at == next_slot(datetime.now(UTC), timedelta(hours=6))
    assert job.dedupe_key == f"payouts:scheduled:{job.run_at.isoformat()}"


async def test_nothing_is_scheduled_without_connect(database: Database, database_url: str) -> None:
    await schedule_payouts(database, _settings(database_url, stripe_connect=False))
    await schedule_payouts(database, make_settings(database_url, stripe_connect=True))
    assert await _payout_jobs(database) == []


async def _run(database: Database, settings: Any) -> int:
    registry = JobRegistry()
    registry.add(PAYOUT_RUN, payout_job(settings))
    return await JobRunner(database.sessions, registry, concurrency=1, name="test").run_until_idle()


async def test_a_scheduled_run_queues_the_next_and_a_manual_one_does_not(
    database: Database, database_url: str
) -> None:
    settings = _settings(database_url)
    async with database.sessions() as s:
        await enqueue(s, PAYOUT_RUN, PayoutRunPayload(scheduled=True), dedupe_key="t:due")
        await s.commit()
    assert await _run(database, settings) == 1
    jobs = await _payout_jobs(database)
    assert [(j.status, j.payload) for j in jobs] == [
        (JobStatus.SUCCEEDED, {"scheduled": True}),
        (JobStatus.QUEUED, {"scheduled": True}),
    ]
    assert jobs[1].run_at == next_slot(datetime.now(UTC), timedelta(hours=6))
    async with database.sessions() as s:
        first = await queue_now(s)
        again = await queue_now(s)  # asked twice before it ran: one run
        await s.commit()
    assert first.id == again.id
    assert await _run(database, settings) == 1
    statuses = [(j.status, j.payload) for j in await _payout_jobs(database)]
    assert statuses.count((JobStatus.QUEUED, {"scheduled": True})) == 1
    assert len(statuses) == 3


async def test_with_connect_off_a_run_does_nothing_and_schedules_nothing(
    database: Database, database_url: str
) -> None:
    async with database.sessions() as s:
        await enqueue(s, PAYOUT_RUN, PayoutRunPayload(scheduled=True), dedupe_key="t:off")
        await s.commit()
    assert await _run(database, _settings(database_url, stripe_connect=False)) == 1
    assert [j.status for j in await _payout_jobs(database)] == [JobStatus.SUCCEEDED]
