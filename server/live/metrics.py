"""/metrics for the live room: read from the broadcast path's plain counters at scrape time."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector


class LiveCollector(Collector):
    def __init__(self, server: Any) -> None:  # a server.live.app.LiveServer
        self._server = server

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        stats = self._server.manager.stats
        wire = self._server.eio.wire_stats
        for name, doc, value in (
            ("seminar_live_broadcasts", "Room broadcasts written by this node.", stats.broadcasts),
            ("seminar_live_deliveries", "Broadcast writes to connections.", stats.deliveries),
            (
                "seminar_live_bus_publish_failures",
                "Broadcasts the room bus (Redis) could not take.",
                stats.publish_failures,
            ),
            ("seminar_live_resyncs", "Rooms told to resync after a bus loss.", stats.resyncs),
            (
                "seminar_live_slow_clients_dropped",
                "Connections closed for holding too many unsent bytes.",
                wire.slow_clients_dropped,
            ),
        ):
            yield CounterMetricFamily(name, doc, value=value)
        yield GaugeMetricFamily(
            "seminar_live_admission_waiting",
            "/live connects and joins waiting for their turn at the database (live_admission).",
            value=self._server.namespace_handlers["/live"].admission.waiting,
        )
        yield GaugeMetricFamily(
            "seminar_live_connections",
            "Engine.IO connections open on this node.",
            value=len(self._server.eio.sockets),
        )
