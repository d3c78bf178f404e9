"""The GHG Protocol inventory of a period: Scope 1 by fuel and gas, Scope 2 location- and
market-based side by side, per site and line, with data-quality notes.

Figures are sums of the ``1m`` ``carbon_intensity`` windows InfluxDB holds (their current
revision). The series record CO₂e only; the split of Scope 1 into CO₂, CH₄ and N₂O is taken
from the fuel's IPCC 2006 factors with the plant's GWP set (:func:`gas_split`), which needs the
plant config to know which fuel each line burns.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable

from ..api.totals import Piece
from ..config import PlantConfig
from ..factors.fuels import combust, fuel as ipcc_fuel
from ..factors.gwp import DEFAULT_GWP_SET
from ..records import NS_PER_S
from .collect import Collected, Progress, collect
from .model import (AMOUNTS, Amounts, DayLine, FactorUse, FuelGases, Inventory, LineTotals,
                    Period, Quality, SkuTotals, add)
from .query import SeriesReader, WindowRow

REVISION = ("current revision of every window, as InfluxDB holds it (a late reading or "
            "corrected factor rewrites a window with revision + 1; the audit ledger keeps "
            "every revision)")
MINUTE_NS = 60 * NS_PER_S


def build_inventory(reader: SeriesReader, period: Period, plant: PlantConfig | None = None,
                    progress: Progress | None = None) -> Inventory:
    """Read ``period`` from InfluxDB and build its inventory: the plant's own site when
    ``plant`` is given (fuels, production units and GWP set from its config), else every site
    in the database."""
    sites = [plant.site.name] if plant is not None else None
    return inventory_of(collect(reader, period, sites, progress), plant)


def inventory_of(data: Collected, plant: PlantConfig | None = None) -> Inventory:
    """The inventory of what :func:`~carbonline.report.collect.collect` read."""
    gwp = plant.factors.gwp if plant is not None else DEFAULT_GWP_SET
    fuels = line_fuels(plant)
    units = {line.id: line.unit for line in plant.lines} if plant is not None else {}
    by_line: dict[tuple[str, str], list[Amounts]] = defaultdict(list)
    by_sku: dict[tuple[str, str, str], list[Amounts]] = defaultdict(list)
    days = []
    for day in data.days:
        per_line: dict[str, list[Amounts]] = defaultdict(list)
        for piece in day.pieces:
            amounts = amounts_of(piece)
            per_line[piece.line].append(amounts)
            by_sku[(day.site, piece.line, piece.sku)].append(amounts)
        for line, parts in sorted(per_line.items()):
            total = add(parts)
            by_line[(day.site, line)].append(total)
            days.append(DayLine(day.day, day.site, line, total,
                                scope1_split(plant, fuels, gwp, day.site, line, total)))
    lines = [LineTotals(site, line, units.get(line, "units"), add(parts))
             for (site, line), parts in sorted(by_line.items())]
    return Inventory(
        period=data.period, gwp_set=gwp, lines=lines,
        skus=[SkuTotals(site, line, sku, add(parts))
              for (site, line, sku), parts in sorted(by_sku.items())],
        scope1_by_fuel=[f for t in lines
                        for f in scope1_split(plant, fuels, gwp, t.site, t.line, t.amounts)],
        quality=quality(data.rows, data.period, [(t.site, t.line) for t in lines]),
        factors=factor_uses(data), days=days, revision=REVISION,
        notes=notes(plant, lines, data))


def amounts_of(piece: Piece) -> Amounts:
    """A line × SKU's InfluxDB sums as :class:`Amounts`."""
    return Amounts(**{name: float(piece.sums.get(name, 0.0)) for name in AMOUNTS})


def line_fuels(plant: PlantConfig | None) -> dict[str, list[str]]:
    """line → the ``[fuels]`` keys its fuel meters burn (a shared machine's fuel counts for
    every line it is allocated to)."""
    if plant is None:
        return {}
    machine_lines = {m.id: [m.line] for m in plant.machines if m.line}
    for alloc in plant.shared:
        machine_lines[alloc.machine] = list(alloc.lines)
    out: dict[str, set[str]] = defaultdict(set)
    for meter in plant.meters:
        if meter.role == "fuel_counter" and meter.fuel and meter.machine:
            for line in machine_lines.get(meter.machine, []):
                out[line].add(meter.fuel)
    return {line: sorted(names) for line, names in out.items()}


def gas_split(fuel_name: str, gwp: str) -> dict[str, float] | None:
    """kg of CO₂, CH₄ and N₂O per kg CO₂e of burning ``fuel_name``: the IPCC 2006 Vol. 2
    Table 2.3 factors weighted by ``gwp`` (combustion CH₄ at its non-fossil GWP, see
    :mod:`carbonline.factors.gwp`); ``None`` for a fuel the table does not know."""
    try:
        ipcc_fuel(fuel_name)
    except ValueError:
        return None
    burnt = combust(fuel_name, 1000.0, "kWh", gwp)
    return {"co2": burnt.co2_kg / burnt.co2e_kg, "ch4": burnt.ch4_kg / burnt.co2e_kg,
            "n2o": burnt.n2o_kg / burnt.co2e_kg}


