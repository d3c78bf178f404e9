"""The built-in InfluxDB source: meters read from the plant's historian.

It claims the ``[sources.influx]`` URL. Points map to meters by each meter's ``influx``
mapping, exactly as in a line-protocol file (:class:`~carbonline.sources.files.LineProtocolFile`
does the mapping for both). Two modes:

- **subscription** (InfluxDB 1.x): carbonline registers ``CREATE SUBSCRIPTION "<name>" ON
  "<db>"."<rp>" DESTINATIONS ALL '<advertise_url>'`` (dropping an old one of the same name
  first, so a restart does not add a second) and InfluxDB then POSTs every write to ``/write``
  on carbonline's HTTP app (the ``router`` here). Only measurements some meter maps are read;
  the rest — carbonline's own ``carbon_*`` points too, which InfluxDB forwards like any write —
  are counted as ``ignored``, so nothing loops. Closing drops the subscription. Subscriptions
  are fire-and-forget: what InfluxDB could not deliver while carbonline was down is lost to
  this path (re-reading by query after downtime is the checkpoint's job).
- **poll** (1.x, 2.x through DBRP, 3.x: all serve InfluxQL at ``/query``): every
  ``poll_interval``, each mapped measurement is asked for ``time > last AND time <= upper``,
  in steps of at most an hour. ``upper`` trails the clock by the engine's ``lateness``, so a
  point the historian receives up to that late is still read; each point is read once. The
  first poll starts ``lateness`` + ``poll_interval`` before the start. Errors (server down,
  bad credentials) are logged and counted, and the same span is asked again next time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence

import httpx

from ..config import InfluxSource
from ..plant import PlantModel
from ..plugins import hookimpl
from ..records import NS_PER_S, ContextEvent, ReadingBatch
from ..influxql import InfluxQLError, query
from ..sinks.influx import http_client
from .files import LineProtocolFile
from .inbox import LiveSource

log = logging.getLogger(__name__)

#: The longest span one poll query asks for, ns (bounds an answer after a long pause).
POLL_STEP_NS = 3600 * NS_PER_S
#: Line-protocol precisions → ns per unit.
PRECISION_NS = {"ns": 1, "n": 1, "u": 1_000, "us": 1_000, "ms": 1_000_000, "s": NS_PER_S,
                "m": 60 * NS_PER_S, "h": 3600 * NS_PER_S}


@hookimpl
def carbonline_sources(plant: PlantModel, inputs: Sequence[str]) -> list:
    """Claim the ``[sources.influx]`` URL."""
    settings = plant.config.sources.influx
    if settings is None or settings.url not in inputs:
        return []
    if settings.mode == "subscription":
        return [InfluxSubscription(plant, settings)]
    return [InfluxPoll(plant, settings)]


class _Source(LiveSource):
    """What both modes share: the meter mapping (the line-protocol file reader's) and the
    InfluxQL answers."""

    def __init__(self, plant: PlantModel, settings: InfluxSource) -> None:
        super().__init__(plant, settings)
        self.measurements = sorted({m.influx.measurement for m in plant.meters
                                    if m.influx is not None})
        self.mapping = LineProtocolFile(plant, f"{settings.url} {settings.database}")
        self.closed = self.inbox.closed

    def _hand_over(self, batch: ReadingBatch) -> None:
        if not (len(batch.readings) or batch.context or batch.rejections):
            return
        self.counters["readings"] += len(batch.readings)
        self.counters["rejected"] += len(batch.rejections)
        self.inbox.put_batch(batch)

class InfluxSubscription(_Source):
    """InfluxDB 1.x pushes every write to ``router``'s ``/write``."""

    def __init__(self, plant: PlantModel, settings: InfluxSource) -> None:
        super().__init__(plant, settings)
        self.wanted = set(self.measurements)
        from .influx_endpoint import subscription_router  # FastAPI only for this mode

        self.router = subscription_router(self)
        self.registered = threading.Event()

    def receive(self, body: bytes, precision: str = "ns") -> None:
        """One POST from InfluxDB: line protocol in ``precision``; mapped measurements only."""
        lines = body.decode("utf-8", errors="replace").splitlines()
        kept = [line for line in lines if _measurement(line) in self.wanted]
        self.counters["points"] += len(kept)
        self.counters["ignored"] += sum(1 for line in lines if line.strip()) - len(kept)
        if kept:
            batch = self.mapping.parse("\n".join(kept))
            scale = PRECISION_NS.get(precision, 1)
            if scale != 1:
                batch.readings["time"] *= scale
                batch.context = [ContextEvent(e.meter, e.time * scale, e.text)
                                 for e in batch.context]
            self._hand_over(batch)

    def read(self) -> Iterator[ReadingBatch]:
        """Register the subscription, then yield what InfluxDB pushed until :meth:`close`."""
        with http_client(self.settings) as http:
            self._register(http)
            try:
                yield from self.inbox.batches()
            finally:
                self._drop(http)

    def _target(self) -> tuple[str, str]:
        s = self.settings
        destination = s.advertise_url or f"http://{self.plant.config.http.listen}"
        return f'"{s.subscription}" ON "{s.database}"."{s.retention_policy or "autogen"}"', \
            destination

    def _register(self, http: httpx.Client) -> None:
        on, destination = self._target()
        while not self.closed.is_set():
            try:
                self._drop(http, quiet=True)
                query(http, f"CREATE SUBSCRIPTION {on} DESTINATIONS ALL '{destination}'")
            except InfluxQLError as exc:
                self.counters["errors"] += 1
                log.warning("InfluxDB %s: cannot register the subscription (%s); retrying",
                            self.name, exc)
                self.closed.wait(5)
                continue
            log.info("InfluxDB %s: subscription %s → %s", self.name, on, destination)
            self.registered.set()
            return

    def _drop(self, http: httpx.Client, quiet: bool = False) -> None:
        on, _ = self._target()
        try:
            query(http, f"DROP SUBSCRIPTION {on}")
        except InfluxQLError as exc:
            if not quiet:
                log.warning("InfluxDB %s: could not drop the subscription: %s", self.name, exc)


class InfluxPoll(_Source):
    """InfluxQL every ``poll_interval`` for what is new."""

    def read(self) -> Iterator[ReadingBatch]:
        lateness = int(self.plant.config.engine.lateness * NS_PER_S)
        interval = self.settings.poll_interval
        last = {m: time.time_ns() - lateness - int(interval * NS_PER_S)
                for m in self.measurements}
        with http_client(self.settings) as http:
            while not self.closed.is_set():
                upper = time.time_ns() - lateness
                for measurement in self.measurements:
                    last[measurement] = self._poll(http, measurement, last[measurement], upper)
                yield self.inbox.take()
                self.closed.wait(interval)
            yield self.inbox.take()

    def _poll(self, http: httpx.Client, measurement: str, last: int, upper: int) -> int:
        """Read ``(last, upper]`` in steps; return how far it got."""
        while last < upper and not self.closed.is_set():
            end = min(upper, last + POLL_STEP_NS)
            q = (f'SELECT * FROM "{measurement}" WHERE time > {last} AND time <= {end} '
                 "GROUP BY *")
            try:
                result = query(http, q, self.settings.database)
            except InfluxQLError as exc:
                self.counters["errors"] += 1
                log.warning("InfluxDB %s: poll of %s failed (%s); asking again next time",
                            self.name, measurement, exc)
                return last
            self.counters["polls"] += 1
            for series in result.get("series", []):
                tags = {k: v for k, v in (series.get("tags") or {}).items() if v != ""}
                columns = series["columns"]
                for row in series["values"]:
                    values = {c: v for c, v in zip(columns[1:], row[1:]) if v is not None}
                    self.counters["points"] += 1
                    self.mapping.point(measurement, tags, values, int(row[0]),
                                       f"{measurement} {tags} {values} {row[0]}")
            self._hand_over(self.mapping.take())
            last = end
        return last


class InfluxBackfill(InfluxPoll):
    """One pass over a past period ``[start, end)`` (ns) of the historian, an hour of every
    mapped measurement per batch, for ``carbonline backfill``. ``size_bytes``/``bytes_read``
    count nanoseconds of the period, for the progress bar. A failed query raises: a backfill
    with a hole would write windows that look complete."""

    def __init__(self, plant: PlantModel, settings: InfluxSource, start: int, end: int) -> None:
        super().__init__(plant, settings)
        self.start, self.end = start, end
        self.size_bytes = end - start
        self.bytes_read = 0

    def read(self) -> Iterator[ReadingBatch]:
        with http_client(self.settings) as http:
            for lo in range(self.start - 1, self.end - 1, POLL_STEP_NS):  # (lo, hi]: from start
                hi = min(lo + POLL_STEP_NS, self.end - 1)
                for measurement in self.measurements:
                    if self._poll(http, measurement, lo, hi) < hi:
                        raise OSError(f"InfluxDB {self.name}: reading {measurement} failed "
                                      "(see the log); backfill stopped")
                self.bytes_read = hi + 1 - self.start
                yield self.inbox.take()


def _measurement(line: str) -> str:
    """The measurement of a line-protocol line (up to the first unescaped comma or space)."""
    end = len(line)
    for stop in (",", " "):
        i = line.find(stop)
        while i > 0 and line[i - 1] == "\\":
            i = line.find(stop, i + 1)
        if i != -1:
            end = min(end, i)
    return line[:end].replace("\\", "")
