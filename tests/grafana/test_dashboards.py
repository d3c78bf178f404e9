"""The five dashboards: regenerated from code they equal the committed JSON; their structure is
what Grafana 11 (schemaVersion 41) and the series contract need; and every query — panel
targets, template variables, the alert annotation — expanded as Grafana expands it, runs
against the real InfluxDB seeded by ``seeded_influx`` and returns the columns it names, with
values checked against direct queries where a panel shows a total."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from carbonline.grafana.dashboards import build_all
from carbonline.grafana.datasource import DATASOURCE_UID

REPO = Path(__file__).resolve().parents[2]
COMMITTED = REPO / "grafana_dashboards"
UIDS = {"plant-overview.json": "carbonline-plant", "line-detail.json": "carbonline-line",
        "shift-sku-report.json": "carbonline-shift-sku", "fleet.json": "carbonline-fleet",
        "carbonline-health.json": "carbonline-health"}
#: Grafana's interval when a panel sets none: a 7-hour range over ~1000 px is about 30 s,
#: raised to the 1-minute windows' size by the tests (as a panel "min interval" would)
DEFAULT_INTERVAL_S = 60
MODELS = build_all()


@dataclass(frozen=True)
class Query:
    """One InfluxQL query of a dashboard and where it sits."""

    dashboard: str
    where: str  # "panel <title> <refId>", "variable <name>" or "annotation <name>"
    text: str
    interval_s: int = DEFAULT_INTERVAL_S
    time_from: str | None = None  # the panel's relative time override ("26w", "now/d")

    def __str__(self) -> str:
        return f"{self.dashboard}: {self.where}"


def _seconds(interval: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([smhd])", interval).groups()
    return int(number) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit]


def queries_of(name: str, model: dict) -> list[Query]:
    found = [Query(name, f"variable {v['name']}", v["query"])
             for v in model["templating"]["list"]]
    for panel in model["panels"]:
        interval = max(DEFAULT_INTERVAL_S, _seconds(panel["interval"])
                       if panel.get("interval") else 0)
        found += [Query(name, f"panel {panel['title']!r} {t['refId']}", t["query"], interval,
                        panel.get("timeFrom"))
                  for t in panel.get("targets", [])]
    found += [Query(name, f"annotation {a['name']}", a["target"]["query"])
              for a in model.get("annotations", {}).get("list", []) if "target" in a]
    return found


ALL_QUERIES = [q for name, model in MODELS.items() for q in queries_of(name, model)]


def columns_named(query: str) -> list[str]:
    """The aliases of the outermost SELECT, in order: the columns the query must return."""
    outer = re.split(r"\bFROM\b", query, maxsplit=1)[0]
    return re.findall(r'AS "([^"]+)"', outer)


# --- generated = committed ------------------------------------------------------------------

def test_the_five_dashboards_are_built_with_their_fixed_uids():
    assert {name: model["uid"] for name, model in MODELS.items()} == UIDS


@pytest.mark.parametrize("name", sorted(UIDS))
def test_regenerating_reproduces_the_committed_json_exactly(name):
    committed = (COMMITTED / name).read_text()
    assert json.dumps(MODELS[name], indent=2, sort_keys=True) + "\n" == committed, (
        f"{name} differs from what the code renders: run `carbonline grafana generate`")


# --- structure ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(UIDS))
def test_structure_is_what_grafana_11_and_the_series_contract_need(name):
    model = MODELS[name]
    assert model["schemaVersion"] == 41
    ids = [panel["id"] for panel in model["panels"]]
    assert len(ids) == len(set(ids)), f"duplicate panel ids {ids}"
    cells = [(x, y) for panel in model["panels"] for pos in [panel["gridPos"]]
             for x in range(pos["x"], pos["x"] + pos["w"]) for y in range(pos["y"],
                                                                         pos["y"] + pos["h"])]
    assert all(x < 24 for x, _ in cells), "a panel runs past the 24-column grid"
    assert len(cells) == len(set(cells)), "panels overlap"
    text = json.dumps(model)
    assert "${DS_" not in text and "__inputs" not in model
    datasources = list(_datasource_refs(model))
    assert datasources and all(ref == {"type": "influxdb", "uid": DATASOURCE_UID}
                               for ref in datasources), datasources
    for panel in model["panels"]:
        assert panel["fieldConfig"]["defaults"].get("unit"), f"{panel['title']} has no unit"
        assert panel.get("description"), f"{panel['title']} says nothing about itself"
    names = [v["name"] for v in model["templating"]["list"]]
    assert names and set(names) <= {"site", "line", "sku"}
    for variable in model["templating"]["list"]:
        assert variable["query"].startswith("SHOW TAG VALUES")
        assert f'WITH KEY = "{variable["name"]}"' in variable["query"]
        assert variable["multi"] and variable["includeAll"]


def _datasource_refs(node):
    if isinstance(node, dict):
        if "datasource" in node:
            yield node["datasource"]
        for key, value in node.items():
            if key != "datasource":
                yield from _datasource_refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _datasource_refs(item)


@pytest.mark.parametrize("query", ALL_QUERIES, ids=str)
def test_every_query_follows_the_series_contract(query):
    """Windowed measurements are filtered on one window; intensity is never an average of
    per-window ratios (the written co2e_per_unit_kg field is not read — except an alert's own
    reported value, ``last`` of carbon_alert's field); per-unit columns divide sums; every
    template variable is used as a multi-value regex."""
    text = query.text
    if query.where.startswith("variable"):
        return
    for measurement in ("carbon_intensity", "carbon_machine"):
        if f'FROM "{measurement}"' in text:
            assert re.search(r"\"window\" = '(1m|15m|shift|day)'", text), text
    assert '"co2e_per_unit_kg")' not in text.replace('last("co2e_per_unit_kg")', ""), text
    assert not re.search(r"(mean|median)\(\"(co2e_per_unit_kg|energy_per_unit_kwh)\"", text)
    for per_unit, (numerator, denominator) in {
            "kg CO₂e/unit": ("co2e_kg", "good_units"),
            "kWh/unit": ("energy_kwh", "good_units")}.items():
        if f'AS "{per_unit}"' in text and "FROM (" not in text:
            assert re.search(rf'sum\("{numerator}"\) / sum\("{denominator}"\) AS "{per_unit}"'
                             rf'|"{numerator}" / "{denominator}" AS "{per_unit}"', text), text
    for variable in re.findall(r"\$(site|line|sku)\b", text):
        assert f'"{variable}" =~ /^${variable}$/' in text, text
    assert "$timeFilter" in text
    assert columns_named(text), "every column is aliased"


# --- every query against the seeded InfluxDB -------------------------------------------------

@pytest.fixture(scope="module")
def all_values(seeded_influx, expand_macros):
    """What "All" selects for each variable of each dashboard: the values its own variable
    query returns (run in order, the earlier variables at All), as Grafana resolves them."""
    values: dict[str, dict[str, list[str]]] = {}
    for name, model in MODELS.items():
        chosen: dict[str, list[str]] = {}
        for variable in model["templating"]["list"]:
            text = expand_macros(variable["query"], start_ns=seeded_influx.start_ns,
                                 end_ns=seeded_influx.end_ns, interval_s=DEFAULT_INTERVAL_S,
                                 variables=chosen)
            body = seeded_influx.influx.query(text, seeded_influx.database)
            series = body["results"][0].get("series", [])
            chosen[variable["name"]] = sorted({row[1] for s in series for row in s["values"]})
        values[name] = chosen
    return values


def panel_start(time_from: str | None, start_ns: int, end_ns: int) -> int:
    """The range start a panel's relative time override gives (Grafana: ``timeFrom`` replaces
    the dashboard's range by the last N units up to its end; ``now/d`` is the day so far, at
    the browser's midnight — UTC here)."""
    if time_from is None:
        return start_ns
    if time_from == "now/d":
        return end_ns - end_ns % (86400 * 10**9)
    number, unit = re.fullmatch(r"(\d+)([hdw])", time_from).groups()
    return end_ns - int(number) * {"h": 3600, "d": 86400, "w": 7 * 86400}[unit] * 10**9


def run(seeded_influx, expand_macros, all_values, query: Query, start_ns: int | None = None,
        end_ns: int | None = None) -> list[dict]:
    end_ns = end_ns or seeded_influx.end_ns
    start_ns = panel_start(query.time_from, start_ns or seeded_influx.start_ns, end_ns)
    text = expand_macros(query.text, start_ns=start_ns, end_ns=end_ns,
                         interval_s=query.interval_s,
                         variables=all_values[query.dashboard])
    assert "$" not in text.replace("$/", "/"), f"unexpanded macro in {text}"
    body = seeded_influx.influx.query(text, seeded_influx.database)
    (result,) = body["results"]
    return result.get("series", [])


#: the one panel that shows a state at the end of the range (alerts still open): run with the
#: range ending in the middle of the seeded valve leak, when its alert is open
OPEN_ALERTS = "panel 'Open alerts and probable cause' A"


@pytest.mark.parametrize("query", ALL_QUERIES, ids=str)
def test_every_query_returns_its_columns_with_values(seeded_influx, expand_macros, all_values,
                                                     query):
    end = None
    if query.where == OPEN_ALERTS:
        start, stop = seeded_influx.periods["valve_leak"]
        end = (start + stop) // 2
    series = run(seeded_influx, expand_macros, all_values, query, end_ns=end)
    assert series, f"{query} returned nothing"
    if query.where.startswith("variable"):
        assert all(s["columns"] == ["key", "value"] for s in series)
        assert all(s["values"] for s in series)
        return
    expected = ["time", *columns_named(query.text)]
    for s in series:
        assert s["columns"] == expected, (query.text, s["columns"])
    values = [v for s in series for row in s["values"] for v in row[1:] if v is not None]
    assert values, f"{query}: every value is null"


def test_variables_list_the_seeded_sites_lines_and_skus(seeded_influx, all_values):
    plant = all_values["plant-overview.json"]
    assert plant["site"] == sorted(seeded_influx.sites)
    assert plant["line"] == ["line1", "line2", "line3"]
    assert set(all_values["shift-sku-report.json"]["sku"]) >= set(seeded_influx.thresholds)


def _panel_query(dashboard: str, title: str, ref: str = "A") -> Query:
    (query,) = [q for q in ALL_QUERIES if q.dashboard == dashboard
                and q.where == f"panel {title!r} {ref}"]
    return query


def _direct(seeded_influx, q: str) -> list[dict]:
    body = seeded_influx.influx.query(q, seeded_influx.database)
    return body["results"][0].get("series", [])


def _span(seeded_influx) -> str:
    return f"time >= {seeded_influx.start_ns} AND time <= {seeded_influx.end_ns}"


def test_fleet_ranking_equals_the_sites_totals_from_the_one_minute_windows(
        seeded_influx, expand_macros, all_values):
    """The ranking (15-minute windows) against Σ of every 1-minute window per site: totals do
    not depend on the window size, and the efficiency is Σ units / Σ kg."""
    ranking = run(seeded_influx, expand_macros, all_values,
                  _panel_query("fleet.json", "Carbon efficiency ranking"))
    shown = {s["tags"]["site"]: dict(zip(s["columns"], s["values"][0])) for s in ranking}
    assert sorted(shown) == sorted(seeded_influx.sites)
    for site, row in shown.items():
        ((_, kg, units),) = _direct(
            seeded_influx, f"SELECT sum(co2e_kg), sum(good_units) FROM carbon_intensity "
            f"WHERE \"window\" = '1m' AND site = '{site}' AND {_span(seeded_influx)}")[0]["values"]
        assert math.isclose(row["kg CO₂e"], kg, rel_tol=1e-9)
        assert math.isclose(row["units"], units, rel_tol=1e-9)
        assert math.isclose(row["units/kg CO₂e"], units / kg, rel_tol=1e-9)
        assert math.isclose(row["kg CO₂e/unit"], kg / units, rel_tol=1e-9)
    # bremen carried a leak and a grid spike: it is the least efficient site
    assert min(shown, key=lambda site: shown[site]["units/kg CO₂e"]) == "bremen"


def test_the_plant_total_equals_a_direct_sum_over_every_site_and_line(
        seeded_influx, expand_macros, all_values):
    (series,) = run(seeded_influx, expand_macros, all_values,
                    _panel_query("plant-overview.json", "kg CO₂e today"))
    ((_, total),) = series["values"]
    ((_, direct),) = _direct(seeded_influx, f"SELECT sum(co2e_kg) FROM carbon_intensity "
                             f"WHERE \"window\" = '15m' AND {_span(seeded_influx)}")[0]["values"]
    assert math.isclose(total, direct, rel_tol=1e-9)


def test_shift_report_rows_are_sums_of_their_minutes(seeded_influx, expand_macros, all_values):
    """Each shift × SKU row (shift windows) against Σ of its 1-minute windows, its kg/unit
    against its own Σ kg / Σ units, and the baseline columns merged in from the 1-minute rows."""
    query = _panel_query("shift-sku-report.json", "Shift × SKU")
    rows = run(seeded_influx, expand_macros, all_values, query)
    baseline = run(seeded_influx, expand_macros, all_values,
                   _panel_query("shift-sku-report.json", "Shift × SKU", "B"))
    assert {tuple(sorted(s["tags"].items())) for s in rows} == {
        tuple(sorted(s["tags"].items())) for s in baseline}
    assert len(rows) == 9  # 3 sites × 3 lines, one shift and one SKU each in the span
    for s in rows:
        row = dict(zip(s["columns"], s["values"][0]))
        tags = s["tags"]
        match = " AND ".join(f"{k} = '{v}'" for k, v in tags.items())
        ((_, kg, units),) = _direct(
            seeded_influx, f"SELECT sum(co2e_kg), sum(good_units) FROM carbon_intensity WHERE "
            f"\"window\" = '1m' AND {match} AND {_span(seeded_influx)}")[0]["values"]
        assert math.isclose(row["kg CO₂e"], kg, rel_tol=1e-9), tags
        assert math.isclose(row["units"], units, rel_tol=1e-9), tags
        assert math.isclose(row["kg CO₂e/unit"], row["kg CO₂e"] / row["units"], rel_tol=1e-12)


def test_open_alerts_name_the_leaking_compressor_during_the_leak_and_none_after(
        seeded_influx, expand_macros, all_values):
    query = _panel_query("plant-overview.json", "Open alerts and probable cause")
    start, stop = seeded_influx.periods["valve_leak"]
    during = run(seeded_influx, expand_macros, all_values, query, end_ns=(start + stop) // 2)
    site, line = seeded_influx.where["valve_leak"]
    shown = [(s["tags"], dict(zip(s["columns"], s["values"][0]))) for s in during]
    assert [(t["site"], t["line"], t["cause"], row["machine"]) for t, row in shown] == [
        (site, line, "equipment", "compressor2")]
    assert "compressor2" in shown[0][1]["message"]
    assert run(seeded_influx, expand_macros, all_values, query) == []  # all resolved by 13:00


def test_alert_annotations_carry_the_probable_cause(seeded_influx, expand_macros, all_values):
    (query,) = [q for q in ALL_QUERIES if q.where == "annotation carbonline alerts"]
    start, stop = seeded_influx.periods["valve_leak"]
    (series,) = run(seeded_influx, expand_macros, all_values, query, start_ns=start,
                    end_ns=stop)
    events = [dict(zip(series["columns"], row)) for row in series["values"]]
    firing = [e for e in events if e["state"] == "firing"]
    assert [(e["cause"], e["machine"]) for e in firing] == [("equipment", "compressor2")]
    normal = run(seeded_influx, expand_macros, all_values, query,
                 *seeded_influx.periods["normal"])
    assert normal == []


def test_reading_age_shows_the_silent_line_and_only_it(seeded_influx, expand_macros,
                                                       all_values):
    query = _panel_query("carbonline-health.json", "Reading age per line")
    ages = {}
    for period in ("normal", "line_silent"):
        series = run(seeded_influx, expand_macros, all_values, query,
                     *seeded_influx.periods[period])
        ages[period] = {(s["tags"]["site"], s["tags"]["line"]):
                        max(v for _, v in s["values"] if v is not None) for s in series}
    silent = seeded_influx.where["line_silent"]
    assert max(ages["normal"].values()) <= 60
    assert ages["line_silent"][silent] >= 20 * 60 - 60
    assert all(age <= 60 for key, age in ages["line_silent"].items()
               if key[0] != silent[0])


def test_accepted_readings_per_interval_add_up_to_the_run_s_count(seeded_influx, expand_macros,
                                                                  all_values):
    query = _panel_query("carbonline-health.json", "Readings accepted, rejected, late")
    for s in run(seeded_influx, expand_macros, all_values, query):
        site = s["tags"]["site"]
        shown = sum(row[1] for row in s["values"] if row[1] is not None)
        ((_, first, last),) = _direct(
            seeded_influx, f"SELECT first(accepted), last(accepted) FROM carbonline_health "
            f"WHERE site = '{site}' AND component = 'engine' AND line = '' AND "
            f"{_span(seeded_influx)}")[0]["values"]
        assert shown == last - first and shown > 0


def test_macros_expand_as_grafana_s_influxdb_data_source_does(expand_macros):
    """Expected forms from Grafana's source (conftest cites it): the backend's time filter in
    ms, gtime.FormatInterval's truncated text, escapeRegex'd values joined as (a|b)."""
    text = expand_macros('SELECT 1 FROM m WHERE "site" =~ /^$site$/ AND "line" =~ /^${line}$/ '
                         "AND $timeFilter AND $__timeFilter GROUP BY time($__interval), "
                         "time($interval) LIMIT $__interval_ms",
                         start_ns=1_500_000_000, end_ns=2_700_000_000, interval_s=90,
                         variables={"site": ["bremen", "a.b(c)"], "line": ["l1"]})
    assert text == ('SELECT 1 FROM m WHERE "site" =~ /^(bremen|a\\.b\\(c\\))$/ AND '
                    '"line" =~ /^(l1)$/ AND time >= 1500ms and time <= 2700ms AND '
                    "time >= 1500ms and time <= 2700ms GROUP BY time(1m), time(1m) LIMIT 90000")
