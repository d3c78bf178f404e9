"""The data behind each plot of the HTML report, as tables: exported beside the plot as CSV and
drawn by :mod:`.plots` from the very same rows, so what a reader downloads is what they saw.

Intensities are always Σ kg CO₂e / Σ good units over a bucket (design brief §3), never a mean
of per-minute ratios. ``co2e_kg`` is Scope 1 + Scope 2 location-based (the operational figure).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

from ..records import NS_PER_S
from ..series import rfc3339
from .collect import Collected
from .model import Inventory

HOUR_NS = 3600 * NS_PER_S
DAY_NS = 24 * HOUR_NS


@dataclass(slots=True)
class PlotData:
    """One plot's table: ``name`` is the file stem (``<name>.csv``, ``<name>.svg``)."""

    name: str
    title: str
    columns: tuple[str, ...]
    rows: list[tuple]

    def as_table(self) -> list[dict[str, object]]:
        return [dict(zip(self.columns, row)) for row in self.rows]


def bucket_ns(period_ns: int) -> int:
    """The intensity plot's bucket: an hour up to 8 days, else a day (UTC-aligned, as
    InfluxQL ``GROUP BY time()`` aligns)."""
    return HOUR_NS if period_ns <= 8 * DAY_NS else DAY_NS


def all_plots(data: Collected, inv: Inventory) -> list[PlotData]:
    """Every plot of the report, in page order."""
    return [intensity_vs_baseline(data), sku_distribution(data), alert_timeline(data),
            scope_split(inv), rebound(inv)]


def _ratio(num: float, den: float) -> float | None:
    return num / den if den > 0 else None


def intensity_vs_baseline(data: Collected) -> PlotData:
    """Per site × line × bucket: Σ co2e_kg / Σ good_units, and the baseline's expectation
    Σ (baseline × good_units) / Σ good_units over the minutes that had a baseline."""
    size = bucket_ns(data.period.end_ns - data.period.start_ns)
    sums: dict[tuple[str, str, int], list[list[float]]] = defaultdict(lambda: [[], [], [], []])
    for r in data.rows:
        co2e, units, expected, base_units = sums[(r.site, r.line, r.time - r.time % size)]
        co2e.append(r.co2e_kg)
        units.append(r.good_units)
        if r.baseline_co2e_per_unit_kg is not None and r.good_units > 0:
            expected.append(r.baseline_co2e_per_unit_kg * r.good_units)
            base_units.append(r.good_units)
    rows = []
    for (site, line, start), (co2e, units, expected, base_units) in sorted(sums.items()):
        total, made = math.fsum(co2e), math.fsum(units)
        rows.append((site, line, rfc3339(start), total, made, _ratio(total, made),
                     _ratio(math.fsum(expected), math.fsum(base_units))))
    return PlotData("intensity_vs_baseline", "Intensity per line vs baseline (kg CO2e/unit)",
                    ("site", "line", "bucket_start", "co2e_kg", "good_units",
                     "co2e_per_unit_kg", "baseline_co2e_per_unit_kg"), rows)


def sku_distribution(data: Collected) -> PlotData:
    """Every 1-minute window that made a good unit: its kg CO₂e per unit, per SKU."""
    rows = sorted((r.site, r.line, r.sku, rfc3339(r.time), r.co2e_kg / r.good_units)
                  for r in data.rows if r.good_units > 0)
    return PlotData("sku_distribution", "Per-SKU distribution of 1-minute intensity "
                    "(kg CO2e/unit)", ("site", "line", "sku", "time", "co2e_per_unit_kg"), rows)


def alert_timeline(data: Collected) -> PlotData:
    """Each alert from firing to resolved (still open at the period's end: ``end`` is the
    period end and ``open`` is true); an alert resolved in the period that fired before it
    starts at the period start."""
    spans: dict[str, dict] = {}
    for a in data.alerts:
        span = spans.setdefault(a.alert_id, {
            "site": a.site, "line": a.line, "cause": a.cause, "severity": a.severity,
            "machine": a.machine, "start": data.period.start_ns, "end": None})
        if a.state == "firing":
            span["start"] = a.time
        else:
            span["end"] = a.time
    rows = [(s["site"], s["line"], alert_id, s["cause"], s["severity"], s["machine"],
             rfc3339(s["start"]), rfc3339(s["end"] or data.period.end_ns), s["end"] is None)
            for alert_id, s in sorted(spans.items(), key=lambda kv: (kv[1]["start"], kv[0]))]
    return PlotData("alert_timeline", "Alert timeline",
                    ("site", "line", "alert_id", "cause", "severity", "machine", "start", "end",
                     "open"), rows)


def scope_split(inv: Inventory) -> PlotData:
    """Per site × line: Scope 1 and Scope 2 by both methods, kg CO₂e."""
    rows = [(t.site, t.line, t.amounts.scope1_co2e_kg, t.amounts.scope2_location_co2e_kg,
             t.amounts.scope2_market_co2e_kg) for t in inv.lines]
    return PlotData("scope_split", "Scope split per line (kg CO2e)",
                    ("site", "line", "scope1_co2e_kg", "scope2_location_co2e_kg",
                     "scope2_market_co2e_kg"), rows)


def rebound(inv: Inventory) -> PlotData:
    """Per site × line × site-local day: absolute kg CO₂e next to kg CO₂e per unit — a falling
    intensity with a rising total is the rebound effect (design brief §4)."""
    rows = [(d.site, d.line, d.day.isoformat(), d.amounts.total_location_co2e_kg,
             d.amounts.good_units, d.amounts.co2e_per_unit_kg)
            for d in sorted(inv.days, key=lambda d: (d.site, d.line, d.day))]
    return PlotData("rebound", "Rebound view: total kg CO2e and kg CO2e/unit per day",
                    ("site", "line", "day", "co2e_kg", "good_units", "co2e_per_unit_kg"),
                    rows)
