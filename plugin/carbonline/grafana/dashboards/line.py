"""*Line detail* (uid ``carbonline-line``): one line's machines and what it ran — each
machine's energy per unit against what its baseline expects, the SKU/order timeline, the line's
intensity with the grid factor over it, and the analyser's alerts as annotations carrying the
probable cause."""

from __future__ import annotations

from grafana_foundation_sdk.builders.dashboard import Dashboard

from . import panels as p

UID = "carbonline-line"

_TAGS = ("site", "line", "sku")


def build() -> Dashboard:
    machines = p.timeseries_panel(
        "Machine energy per unit vs baseline", p.KWH_PER_UNIT,
        "Σ kWh / Σ good units per machine (1-minute windows) against the energy its baseline "
        "(E = P_idle·t + e·U) expects per unit for the units made.",
        [p.select("carbon_machine", {"kWh/unit": p.ENERGY_PER_UNIT},
                  p.where(*_TAGS, window="1m"), p.group_by("machine")),
         p.select("carbon_machine", {"baseline kWh/unit":
                                     'mean("baseline_energy_per_unit_kwh")'},
                  p.where(*_TAGS, window="1m"), p.group_by("machine"))], span=24, height=9)
    intensity = p.timeseries_panel(
        "kg CO₂e/unit with grid factor", p.KG_PER_UNIT,
        "Σ kg CO₂e / Σ good units of the line (left) with its baseline and threshold, and the "
        "grid emission factor (right): a rise with the factor is the grid, not the line.",
        [p.select("carbon_intensity", {"kg CO₂e/unit": p.INTENSITY,
                                       "baseline kg CO₂e/unit":
                                       'mean("baseline_co2e_per_unit_kg")',
                                       "threshold kg CO₂e/unit":
                                       'max("threshold_co2e_per_unit_kg")'},
                  p.where(*_TAGS, window="1m"), p.group_by()),
         p.select("carbon_intensity", {"grid kg CO₂e/kWh": 'mean("grid_factor_kg_per_kwh")'},
                  p.where(*_TAGS, window="1m"), p.group_by())], span=24, height=9)
    intensity = p.right_axis(intensity, "grid kg CO₂e/kWh", p.KG_PER_KWH)
    skus = p.timeseries_panel(
        "SKU timeline: good units per SKU", p.UNITS,
        "Good units made per interval, one series per SKU: which SKU ran when.",
        [p.select("carbon_intensity", {"good units": 'sum("good_units")'},
                  p.where(*_TAGS, window="1m"), p.group_by("sku"))], span=12)
    orders = p.table_panel(
        "Orders", p.KG_PER_UNIT,
        "Each order (time = its start, end_time its end) with its units, energy and kg CO₂e; "
        "kg CO₂e/unit of a single order row is its own Σ/Σ.",
        [p.select("carbon_order", {"end": '"end_time"', "units": '"good_units"',
                                   "kWh": '"energy_kwh"', "kg CO₂e": '"co2e_kg"',
                                   "kg CO₂e/unit": '"co2e_kg" / "good_units"'},
                  p.where(*_TAGS), p.group_by("sku", "order_id", interval=None))], span=12,
        height=8)
    orders = p.field_units(orders, {"units": p.UNITS, "kWh": p.KWH, "kg CO₂e": p.KG})
    alerts = p.InfluxAnnotation(
        "carbonline alerts",
        p.select("carbon_alert", {"message": '"message"', "state": '"state"',
                                  "cause": '"cause"', "machine": '"machine"'},
                 p.where("site", "line")),
        text_column="message", tags_columns=("state", "cause", "machine"))
    return p.board(
        "carbonline — Line detail", UID,
        "Machine energy per unit vs baseline, SKU/order timeline, intensity with the grid "
        "factor, alerts (annotations) with their probable cause.",
        [intensity, machines, skus, orders], _TAGS).annotation(alerts)
