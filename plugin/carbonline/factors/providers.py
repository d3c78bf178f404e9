"""Built-in grid factor providers: a configured constant, an hour-of-day profile, or the
shipped annual table for the site's grid zone.

They answer the ``carbonline_emission_factors`` hook like any third-party provider would. The
profile is written in site-local time (24 values, or 7 rows of 24 from Monday), so its steps are
placed with the site's zone and follow DST changes. A table value from a year before the asked
time is used with its year in the provenance and marked ``estimated``.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np

from ..plant import PlantModel
from ..plugins import hookimpl
from ..records import NS_PER_S, FactorSeries, Provenance
from .tables import grid_tables

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
