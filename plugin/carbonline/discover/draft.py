"""A first plant.toml from what discovery found: a guess at each signal's role, marked for the
engineer to confirm.

The guess reads, in order: the stated unit (kWh → energy, kW → power, m³ → fuel, pcs →
units), words in the name (``energy``, ``power``, ``count``, ``scrap``, ``sku``, ``order``…),
and the samples (text → SKU; numbers that only grow → a counter). A signal it cannot place is
written commented out, never silently dropped. The draft is valid as written — one line
``line1``, a machine per energy meter — so ``carbonline check-config`` passes on it at once,
and every guess carries a ``# CONFIRM`` comment saying what it was based on.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from .found import Found

#: Stated units → (role, unit as plant.toml writes it).
_UNITS = {
    "kwh": ("energy_counter", "kWh"), "wh": ("energy_counter", "Wh"),
    "kw": ("power", "kW"), "w": ("power", "W"),
    "m3": ("fuel_counter", "m3"), "m³": ("fuel_counter", "m3"), "l": ("fuel_counter", "L"),
    "pcs": ("units_counter", "units"), "units": ("units_counter", "units"),
    "pieces": ("units_counter", "units"), "count": ("units_counter", "units"),
}
#: Words in a signal's name → role, the first match winning. Names are split into words
#: (``Line1.Filler.GoodCount`` → line1, filler, good, count), so "production" is not "product".
_WORDS = (
    ({"scrap", "reject", "rejects"}, "scrap_counter"),
    ({"sku", "recipe", "product", "article", "variant"}, "sku"),
    ({"order", "batch", "job"}, "order"),
    ({"kwh", "energy", "consumption"}, "energy_counter"),
    ({"power", "kw", "watt", "watts", "load", "demand"}, "power"),
    ({"gas", "fuel", "m3"}, "fuel_counter"),
    ({"total"}, "total_counter"),
    ({"count", "units", "pieces", "good", "output", "produced", "parts"}, "units_counter"),
)
_COUNTERS = {"energy_counter", "units_counter", "total_counter", "scrap_counter", "fuel_counter"}
_METERED = {"energy_counter", "interval_energy", "power", "fuel_counter"}  # name a machine


@dataclass
class Guess:
    """A signal's guessed role and unit, and why."""

    role: str | None
    unit: str
    why: str


def guess(found: Found) -> Guess:
    """The role a signal most likely plays (``None``: no idea), from unit, name and samples."""
    numbers = [s for s in found.samples if isinstance(s, (int, float))]
    texts = [s for s in found.samples if isinstance(s, str)]
    grows = len(numbers) >= 2 and all(b >= a for a, b in zip(numbers, numbers[1:])) \
        and numbers[-1] > numbers[0]
    stated = (found.unit or "").strip().lower()
    if stated in _UNITS:
        role, unit = _UNITS[stated]
        if role == "energy_counter" and any(b < a for a, b in zip(numbers, numbers[1:])):
            return Guess("interval_energy", unit, f"unit {found.unit}, values go down too")
        return Guess(role, unit, f"unit {found.unit}")
    words = set(re.split(r"[^a-z0-9]+", re.sub(r"([a-z])([A-Z])", r"\1_\2", found.name).lower()))
    for vocabulary, role in _WORDS:
        if words & vocabulary:
            if texts and role not in ("sku", "order"):
                continue
            return Guess(role, _default_unit(role), f"name {found.name!r}"
                         + (", values only grow" if grows else ""))
    if texts and not numbers:
        return Guess("sku", "", "text values")
    if grows and all(float(n).is_integer() for n in numbers):
        return Guess("units_counter", "units", "whole numbers that only grow")
    if grows:
        return Guess("energy_counter", "kWh", "values that only grow")
    return Guess(None, "", "no unit, no telling name, values neither text nor growing")


def _default_unit(role: str) -> str:
    return {"energy_counter": "kWh", "interval_energy": "kWh", "power": "kW",
            "fuel_counter": "m3"}.get(role, "units" if role in _COUNTERS else "")


