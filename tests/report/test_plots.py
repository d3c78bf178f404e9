"""Each plot's exported CSV against the series in InfluxDB it stands for, and each drawn figure
against the CSV beside it (the plot draws exactly the data it exports)."""

from __future__ import annotations

import math
from datetime import datetime

import matplotlib.dates as mdates
import numpy as np
import pytest
from carbonline.config import load_config
from carbonline.report.collect import collect
from carbonline.report.ghg import inventory_of
from carbonline.report.model import Period
from carbonline.report.plotdata import all_plots
from carbonline.report.plots import draw
from carbonline.report.query import SeriesReader
from carbonline.series import rfc3339

from .conftest import Week
from .test_totals import read_csv


def test_intensity_plot_data_equals_hourly_sums(week: Week, report_dir) -> None:
    hours = week.query(
        'SELECT sum("co2e_kg") AS "co2e_kg", sum("good_units") AS "good_units" FROM '
        f"\"carbon_intensity\" WHERE \"window\" = '1m' AND time >= {week.start_ns} AND "
        f'time < {week.end_ns} GROUP BY time(1h), "line"')
    rows = {(r["line"], r["bucket_start"]): r
            for r in read_csv(report_dir / "plots" / "intensity_vs_baseline.csv")}
    assert len(rows) == len(hours) == 3 * 6 * 24
    for h in hours:
        row = rows[(h["line"], rfc3339(h["time"]))]
        assert float(row["co2e_kg"]) == pytest.approx(h["co2e_kg"], rel=1e-9)
        assert float(row["co2e_per_unit_kg"]) == pytest.approx(h["co2e_kg"] / h["good_units"],
                                                               rel=1e-9)


def test_baseline_in_plot_is_the_unit_weighted_baseline(week: Week, report_dir) -> None:
    """One hour checked by hand from the raw 1m points: Σ baseline × units / Σ units."""
    row = next(r for r in read_csv(report_dir / "plots" / "intensity_vs_baseline.csv")
               if r["line"] == "line2" and r["bucket_start"] == "2026-03-05T10:00:00Z")
    start = int(datetime.fromisoformat("2026-03-05T10:00:00+00:00").timestamp()) * 10**9
    points = week.query(
        'SELECT "baseline_co2e_per_unit_kg", "good_units" FROM "carbon_intensity" WHERE '
        f"\"window\" = '1m' AND \"line\" = 'line2' AND time >= {start} AND "
        f"time < {start + 3600 * 10**9}")
    based = [p for p in points
             if p["baseline_co2e_per_unit_kg"] is not None and p["good_units"] > 0]
    assert based, "the analyser had a baseline for line2 by day 4"
    expected = (math.fsum(p["baseline_co2e_per_unit_kg"] * p["good_units"] for p in based)
                / math.fsum(p["good_units"] for p in based))
    assert float(row["baseline_co2e_per_unit_kg"]) == pytest.approx(expected, rel=1e-9)


def test_rebound_and_scope_split_data(week: Week, report_dir) -> None:
    days = week.query(
        'SELECT sum("co2e_kg") AS "co2e_kg", sum("good_units") AS "good_units" FROM '
        f"\"carbon_intensity\" WHERE \"window\" = '1m' AND time >= {week.start_ns} AND "
        f'time < {week.end_ns} GROUP BY time(1d), "line"')
    rebound = {(r["line"], r["day"]): r for r in read_csv(report_dir / "plots" / "rebound.csv")}
    assert len(rebound) == len(days) == 18
    for d in days:
        row = rebound[(d["line"], rfc3339(d["time"])[:10])]
        assert float(row["co2e_kg"]) == pytest.approx(d["co2e_kg"], rel=1e-9)
        assert float(row["good_units"]) == d["good_units"]
    lines = week.query(
        'SELECT sum("scope1_co2e_kg") AS "s1", sum("scope2_location_co2e_kg") AS "loc", '
        'sum("scope2_market_co2e_kg") AS "mkt" FROM "carbon_intensity" WHERE "window" = '
        f"'1m' AND time >= {week.start_ns} AND time < {week.end_ns} GROUP BY \"line\"")
    split = {r["line"]: r for r in read_csv(report_dir / "plots" / "scope_split.csv")}
    for line in lines:
        row = split[line["line"]]
        assert float(row["scope1_co2e_kg"]) == pytest.approx(line["s1"], rel=1e-9)
        assert float(row["scope2_location_co2e_kg"]) == pytest.approx(line["loc"], rel=1e-9)
        assert float(row["scope2_market_co2e_kg"]) == pytest.approx(line["mkt"], rel=1e-9)


