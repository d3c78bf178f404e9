"""The simulated plant's physics: what every meter reads, tick by tick, for a scenario.

An FMCG site of ``lines`` lines, each with ``machines`` machines: a filler (energy counter),
process machines (power meters), the line's own compressor, and on every third line a
gas-fired oven (Scope 1); a chiller shared by all lines; a site main meter. Per tick (10 s):

- **Production.** A line makes units at its SKU's rate (±5 % per tick), stopped by a daily
  15-minute changeover at 06:00 (the SKU alternates) and by micro-stops (2 % of ticks); 2 % of
  what is made is scrap. The heavier SKU runs 20 % slower and needs 20 % more energy per unit.
- **Machines** draw idle power plus energy per unit (kW = idle + kWh/unit × units/h).
- **Compressor** cycles load/unload to meet the air demand (a share of its capacity, higher
  while the line runs); a leak adds demand. Its power is unloaded power plus the loaded share of
  the difference, cycled by a sigma-delta so each tick is fully loaded or unloaded, as a real
  compressor is.
- **Chiller** follows the outdoor temperature (a daily sine, warmest at 15:00).
- **Oven** burns gas: idle plus gas per unit; the gas meter counts m³ (10 kWh/m³).
- **Main meter** = every electricity sub-meter + 4 % unmetered (lighting, offices) + 8 kW.
- **Grid** factor: a daily shape (solar dip at noon), kg CO₂e/kWh, written as its own series.

The numbers are illustrative, chosen so a line's intensity sits near 0.68 kg CO₂e/unit on an
average grid and a valve leak lifts it to about 0.87; none is a published figure.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..records import NS_PER_S
from .scenario import Event, Scenario

TICK_S = 10
GAS_KWH_PER_M3 = 10.0
UNMETERED_SHARE = 0.04
UNMETERED_KW = 8.0
SCRAP_SHARE = 0.02
MICRO_STOP_SHARE = 0.02
CHANGEOVER_S = 15 * 60
PROCESS_NAMES = ("capper", "labeler", "packer", "conveyor", "wrapper", "palletiser",
                 "checkweigher", "mixer", "sealer", "cartoner")


@dataclass(frozen=True)
class Machine:
    """One metered machine: its meter, idle kW and kWh per unit of the line's lighter SKU."""

    id: str
    line: str | None
    meter: str
    role: str  # "energy_counter", "power", "fuel_counter"
    idle_kw: float
    kwh_per_unit: float


@dataclass(frozen=True)
class Line:
    id: str
    skus: tuple[str, str]
    rate_per_s: float  # good units/s of the lighter SKU while running
    machines: tuple[Machine, ...]
    compressor: str


@dataclass
class Layout:
    """The simulated site."""

    site: str
    lines: list[Line] = field(default_factory=list)
    zone: str = "DE"
    timezone: str = "UTC"


# Compressor: loaded and unloaded kW, air demand as a share of capacity running and stopped.
COMPRESSOR_LOADED_KW, COMPRESSOR_UNLOADED_KW = 190.0, 45.0
AIR_DEMAND_RUNNING, AIR_DEMAND_STOPPED = 0.28, 0.12
CHILLER_BASE_KW, CHILLER_KW_PER_DEGREE = 60.0, 6.0


def layout(lines: int = 3, machines: int = 5, site: str = "sim-plant") -> Layout:
    """``lines`` lines of ``machines`` machines each (filler, process machines, compressor)."""
    if lines < 1 or machines < 3:
        raise ValueError("a simulated line needs at least 3 machines (filler, one process "
                         "machine, compressor), and a plant at least one line")
    plant = Layout(site)
    process = machines - 2
    for n in range(1, lines + 1):
        line = f"line{n}"
        # idle 40 kW and 0.9 kWh/unit over the non-compressor machines (see the docstring)
        parts = [Machine(f"filler{n}", line, f"filler{n}-energy", "energy_counter",
                         40.0 * 0.35, 0.9 * 0.35)]
        for k in range(process):
            name = f"{PROCESS_NAMES[k % len(PROCESS_NAMES)]}{n}" + (
                f"-{k // len(PROCESS_NAMES) + 1}" if k >= len(PROCESS_NAMES) else "")
            parts.append(Machine(name, line, f"{name}-kw", "power", 40.0 * 0.65 / process,
                                 0.9 * 0.65 / process))
        if n % 3 == 0:
            parts.append(Machine(f"oven{n}", line, f"oven{n}-gas", "fuel_counter", 20.0, 0.3))
        plant.lines.append(Line(line, (f"sku-{n}a", f"sku-{n}b"), 0.05, tuple(parts),
                                f"compressor{n}"))
    return plant