def draft_config(found: list[Found], site: str, timezone: str, zone: str,
                 sources: dict[str, dict]) -> str:
    """plant.toml text for the signals ``found`` on the server(s) in ``sources`` (the
    ``[sources.*]`` sections to write, e.g. ``{"mqtt": {"url": "mqtt://broker:1883"}}``)."""
    meters: list[str] = []
    machines: list[str] = []
    unplaced: list[str] = []
    fuels: set[str] = set()
    ids: set[str] = set()
    for signal in found:
        g = guess(signal)
        meter_id = _unique(_slug(signal.name), ids)
        mapping = "".join(f"{kind} = {_inline(value)}" for kind, value in signal.mapping.items())
        seen = ", ".join(_sample(s) for s in signal.samples[-3:])
        header = f"# {signal.where or signal.name}: samples {seen or 'none'}"
        if g.role is None:
            unplaced.append(f"{header}\n# [[meters]]  # CONFIRM role: {g.why}\n"
                            f"# id = {json.dumps(meter_id)}\n# {mapping}\n")
            continue
        lines = [header, "[[meters]]", f"id = {json.dumps(meter_id)}",
                 f"role = {json.dumps(g.role)}  # CONFIRM: guessed from {g.why}"]
        if g.role in _METERED:
            machine = _unique(f"machine_{meter_id}", set(machines))
            machines.append(machine)
            lines.append(f"machine = {json.dumps(machine)}  # CONFIRM the machine it meters")
        else:
            lines.append('line = "line1"  # CONFIRM the line')
        if g.role == "fuel_counter":
            lines.append('fuel = "natural_gas"  # CONFIRM the fuel')
            fuels.add(g.unit)
        if g.unit and g.role not in ("sku", "order", "fuel_counter"):
            lines.append(f"unit = {json.dumps(g.unit)}")
        if g.role == "interval_energy":
            lines.append('interval = "15m"  # CONFIRM the metering interval')
        lines.append(mapping)
        meters.append("\n".join(lines) + "\n")
    out = [
        "# Drafted by `carbonline discover`: every '# CONFIRM' is a guess to check. Then run",
        "# `carbonline check-config` on this file, and `carbonline run --config` it.",
        "",
        "[site]",
        f"name = {json.dumps(site)}",
        f"timezone = {json.dumps(timezone)}  # CONFIRM",
        f"grid_zone = {json.dumps(zone)}  # CONFIRM: `carbonline factors --list` shows zones",
        "",
        "[[lines]]",
        'id = "line1"  # CONFIRM: one [[lines]] per production line',
        'unit = "pieces"',
        "",
    ]
    for machine in machines or ["machine1"]:
        out += ["[[machines]]", f"id = {json.dumps(machine)}", 'line = "line1"', ""]
    if fuels:  # one fuel for a start; a second fuel in other units gets its own section
        out += ["[fuels.natural_gas]", f"unit = {json.dumps(min(fuels))}  # CONFIRM", ""]
    for kind, settings in sources.items():
        out += [f"[sources.{kind}]"] + [f"{k} = {json.dumps(v)}" for k, v in settings.items()]
        out.append("")
    out += meters
    if unplaced:
        out += ["# Signals whose role could not be guessed: uncomment what is a meter.", ""]
        out += unplaced
    return "\n".join(out)


def _slug(name: str) -> str:
    return re.sub(r"_+", "_", re.sub(r"[^A-Za-z0-9]+", "_", name)).strip("_").lower() or "meter"


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name}_{n}", n + 1
    taken.add(candidate)
    return candidate


def _inline(value: dict) -> str:
    """A TOML inline table; values are strings or tables of strings."""
    parts = []
    for key, item in value.items():
        if item is None:
            continue
        text = _inline(item) if isinstance(item, dict) else json.dumps(item)
        parts.append(f"{key} = {text}")
    return "{ " + ", ".join(parts) + " }"


def _sample(value: float | str) -> str:
    return json.dumps(value) if isinstance(value, str) else f"{value:g}"