def test_sku_distribution_and_alert_data(week: Week, report_dir) -> None:
    points = week.query(
        'SELECT "co2e_kg", "good_units" FROM "carbon_intensity" WHERE "window" = \'1m\' AND '
        f'"good_units" > 0 AND time >= {week.start_ns} AND time < {week.end_ns} '
        'GROUP BY "line", "sku"')
    drawn = {(r["line"], r["sku"], r["time"]): float(r["co2e_per_unit_kg"])
             for r in read_csv(report_dir / "plots" / "sku_distribution.csv")}
    assert len(drawn) == len(points)
    for p in points:
        assert drawn[(p["line"], p["sku"], rfc3339(p["time"]))] == pytest.approx(
            p["co2e_kg"] / p["good_units"], rel=1e-12)
    alerts = week.query(
        'SELECT "alert_id", "state" FROM "carbon_alert" WHERE '
        f"time >= {week.start_ns} AND time < {week.end_ns}")
    spans = {r["alert_id"]: r for r in read_csv(report_dir / "plots" / "alert_timeline.csv")}
    assert alerts, "the seeded week has alerts"
    assert set(spans) == {a["alert_id"] for a in alerts}
    for a in alerts:
        edge = "start" if a["state"] == "firing" else "end"
        assert spans[a["alert_id"]][edge] == rfc3339(a["time"])
    for span in spans.values():  # never resolved in the period: drawn to its end, marked open
        resolved = any(a["alert_id"] == span["alert_id"] and a["state"] == "resolved"
                       for a in alerts)
        assert span["open"] == str(not resolved)


def _y(values: list[str]) -> list[float]:
    return [math.nan if v == "" else float(v) for v in values]


def test_figures_draw_the_exported_data(week: Week, report_dir) -> None:
    """The figures drawn from the report's data hold exactly the exported CSV's numbers."""
    plant = load_config(week.config)
    period = Period(week.start_ns, week.end_ns, plant.site.timezone)
    data = collect(SeriesReader(plant.sinks.influx), period, [plant.site.name])
    plots = {p.name: p for p in all_plots(data, inventory_of(data, plant))}
    assert sorted(plots) == sorted(p.stem for p in (report_dir / "plots").glob("*.csv"))

    intensity = read_csv(report_dir / "plots" / "intensity_vs_baseline.csv")
    (ax,) = draw(plots["intensity_vs_baseline"]).axes
    for line in ("line1", "line2", "line3"):
        rows = [r for r in intensity if r["line"] == line]
        solid, dashed = (a for a in ax.get_lines() if a.get_label().startswith(f"bremen/{line}"))
        assert list(solid.get_ydata()) == pytest.approx(_y([r["co2e_per_unit_kg"] for r in rows]),
                                                        nan_ok=True)
        assert list(dashed.get_ydata()) == pytest.approx(
            _y([r["baseline_co2e_per_unit_kg"] for r in rows]), nan_ok=True)
        assert [mdates.num2date(x).strftime("%Y-%m-%dT%H:%M:%SZ") for x in
                mdates.date2num(solid.get_xdata())] == [r["bucket_start"] for r in rows]

    split = read_csv(report_dir / "plots" / "scope_split.csv")
    (ax,) = draw(plots["scope_split"]).axes
    heights = [bar.get_height() for bar in ax.patches]
    n = len(split)  # bars in drawing order: Scope 1, Scope 2 location, Scope 1, Scope 2 market
    assert heights[:n] == pytest.approx([float(r["scope1_co2e_kg"]) for r in split])
    assert heights[n:2 * n] == pytest.approx([float(r["scope2_location_co2e_kg"]) for r in split])
    assert heights[3 * n:] == pytest.approx([float(r["scope2_market_co2e_kg"]) for r in split])

    rebound = read_csv(report_dir / "plots" / "rebound.csv")
    total, per_unit = draw(plots["rebound"]).axes
    for line, drawn_total, drawn_unit in zip(("line1", "line2", "line3"), total.get_lines(),
                                             per_unit.get_lines()):
        rows = [r for r in rebound if r["line"] == line]
        assert list(drawn_total.get_ydata()) == pytest.approx([float(r["co2e_kg"]) for r in rows])
        assert list(drawn_unit.get_ydata()) == pytest.approx(
            [float(r["co2e_per_unit_kg"]) for r in rows])

    sku = read_csv(report_dir / "plots" / "sku_distribution.csv")
    (ax,) = draw(plots["sku_distribution"]).axes
    labels = [t.get_text() for t in ax.get_xticklabels()]
    groups = {f"bremen/{r['line']}/{r['sku']}": [] for r in sku}
    for r in sku:
        groups[f"bremen/{r['line']}/{r['sku']}"].append(float(r["co2e_per_unit_kg"]))
    assert labels == list(groups)
    # a box's median is the horizontal line as wide as the box (0.5), centred on its position
    medians = {round(float(line.get_xdata().mean())): float(line.get_ydata()[0])
               for line in ax.get_lines()
               if len(line.get_xdata()) == 2 and math.isclose(float(abs(
                   line.get_xdata()[1] - line.get_xdata()[0])), 0.5)}
    assert medians == pytest.approx({i + 1: float(np.median(values))
                                     for i, values in enumerate(groups.values())})
