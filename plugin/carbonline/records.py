"""The plain data types that flow between the stages (design brief §1).

Every arrow in ``sources → readings → plant model → accumulator → calculator → sinks`` is one of
these: a numpy structured array for the high-volume numeric readings, small dataclasses for the
rest. No stage calls into the next; each returns one of these values.

Times are integers in nanoseconds since the Unix epoch, UTC, everywhere inside carbonline.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

#: One numeric meter reading. ``meter`` indexes :attr:`carbonline.plant.PlantModel.meters`;
#: ``value`` is in the meter's configured unit (kWh, Wh, kW, W, m³, L, kg, or a unit count).
READING = np.dtype([("meter", "<i4"), ("time", "<i8"), ("value", "<f8")])

NS_PER_S = 1_000_000_000


def to_ns(moment: datetime) -> int:
    """An aware datetime as carbonline's time: whole seconds since the epoch, in ns, UTC."""
    return int(moment.timestamp()) * NS_PER_S


def empty_readings(n: int = 0) -> np.ndarray:
    """An array of ``n`` zeroed readings (``n=0`` for the common "nothing here" case)."""
    return np.zeros(n, dtype=READING)


class Reason(str, enum.Enum):
    """Why a reading was not used. Counted per reason and shown in every summary."""

    MALFORMED = "malformed"  # could not be parsed at all
    UNKNOWN_METER = "unknown_meter"  # parsed, but no configured meter maps to it
    NOT_A_NUMBER = "not_a_number"  # NaN, ±inf or a string where a number belongs
    WRONG_UNIT = "wrong_unit"  # a unit was given and it is not the meter's unit
    NEGATIVE = "negative"  # a negative interval energy, power or fuel amount
    FUTURE = "future"  # timestamp too far ahead of the other readings
    DUPLICATE = "duplicate"  # same meter, same time as an earlier reading
    OUT_OF_ORDER = "out_of_order"  # older than the meter's last reading (counter/power)
    LATE = "late"  # lands in a window already past the revision horizon
    CONTEXT_LATE = "context_late"  # SKU/order change arriving after its window closed


@dataclass(frozen=True, slots=True)
class Rejection:
    """One refused input, kept with the raw text so an engineer can find it in the source."""

    reason: Reason
    detail: str
    raw: str = ""


@dataclass(frozen=True, slots=True)
class ContextEvent:
    """A production-context change: the SKU/recipe or order now running on a line.

    ``meter`` indexes the plant model's meters (a meter of role ``sku`` or ``order``).
    """

    meter: int
    time: int
    text: str


@dataclass(slots=True)
class ReadingBatch:
    """What a source yields: numeric readings, context changes and what it refused."""

    readings: np.ndarray = field(default_factory=empty_readings)
    context: list[ContextEvent] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    #: what the source wants acknowledged once this batch is safe in the state store (its
    #: ``acknowledge(receipt)``); ``None`` for sources that need no acknowledgement
    receipt: list | None = None


def merged(batches: Sequence[ReadingBatch], receipt: list | None = None) -> ReadingBatch:
    """One batch holding ``batches`` in order: many small batches make one engine step."""
    if len(batches) == 1 and receipt is None:
        return batches[0]
    return ReadingBatch(np.concatenate([b.readings for b in batches]),
                        [e for b in batches for e in b.context],
                        [r for b in batches for r in b.rejections], receipt)


@dataclass(frozen=True, slots=True)
class Window:
    """A window a result row describes: its kind (``1m``, ``15m``, ``shift``, ``day``…) and span."""

    kind: str
    start: int
    end: int


@dataclass(slots=True)
class IntensityRow:
    """One ``carbon_intensity`` point: a line × SKU × window (design brief §3).

    A row whose window kind is ``order`` is a ``carbon_order`` point instead: stamped at the
    order start, with ``window.end`` written as its ``end_time`` field and ``order_id`` as a tag.
    Energies in kWh (fuel on net calorific value), emissions in kg CO₂e, units in the line's
    production unit. ``co2e_kg`` is Scope 1 + Scope 2 location-based.
    """

    site: str
    line: str
    sku: str
    shift: str
    window: Window
    electricity_kwh: float
    fuel_kwh: float
    scope1_co2e_kg: float
    scope2_location_co2e_kg: float
    scope2_market_co2e_kg: float
    good_units: float
    grid_factor_kg_per_kwh: float
    coverage_pct: float
    order_id: str = ""
    revision: int = 1
    #: scrapped units, for the quality rate good / (good + scrap); ``None`` when the line has
    #: no scrap counter
    scrap_units: float | None = None
    #: set by the analyser (1m rows of a line × SKU with a baseline; thresholds from config)
    baseline_co2e_per_unit_kg: float | None = None
    deviation_pct: float | None = None
    threshold_co2e_per_unit_kg: float | None = None

    @property
    def energy_kwh(self) -> float:
        return self.electricity_kwh + self.fuel_kwh

    @property
    def co2e_kg(self) -> float:
        return self.scope1_co2e_kg + self.scope2_location_co2e_kg

    @property
    def co2e_per_unit_kg(self) -> float | None:
        """kg CO₂e per good unit; ``None`` when no good unit was made (never divide by zero)."""
        return self.co2e_kg / self.good_units if self.good_units > 0 else None

    @property
    def carbon_efficiency_units_per_kg(self) -> float | None:
        """Good units per kg CO₂e; ``None`` when nothing was emitted."""
        return self.good_units / self.co2e_kg if self.co2e_kg > 0 else None


