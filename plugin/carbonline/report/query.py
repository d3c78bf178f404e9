"""Reading a period's series back from the InfluxDB carbonline writes to, with InfluxQL over
httpx (:mod:`carbonline.influxql`, the client settings of :mod:`carbonline.sinks.influx`).

Sums per line × SKU come from :class:`carbonline.api.history.History` (InfluxDB adds them up,
on the ``1m`` windows); the per-window rows behind the plots and data-quality notes, the
alerts and the factor points are asked here. Every ``carbon_intensity`` query filters on
``window`` (design brief §3). InfluxDB holds the current revision of each window, so that is
what every answer is.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..api.history import PERIOD_WINDOW, Database, History
from ..api.totals import Piece
from ..config import InfluxSink
from ..influxql import identifier, literal

#: The ``carbon_intensity`` fields the plots and quality notes read, per ``1m`` window.
ROW_FIELDS = ("co2e_kg", "good_units", "baseline_co2e_per_unit_kg", "coverage_pct", "revision")


@dataclass(frozen=True, slots=True)
class WindowRow:
    """One ``1m`` ``carbon_intensity`` point: a line × SKU × minute (current revision)."""

    time: int  # ns, window start
    site: str
    line: str
    sku: str
    co2e_kg: float  # Scope 1 + Scope 2 location-based
    good_units: float
    baseline_co2e_per_unit_kg: float | None
    coverage_pct: float
    revision: int


@dataclass(frozen=True, slots=True)
class AlertPoint:
    """One ``carbon_alert`` point: an alert opening (``firing``) or ending (``resolved``)."""

    time: int
    site: str
    line: str
    alert_id: str
    state: str
    severity: str
    cause: str
    machine: str
    co2e_per_unit_kg: float | None


@dataclass(frozen=True, slots=True)
class FactorPoint:
    """One ``carbon_factor`` point (a ``15m`` window's grid factor) with its provenance."""

    time: int
    zone: str
    provider: str
    basis: str
    type: str
    dataset: str
    year: int | None
    estimated: bool
    kg_per_kwh: float


class SeriesReader(Database):
    """The carbon_* series of one InfluxDB database. Errors raise
    :class:`carbonline.influxql.InfluxQLError` with the server's words."""

    @classmethod
    def at(cls, url: str, database: str) -> SeriesReader:
        """A reader of ``database`` on the server at ``url`` (no credentials)."""
        return cls(InfluxSink(url=url, database=database))

    def sites(self) -> list[str]:
        """The sites with ``carbon_intensity`` points, sorted."""
        q = f"SHOW TAG VALUES FROM {self._from('carbon_intensity')} WITH KEY = \"site\""
        return sorted({p["value"] for p in self._ask(q)})

    def sums(self, site: str, start: int, end: int) -> list[Piece]:
        """The ``1m`` windows of ``site`` starting in ``[start, end)`` ns, summed per
        line × SKU by InfluxDB."""
        return History(self.settings, site).period(start, end, None, None)

    def rows(self, site: str, start: int, end: int) -> list[WindowRow]:
        """Every ``1m`` line × SKU row of ``site`` starting in ``[start, end)`` ns."""
        fields = ", ".join(identifier(name) for name in ROW_FIELDS)
        q = (f"SELECT {fields} FROM {self._from('carbon_intensity')} WHERE \"site\" = "
             f"{literal(site)} AND \"window\" = {literal(PERIOD_WINDOW)} AND time >= {start} "
             f"AND time < {end} GROUP BY \"line\", \"sku\"")
        return [WindowRow(int(p["time"]), site, p["line"], p.get("sku") or "",
                          float(p["co2e_kg"] or 0.0), float(p["good_units"] or 0.0),
                          _optional(p.get("baseline_co2e_per_unit_kg")),
                          float(p["coverage_pct"] or 0.0), int(p["revision"] or 1))
                for p in self._ask(q)]

    def alerts(self, site: str, start: int, end: int) -> list[AlertPoint]:
        """The ``carbon_alert`` points of ``site`` in ``[start, end)`` ns, in time order."""
        q = (f"SELECT \"alert_id\", \"state\", \"machine\", \"co2e_per_unit_kg\" FROM "
             f"{self._from('carbon_alert')} WHERE \"site\" = {literal(site)} AND time >= "
             f"{start} AND time < {end} GROUP BY \"line\", \"severity\", \"cause\"")
        points = [AlertPoint(int(p["time"]), site, p["line"], p["alert_id"], p["state"],
                             p["severity"], p["cause"], p.get("machine") or "",
                             _optional(p.get("co2e_per_unit_kg")))
                  for p in self._ask(q)]
        return sorted(points, key=lambda a: (a.time, a.line, a.alert_id))

    def factors(self, start: int, end: int) -> list[FactorPoint]:
        """The ``carbon_factor`` points in ``[start, end)`` ns (all zones)."""
        q = (f"SELECT \"kg_per_kwh\", \"dataset\", \"year\", \"estimated\" FROM "
             f"{self._from('carbon_factor')} WHERE time >= {start} AND time < {end} "
             f"GROUP BY \"zone\", \"provider\", \"basis\", \"type\"")
        return [FactorPoint(int(p["time"]), p["zone"], p["provider"], p["basis"], p["type"],
                            p.get("dataset") or "", _year(p.get("year")),
                            bool(p.get("estimated")), float(p["kg_per_kwh"]))
                for p in self._ask(q)]


def _optional(value: object) -> float | None:
    return None if value is None else float(value)


def _year(value: object) -> int | None:
    return None if value in (None, "") else int(value)
