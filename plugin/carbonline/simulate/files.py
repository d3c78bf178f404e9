"""The simulator's file outputs: raw readings as line protocol (as a plant historian holds
them), the grid series as CSV, the ground truth as JSON, and the matching plant.toml.

Same signals → the same bytes: values are written with a fixed number of decimals per meter
kind (the meters' resolution), lines in time order, then in a fixed meter order.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import numpy as np

from ..records import NS_PER_S
from ..series import rfc3339
from .model import GAS_KWH_PER_M3, Layout, Signals, grid_shape, meter_kinds
from .scenario import Scenario
from .topics import areas, context_topic, node_id, topic

#: Decimals written per meter kind (its resolution).
DECIMALS = {"power": 2, "energy_counter": 1, "fuel_counter": 2, "units_counter": 0,
            "scrap_counter": 0}
#: (measurement, field) per meter kind.
POINT = {"power": ("power", "kw"), "energy_counter": ("energy", "kwh"),
         "fuel_counter": ("gas", "m3"), "units_counter": ("production", "good"),
         "scrap_counter": ("production", "scrap")}


def series_key(plant: Layout, meter: str, kind: str) -> tuple[str, dict[str, str], str]:
    """(measurement, tags, field) a meter's readings are written under."""
    measurement, field = POINT[kind]
    if kind in ("units_counter", "scrap_counter"):
        return measurement, {"site": plant.site, "line": meter.rsplit("-", 1)[0]}, field
    if meter == "site-main":
        return measurement, {"site": plant.site, "meter": "main"}, field
    return measurement, {"site": plant.site, "machine": meter.rsplit("-", 1)[0]}, field


def ticks_as_lines(plant: Layout, signals: Signals) -> Iterator[tuple[int, list[str]]]:
    """(tick time ns, its line-protocol lines): context changes first, then every reading."""
    prefixes = []
    for meter, kind in signals.kinds.items():
        measurement, tags, field = series_key(plant, meter, kind)
        tag_text = ",".join(f"{k}={v}" for k, v in tags.items())
        prefixes.append((f"{measurement},{tag_text} {field}=", signals.values[meter],
                         DECIMALS[kind]))
    context: dict[int, list[str]] = {}
    for t, line, what, text in signals.context:
        context.setdefault(t, []).append(
            f'production,site={plant.site},line={line} {what}="{text}" {t}')
    for i, t in enumerate(signals.times.tolist()):
        chunk = context.get(t, [])
        for prefix, values, decimals in prefixes:
            value = values[i]
            if not np.isnan(value):
                chunk.append(f"{prefix}{value:.{decimals}f} {t}")
        yield t, chunk


def write_line_protocol(plant: Layout, signals: Signals, out: TextIO) -> int:
    """Every reading and context change as line protocol, in time order; returns lines written."""
    written = 0
    for _, chunk in ticks_as_lines(plant, signals):
        out.write("\n".join(chunk) + "\n")
        written += len(chunk)
    return written


def write_outputs(plant: Layout, signals: Signals, scenario: Scenario, seed: int,
                  output: Path, write: bool, config: Path | None, mqtt_url: str | None = None,
                  opcua_url: str | None = None) -> int:
    """The run's files beside ``output``: the grid series (``.grid.csv``), the outdoor
    temperature (``.weather.csv``, a baseline driver), the ground truth (``.truth.json``), the
    readings themselves when ``write`` (line protocol; returns the lines written), and the
    plant.toml at ``config``."""
    base = output.with_suffix("")
    grid = base.with_name(base.name + ".grid.csv")
    write_grid_csv(signals, grid)
    write_weather_csv(signals, base.with_name(base.name + ".weather.csv"))
    start, end = int(signals.times[0]), int(signals.times[-1])
    write_truth(ground_truth(scenario, seed, start, (end - start) / NS_PER_S),
                base.with_name(base.name + ".truth.json"))
    if config is not None:
        config.write_text(plant_toml(plant, grid, mqtt_url, opcua_url), encoding="utf-8")
    if not write:
        return 0
    with output.open("w", encoding="utf-8", newline="\n") as f:
        return write_line_protocol(plant, signals, f)


