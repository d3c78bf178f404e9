"""``GET /metrics``: the ``carbonline_health`` counters in the Prometheus text format
(prometheus-client), for plants that watch their services with Prometheus.

Each health field becomes a gauge ``carbonline_<field>`` labelled ``site``, ``component`` and
``line`` (empty for plant-wide rows), read from the newest health rows at each scrape:
readings ``accepted``/``rejected`` (counts since the run started), ``queue_depth``,
``spool_depth``, ``last_reading_age_s`` (seconds)… Gauges rather than counters because one
family mixes counts and levels, and a run's counts start again at a restart.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterator

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric

from ..records import HealthRow

LABELS = ("site", "component", "line")


class HealthCollector:
    """A prometheus-client collector over the newest ``carbonline_health`` rows."""

    def __init__(self, health: Callable[[], list[HealthRow]]) -> None:
        self.health = health

    def collect(self) -> Iterator[Metric]:
        values: dict[str, list[tuple[list[str], float]]] = defaultdict(list)
        for row in self.health():
            for field, value in row.fields.items():
                values[field].append(([row.site, row.component, row.line], float(value)))
        for field in sorted(values):
            family = GaugeMetricFamily(metric_name(field), f"carbonline_health {field}",
                                       labels=LABELS)
            for labels, value in values[field]:
                family.add_metric(labels, value)
            yield family


def metric_name(field: str) -> str:
    """``carbonline_<field>`` in the characters Prometheus allows."""
    return "carbonline_" + re.sub(r"[^a-zA-Z0-9_]", "_", field)


def router(health: Callable[[], list[HealthRow]]) -> APIRouter:
    """``/metrics``, with a registry of its own (not the process-wide default, so two runs in
    one process — tests — do not clash)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(HealthCollector(health))
    api = APIRouter(tags=["health"])

    @api.get("/metrics", response_class=Response, summary="carbonline_health for Prometheus",
             responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
    def get_metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return api
