"""ESRS E1 (Commission Delegated Regulation (EU) 2023/2772, Annex I) from an inventory:
E1-5 energy consumption and mix in MWh, E1-6 gross Scope 1, Scope 2 location- and
market-based, totals both ways (t CO₂e), and GHG intensity per net revenue when
``[report] revenue`` is configured. Per-unit intensity per line is an extra, not an E1 datapoint.
"""

from __future__ import annotations

import math
from datetime import datetime
from zoneinfo import ZoneInfo

from ..config import PlantConfig
from ..records import to_ns
from .model import Esrs, EnergyMix, Inventory, Period, Revenue

KWH_PER_MWH = 1000.0
KG_PER_T = 1000.0


def build_esrs(inventory: Inventory, plant: PlantConfig | None = None) -> Esrs:
    """E1-5 and E1-6 of ``inventory`` (all its sites together)."""
    total = inventory.total()
    return Esrs(
        period=inventory.period, energy=energy_mix(inventory),
        scope1_t=total.scope1_co2e_kg / KG_PER_T,
        scope2_location_t=total.scope2_location_co2e_kg / KG_PER_T,
        scope2_market_t=total.scope2_market_co2e_kg / KG_PER_T,
        revenue=revenue_of(inventory.period, plant),
        per_unit=[(t.site, t.line, t.unit, t.amounts.co2e_per_unit_kg)
                  for t in inventory.lines],
        revision=inventory.revision,
        notes=["GHG intensity per net revenue is t CO2e per million of net revenue "
               "(E1-6 §53); without [report] revenue it is not reported.",
               "Per-unit intensity (kg CO2e location-based per good unit) is an extra, not an "
               "E1 datapoint.", *inventory.notes])


def energy_mix(inventory: Inventory) -> EnergyMix:
    """E1-5: consumption in MWh; fossil only for fuels the IPCC table names, the grid share
    not determinable (the shipped grid tables hold intensities only)."""
    total = inventory.total()
    fuel_mwh = total.fuel_kwh / KWH_PER_MWH
    electricity_mwh = total.electricity_kwh / KWH_PER_MWH
    known = all(f.co2_kg is not None for f in inventory.scope1_by_fuel)
    fossil_fuel = fuel_mwh if known else None
    basis = ["Fuels on net calorific value; electricity as metered."]
    if known:
        basis.append("Fuels burnt on site are IPCC 2006 fossil fuels: fossil.")
    else:
        basis.append("Some fuel is unnamed or not in the IPCC 2006 table: its source is not "
                     "determinable.")
    if electricity_mwh > 0:
        basis.append("Purchased electricity: fossil/nuclear/renewable not determinable — the "
                     "grid factor data gives kg CO2e/kWh, not the generation mix.")
        return EnergyMix(total.energy_kwh / KWH_PER_MWH, electricity_mwh, fuel_mwh,
                         fossil_fuel, None, None, None, basis)
    return EnergyMix(total.energy_kwh / KWH_PER_MWH, electricity_mwh, fuel_mwh, fossil_fuel,
                     fossil_fuel, 0.0 if known else None, 0.0 if known else None, basis)


def revenue_of(period: Period, plant: PlantConfig | None) -> Revenue | None:
    """Net revenue of the period: each configured revenue period's amount times the share of
    its time inside the report period. ``None`` when none is configured or the configured
    periods do not cover the whole report period (an intensity on part of it would mislead)."""
    if plant is None or not plant.report.revenue:
        return None
    zone = ZoneInfo(period.timezone)
    amount, covered, parts = [], 0, []
    for r in plant.report.revenue:
        start = to_ns(datetime.combine(r.start, datetime.min.time(), zone))
        end = to_ns(datetime.combine(r.end, datetime.min.time(), zone))
        overlap = min(end, period.end_ns) - max(start, period.start_ns)
        if overlap > 0:
            covered += overlap
            amount.append(r.net_revenue * overlap / (end - start))
            parts.append(f"{overlap / (end - start):.4%} of {r.start}–{r.end}")
    if covered < period.end_ns - period.start_ns:
        return None
    return Revenue(math.fsum(amount), plant.report.currency,
                   "pro rata by time: " + "; ".join(parts))