def write_weather_csv(signals: Signals, path: Path) -> None:
    """The outdoor temperature as ``time,outdoor_c`` (°C, per minute), the driver of the
    chiller's baseline (``[analysis.drivers] chiller = { outdoor_c = … }``): a plant's weather
    station or historian series, here the simulator's own."""
    every = max(1, int(60 // (int(signals.times[1] - signals.times[0]) // NS_PER_S))) \
        if len(signals.times) > 1 else 1
    with path.open("w", encoding="utf-8", newline="\n") as f:
        f.write("time,outdoor_c\n")
        for t, c in zip(signals.times[::every].tolist(), signals.outdoor[::every].tolist()):
            f.write(f"{rfc3339(t)},{c:.2f}\n")


def write_grid_csv(signals: Signals, path: Path) -> None:
    """The grid factor as ``time,kg_per_kwh`` (what ``[factors] series`` reads): per tick over
    the run, hourly from the day before to a week after it, so every span the engine asks
    for is covered by the simulated grid (and not marked estimated)."""
    first, last = int(signals.times[0]), int(signals.times[-1])
    hour = 3600 * NS_PER_S
    around = np.arange(first - first % hour - 86400 * NS_PER_S, last + 8 * 86400 * NS_PER_S,
                       hour, dtype=np.int64)
    around = around[(around < first) | (around > last)]
    times = np.concatenate([signals.times, around])
    values = np.concatenate([signals.grid, grid_shape(around)])
    order = np.argsort(times, kind="stable")
    with path.open("w", encoding="utf-8", newline="\n") as f:
        f.write("time,kg_per_kwh\n")
        for t, g in zip(times[order].tolist(), values[order].tolist()):
            f.write(f"{rfc3339(t)},{g:.4f}\n")


def ground_truth(scenario: Scenario, seed: int, start_ns: int, duration_s: float) -> dict:
    """The scenario's events as labelled truth: cause, line, machine, start, end, expected."""
    end_ns = start_ns + int(duration_s * NS_PER_S)
    events = []
    for e in scenario.events:
        begin = start_ns + int(e.start * NS_PER_S)
        finish = begin + int(e.duration * NS_PER_S) if e.duration is not None else end_ns
        events.append({"kind": e.kind, "cause": e.cause, "line": e.line,
                       "machine": e.machine or e.meter, "start": rfc3339(begin),
                       "end": rfc3339(min(finish, end_ns)), "size": e.size,
                       "expected": e.expected})
    return {"scenario": scenario.name, "description": scenario.description, "seed": seed,
            "start": rfc3339(start_ns), "end": rfc3339(end_ns), "events": events}


def write_truth(truth: dict, path: Path) -> None:
    path.write_text(json.dumps(truth, indent=2) + "\n", encoding="utf-8")


def plant_toml(plant: Layout, grid_csv: Path, mqtt_url: str | None = None,
               opcua_url: str | None = None) -> str:
    """The plant.toml that reads the simulator's output as it is: every meter mapped to its
    line-protocol series (``replay``), its MQTT topic and its OPC UA node, with the
    ``[sources.*]`` sections of the broker and server it was sent to (``run``)."""
    out = [
        "# Written by `carbonline simulate --write-config`: the simulated plant, mapped to the",
        "# line protocol the simulator writes (measurements power, energy, gas, production).",
        "", "[site]", f'name = "{plant.site}"', f'timezone = "{plant.timezone}"',
        f'grid_zone = "{plant.zone}"', "", "[engine]", 'lateness = "30s"', "",
        "[factors]", f'series = "{grid_csv.resolve()}"',
        'source = "carbonline simulator grid profile (illustrative)"', "", "[shifts]",
        "shifts = [", '  { name = "early", start = "06:00", end = "14:00" },',
        '  { name = "late", start = "14:00", end = "22:00" },',
        '  { name = "night", start = "22:00", end = "06:00" },', "]", "",
        "[fuels.natural_gas]", 'unit = "m3"',
        f"ncv_kwh_per_unit = {GAS_KWH_PER_M3}  # as simulated",
        "co2e_kg_per_unit = 2.0  # illustrative", "",
    ]
    if mqtt_url:
        out += ["[sources.mqtt]", f'url = "{mqtt_url}"', ""]
    if opcua_url:
        out += ["[sources.opcua]", f'url = "{opcua_url}"', 'publishing_interval = "100ms"', ""]
    for line in plant.lines:
        out += ["[[lines]]", f'id = "{line.id}"', 'unit = "cases"', ""]
    for line in plant.lines:
        for m in (*[m.id for m in line.machines], line.compressor):
            out += ["[[machines]]", f'id = "{m}"', f'line = "{line.id}"', ""]
    out += ["[[machines]]", 'id = "chiller"', "", "[[shared]]", 'machine = "chiller"',
            f"lines = [{', '.join(chr(34) + l.id + chr(34) for l in plant.lines)}]",
            'key = "units"', "", "[main_meter]", 'meter = "site-main"', ""]
    machine_of = {m.meter: m.id for line in plant.lines for m in line.machines}
    machine_of.update({f"{line.compressor}-kw": line.compressor for line in plant.lines})
    machine_of["chiller-kw"] = "chiller"
    where = areas(plant)
    for meter, kind in meter_kinds(plant).items():
        measurement, tags, field = series_key(plant, meter, kind)
        tag_text = ", ".join(f'{k} = "{v}"' for k, v in tags.items())
        mapping = (f'influx = {{ measurement = "{measurement}", field = "{field}", '
                   f"tags = {{ {tag_text} }} }}")
        out += ["[[meters]]", f'id = "{meter}"', f'role = "{kind}"']
        if kind in ("units_counter", "scrap_counter"):
            out.append(f'line = "{meter.rsplit("-", 1)[0]}"')
        elif meter != "site-main":
            out.append(f'machine = "{machine_of[meter]}"')
        out += [{"power": 'unit = "kW"', "energy_counter": 'unit = "kWh"',
                 "fuel_counter": 'fuel = "natural_gas"'}.get(kind, 'unit = "units"'),
                mapping,
                f'mqtt = {{ topic = "{topic(plant, where[meter], meter)}", path = "value", '
                'time_path = "ts" }',
                f'opcua = {{ node = "{node_id(plant, meter)}" }}', ""]
    for line in plant.lines:
        for what in ("sku", "order"):
            out += ["[[meters]]", f'id = "{line.id}-{what}"', f'role = "{what}"',
                    f'line = "{line.id}"',
                    f'influx = {{ measurement = "production", field = "{what}", '
                    f'tags = {{ site = "{plant.site}", line = "{line.id}" }} }}',
                    f'mqtt = {{ topic = "{context_topic(plant, line.id, what)}", '
                    'path = "value", time_path = "ts" }',
                    f'opcua = {{ node = "{node_id(plant, f"{line.id}-{what}")}" }}', ""]
    return "\n".join(out)
