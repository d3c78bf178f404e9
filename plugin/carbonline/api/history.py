"""The API's history store: the InfluxDB ``carbonline run`` writes to (``[sinks.influx]``),
read back with InfluxQL through ``/query`` (InfluxDB 1.x; 2.x through its DBRP mapping; 3.x),
the way the InfluxDB source and the historian factor provider read.

Used for what memory does not hold (:mod:`.view`): orders older than the newest
``MAX_ORDERS`` and any period's footprint. Sums are taken by InfluxDB, per line × SKU, and
always on the ``1m`` windows (every query filters on ``window``, design brief §3), so a period
is the minutes that *start* in it.
"""

from __future__ import annotations

from datetime import datetime

from ..config import InfluxSink
from ..influxql import identifier, literal, query
from ..records import NS_PER_S
from ..sinks.influx import http_client
from .totals import SUMMED, Piece

#: The window summed for a period: the finest one every plant writes.
PERIOD_WINDOW = "1m"


class Database:
    """The database ``[sinks.influx]`` names, read with InfluxQL: measurement names qualified
    with its retention policy, answers as one dict per point (tags and columns). Errors
    (server away, bad credentials) raise :class:`carbonline.influxql.InfluxQLError` with the
    server's words."""

    def __init__(self, settings: InfluxSink) -> None:
        self.settings = settings

    def _from(self, measurement: str) -> str:
        rp = self.settings.retention_policy
        return (f"{identifier(rp)}." if rp else "") + identifier(measurement)

    def _ask(self, q: str) -> list[dict]:
        with http_client(self.settings) as http:
            series = query(http, q, self.settings.database).get("series", [])
        return [{**s.get("tags", {}), **dict(zip(s["columns"], values))}
                for s in series for values in s["values"]]


class History(Database):
    """Reads ``carbon_order`` and ``carbon_intensity`` of one site back from InfluxDB."""

    def __init__(self, settings: InfluxSink, site: str) -> None:
        super().__init__(settings)
        self.site = site

    def order(self, order_id: str) -> list[Piece]:
        """The ``carbon_order`` points of ``order_id`` (one per line × SKU run), newest
        revision each; empty when InfluxDB has none."""
        if not storable(order_id):
            return []
        q = (f"SELECT * FROM {self._from('carbon_order')} WHERE \"site\" = "
             f"{literal(self.site)} AND \"order_id\" = {literal(order_id)}")
        return [Piece(p["line"], p.get("sku") or "", int(p["time"]), _ns(p["end_time"]),
                      {name: float(p.get(name) or 0.0) for name in SUMMED})
                for p in self._ask(q)]

    def period(self, start: int, end: int, line: str | None, sku: str | None) -> list[Piece]:
        """The ``1m`` windows starting in ``[start, end)`` ns, summed per line × SKU."""
        if not storable(line or "", sku or ""):
            return []
        where = [f"\"site\" = {literal(self.site)}",
                 f"\"window\" = {literal(PERIOD_WINDOW)}", f"time >= {start}", f"time < {end}"]
        where += [f"{identifier(tag)} = {literal(value)}"
                  for tag, value in (("line", line), ("sku", sku)) if value is not None]
        sums = ", ".join(f"sum({identifier(n)}) AS {identifier(n)}" for n in SUMMED)
        q = (f"SELECT {sums} FROM {self._from('carbon_intensity')} WHERE "
             f"{' AND '.join(where)} GROUP BY \"line\", \"sku\"")
        return [Piece(p["line"], p.get("sku") or "", start, end,
                      {name: float(p.get(name) or 0.0) for name in SUMMED})
                for p in self._ask(q)]


def storable(*values: str) -> bool:
    """Whether tag values can be in InfluxDB at all: control characters (a line break, NUL)
    end a line-protocol line, and an InfluxQL string literal cannot hold them either, so such
    a value is answered as absent rather than sent as a query the server refuses."""
    return not any(ord(c) < 0x20 or c == "\x7f" for value in values for c in value)


def _ns(stamp: str) -> int:
    """An RFC 3339 ``end_time`` field as ns UTC."""
    moment = datetime.fromisoformat(stamp)
    return int(moment.timestamp()) * NS_PER_S + moment.microsecond * 1000