def scope1_split(plant: PlantConfig | None, fuels: dict[str, list[str]], gwp: str, site: str,
                 line: str, amounts: Amounts) -> list[FuelGases]:
    """The line's Scope 1 as one :class:`FuelGases` (none when it burnt nothing)."""
    if amounts.fuel_kwh <= 0 and amounts.scope1_co2e_kg <= 0:
        return []
    names = fuels.get(line, [])
    co2e = amounts.scope1_co2e_kg
    if len(names) != 1:
        name = "unspecified" if not names else "mixed: " + ", ".join(names)
        why = ("no plant config names the fuel" if not names else
               "the line burns more than one fuel and the series hold their sum")
        return [FuelGases(site, line, name, amounts.fuel_kwh, co2e, None, None, None, gwp,
                          f"recorded CO2e only; gas split not determinable: {why}")]
    (name,) = names
    ncv_kwh, _ = plant.fuels[name].factors(name, gwp)
    shares = gas_split(name, gwp)
    if shares is None:
        return [FuelGases(site, line, name, amounts.fuel_kwh, co2e, None, None, None, gwp,
                          "recorded CO2e only; the fuel is not in IPCC 2006 Table 2.3, so no "
                          "gas split", amounts.fuel_kwh / ncv_kwh, plant.fuels[name].unit)]
    return [FuelGases(site, line, name, amounts.fuel_kwh, co2e, co2e * shares["co2"],
                      co2e * shares["ch4"], co2e * shares["n2o"], gwp,
                      f"recorded CO2e split in the CO2:CH4:N2O proportions of IPCC 2006 Vol. 2 "
                      f"Table 2.3 for {ipcc_fuel(name).ipcc_name}, GWP100 {gwp}",
                      amounts.fuel_kwh / ncv_kwh, plant.fuels[name].unit)]


def quality(rows: Iterable[WindowRow], period: Period,
            lines: list[tuple[str, str]]) -> list[Quality]:
    """Per site × line: windows present of those expected, coverage, revisions. A minute split
    at a changeover (two SKU rows) counts once, at its lower coverage."""
    minutes: dict[tuple[str, str], dict[int, tuple[float, int]]] = defaultdict(dict)
    for r in rows:
        seen = minutes[(r.site, r.line)].get(r.time)
        cover = r.coverage_pct if seen is None else min(seen[0], r.coverage_pct)
        minutes[(r.site, r.line)][r.time] = (cover, max(r.revision, seen[1] if seen else 1))
    expected = -(-(period.end_ns - period.start_ns) // MINUTE_NS)
    out = []
    for key in lines:
        found = list(minutes.get(key, {}).values())
        covers = [c for c, _ in found]
        out.append(Quality(
            site=key[0], line=key[1], windows=len(found), expected_windows=expected,
            coverage_pct=math.fsum(covers) / len(covers) if covers else None,
            windows_below_full=sum(c < 100.0 for c in covers),
            min_coverage_pct=min(covers) if covers else None,
            revised_windows=sum(rev > 1 for _, rev in found),
            max_revision=max((rev for _, rev in found), default=0)))
    return out


def factor_uses(data: Collected) -> list[FactorUse]:
    """The grid factor series of the period, one per zone × provider × basis × type ×
    dataset × year, with how many points were estimated."""
    groups: dict[tuple, list] = defaultdict(list)
    for p in data.factors:
        groups[(p.zone, p.provider, p.basis, p.type, p.dataset, p.year)].append(p)
    return [FactorUse(*key, points=len(ps), estimated_points=sum(p.estimated for p in ps),
                      mean_kg_per_kwh=math.fsum(p.kg_per_kwh for p in ps) / len(ps))
            for key, ps in sorted(groups.items(), key=lambda kv: tuple(map(str, kv[0])))]


def notes(plant: PlantConfig | None, lines: list[LineTotals], data: Collected) -> list[str]:
    """What a reader must know to use the figures."""
    out = ["Figures are sums of the 1-minute carbon_intensity windows starting in the period; "
           "each window at its " + REVISION + "."]
    if plant is None:
        out.append("No plant config: fuels are 'unspecified' and Scope 1 is not split by gas; "
                   "production units are shown as 'units'.")
    if any(p.type == "lifecycle" for p in data.factors):
        out.append("Some location-based grid factors are lifecycle figures (see factors); "
                   "the GHG Protocol prefers direct (combustion) factors for Scope 2.")
    estimated = sum(p.estimated for p in data.factors)
    if estimated:
        out.append(f"{estimated} grid factor points were estimated (carbon_factor estimated).")
    if not lines:
        out.append("InfluxDB holds no 1-minute carbon_intensity window in the period.")
    out.append("Scope 3 is not covered: carbonline meters a plant's own energy use.")
    return out
