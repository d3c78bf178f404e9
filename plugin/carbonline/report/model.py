"""The report's data model: what a GHG Protocol inventory and an ESRS E1 disclosure hold,
as plain dataclasses built once from InfluxDB (:func:`carbonline.report.ghg.build_inventory`)
and then written as CSV, JSON, HTML, or handed to an ESG exporter (:mod:`carbonline.export`).

Units are in the names: energies kWh (MWh in the ESRS view, as E1-5 asks), emissions kg CO₂e
(t CO₂e in the ESRS view), gas masses kg of the gas itself, coverage in percent. Times are ns
UTC (carbonline's time everywhere), dates are site-local calendar days.

Revisions: InfluxDB holds the *current* revision of every window (a late reading rewrites the
same point with ``revision`` + 1, design brief §3), so every figure here is the current
revision; :class:`Quality` counts the windows that were revised and the highest revision seen.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

#: The additive ``carbon_intensity`` fields a report sums (kWh, kg CO₂e, units).
AMOUNTS = ("electricity_kwh", "fuel_kwh", "scope1_co2e_kg", "scope2_location_co2e_kg",
           "scope2_market_co2e_kg", "good_units")

#: How gaps in readings are treated by the engine (:mod:`carbonline.engine.increments`), said
#: in every report: a counter's delta across a gap is spread evenly over it; power samples
#: further apart than the meter's ``max_gap`` are not bridged (coverage drops); nothing is
#: estimated.
GAP_FILLING = ("counter deltas spread linearly over the gap between readings; power samples "
               "beyond the meter's max_gap not bridged (coverage_pct drops); no estimation")


@dataclass(frozen=True, slots=True)
class Period:
    """The reporting period ``[start_ns, end_ns)``: the ``1m`` windows that *start* in it."""

    start_ns: int
    end_ns: int
    timezone: str = "UTC"  # the site-local calendar days are cut in this zone


@dataclass(slots=True)
class Amounts:
    """Summed energy (kWh, fuel on net calorific value), emissions (kg CO₂e) and good units."""

    electricity_kwh: float = 0.0
    fuel_kwh: float = 0.0
    scope1_co2e_kg: float = 0.0
    scope2_location_co2e_kg: float = 0.0
    scope2_market_co2e_kg: float = 0.0
    good_units: float = 0.0

    @property
    def energy_kwh(self) -> float:
        return self.electricity_kwh + self.fuel_kwh

    @property
    def total_location_co2e_kg(self) -> float:
        """Scope 1 + Scope 2 location-based: carbonline's operational ``co2e_kg``."""
        return self.scope1_co2e_kg + self.scope2_location_co2e_kg

    @property
    def total_market_co2e_kg(self) -> float:
        """Scope 1 + Scope 2 market-based."""
        return self.scope1_co2e_kg + self.scope2_market_co2e_kg

    @property
    def co2e_per_unit_kg(self) -> float | None:
        """Σ kg CO₂e (location-based total) / Σ good units; ``None`` when none were made."""
        units = self.good_units
        return self.total_location_co2e_kg / units if units > 0 else None

    def as_dict(self) -> dict[str, float | None]:
        """The sums and what derives from them, for CSV and JSON."""
        return {**{name: getattr(self, name) for name in AMOUNTS},
                "energy_kwh": self.energy_kwh,
                "total_location_co2e_kg": self.total_location_co2e_kg,
                "total_market_co2e_kg": self.total_market_co2e_kg,
                "co2e_per_unit_kg": self.co2e_per_unit_kg}


def add(parts: list[Amounts]) -> Amounts:
    """The parts summed exactly (``math.fsum``), so totals do not depend on the order."""
    return Amounts(**{name: math.fsum(getattr(p, name) for p in parts) for name in AMOUNTS})


@dataclass(slots=True)
class LineTotals:
    """One site × line over the period (SKU rows summed: design brief §3 line totals)."""

    site: str
    line: str
    unit: str  # the line's production unit (cases, pieces, kg …)
    amounts: Amounts


@dataclass(slots=True)
class SkuTotals:
    """One site × line × SKU over the period (the SKU is empty when a line has no SKU signal)."""

    site: str
    line: str
    sku: str
    amounts: Amounts


