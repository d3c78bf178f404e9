"""*Plant overview* (uid ``carbonline-plant``): the plant manager's page — intensity per line
now against its baseline, the shift's and day's kilograms, Scope 1 next to both Scope 2
methods, the grid factor and where it comes from, the rebound check, the open alerts with their
cause, and carbon next to throughput and quality rate."""

from __future__ import annotations

from grafana_foundation_sdk.builders.dashboard import Dashboard

from . import panels as p

UID = "carbonline-plant"

_LINES = ("site", "line")


def build() -> Dashboard:
    intensity_now = p.timeseries_panel(
        "kg CO₂e/unit per line vs baseline", p.KG_PER_UNIT,
        "Σ kg CO₂e / Σ good units of the 1-minute windows, per line, against the analyser's "
        "baseline for what the line runs (mean over the interval) and the configured threshold.",
        [p.select("carbon_intensity", {"kg CO₂e/unit": p.INTENSITY},
                  p.where(*_LINES, window="1m"), p.group_by("site", "line")),
         p.select("carbon_intensity", {"baseline kg CO₂e/unit":
                                       'mean("baseline_co2e_per_unit_kg")',
                                       "threshold kg CO₂e/unit":
                                       'max("threshold_co2e_per_unit_kg")'},
                  p.where(*_LINES, window="1m"), p.group_by("site", "line"))],
        span=16)
    deviation = p.stat_panel(
        "Deviation from baseline now", p.PERCENT,
        "The latest 1-minute window's deviation of intensity from its baseline, per line.",
        [p.select("carbon_intensity", {"deviation %": 'last("deviation_pct")'},
                  p.where(*_LINES, window="1m"), p.group_by("site", "line", interval=None))],
        span=8, height=8)
    per_shift = p.stat_panel(
        "kg CO₂e per shift", p.KG,
        "Σ kg CO₂e of the 1-minute windows in the time range, by shift (the current shift's "
        "total so far is its latest value).",
        [p.select("carbon_intensity", {"kg CO₂e": 'sum("co2e_kg")'},
                  p.where(*_LINES, window="1m"), p.group_by("shift", interval=None))],
        span=8)
    today = p.stat_panel(
        "kg CO₂e today", p.KG,
        "Σ kg CO₂e since midnight (the panel's own range: today so far).",
        [p.select("carbon_intensity", {"kg CO₂e": 'sum("co2e_kg")'},
                  p.where(*_LINES, window="1m"))], span=8).time_from("now/d")
    scopes = p.timeseries_panel(
        "Scope 1 vs Scope 2 (location- and market-based)", p.KG,
        "GHG Protocol: Scope 1 (fuels) next to Scope 2 by both methods, Σ kg CO₂e per "
        "interval. co2e_kg, the operational figure, is Scope 1 + Scope 2 location-based.",
        [p.select("carbon_intensity", {"Scope 1": 'sum("scope1_co2e_kg")',
                                       "Scope 2 location-based":
                                       'sum("scope2_location_co2e_kg")',
                                       "Scope 2 market-based": 'sum("scope2_market_co2e_kg")'},
                  p.where(*_LINES, window="1m"), p.group_by())])
    grid_now = p.stat_panel(
        "Grid factor now", p.KG_PER_KWH,
        "The location-based grid emission factor used for the latest 1-minute window.",
        [p.select("carbon_intensity", {"kg CO₂e/kWh": 'last("grid_factor_kg_per_kwh")'},
                  p.where("site", window="1m"), p.group_by("site", interval=None))], span=8)
    grid_source = p.table_panel(
        "Grid factor source", p.KG_PER_KWH,
        "Where the factors come from: zone, provider, basis, type and dataset (name and "
        "version) of the latest carbon_factor point.",
        [p.select("carbon_factor", {"kg CO₂e/kWh": 'last("kg_per_kwh")',
                                    "dataset": 'last("dataset")'},
                  p.where(), p.group_by("zone", "provider", "basis", "type", interval=None))],
        height=5)
    rebound = p.timeseries_panel(
        "Rebound check: intensity vs absolute total, weekly", p.KG_PER_UNIT,
        "A falling kg CO₂e/unit with rising total kg is the rebound effect (design brief §4): "
        "weekly Σ kg CO₂e / Σ good units (left) next to weekly Σ kg CO₂e (right), day windows.",
        [p.select("carbon_intensity", {"kg CO₂e/unit": p.INTENSITY},
                  p.where(*_LINES, window="day"), p.group_by(interval="1w")),
         p.select("carbon_intensity", {"kg CO₂e total": 'sum("co2e_kg")'},
                  p.where(*_LINES, window="day"), p.group_by(interval="1w"))]
    ).time_from("26w")
    rebound = p.right_axis(rebound, "kg CO₂e total", p.KG)
    latest = p.select("carbon_alert", {"state": 'last("state")', "machine": 'last("machine")',
                                       "kg CO₂e/unit": 'last("co2e_per_unit_kg")',
                                       "message": 'last("message")'},
                      p.where(*_LINES), p.group_by("site", "line", "cause", "severity",
                                                   interval=None))
    open_alerts = p.table_panel(
        "Open alerts and probable cause", p.KG_PER_UNIT,
        "Per line and cause, the latest carbon_alert transition when it is 'firing': the "
        "cause and machine the analyser named, and its message.",
        [p.select(f"({latest})", {"state": '"state"', "machine": '"machine"',
                                  "kg CO₂e/unit": '"kg CO₂e/unit"', "message": '"message"'},
                  "WHERE \"state\" = 'firing'",
                  p.group_by("site", "line", "cause", "severity", interval=None))], height=7)
    throughput = p.timeseries_panel(
        "Carbon next to throughput", p.KG_PER_UNIT,
        "Σ kg CO₂e / Σ good units (left) next to good units per hour and the quality rate "
        "Σ good / (Σ good + Σ scrap) (right; lines with a scrap counter), per line: a line "
        "running slow makes each unit carry more idle energy, and scrap carries energy too.",
        [p.select("carbon_intensity", {"kg CO₂e/unit": p.INTENSITY},
                  p.where(*_LINES, window="1m"), p.group_by("site", "line")),
         p.select("carbon_intensity", {"good units/h":
                                       'sum("good_units") * 3600000 / $__interval_ms'},
                  p.where(*_LINES, window="1m"), p.group_by("site", "line")),
         p.select("carbon_intensity", {"quality rate %": 'sum("good_units") * 100 / '
                                       '(sum("good_units") + sum("scrap_units"))'},
                  p.where(*_LINES, window="1m"), p.group_by("site", "line"))],
        span=24)
    throughput = p.right_axis(throughput, ".*good units/h.*", p.UNITS_PER_HOUR)
    throughput = p.right_axis(throughput, ".*quality rate %.*", p.PERCENT)
    return p.board(
        "carbonline — Plant overview", UID,
        "kg CO₂e per unit per line now vs baseline, shift and day totals, Scope 1 vs Scope 2, "
        "grid factor and source, rebound, open alerts, carbon vs throughput.",
        [intensity_now, deviation, per_shift, today, grid_now, open_alerts, scopes, rebound,
         throughput, grid_source], _LINES)
