"""A grid-intensity series read straight from InfluxDB (``[factors.historian]``).

Plants that already store a grid factor — a Node-RED flow polling a grid-carbon API, a
supplier's feed — keep it in their historian; carbonline reads it from there with InfluxQL
through ``/query`` (InfluxDB 1.x, 2.x through DBRP, 3.x), asking only the span the engine
needs, plus ``series_max_gap`` before it so the value in force at the span's start is found.
"""

from __future__ import annotations

import numpy as np

from ..config import HistorianSeries
from ..influxql import InfluxQLError, identifier, literal, query
from ..sinks.influx import http_client


def read_historian(settings: HistorianSeries, start: int, end: int,
                   lookback: int) -> tuple[np.ndarray, np.ndarray]:
    """(times ns, kg CO₂e/kWh) of the series in ``[start − lookback, end)``, sorted; empty
    arrays when it has none there. Server errors raise ``OSError`` with the server's words."""
    where = [f"time >= {start - lookback}", f"time < {end}"]
    where += [f"{identifier(k)} = {literal(v)}" for k, v in sorted(settings.tags.items())]
    q = (f"SELECT {identifier(settings.field)} FROM {identifier(settings.measurement)} "
         f"WHERE {' AND '.join(where)} ORDER BY time")
    with http_client(settings) as http:
        try:
            series = query(http, q, settings.database).get("series", [])
        except InfluxQLError as exc:
            raise InfluxQLError(f"grid series from {describe(settings)}: {exc}") from None
    rows = [(int(t), float(v)) for s in series for t, v in s["values"] if v is not None]
    return (np.array([t for t, _ in rows], np.int64), np.array([v for _, v in rows]))


def describe(settings: HistorianSeries) -> str:
    """Where the series lives, for provenance: server, database, measurement, field, tags."""
    tags = ",".join(f"{k}={v}" for k, v in sorted(settings.tags.items()))
    return (f"InfluxDB {settings.url} {settings.database}.{settings.measurement}"
            f"{'{' + tags + '}' if tags else ''}.{settings.field}")
