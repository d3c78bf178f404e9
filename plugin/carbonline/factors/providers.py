"""Built-in grid factor providers: a configured constant, an hour-of-day profile, or the
shipped annual table for the site's grid zone.

They answer the ``carbonline_emission_factors`` hook like any third-party provider would. The
profile is written in site-local time (24 values, or 7 rows of 24 from Monday), so its steps are
placed with the site's zone and follow DST changes. A table value from a year before the asked
time is used with its year in the provenance and marked ``estimated``.
"""

from __future__ import annotations

import csv
import logging
from datetime import datetime
from functools import cache
from zoneinfo import ZoneInfo

import numpy as np
from line_protocol_parser import parse_line

from ..plant import PlantModel
from ..plugins import hookimpl
from ..records import NS_PER_S, FactorSeries, Provenance, to_ns
from .historian import describe, read_historian
from .tables import grid_tables

log = logging.getLogger(__name__)

STEP_NS = 15 * 60 * NS_PER_S  # fine enough for every UTC offset in use (:30 and :45 zones)


@hookimpl(trylast=True)
def carbonline_emission_factors(
    plant: PlantModel, zone: str, start: int, end: int, basis: str
) -> FactorSeries | None:
    factors = plant.config.factors
    if zone != plant.config.site.grid_zone:
        return None
    if basis == "market":
        if factors.market_kg_per_kwh is not None:
            return _constant(zone, start, factors.market_kg_per_kwh, "market", factors.source)
        # GHG Protocol Scope 2 Guidance: without contractual instruments the market-based
        # method falls back to the location-based grid average.
        location = carbonline_emission_factors(plant, zone, start, end, "location")
        assert location is not None
        return FactorSeries(
            zone,
            location.starts,
            location.kg_per_kwh,
            Provenance(
                provider=location.provenance.provider,
                dataset=f"{location.provenance.dataset} (grid average, no contractual instrument)",
                basis="market",
                type=location.provenance.type,
                estimated=True,
            ),
        )
    if factors.series is not None or factors.historian is not None:
        return _series(plant, zone, start, end)
    return _configured_or_table(plant, zone, start, end)


def _configured_or_table(plant: PlantModel, zone: str, start: int, end: int) -> FactorSeries | None:
    """The location-based chain below a series: constant, profile, then the tables."""
    factors = plant.config.factors
    if factors.grid_kg_per_kwh is not None:
        return _constant(zone, start, factors.grid_kg_per_kwh, "location", factors.source)
    if factors.profile is not None:
        return _profile(plant, zone, start, end)
    row = grid_tables(factors.tables_dir).factor(zone)
    if row is None:
        return None
    asked_year = datetime.fromtimestamp(start // NS_PER_S, ZoneInfo("UTC")).year
    return row.series(start, estimated=row.year < asked_year)


def _constant(zone: str, start: int, value: float, basis: str, source: str) -> FactorSeries:
    return FactorSeries(
        zone,
        np.array([start], dtype=np.int64),
        np.array([value]),
        Provenance(provider="constant", dataset=source, basis=basis),
    )


def _profile(plant: PlantModel, zone: str, start: int, end: int) -> FactorSeries:
    """Steps of the local hour-of-day (and weekday) profile covering ``[start, end)``."""
    profile = plant.config.factors.profile
    assert profile is not None
    rows = profile if isinstance(profile[0], list) else [profile] * 7
    table = np.array(rows, dtype=float)  # weekday (Mon=0) × hour
    tz = ZoneInfo(plant.config.site.timezone)
    first = start - start % STEP_NS
    starts = np.arange(first, end + STEP_NS, STEP_NS, dtype=np.int64)
    local = [datetime.fromtimestamp(int(t) // NS_PER_S, tz) for t in starts]
    values = np.array([table[d.weekday(), d.hour] for d in local])
    change = np.ones(len(values), bool)
    change[1:] = values[1:] != values[:-1]
    return FactorSeries(
        zone,
        starts[change],
        values[change],
        Provenance(provider="profile", dataset=plant.config.factors.source),
    )


def _series(plant: PlantModel, zone: str, start: int, end: int) -> FactorSeries:
    """A plant's own grid-intensity series: a file (CSV or line protocol) or a series in its
    historian. Each value holds until the next one, but at most ``series_max_gap``; the gaps
    take the rest of the chain (constant, profile, table), and the provenance says which and
    marks the series estimated. A historian that cannot be read is one long gap, logged and
    named in the provenance."""
    factors = plant.config.factors
    hold = int(factors.series_max_gap * NS_PER_S)
    if factors.historian is not None:
        provider, dataset = "historian", f"grid series {describe(factors.historian)}"
        try:
            times, values = read_historian(factors.historian, start, end + 1, hold)
        except OSError as exc:  # a historian outage must not stop the run
            log.warning("%s", exc)
            times, values = np.zeros(0, np.int64), np.zeros(0)
            dataset += f" (unreadable: {exc})"
    else:
        times, values = read_series(factors.series, plant.config.site.timezone)
        provider, dataset = "series", f"grid series {factors.series}"
    until = np.minimum(np.append(times[1:], np.iinfo(np.int64).max), times + hold)
    fallback = _configured_or_table(plant, zone, start, end)
    points = np.unique(np.concatenate([
        [start], times, until, fallback.starts if fallback is not None else []]).astype(np.int64))
    points = points[(points >= start) & (points <= end)]
    index = np.searchsorted(times, points, side="right") - 1
    covered = ((index >= 0) & (points < until[np.clip(index, 0, None)]) if len(times)
               else np.zeros(len(points), bool))
    if not covered.all() and fallback is None:
        raise ValueError(f"the {dataset} has gaps and no factor to fill them")
    own = values[np.clip(index, 0, None)] if len(values) else np.zeros(len(points))
    kg = np.where(covered, own, fallback.at(points) if fallback is not None else own)
    if not covered.all():
        dataset += (f"; gaps over {factors.series_max_gap:.0f} s filled from "
                    f"{fallback.provenance.provider} ({fallback.provenance.dataset})")
    return FactorSeries(zone, points, kg, Provenance(  # a plant's series does not say its type
        provider=provider, dataset=dataset, type="unknown", estimated=not covered.all()))


@cache
def read_series(path: str, timezone: str, field: str = "kg_per_kwh"
                ) -> tuple[np.ndarray, np.ndarray]:
    """(times ns, values) of a series file, sorted: CSV with a ``time,<field>`` header (ISO
    8601; naive times in ``timezone``), or line protocol with a ``<field>`` field. The grid's
    intensity (kg CO₂e/kWh) by default; a baseline driver such as ``outdoor_c`` likewise."""
    rows: list[tuple[int, float]] = []
    with open(path, encoding="utf-8-sig") as f:
        if path.endswith(".csv"):
            zone = ZoneInfo(timezone)
            for rec in csv.DictReader(f):
                moment = datetime.fromisoformat(rec["time"].replace("Z", "+00:00"))
                if moment.tzinfo is None:
                    moment = moment.replace(tzinfo=zone)
                rows.append((to_ns(moment), float(rec[field])))
        else:
            for line in f:
                if line.strip() and not line.startswith("#"):
                    point = parse_line(line.strip())
                    rows.append((int(point["time"]), float(point["fields"][field])))
    if not rows:
        raise ValueError(f"{path}: no values")
    rows.sort()
    return np.array([t for t, _ in rows], np.int64), np.array([v for _, v in rows])
