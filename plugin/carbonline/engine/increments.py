"""Meter readings → increments: how much energy, fuel or output happened over which span.

Every meter role reduces to the same thing, an *increment* ``[start, end)`` with an amount:

- counters (energy kWh, fuel in its unit, units): the difference to the previous reading, over
  the time between them. A drop is a rollover when the meter has a configured maximum and the
  wrapped difference is plausible (under half the range); otherwise the meter was reset or
  replaced: its new value becomes the new baseline, the span across the reset is not counted
  (so ``coverage_pct`` shows it) and the reset is logged. Energy is never invented.
- interval energy: the reading itself, over the interval it is labelled with (start or end).
- power (kW): the trapezoid between consecutive samples; samples further apart than the meter's
  ``max_gap`` are not bridged, which lowers coverage instead of guessing.

Readings arrive here already sorted by time and released by the watermark, so the result does
not depend on how the input was chunked.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from ..config import COUNTER_ROLES
from ..plant import ROLE, PlantModel
from ..records import NS_PER_S, Reason, Rejection

log = logging.getLogger(__name__)

NS_PER_H = 3600 * NS_PER_S
NO_TIME = np.iinfo(np.int64).min

_COUNTERS = np.array(sorted(ROLE[r] for r in COUNTER_ROLES), dtype=np.int8)


@dataclass
class Increments:
    """Amounts over spans: ``meter`` i4, ``start``/``end`` i8 ns, ``amount`` f8 in kWh (energy),
    the fuel's unit (fuel) or units (counters)."""

    meter: np.ndarray
    start: np.ndarray
    end: np.ndarray
    amount: np.ndarray

    @classmethod
    def empty(cls) -> Increments:
        return cls(np.zeros(0, np.int32), np.zeros(0, np.int64), np.zeros(0, np.int64),
                   np.zeros(0))

    def __len__(self) -> int:
        return len(self.meter)


@dataclass
class MeterState:
    """Per meter: the last accepted reading (time ns, value in the meter's unit)."""

    last_time: np.ndarray
    last_value: np.ndarray
    resets: int = 0
    rollovers: int = 0
    interval_seen: set[tuple[int, int]] = field(default_factory=set)

    @classmethod
    def new(cls, n_meters: int) -> MeterState:
        return cls(np.full(n_meters, NO_TIME, np.int64), np.zeros(n_meters))


def to_increments(
    readings: np.ndarray, plant: PlantModel, state: MeterState
) -> tuple[Increments, list[Rejection]]:
    """Turn released readings (any order) into increments, updating ``state``.

    Duplicates (same meter and time) and counter/power readings older than the meter's last one
    are refused with a reason; everything else becomes part of an increment or a baseline.
    """
    rejections: list[Rejection] = []
    if len(readings) == 0:
        return Increments.empty(), rejections
    meter, time, value = _by_meter_and_time(readings)
    role = plant.role[meter]
    is_interval = role == ROLE["interval_energy"]

    same_as_previous = np.zeros(len(meter), bool)
    same_as_previous[1:] = (meter[1:] == meter[:-1]) & (time[1:] == time[:-1])
    last = state.last_time[meter]
    stale = (~is_interval) & (time <= last)
    duplicate = same_as_previous | ((~is_interval) & (time == last))
    if is_interval.any():
        for i in np.flatnonzero(is_interval & ~same_as_previous):
            key = (int(meter[i]), int(time[i]))
            if key in state.interval_seen:
                duplicate[i] = True
            state.interval_seen.add(key)
    for i in np.flatnonzero(duplicate | stale):
        reason = Reason.DUPLICATE if duplicate[i] else Reason.OUT_OF_ORDER
        rejections.append(Rejection(reason, _describe(plant, meter[i], time[i], value[i], state)))
    keep = ~(duplicate | stale)
    meter, time, value, role = meter[keep], time[keep], value[keep], role[keep]

    # previous accepted reading of the same meter: within this batch, else the stored state
    first = np.ones(len(meter), bool)
    first[1:] = meter[1:] != meter[:-1]
    prev_time = np.empty_like(time)
    prev_value = np.empty_like(value)
    prev_time[1:], prev_value[1:] = time[:-1], value[:-1]
    prev_time[first] = state.last_time[meter[first]]
    prev_value[first] = state.last_value[meter[first]]
    has_prev = prev_time != NO_TIME

    scale = plant.scale[meter]
    counter = np.isin(role, _COUNTERS) & has_prev
    delta = value - prev_value
    dropped = counter & (delta < 0)
    if dropped.any():
        delta = _rollover_or_reset(delta, value, prev_value, meter, dropped, plant, state)
    counter &= ~np.isnan(delta)

    power = (role == ROLE["power"]) & has_prev & (time - prev_time <= plant.max_gap_ns[meter])
    power_kwh = (prev_value + value) * 0.5 * (time - prev_time) / NS_PER_H

    interval = role == ROLE["interval_energy"]
    length = plant.interval_ns[meter]
    interval_start = np.where(plant.label_end[meter], time - length, time)

    take = counter | power | interval
    start = np.where(interval, interval_start, prev_time)[take]
    end = np.where(interval, interval_start + length, time)[take]
    amount = (np.where(counter, delta, np.where(power, power_kwh, value)) * scale)[take]
    result = Increments(meter[take], start, end, amount)

    # remember the newest accepted reading per meter (interval meters: their latest time)
    last_of_meter = np.ones(len(meter), bool)
    last_of_meter[:-1] = meter[:-1] != meter[1:]
    newest = last_of_meter & (time > state.last_time[meter])
    state.last_time[meter[newest]] = time[newest]
    state.last_value[meter[newest]] = value[newest]
    return result, rejections