def meter_kinds(plant: Layout) -> dict[str, str]:
    """Every meter of the plant and its kind, in the order the simulator writes them."""
    kinds: dict[str, str] = {}
    for line in plant.lines:
        kinds[f"{line.id}-good"] = "units_counter"
        kinds[f"{line.id}-scrap"] = "scrap_counter"
        kinds.update((m.meter, m.role) for m in line.machines)
        kinds[f"{line.compressor}-kw"] = "power"
    kinds["chiller-kw"] = "power"
    kinds["site-main"] = "energy_counter"
    return kinds


@dataclass
class Signals:
    """What the meters read: per meter id, values per tick (NaN = no reading), plus context."""

    times: np.ndarray  # i8 ns, the ticks
    values: dict[str, np.ndarray]
    kinds: dict[str, str]  # meter id → "power" | "energy_counter" | "fuel_counter" | ...
    context: list[tuple[int, str, str, str]]  # (time ns, line, "sku"|"order", text)
    grid: np.ndarray  # kg CO₂e/kWh per tick
    outdoor: np.ndarray  # outdoor temperature per tick, °C (what the chiller follows)


def simulate(plant: Layout, scenario: Scenario, start_ns: int, duration_s: float,
             seed: int) -> Signals:
    """Every meter's readings for the run; the same arguments give the same numbers."""
    rng = np.random.default_rng(seed)
    ticks = int(duration_s // TICK_S) + 1
    seconds = np.arange(ticks) * TICK_S
    times = start_ns + seconds.astype(np.int64) * NS_PER_S
    hour = ((times // NS_PER_S) % 86400) / 3600
    values: dict[str, np.ndarray] = {}
    kinds: dict[str, str] = {}
    context: list[tuple[int, str, str, str]] = []
    electric = np.zeros(ticks)
    units_by_line: list[np.ndarray] = []

    def during(event: Event) -> np.ndarray:
        end = event.start + event.duration if event.duration is not None else np.inf
        return (seconds >= event.start) & (seconds < end)

    events = scenario.events
    for line in plant.lines:
        mine = [e for e in events if e.line == line.id]
        day = (times // NS_PER_S + 86400 - 6 * 3600) // 86400  # production day from 06:00
        sku = (day % 2).astype(int)
        for e in mine:
            if e.kind == "recipe":
                sku = np.where(seconds >= e.start, int(e.size), sku)
        since_six = ((times // NS_PER_S) - 6 * 3600) % 86400
        changeover = since_six < CHANGEOVER_S
        running = ~changeover & (rng.random(ticks) >= MICRO_STOP_SHARE)
        rate = line.rate_per_s * np.where(sku == 1, 0.8, 1.0)
        for e in mine:
            if e.kind == "throughput":
                rate = np.where(during(e), rate * e.size, rate)
        flow = np.cumsum(rate * TICK_S * running * rng.normal(1.0, 0.05, ticks))
        made = np.diff(np.floor(flow), prepend=0.0)  # whole units, as a counter counts them
        scrap = np.floor(made * SCRAP_SHARE + rng.random(ticks))
        scrap = np.minimum(scrap, made)
        good = made - scrap
        units_by_line.append(good)
        values[f"{line.id}-good"] = np.cumsum(good)
        kinds[f"{line.id}-good"] = "units_counter"
        values[f"{line.id}-scrap"] = np.cumsum(scrap)
        kinds[f"{line.id}-scrap"] = "scrap_counter"
        changes = np.flatnonzero(np.diff(sku, prepend=-1))
        for i in changes:
            context.append((int(times[i]), line.id, "sku", line.skus[sku[i]]))
            context.append((int(times[i]), line.id, "order",
                            f"{line.id}-{int(times[i] // NS_PER_S)}"))
        units_per_h = made * 3600 / TICK_S
        heavier = np.where(sku == 1, 1.2, 1.0)
        for m in line.machines:
            per_unit = m.kwh_per_unit * heavier
            for e in events:
                if e.machine == m.id and e.kind == "energy_per_unit":
                    per_unit = np.where(during(e), per_unit * e.size, per_unit)
                if e.machine == m.id and e.kind == "drift":
                    span = e.duration or (duration_s - e.start)
                    ramp = np.clip((seconds - e.start) / span, 0, 1) * (seconds >= e.start)
                    per_unit = per_unit * (1 + (e.size - 1) * ramp)
            kw = (m.idle_kw + per_unit * units_per_h) * rng.normal(1.0, 0.01, ticks)
            kw = np.clip(kw, 0, None)
            if m.role == "fuel_counter":
                values[m.meter] = 1000.0 + np.cumsum(kw * TICK_S / 3600) / GAS_KWH_PER_M3
            elif m.role == "energy_counter":
                electric += kw
                values[m.meter] = 10_000.0 + np.cumsum(kw * TICK_S / 3600)
            else:
                electric += kw
                values[m.meter] = kw
            kinds[m.meter] = m.role
        demand = np.where(running, AIR_DEMAND_RUNNING, AIR_DEMAND_STOPPED)
        for e in mine:
            if e.kind == "air_leak":
                demand = np.where(during(e), demand + e.size, demand)
        loaded = _sigma_delta(np.clip(demand, 0, 1))
        kw = np.where(loaded, COMPRESSOR_LOADED_KW, COMPRESSOR_UNLOADED_KW)
        kw = kw * rng.normal(1.0, 0.01, ticks)
        electric += kw
        values[f"{line.compressor}-kw"] = kw
        kinds[f"{line.compressor}-kw"] = "power"
    outdoor = 15.0 + 8.0 * np.sin((hour - 9) / 24 * 2 * np.pi)
    chiller = CHILLER_BASE_KW + CHILLER_KW_PER_DEGREE * np.clip(outdoor - 12.0, 0, None)
    for e in events:
        if e.kind == "chiller_fault":
            chiller = np.where(during(e), chiller * e.size, chiller)
    chiller = chiller * rng.normal(1.0, 0.01, ticks)
    electric += chiller
    values["chiller-kw"] = chiller
    kinds["chiller-kw"] = "power"
    main_kw = electric * (1 + UNMETERED_SHARE) + UNMETERED_KW
    values["site-main"] = 50_000.0 + np.cumsum(main_kw * TICK_S / 3600)
    kinds["site-main"] = "energy_counter"
    grid = grid_shape(times)
    for e in events:
        if e.kind == "grid_spike":
            grid = np.where(during(e), grid * e.size, grid)
        if e.kind == "meter_reset":
            counter = values[e.meter]
            at = int(np.searchsorted(seconds, e.start))
            if at < ticks:  # a reset after the run's end never happens
                counter[at:] = counter[at:] - counter[at] + e.size
        if e.kind == "network_drop":
            lost = during(e)
            for name in values:
                values[name] = np.where(lost, np.nan, values[name])
    for name, series in values.items():  # meter resolution: 0.01 kW, 0.1 kWh, 0.01 m³
        step = 0.1 if kinds[name] == "energy_counter" else 0.01 if kinds[name] != "units_counter" \
            and kinds[name] != "scrap_counter" else 1.0
        values[name] = np.round(series / step) * step
    return Signals(times, values, kinds, sorted(context), np.round(grid, 4),
                   np.round(outdoor, 2))


def grid_shape(times: np.ndarray) -> np.ndarray:
    """The zone's grid factor without events, kg CO₂e/kWh: 0.38 on average, a solar dip to
    about 0.30 around noon (UTC), highest in the evening."""
    hour = ((times // NS_PER_S) % 86400) / 3600
    return np.round(0.38 - 0.08 * np.clip(np.sin((hour - 6) / 12 * np.pi), 0, None)
                    + 0.04 * np.sin((hour - 13) / 24 * 2 * np.pi), 4)


def _sigma_delta(demand: np.ndarray) -> np.ndarray:
    """Loaded (True) or unloaded per tick so that the loaded share follows ``demand``."""
    loaded = np.zeros(len(demand), bool)
    level = 0.0
    for i, d in enumerate(demand.tolist()):
        level += d
        if level >= 1.0:
            loaded[i] = True
            level -= 1.0
    return loaded
