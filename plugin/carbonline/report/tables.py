"""The inventory and the ESRS view as tables (lists of flat dicts), and those tables written
as CSV and JSON: one CSV per table, one JSON document per report holding them all with the
period and notes, so a spreadsheet and a program read the same numbers.
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict
from pathlib import Path

from ..series import rfc3339
from .model import Esrs, Inventory, Period

Table = list[dict[str, object]]


def ghg_tables(inv: Inventory) -> dict[str, Table]:
    """The GHG Protocol inventory: lines (both Scope 2 methods side by side), sites, SKUs,
    Scope 1 by fuel and gas, data quality, factors, days."""
    sites = inv.site_totals()
    return {
        "lines": [{"site": t.site, "line": t.line, "unit": t.unit, **t.amounts.as_dict()}
                  for t in inv.lines],
        "sites": [{"site": s, **a.as_dict()} for s, a in sites.items()]
        + [{"site": "(all)", **inv.total().as_dict()}],
        "skus": [{"site": t.site, "line": t.line, "sku": t.sku, **t.amounts.as_dict()}
                 for t in inv.skus],
        "scope1_by_fuel": [asdict(f) for f in inv.scope1_by_fuel],
        "quality": [asdict(q) for q in inv.quality],
        "factors": [asdict(f) for f in inv.factors],
        "days": [{"day": d.day.isoformat(), "site": d.site, "line": d.line,
                  **d.amounts.as_dict()} for d in inv.days],
    }


def esrs_table(esrs: Esrs) -> Table:
    """ESRS E1-5 and E1-6 as datapoint rows: disclosure, datapoint, value, unit."""
    e = esrs.energy
    rows = [
        ("E1-5", "total energy consumption", e.total_mwh, "MWh"),
        ("E1-5", "electricity consumption", e.electricity_mwh, "MWh"),
        ("E1-5", "fuel consumption", e.fuel_mwh, "MWh"),
        ("E1-5", "fuel consumption from fossil sources", e.fossil_fuel_mwh, "MWh"),
        ("E1-5", "total fossil sources", e.fossil_mwh, "MWh"),
        ("E1-5", "nuclear sources", e.nuclear_mwh, "MWh"),
        ("E1-5", "renewable sources", e.renewable_mwh, "MWh"),
        ("E1-6", "gross Scope 1 GHG emissions", esrs.scope1_t, "t CO2e"),
        ("E1-6", "gross location-based Scope 2 GHG emissions", esrs.scope2_location_t,
         "t CO2e"),
        ("E1-6", "gross market-based Scope 2 GHG emissions", esrs.scope2_market_t, "t CO2e"),
        ("E1-6", "total GHG emissions (location-based)", esrs.total_location_t, "t CO2e"),
        ("E1-6", "total GHG emissions (market-based)", esrs.total_market_t, "t CO2e"),
    ]
    currency = esrs.revenue.currency if esrs.revenue else ""
    rows += [("E1-6", "net revenue", esrs.revenue.amount if esrs.revenue else None, currency),
             ("E1-6", "GHG intensity per net revenue (location-based)",
              esrs.intensity_per_revenue("location"), f"t CO2e per million {currency}".strip()),
             ("E1-6", "GHG intensity per net revenue (market-based)",
              esrs.intensity_per_revenue("market"), f"t CO2e per million {currency}".strip())]
    rows += [("extra", f"intensity per unit {site}/{line}", value, f"kg CO2e per {unit}")
             for site, line, unit, value in esrs.per_unit]
    return [{"disclosure": d, "datapoint": name,
             "value": "not determinable" if value is None else value, "unit": unit}
            for d, name, value, unit in rows]


def period_dict(period: Period) -> dict[str, str]:
    return {"from": rfc3339(period.start_ns), "to": rfc3339(period.end_ns),
            "timezone": period.timezone}


def write_csv(path: Path, table: Table) -> Path:
    """``table`` as CSV with a header of every key seen (empty cells for ``None``)."""
    columns = list(dict.fromkeys(key for row in table for key in row))
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, columns)
        writer.writeheader()
        writer.writerows(table)
    return path


def write_ghg(inv: Inventory, out: Path) -> list[Path]:
    """``ghg_<table>.csv`` for each table and ``ghg.json``."""
    tables = ghg_tables(inv)
    paths = [write_csv(out / f"ghg_{name}.csv", rows) for name, rows in tables.items()]
    doc = {"report": "GHG Protocol corporate inventory (Scope 1 and 2)",
           "period": period_dict(inv.period), "revision": inv.revision,
           "gwp_set": inv.gwp_set, "notes": inv.notes, **tables}
    paths.append(_write_json(out / "ghg.json", doc))
    return paths


def write_esrs(esrs: Esrs, out: Path) -> list[Path]:
    """``esrs_e1.csv`` and ``esrs_e1.json``."""
    table = esrs_table(esrs)
    doc = {"report": "ESRS E1 (E1-5 energy, E1-6 GHG emissions)",
           "period": period_dict(esrs.period), "revision": esrs.revision,
           "energy_mix_basis": esrs.energy.basis,
           "revenue": asdict(esrs.revenue) if esrs.revenue else None,
           "notes": esrs.notes, "datapoints": table}
    return [write_csv(out / "esrs_e1.csv", table), _write_json(out / "esrs_e1.json", doc)]


def _write_json(path: Path, doc: dict) -> Path:
    path.write_text(json.dumps(doc, indent=2, default=str, ensure_ascii=False) + "\n",
                    encoding="utf-8")
    return path
