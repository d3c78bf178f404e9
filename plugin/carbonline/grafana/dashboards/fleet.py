"""*Fleet* (uid ``carbonline-fleet``): several sites side by side and ranked by carbon
efficiency (good units per kg CO₂e), from the 15-minute windows every site writes."""

from __future__ import annotations

from grafana_foundation_sdk.builders import common
from grafana_foundation_sdk.builders.dashboard import Dashboard

from . import panels as p

UID = "carbonline-fleet"

#: 15-minute windows: a fleet view spans weeks; a panel interval below them would leave gaps
_MIN_INTERVAL = "15m"


def build() -> Dashboard:
    ranking = p.table_panel(
        "Carbon efficiency ranking", p.UNITS_PER_KG,
        "Per site over the time range: Σ good units / Σ kg CO₂e (higher is better), "
        "Σ kg CO₂e / Σ good units, Σ kg CO₂e and Σ good units.",
        [p.select("carbon_intensity", {"units/kg CO₂e": 'sum("good_units") / sum("co2e_kg")',
                                       "kg CO₂e/unit": p.INTENSITY,
                                       "kg CO₂e": 'sum("co2e_kg")',
                                       "units": 'sum("good_units")'},
                  p.where("site", window="15m"), p.group_by("site", interval=None))],
        span=12).sort_by([common.TableSortByFieldState().display_name("units/kg CO₂e")
                          .desc(True)])
    ranking = p.field_units(ranking, {"kg CO₂e/unit": p.KG_PER_UNIT, "kg CO₂e": p.KG,
                                      "units": p.UNITS})
    efficiency = p.bargauge_panel(
        "Units per kg CO₂e by site", p.UNITS_PER_KG,
        "Σ good units / Σ kg CO₂e per site over the time range.",
        [p.select("carbon_intensity", {"units/kg CO₂e": 'sum("good_units") / sum("co2e_kg")'},
                  p.where("site", window="15m"), p.group_by("site", interval=None))])
    side_by_side = p.timeseries_panel(
        "kg CO₂e/unit by site", p.KG_PER_UNIT,
        "Σ kg CO₂e / Σ good units per site and interval (15-minute windows).",
        [p.select("carbon_intensity", {"kg CO₂e/unit": p.INTENSITY},
                  p.where("site", window="15m"), p.group_by("site"))]).interval(_MIN_INTERVAL)
    totals = p.timeseries_panel(
        "kg CO₂e by site", p.KG,
        "Σ kg CO₂e per site and interval: intensity next to the absolute total.",
        [p.select("carbon_intensity", {"kg CO₂e": 'sum("co2e_kg")'},
                  p.where("site", window="15m"), p.group_by("site"))]).interval(_MIN_INTERVAL)
    return p.board(
        "carbonline — Fleet", UID,
        "Sites side by side: intensity, totals and the carbon efficiency ranking.",
        [ranking, efficiency, side_by_side, totals], ("site",), time_from="now-7d")