@dataclass(slots=True)
class FuelGases:
    """Scope 1 of one fuel burnt by a site × line: the recorded kg CO₂e and its split by gas.

    The series hold CO₂e only; the split applies the IPCC 2006 Vol. 2 Table 2.3 CO₂ : CH₄ : N₂O
    ratios of the fuel with the configured GWP set to the recorded CO₂e, so the gases always
    add back to ``co2e_kg`` (``method`` says so). ``None`` gases: the fuel is not one the IPCC
    table knows, or the line burns more than one fuel (the series do not say how much of each).
    """

    site: str
    line: str
    fuel: str  # the [fuels] key, "unspecified" without a plant config, "mixed: a, b"
    fuel_kwh: float
    co2e_kg: float
    co2_kg: float | None
    ch4_kg: float | None
    n2o_kg: float | None
    gwp_set: str
    method: str
    #: metered amount in the fuel's own unit (kWh ÷ its NCV), ``None`` when not determinable
    amount: float | None = None
    amount_unit: str = ""


@dataclass(slots=True)
class Quality:
    """Data-quality notes of one site × line: coverage, gap filling, revisions, factors."""

    site: str
    line: str
    windows: int  # 1m windows with a row (line × SKU rows of one minute count once)
    expected_windows: int  # minutes in the period
    coverage_pct: float | None  # mean coverage_pct of the windows present (all 1 min long)
    windows_below_full: int  # windows with coverage_pct < 100
    min_coverage_pct: float | None
    revised_windows: int  # windows whose current revision is > 1
    max_revision: int
    gap_filling: str = GAP_FILLING


@dataclass(slots=True)
class FactorUse:
    """A grid factor series the period used (from ``carbon_factor``), with its provenance."""

    zone: str
    provider: str
    basis: str  # location | market
    type: str  # direct | lifecycle | marginal | unknown
    dataset: str
    year: int | None
    points: int  # 15m factor points in the period
    estimated_points: int  # of which flagged ``estimated``
    mean_kg_per_kwh: float


@dataclass(slots=True)
class DayLine:
    """One site × line × site-local day: the date-granular rows ESG platforms take."""

    day: date
    site: str
    line: str
    amounts: Amounts
    fuels: list[FuelGases] = field(default_factory=list)


@dataclass(slots=True)
class Inventory:
    """The GHG Protocol inventory of a period: Scope 1 by fuel and gas, Scope 2 location- and
    market-based side by side, per site and line, with data-quality notes."""

    period: Period
    gwp_set: str
    lines: list[LineTotals]
    skus: list[SkuTotals]
    scope1_by_fuel: list[FuelGases]
    quality: list[Quality]
    factors: list[FactorUse]
    days: list[DayLine]
    revision: str  # which revision the figures are (the current one; see module doc)
    notes: list[str] = field(default_factory=list)

    def site_totals(self) -> dict[str, Amounts]:
        """site → its lines summed."""
        sites = sorted({t.site for t in self.lines})
        return {s: add([t.amounts for t in self.lines if t.site == s]) for s in sites}

    def total(self) -> Amounts:
        """Every site and line summed."""
        return add([t.amounts for t in self.lines])


@dataclass(slots=True)
class EnergyMix:
    """ESRS E1-5: energy consumption (MWh) and its mix. A figure is ``None`` when the factor
    data cannot tell it (``basis`` says why): the grid tables hold intensities, not the
    generation mix, so purchased electricity is fossil/nuclear/renewable only when known."""

    total_mwh: float
    electricity_mwh: float
    fuel_mwh: float
    #: fuels burnt on site that the IPCC 2006 table lists (all fossil); ``None`` when a line's
    #: fuel is unnamed or unknown
    fossil_fuel_mwh: float | None
    fossil_mwh: float | None
    nuclear_mwh: float | None
    renewable_mwh: float | None
    basis: list[str]


@dataclass(slots=True)
class Revenue:
    """Net revenue attributed to the period (pro rata by time from ``[report] revenue``)."""

    amount: float
    currency: str
    basis: str


@dataclass(slots=True)
class Esrs:
    """ESRS E1-5 and E1-6 of the period, t CO₂e and MWh."""

    period: Period
    energy: EnergyMix
    scope1_t: float
    scope2_location_t: float
    scope2_market_t: float
    revenue: Revenue | None
    #: (site, line, unit, kg CO₂e location-based per good unit): an extra, not E1-6
    per_unit: list[tuple[str, str, str, float | None]]
    revision: str
    notes: list[str] = field(default_factory=list)

    @property
    def total_location_t(self) -> float:
        return self.scope1_t + self.scope2_location_t

    @property
    def total_market_t(self) -> float:
        return self.scope1_t + self.scope2_market_t

    def intensity_per_revenue(self, basis: str) -> float | None:
        """t CO₂e per one million of revenue (E1-6 §53), ``basis`` location or market;
        ``None`` without configured revenue."""
        if self.revenue is None or self.revenue.amount <= 0:
            return None
        total = self.total_location_t if basis == "location" else self.total_market_t
        return total / (self.revenue.amount / 1e6)
