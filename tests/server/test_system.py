"""Liveness, readiness, metrics."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from lms_core.db import create_engine
from server.metrics import DbPoolCollector
from tests.conftest import AppClient, ClientFactory


async def test_healthz(client: AppClient) -> None:
    resp = await client.get("/healthz")
    assert resp.status == 200
    assert await resp.json() == {"status": "ok"}


async def test_readyz_checks_the_database(client: AppClient) -> None:
    resp = await client.get("/readyz")
    assert resp.status == 200
    assert (await resp.json())["checks"] == {"database": "ok"}


async def test_readyz_checks_redis_when_configured(
    make_client: ClientFactory, redis_url: str
) -> None:
    client = await make_client(redis_url=redis_url)
    body = await (await client.get("/readyz")).json()
    assert body["checks"] == {"database": "ok", "redis": "ok", "rate_limit_store": "ok"}


async def test_readyz_reports_an_unreachable_redis(make_client: ClientFactory) -> None:
    # Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
    client = await make_client(redis_url="redis://127.0.0.1:9/0")
    resp = await client.get("/readyz")
    assert resp.status == 503
    assert resp.content_type == "application/problem+json"
    assert resp.headers["Retry-After"] == "5"
    body = await resp.json()
    assert body["code"] == "not_ready"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"].startswith("error: ")


async def test_metrics_count_requests_by_route(client: AppClient) -> None:
    await client.get("/healthz")
    await client.get("/api/v1/users/me")
    text = await (await client.get("/metrics")).text()
    assert 'seminar_http_requests_total{method="GET",route="/healthz",status="200"} 1.0' in text
    assert 'route="/api/v1/users/me",status="401"' in text
    assert "seminar_http_request_duration_seconds_bucket" in text


async def test_metrics_refused_outside_the_allowed_networks(make_client: ClientFactory) -> None:
    client = await make_client(metrics_networks="10.0.0.0/8")
    resp = await client.get("/metrics")
    assert resp.status == 403
    assert (await resp.json())["code"] == "metrics_denied"


async def test_db_pool_metrics(database_url: str) -> None:
    engine = create_engine(database_url, pool_size=7)
    registry = CollectorRegistry()
    registry.register(DbPoolCollector(lambda: engine))
    async with engine.connect():
        assert registry.get_sample_value("seminar_db_pool_checked_out") == 1
    assert registry.get_sample_value("seminar_db_pool_size") == 7
    assert registry.get_sample_value("seminar_db_pool_checked_out") == 0
    await engine.dispose()