@dataclass(slots=True)
class MachineRow:
    """One ``carbon_machine`` point: a machine's energy and CO₂e in a line × SKU × window.

    ``allocated_share`` is 1 for a line's own machines and the allocation key's share for a
    shared utility or the site meter's unmetered remainder (machine ``unmetered``).
    """

    site: str
    line: str
    machine: str
    sku: str
    window: Window
    energy_kwh: float
    co2e_kg: float
    good_units: float
    allocated_share: float
    revision: int = 1
    #: set by the analyser: what the machine's baseline expects for these units, kWh/unit
    baseline_energy_per_unit_kwh: float | None = None
    deviation_pct: float | None = None

    @property
    def energy_per_unit_kwh(self) -> float | None:
        return self.energy_kwh / self.good_units if self.good_units > 0 else None


@dataclass(slots=True)
class AlertRow:
    """One ``carbon_alert`` point: an alert opening (``firing``) or ending (``resolved``).

    The cause (``equipment``, ``throughput``, ``recipe``, ``grid``) and machine are fixed when
    the alert opens and repeated when it resolves; ``contribution_pct`` is the cause's share of
    the intensity change (LMDI, design brief §5). Intensities in kg CO₂e per good unit.
    """

    site: str
    line: str
    sku: str
    time: int  # ns, the start of the window that decided the transition
    alert_id: str
    state: str  # "firing" | "resolved"
    severity: str  # "info" (grid) | "warning"
    cause: str
    machine: str
    detector: str  # "threshold" | "deviation" | "cusum"
    co2e_per_unit_kg: float
    baseline_co2e_per_unit_kg: float | None
    threshold_co2e_per_unit_kg: float | None
    contribution_pct: float | None
    message: str





@dataclass(frozen=True, slots=True)
class Provenance:
    """Where an emission factor comes from: enough for an auditor to find the number again."""

    provider: str  # the plugin that answered, e.g. "constant", "profile"
    dataset: str  # document or dataset name and version
    basis: str = "location"  # "location" or "market" (GHG Protocol Scope 2 methods)
    type: str = "direct"  # "direct", "lifecycle", "marginal", or "unknown" when a source is silent
    year: int | None = None
    licence: str = ""
    estimated: bool = False


@dataclass(frozen=True, slots=True)
class FactorSeries:
    """A step function of grid emission factors over time, kg CO₂e/kWh.

    ``starts[i]`` (ns, UTC, ascending) is when ``kg_per_kwh[i]`` takes effect; the first start is
    at or before the asked period's start, the value holding until the next start.
    """

    zone: str
    starts: np.ndarray  # i8
    kg_per_kwh: np.ndarray  # f8
    provenance: Provenance

    def at(self, times: np.ndarray) -> np.ndarray:
        """The factor in force at each of ``times`` (ns), kg CO₂e/kWh."""
        index = np.searchsorted(self.starts, times, side="right") - 1
        return self.kg_per_kwh[np.clip(index, 0, None)]


@dataclass(slots=True)
class FactorRow:
    """One ``carbon_factor`` point: the grid factor in force at a ``15m`` window's start, for one
    basis, with the provenance of the value (design brief §3)."""

    zone: str
    start: int
    kg_per_kwh: float
    provenance: Provenance


@dataclass(slots=True)
class HealthRow:
    """One ``carbonline_health`` point: what one component (the engine, a source, a sink) has
    counted since the run started, written every ``[run] health_interval``. ``line`` is empty
    for plant-wide rows; ``fields`` are counts (integers) or ages in seconds (floats)."""

    time: int
    site: str
    component: str
    fields: dict[str, int | float]
    line: str = ""


Row = IntensityRow | MachineRow | FactorRow | HealthRow | AlertRow