def _rollover_or_reset(
    delta: np.ndarray,
    value: np.ndarray,
    prev_value: np.ndarray,
    meter: np.ndarray,
    dropped: np.ndarray,
    plant: PlantModel,
    state: MeterState,
) -> np.ndarray:
    """Resolve counter drops: a plausible wrap at the configured maximum, else a reset (NaN)."""
    delta = delta.copy()
    limit = plant.rollover[meter]
    wrapped = value + limit - prev_value
    is_wrap = dropped & ~np.isnan(limit) & (wrapped >= 0) & (wrapped <= limit / 2)
    delta[is_wrap] = wrapped[is_wrap]
    is_reset = dropped & ~is_wrap
    delta[is_reset] = np.nan
    state.rollovers += int(is_wrap.sum())
    state.resets += int(is_reset.sum())
    for i in np.flatnonzero(is_reset):
        log.warning(
            "meter %s reset or replaced: %.6g → %.6g; the span since its last reading is not "
            "counted",
            plant.meters[meter[i]].id, prev_value[i], value[i],
        )
    return delta


def _by_meter_and_time(readings: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Meter, time and value columns sorted by meter then time, arrival order kept among equals.

    Readings usually arrive in time order; then a stable sort by meter alone suffices, and on
    16-bit meter indices numpy's stable sort is a radix sort, ten times faster than lexsort.
    """
    # contiguous columns first: gathering straight from the 20-byte records is 3× slower
    meter, time, value = (np.ascontiguousarray(readings[c]) for c in ("meter", "time", "value"))
    if meter.max() < 32768 and (time[1:] >= time[:-1]).all():
        order = np.argsort(meter.astype(np.int16), kind="stable")
    else:
        order = np.lexsort((time, meter))
    return meter[order], time[order], value[order]


def describe_reading(plant: PlantModel, meter: int, time: int, value: float) -> str:
    """A reading as a log line names it: the plant's meter id, time (ns) and value."""
    m = int(meter)
    name = plant.meters[m].id if 0 <= m < len(plant.meters) else f"#{m}"
    return f"meter {name} at {int(time)} ns value {float(value)}"


def _describe(plant: PlantModel, meter: int, time: int, value: float, state: MeterState) -> str:
    return (f"{describe_reading(plant, meter, time, value)} "
            f"(last accepted reading at {int(state.last_time[int(meter)])} ns)")
