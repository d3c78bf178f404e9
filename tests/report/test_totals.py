"""The report's figures against InfluxDB's own sums of the seeded week (``conftest.week``): the
GHG inventory per line and site, Scope 1 by gas, ESRS E1 totals both ways, data quality."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from carbonline.factors.fuels import fuels
from carbonline.factors.gwp import gwp_set
from carbonline.report.cli import report
from carbonline.series import rfc3339

from .conftest import REVENUE_2026, Week

FIELDS = ("electricity_kwh", "fuel_kwh", "scope1_co2e_kg", "scope2_location_co2e_kg",
          "scope2_market_co2e_kg", "good_units", "co2e_kg", "energy_kwh")


def influx_sums(week: Week, group_by: str = "") -> list[dict]:
    """Independent InfluxQL sums of the 1m windows in the report period."""
    sums = ", ".join(f'sum("{f}") AS "{f}"' for f in FIELDS)
    return week.query(
        f'SELECT {sums} FROM "carbon_intensity" WHERE "window" = \'1m\' AND "site" = '
        f"'{week.site}' AND time >= {week.start_ns} AND time < {week.end_ns}"
        + (f" GROUP BY {group_by}" if group_by else ""))


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_line_totals_equal_influx_sums(week: Week, report_dir: Path) -> None:
    expected = {row["line"]: row for row in influx_sums(week, '"line"')}
    lines = {row["line"]: row for row in read_csv(report_dir / "ghg_lines.csv")}
    assert sorted(lines) == sorted(expected) == ["line1", "line2", "line3"]
    for line, sums in expected.items():
        for name in ("electricity_kwh", "fuel_kwh", "scope1_co2e_kg",
                     "scope2_location_co2e_kg", "scope2_market_co2e_kg", "good_units",
                     "energy_kwh"):
            assert float(lines[line][name]) == pytest.approx(sums[name], rel=1e-9), (line, name)
        assert float(lines[line]["total_location_co2e_kg"]) == pytest.approx(sums["co2e_kg"],
                                                                             rel=1e-9)
        assert float(lines[line]["co2e_per_unit_kg"]) == pytest.approx(
            sums["co2e_kg"] / sums["good_units"], rel=1e-9)
        assert lines[line]["unit"] == "cases"  # the plant config's production unit


def test_site_and_day_totals_equal_influx_sums(week: Week, report_dir: Path) -> None:
    (site_sums,) = influx_sums(week)
    doc = json.loads((report_dir / "ghg.json").read_text())
    (site,) = [row for row in doc["sites"] if row["site"] == week.site]
    for name in ("scope1_co2e_kg", "scope2_location_co2e_kg", "scope2_market_co2e_kg",
                 "energy_kwh", "good_units"):
        assert site[name] == pytest.approx(site_sums[name], rel=1e-9)
    days = influx_sums(week, 'time(1d), "line"')  # the site runs on UTC: days cut at 00:00Z
    assert len(doc["days"]) == len(days) == 6 * 3
    by_key = {(d["day"], d["line"]): d for d in doc["days"]}
    for d in days:
        row = by_key[(rfc3339(d["time"])[:10], d["line"])]
        assert row["total_location_co2e_kg"] == pytest.approx(d["co2e_kg"], rel=1e-9)
        assert row["scope2_market_co2e_kg"] == pytest.approx(d["scope2_market_co2e_kg"],
                                                             rel=1e-9)


def test_market_based_differs_where_the_ppa_covers(report_dir: Path) -> None:
    """The wind PPA (0 kg/kWh) lowers market-based Scope 2 below location-based; both shown."""
    for row in read_csv(report_dir / "ghg_lines.csv"):
        assert float(row["scope2_market_co2e_kg"]) < float(row["scope2_location_co2e_kg"])


def test_scope1_by_fuel_and_gas(week: Week, report_dir: Path) -> None:
    """line3's oven burns natural gas: the recorded CO₂e is split by the IPCC 2006 ratios with
    AR6 GWPs, and the gases add back up to it."""
    (row,) = read_csv(report_dir / "ghg_scope1_by_fuel.csv")
    (line3,) = [r for r in influx_sums(week, '"line"') if r["line"] == "line3"]
    assert (row["line"], row["fuel"], row["gwp_set"]) == ("line3", "natural_gas", "AR6")
    co2e, co2, ch4, n2o = (float(row[k]) for k in ("co2e_kg", "co2_kg", "ch4_kg", "n2o_kg"))
    assert co2e == pytest.approx(line3["scope1_co2e_kg"], rel=1e-9)
    gwp = gwp_set("AR6")
    assert co2 + ch4 * gwp.ch4("non_fossil") + n2o * gwp["N2O"] == pytest.approx(co2e, rel=1e-9)
    gas = fuels()["natural_gas"]
    assert co2 / ch4 == pytest.approx(gas.co2_kg_per_tj / gas.ch4_kg_per_tj, rel=1e-9)
    assert co2 / n2o == pytest.approx(gas.co2_kg_per_tj / gas.n2o_kg_per_tj, rel=1e-9)
    # the metered amount: kWh over the configured net calorific value (10 kWh/m³)
    assert float(row["amount"]) == pytest.approx(line3["fuel_kwh"] / 10.0, rel=1e-9)
    assert row["amount_unit"] == "m3"


def datapoints(report_dir: Path) -> dict[str, dict]:
    doc = json.loads((report_dir / "esrs_e1.json").read_text())
    return {d["datapoint"]: d for d in doc["datapoints"]}


def test_esrs_totals_both_ways(week: Week, report_dir: Path) -> None:
    (sums,) = influx_sums(week)
    points = datapoints(report_dir)
    scope1 = sums["scope1_co2e_kg"] / 1000
    location = sums["scope2_location_co2e_kg"] / 1000
    market = sums["scope2_market_co2e_kg"] / 1000
    value = {name: p["value"] for name, p in points.items()}
    assert value["gross Scope 1 GHG emissions"] == pytest.approx(scope1, rel=1e-9)
    assert value["gross location-based Scope 2 GHG emissions"] == pytest.approx(location, rel=1e-9)
    assert value["gross market-based Scope 2 GHG emissions"] == pytest.approx(market, rel=1e-9)
    assert value["total GHG emissions (location-based)"] == pytest.approx(scope1 + location,
                                                                         rel=1e-9)
    assert value["total GHG emissions (market-based)"] == pytest.approx(scope1 + market,
                                                                       rel=1e-9)
    assert points["total GHG emissions (market-based)"]["unit"] == "t CO2e"
    # six days of the 2026 revenue, t CO2e per million EUR
    revenue = REVENUE_2026 * 6 / 365
    assert value["net revenue"] == pytest.approx(revenue, rel=1e-12)
    assert value["GHG intensity per net revenue (location-based)"] == pytest.approx(
        (scope1 + location) / (revenue / 1e6), rel=1e-9)
    assert value["GHG intensity per net revenue (market-based)"] == pytest.approx(
        (scope1 + market) / (revenue / 1e6), rel=1e-9)
    assert points["GHG intensity per net revenue (market-based)"]["unit"] == \
        "t CO2e per million EUR"


def test_esrs_energy_mix(week: Week, report_dir: Path) -> None:
    """E1-5 in MWh; the gas is fossil (an IPCC fuel); the grid mix is not in the factor data."""
    (sums,) = influx_sums(week)
    value = {name: p["value"] for name, p in datapoints(report_dir).items()}
    assert value["total energy consumption"] == pytest.approx(sums["energy_kwh"] / 1000, rel=1e-9)
    assert value["electricity consumption"] == pytest.approx(sums["electricity_kwh"] / 1000,
                                                             rel=1e-9)
    assert value["fuel consumption from fossil sources"] == pytest.approx(
        sums["fuel_kwh"] / 1000, rel=1e-9)
    for name in ("total fossil sources", "nuclear sources", "renewable sources"):
        assert value[name] == "not determinable"


def test_quality_and_revision_statement(week: Week, report_dir: Path) -> None:
    """Windows counted per line as InfluxDB holds them; the report says which revision it is."""
    minutes = week.query(
        'SELECT count("s") FROM (SELECT sum("co2e_kg") AS "s" FROM "carbon_intensity" WHERE '
        f"\"window\" = '1m' AND time >= {week.start_ns} AND time < {week.end_ns} "
        'GROUP BY time(1m), "line") GROUP BY "line"')
    quality = {q["line"]: q for q in read_csv(report_dir / "ghg_quality.csv")}
    assert sorted(quality) == sorted(m["line"] for m in minutes)
    for m in minutes:
        q = quality[m["line"]]
        assert int(q["windows"]) == m["count"]
        assert int(q["expected_windows"]) == 6 * 1440
        assert int(q["max_revision"]) == 1 and int(q["revised_windows"]) == 0
    doc = json.loads((report_dir / "ghg.json").read_text())
    assert "current revision" in doc["revision"]
    assert "current revision" in json.loads((report_dir / "esrs_e1.json").read_text())["revision"]
    factors = read_csv(report_dir / "ghg_factors.csv")
    assert {f["basis"] for f in factors} == {"location", "market"}
    assert all(int(f["points"]) == 6 * 96 for f in factors)  # one per 15 minutes


def test_without_config_every_site_and_no_gas_split(week: Week, tmp_path: Path) -> None:
    """``--influx``/``--database``: every site in the database, fuels unnamed, no revenue."""
    result = CliRunner().invoke(report, [
        "--from", "2026-03-04", "--to", "2026-03-05", "--format", "ghg", "--format", "esrs",
        "--influx", week.influx.url, "--database", week.database, "--out", str(tmp_path),
        "--no-progress"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"ghg_{t}.csv" for t in ("lines", "sites", "skus", "scope1_by_fuel", "quality",
                                  "factors", "days")] + ["ghg.json", "esrs_e1.csv", "esrs_e1.json"])
    (fuel,) = read_csv(tmp_path / "ghg_scope1_by_fuel.csv")
    assert (fuel["line"], fuel["fuel"], fuel["co2_kg"]) == ("line3", "unspecified", "")
    assert [r["site"] for r in read_csv(tmp_path / "ghg_sites.csv")] == [week.site, "(all)"]
    value = {name: p["value"] for name, p in datapoints(tmp_path).items()}
    assert value["net revenue"] == "not determinable"
    assert value["fuel consumption from fossil sources"] == "not determinable"
