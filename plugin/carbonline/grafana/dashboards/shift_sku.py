"""*Shift & SKU report* (uid ``carbonline-shift-sku``): the table a shift lead signs off — per
shift × SKU the units, kWh, kg CO₂e, kg CO₂e/unit and how far that is from the baseline."""

from __future__ import annotations

from grafana_foundation_sdk.builders import common
from grafana_foundation_sdk.builders.dashboard import Dashboard

from . import panels as p

UID = "carbonline-shift-sku"

_TAGS = ("site", "line", "sku")
_ROWS = ("site", "line", "shift", "sku")


def build() -> Dashboard:
    report = p.table_panel(
        "Shift × SKU", p.KG_PER_UNIT,
        "Per shift and SKU: Σ good units, Σ kWh, Σ kg CO₂e and Σ kg CO₂e / Σ good units from "
        "the shift windows, next to the mean baseline and deviation of its 1-minute windows "
        "(the analyser sets those on 1-minute rows only). Stamped at the shift start.",
        [p.select("carbon_intensity", {"units": 'sum("good_units")', "kWh": 'sum("energy_kwh")',
                                       "kg CO₂e": 'sum("co2e_kg")',
                                       "kg CO₂e/unit": p.INTENSITY},
                  p.where(*_TAGS, window="shift"), p.group_by(*_ROWS, interval=None)),
         p.select("carbon_intensity", {"baseline kg CO₂e/unit":
                                       'mean("baseline_co2e_per_unit_kg")',
                                       "vs baseline %": 'mean("deviation_pct")'},
                  p.where(*_TAGS, window="1m"), p.group_by(*_ROWS, interval=None))],
        height=12).sort_by([common.TableSortByFieldState().display_name("kg CO₂e/unit")
                            .desc(True)])
    report = p.field_units(report, {"units": p.UNITS, "kWh": p.KWH, "kg CO₂e": p.KG,
                                    "vs baseline %": p.PERCENT})
    per_sku = p.bargauge_panel(
        "kg CO₂e/unit per SKU", p.KG_PER_UNIT,
        "Σ kg CO₂e / Σ good units per SKU over the time range (shift windows).",
        [p.select("carbon_intensity", {"kg CO₂e/unit": p.INTENSITY},
                  p.where(*_TAGS, window="shift"), p.group_by("sku", interval=None))])
    per_shift = p.bargauge_panel(
        "kg CO₂e per shift", p.KG,
        "Σ kg CO₂e per shift name over the time range (shift windows).",
        [p.select("carbon_intensity", {"kg CO₂e": 'sum("co2e_kg")'},
                  p.where(*_TAGS, window="shift"), p.group_by("shift", interval=None))])
    return p.board(
        "carbonline — Shift & SKU report", UID,
        "Per shift × SKU: units, kWh, kg CO₂e, kg CO₂e/unit, vs baseline.",
        [report, per_sku, per_shift], _TAGS, time_from="now-7d")
