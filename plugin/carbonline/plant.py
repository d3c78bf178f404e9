"""The plant model: plant.toml compiled into index arrays the vectorised engine works on.

The config speaks in names (meter ``m-17`` on machine ``filler1`` of ``line1``); the engine
speaks in integer indices so that a million readings are handled by a few numpy operations.
This module is the one translation between the two.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import Meter, PlantConfig
from .records import NS_PER_S

#: Role codes used in the engine's arrays, in the order of :data:`ROLE_CODES`.
ROLE_CODES: tuple[str, ...] = (
    "energy_counter",
    "interval_energy",
    "power",
    "fuel_counter",
    "units_counter",
    "total_counter",
    "scrap_counter",
    "sku",
    "order",
)
ROLE = {name: code for code, name in enumerate(ROLE_CODES)}

#: Machine index used for the site meter's unmetered remainder in results.
UNMETERED = "unmetered"


@dataclass(frozen=True)
class PlantModel:
    """Index arrays over meters, machines and lines (one entry per meter / machine / line)."""

    config: PlantConfig
    meters: tuple[Meter, ...]
    meter_index: dict[str, int]
    lines: tuple[str, ...]
    machines: tuple[str, ...]
    role: np.ndarray  # int8, ROLE code per meter
    scale: np.ndarray  # f8, meter unit → kWh / kW / units (fuel: 1)
    rollover: np.ndarray  # f8, counter wrap value, NaN when none
    machine: np.ndarray  # i4, machine index per meter, -1 for line signals
    line: np.ndarray  # i4, line index per meter (via its machine), -1 for shared machines
    interval_ns: np.ndarray  # i8, interval energy length
    label_end: np.ndarray  # bool, interval energy stamped at its end
    max_gap_ns: np.ndarray  # i8, power samples further apart are not bridged
    fuel_ncv: np.ndarray  # f8, kWh per fuel unit (0 for non-fuel meters)
    fuel_co2e: np.ndarray  # f8, kg CO₂e per fuel unit (0 for non-fuel meters)
    machine_line: np.ndarray  # i4, line index per machine, -1 for shared utilities
    main_meter: int  # meter index of the site main meter, -1 when none

    @property
    def site(self) -> str:
        return self.config.site.name


def build_plant(config: PlantConfig) -> PlantModel:
    """Compile a validated config into the engine's index arrays."""
    lines = tuple(line.id for line in config.lines)
    line_ix = {name: i for i, name in enumerate(lines)}
    machines = tuple(m.id for m in config.machines)
    machine_ix = {name: i for i, name in enumerate(machines)}
    machine_line = np.array(
        [line_ix[m.line] if m.line is not None else -1 for m in config.machines], dtype=np.int32
    )
    meters = tuple(config.meters)
    n = len(meters)
    role = np.array([ROLE[m.role] for m in meters], dtype=np.int8)
    scale = np.array([m.scale for m in meters], dtype=np.float64)
    rollover = np.array([m.rollover if m.rollover else np.nan for m in meters])
    machine = np.array([machine_ix[m.machine] if m.machine else -1 for m in meters], np.int32)
    line = np.array(
        [
            machine_line[machine_ix[m.machine]] if m.machine else line_ix.get(m.line or "", -1)
            for m in meters
        ],
        dtype=np.int32,
    )
    interval_ns = np.array([int((m.interval or 0) * NS_PER_S) for m in meters], np.int64)
    label_end = np.array([m.label == "end" for m in meters], dtype=bool)
    max_gap_ns = np.array([int(m.max_gap * NS_PER_S) for m in meters], np.int64)
    fuel_ncv = np.zeros(n)
    fuel_co2e = np.zeros(n)
    for i, m in enumerate(meters):
        if m.fuel is not None:
            fuel_ncv[i], fuel_co2e[i] = config.fuels[m.fuel].factors(m.fuel, config.factors.gwp)
    meter_index = {m.id: i for i, m in enumerate(meters)}
    main = meter_index[config.main_meter.meter] if config.main_meter else -1
    return PlantModel(
        config=config,
        meters=meters,
        meter_index=meter_index,
        lines=lines,
        machines=machines,
        role=role,
        scale=scale,
        rollover=rollover,
        machine=machine,
        line=line,
        interval_ns=interval_ns,
        label_end=label_end,
        max_gap_ns=max_gap_ns,
        fuel_ncv=fuel_ncv,
        fuel_co2e=fuel_co2e,
        machine_line=machine_line,
        main_meter=main,
    )
