"""Everything a report reads from InfluxDB, fetched once, one site-local day at a time (so a
long period shows progress and no single answer grows past a day of minutes).

The inventory (:mod:`.ghg`), the ESRS view (:mod:`.esrs`) and the plots (:mod:`.plots`) are
computed from the :class:`Collected` value, never by asking InfluxDB again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from ..api.totals import Piece
from ..records import NS_PER_S, to_ns
from .model import Period
from .query import AlertPoint, FactorPoint, SeriesReader, WindowRow

#: ``progress(done, total)``: called after each site × day is read.
Progress = Callable[[int, int], None]


@dataclass(slots=True)
class DaySums:
    """One site × site-local day: InfluxDB's sums per line × SKU over the day's ``1m``
    windows that lie in the period."""

    site: str
    day: date
    pieces: list[Piece]


@dataclass(slots=True)
class Collected:
    """A period's series as read: daily sums, per-minute rows, alerts and factor points."""

    period: Period
    sites: list[str]
    days: list[DaySums] = field(default_factory=list)
    rows: list[WindowRow] = field(default_factory=list)
    alerts: list[AlertPoint] = field(default_factory=list)
    factors: list[FactorPoint] = field(default_factory=list)


def day_spans(period: Period) -> list[tuple[date, int, int]]:
    """The site-local calendar days the period touches, each clipped to the period:
    ``(day, start_ns, end_ns)``. Days are cut at local midnight, as ``day`` windows are."""
    zone = ZoneInfo(period.timezone)
    first = datetime.fromtimestamp(period.start_ns / NS_PER_S, zone).date()
    spans = []
    day = first
    while True:
        start = to_ns(datetime.combine(day, datetime.min.time(), zone))
        end = to_ns(datetime.combine(day + timedelta(days=1), datetime.min.time(), zone))
        if start >= period.end_ns:
            return spans
        spans.append((day, max(start, period.start_ns), min(end, period.end_ns)))
        day += timedelta(days=1)


def collect(reader: SeriesReader, period: Period, sites: list[str] | None = None,
            progress: Progress | None = None) -> Collected:
    """Read ``period`` for ``sites`` (default: every site with ``carbon_intensity`` points)."""
    sites = sorted(sites) if sites is not None else reader.sites()
    out = Collected(period, sites)
    spans = day_spans(period)
    total, done = len(sites) * len(spans), 0
    for site in sites:
        for day, start, end in spans:
            out.days.append(DaySums(site, day, reader.sums(site, start, end)))
            out.rows.extend(reader.rows(site, start, end))
            done += 1
            if progress is not None:
                progress(done, total)
        out.alerts.extend(reader.alerts(site, period.start_ns, period.end_ns))
    out.factors = reader.factors(period.start_ns, period.end_ns)
    return out
