"""Discovery on an InfluxDB: every series (measurement × tag set) and field that may be a
meter, with its last few values, through InfluxQL's ``SHOW`` statements and ``/query``.

Numeric fields become signals with the series' tags as the mapping's ``tags``; string fields
and tags with few distinct values (a recipe, an order number) are offered too, since they may
be a line's SKU or order. A ``unit`` tag is the signal's stated unit.
"""

from __future__ import annotations

import httpx

from ..config import InfluxServer
from ..influxql import identifier, query
from ..sinks.influx import http_client
from .found import Found

#: Tags with more distinct values than this are identifiers, not SKU or order candidates.
MAX_CONTEXT_VALUES = 50
#: Tags that never hold a meter's value.
NOT_CONTEXT = {"unit", "host", "machine", "line", "site", "device", "meter"}


def browse_influx(url: str, database: str | None = None, settings: InfluxServer | None = None,
                  samples: int = 5) -> list[Found]:
    """Signals in ``database`` (every database but ``_internal`` when none is given)."""
    settings = settings or InfluxServer(url=url, database=database or "")
    with http_client(settings) as http:
        databases = [database] if database else [
            name for (name,) in _values(http, None, "SHOW DATABASES") if name != "_internal"]
        found: list[Found] = []
        for db in databases:
            for (measurement,) in _values(http, db, "SHOW MEASUREMENTS"):
                found += _measurement(http, db, measurement, samples)
    return found


def _measurement(http: httpx.Client, db: str, measurement: str, samples: int) -> list[Found]:
    m = identifier(measurement)
    fields = {name: kind for name, kind in _values(http, db, f"SHOW FIELD KEYS FROM {m}")}
    body = query(http, f"SELECT * FROM {m} GROUP BY * ORDER BY time DESC LIMIT {samples}", db,
                 epoch=None)
    found = []
    for series in body.get("series", []):
        tags = {k: v for k, v in (series.get("tags") or {}).items() if v}
        columns = series["columns"]
        rows = list(reversed(series["values"]))  # oldest first
        label = ",".join(f"{k}={v}" for k, v in sorted(tags.items()))
        for i, column in enumerate(columns[1:], start=1):
            kind = fields.get(column)
            values = [row[i] for row in rows if row[i] is not None]
            if kind in ("float", "integer") and values:
                found.append(Found(
                    _name(measurement, tags, column),
                    {"influx": {"measurement": measurement, "field": column, "tags": tags}},
                    [float(v) for v in values], unit=tags.get("unit"),
                    where=f"{db}.{measurement}{{{label}}}.{column}"))
            elif kind == "string" and values and len(set(values)) <= MAX_CONTEXT_VALUES:
                found.append(Found(
                    _name(measurement, tags, column),
                    {"influx": {"measurement": measurement, "field": column, "tags": tags}},
                    [str(v) for v in values], where=f"{db}.{measurement}{{{label}}}.{column}"))
    for (key,) in _values(http, db, f"SHOW TAG KEYS FROM {m}"):
        if key in NOT_CONTEXT:
            continue
        values = [v for _, v in _values(http, db, f'SHOW TAG VALUES FROM {m} WITH KEY = '
                                                  f'"{key}"')]
        if 0 < len(values) <= MAX_CONTEXT_VALUES:
            found.append(Found(f"{measurement}_{key}",
                               {"influx": {"measurement": measurement, "tag": key}},
                               values[-samples:], where=f"{db}.{measurement} tag {key}"))
    return found


def _name(measurement: str, tags: dict[str, str], field: str) -> str:
    return "_".join([measurement, *(v for k, v in sorted(tags.items()) if k != "unit"), field])


def _values(http: httpx.Client, db: str | None, q: str) -> list[list]:
    """The rows of a SHOW statement, over all its series."""
    return [row for series in query(http, q, db, epoch=None).get("series", [])
            for row in series["values"]]
