"""Readings of the embedded sample plant (``demo/plant.toml``), made up in-process.

Deliberately small physics so the demo needs no server: each machine draws idle power plus an
energy per unit that depends on the SKU, compressors cycle, the shared chiller follows the time
of day, the oven burns gas (Scope 1), lines stop for changeovers and micro-stops, and the site
main meter sees 5 % more than the sub-meters. Same seed, same readings. The simulator issue
replaces this with a full scenario library; the engine does not know the difference.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import numpy as np

from ..plant import PlantModel
from ..records import NS_PER_S, READING, ContextEvent, ReadingBatch

PLANT_TOML = Path(str(files("carbonline.demo").joinpath("plant.toml")))

TICK_S = 10
UNMETERED_SHARE = 0.05  # lighting, offices: what the main meter sees beyond the sub-meters
GAS_NCV_KWH_PER_M3 = 10.0  # must match [fuels.natural_gas] in plant.toml


@dataclass(frozen=True)
class LineSpec:
    skus: tuple[str, str]
    rate_per_s: tuple[float, float]  # good units per second while running, by SKU
    changeover_h: float  # hours into the run when the SKU switches (15 min stop)


@dataclass(frozen=True)
class MachineSpec:
    meter: str
    line: str | None
    idle_kw: float
    kwh_per_unit: tuple[float, float]  # by SKU


LINES = {
    "line1": LineSpec(("bottle-500ml", "bottle-1l"), (2.0, 1.4), 5.0),
    "line2": LineSpec(("can-330ml", "can-500ml"), (3.0, 2.2), 13.0),
    "line3": LineSpec(("tray-small", "tray-large"), (0.8, 0.5), 19.0),
}
MACHINES = [
    MachineSpec("filler1-energy", "line1", 6.0, (0.010, 0.016)),
    MachineSpec("capper1-kw", "line1", 2.0, (0.004, 0.005)),
    MachineSpec("labeler1-kw", "line1", 1.5, (0.003, 0.004)),
    MachineSpec("conveyor1-kw", "line1", 3.0, (0.002, 0.003)),
    MachineSpec("compressor1-kw", "line1", 8.0, (0.012, 0.015)),
    MachineSpec("filler2-kw", "line2", 7.0, (0.008, 0.011)),
    MachineSpec("seamer2-kw", "line2", 4.0, (0.005, 0.006)),
    MachineSpec("packer2-kw", "line2", 3.0, (0.003, 0.004)),
    MachineSpec("conveyor2-kw", "line2", 3.5, (0.002, 0.002)),
    MachineSpec("compressor2-kw", "line2", 9.0, (0.010, 0.012)),
    MachineSpec("mixer3-kw", "line3", 10.0, (0.050, 0.080)),
    MachineSpec("oven3-kw", "line3", 12.0, (0.030, 0.045)),
    MachineSpec("packer3-kw", "line3", 2.5, (0.010, 0.014)),
    MachineSpec("compressor3-kw", "line3", 6.0, (0.015, 0.020)),
    MachineSpec("chiller-kw", None, 18.0, (0.0, 0.0)),
]
OVEN_GAS = ("oven3-gas", "line3", 40.0, (0.25, 0.40))  # meter, line, idle kW, kWh/unit (gas)
SCRAP_SHARE = 0.03  # line3


def sample_batches(
    plant: PlantModel, start_ns: int, hours: float, seed: int = 1, batch_minutes: int = 5
) -> Iterator[ReadingBatch]:
    """Yield the sample plant's readings from ``start_ns`` for ``hours``, a batch per
    ``batch_minutes`` of plant time."""
    rng = np.random.default_rng(seed)
    ix = plant.meter_index
    ticks = int(hours * 3600 // TICK_S)
    times = start_ns + np.arange(ticks + 1, dtype=np.int64) * TICK_S * NS_PER_S
    hour = np.arange(ticks + 1) * TICK_S / 3600

    sku = {name: (hour >= spec.changeover_h).astype(int) for name, spec in LINES.items()}
    units: dict[str, np.ndarray] = {}
    for name, spec in LINES.items():
        changeover = (hour >= spec.changeover_h) & (hour < spec.changeover_h + 0.25)
        micro_stop = rng.random(len(hour)) < 0.03
        running = ~(changeover | micro_stop)
        rate = np.take(spec.rate_per_s, sku[name])
        units[name] = rng.poisson(rate * TICK_S * running).astype(float)
        units[name][0] = 0.0

    columns: dict[str, np.ndarray] = {}
    electric_kw = np.zeros(len(hour))
    for m in MACHINES:
        if m.line is None:  # the chiller follows the afternoon heat
            kw = m.idle_kw + 6.0 * np.clip(np.sin((hour - 9) / 24 * 2 * np.pi), 0, None)
        else:
            per_unit = np.take(m.kwh_per_unit, sku[m.line])
            kw = m.idle_kw + per_unit * units[m.line] * 3600 / TICK_S
        if "compressor" in m.meter:  # load/unload cycling
            kw = kw * np.where(np.arange(len(hour)) % 6 < 4, 1.15, 0.7)
        kw = np.clip(kw * rng.normal(1.0, 0.02, len(hour)), 0, None)
        electric_kw += kw
        if m.meter == "filler1-energy":  # an energy counter in Wh that wraps at 1,000,000
            wh = 987_000.0 + np.cumsum(kw * TICK_S / 3.6)
            columns[m.meter] = np.round(wh % 1_000_000, 0)
        else:
            columns[m.meter] = np.round(kw, 3)
    columns["site-main"] = np.round(
        40_000 + np.cumsum(electric_kw * (1 + UNMETERED_SHARE) * TICK_S / 3600), 3
    )
    meter, line, idle, per_unit = OVEN_GAS
    gas_kw = idle + np.take(per_unit, sku[line]) * units[line] * 3600 / TICK_S
    columns[meter] = np.round(1200 + np.cumsum(gas_kw * TICK_S / 3600 / GAS_NCV_KWH_PER_M3), 4)
    columns["line1-good"] = np.cumsum(units["line1"])
    columns["line2-good"] = np.cumsum(units["line2"])
    scrap = np.floor(units["line3"] * SCRAP_SHARE + rng.random(len(hour)))
    columns["line3-total"] = np.cumsum(units["line3"] + scrap)
    columns["line3-scrap"] = np.cumsum(scrap)

    context = []
    for name, spec in LINES.items():
        for i, code in ((0, 0), (int(np.argmax(sku[name])), 1)):
            if code == 1 and not sku[name].any():
                continue
            t = int(times[i])
            context.append(ContextEvent(ix[f"{name}-sku"], t, spec.skus[code]))
            context.append(ContextEvent(ix[f"{name}-order"], t, f"{name}-order-{code + 1:03d}"))

    per_batch = batch_minutes * 60 // TICK_S
    for first in range(0, len(hour), per_batch):
        span = slice(first, first + per_batch)
        n = len(times[span])
        batch = np.zeros(n * len(columns), READING)
        for k, (name, values) in enumerate(columns.items()):
            part = batch[k * n:(k + 1) * n]
            part["meter"] = ix[name]
            part["time"] = times[span]
            part["value"] = values[span]
        lo, hi = int(times[span][0]), int(times[span][-1])
        yield ReadingBatch(batch, [c for c in context if lo <= c.time <= hi])
