"""Prometheus metrics, in a registry per application (no process-global state)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool


class HttpMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "seminar_http_requests_total",
            "HTTP requests by route and status.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "seminar_http_request_duration_seconds",
            "HTTP request latency by route.",
            ["method", "route"],
            registry=registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)


class DbPoolCollector(Collector):
    """Reads the SQLAlchemy pool at scrape time."""

    def __init__(self, engine: Callable[[], AsyncEngine | None]) -> None:
        self._engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        engine = self._engine()
        if engine is None or not isinstance(engine.pool, QueuePool):
            return
        pool = engine.pool
        for name, doc, value in (
            ("seminar_db_pool_size", "Configured pool size.", pool.size()),
            ("seminar_db_pool_checked_out", "Connections in use.", pool.checkedout()),
            ("seminar_db_pool_checked_in", "Idle connections in the pool.", pool.checkedin()),
            ("seminar_db_pool_overflow", "Connections above the pool size.", pool.overflow()),
        ):
            yield GaugeMetricFamily(name, doc, value=value)
