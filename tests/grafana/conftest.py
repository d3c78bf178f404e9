"""Fixtures shared by the Grafana tests: a real InfluxDB seeded through carbonline's own code,
and Grafana's InfluxQL macro expansion, so every dashboard and alert query can be run as
Grafana would run it.

``seeded_influx`` — three simulated sites, 2026-03-02 06:00–13:00 UTC (seeds 1, 2, 3), each
read minute by minute by a :class:`~carbonline.live.LiveRun` (engine + analyser, the
line-protocol parser of an InfluxDB subscription as its source, the InfluxDB sink as its output)
whose health rows are stamped with the simulated clock. Nothing is written by hand:

=============  ==========================  =====================================================
period         UTC                         what happens
=============  ==========================  =====================================================
normal         07:45–08:55                 every site runs normally (baselines learnt by then)
valve_leak     09:00–09:45                 bremen line2: compressor2 loaded by a leak (0.9)
line_silent    10:00–10:20                 lyon: no reading from any meter (network drop),
                                           line1's ``last_reading_age_s`` grows to 20 min
grid_spike     11:00–12:00                 bremen: grid factor × 1.6
=============  ==========================  =====================================================

Every line runs its "b" SKU that day. ``[analysis] thresholds`` sets :data:`THRESHOLDS` (kg
CO₂e/unit) for line2's ``sku-2b`` at every site: measured on 5-minute sums (Σ co2e_kg /
Σ good_units), bremen line2 stays within 0.62–0.79 in the normal period and is 0.85–1.24
during the leak, 1.0–1.3 during the grid spike; single 1-minute windows are far noisier
(0.54–1.67 in the normal period), so alert queries should sum over 5 minutes or more. The grid
factor is at most 0.31 kg/kWh in the normal period and at least 0.45 in the spike; lyon's
line1 reading age is 10 s in the normal period and reaches 1210 s in the silence.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pytest
from carbonline.config import parse_config
from carbonline.live import LiveRun
from carbonline.plant import build_plant
from carbonline.records import NS_PER_S, to_ns
from carbonline.simulate import files
from carbonline.simulate.model import layout, simulate
from carbonline.simulate.scenario import Event, Scenario

from servers.influxdb import InfluxDB

MINUTE_NS = 60 * NS_PER_S
START_NS = to_ns(datetime(2026, 3, 2, 6, tzinfo=timezone.utc))
DURATION_S = 7 * 3600
#: kg CO₂e per good unit, per SKU, configured in every seeded plant's ``[analysis]``
THRESHOLDS = {"sku-2b": 0.83}


def at(hhmm: str) -> int:
    """ns UTC of ``hh:mm`` on the seeded day (2026-03-02)."""
    hour, minute = map(int, hhmm.split(":"))
    return to_ns(datetime(2026, 3, 2, hour, minute, tzinfo=timezone.utc))


#: site → (seed, the scenario's events); every site is a simulated plant of 3 lines × 5 machines
SITES: dict[str, tuple[int, list[Event]]] = {
    "bremen": (1, [
        Event(kind="air_leak", line="line2", machine="compressor2", start=3 * 3600,
              duration=45 * 60, size=0.9),
        Event(kind="grid_spike", start=5 * 3600, duration=3600, size=1.6)]),
    "lyon": (2, [Event(kind="network_drop", start=4 * 3600, duration=20 * 60)]),
    "porto": (3, []),
}
PERIODS = {"normal": (at("07:45"), at("08:55")), "valve_leak": (at("09:00"), at("09:45")),
           "line_silent": (at("10:00"), at("10:20")), "grid_spike": (at("11:00"), at("12:00"))}
WHERE = {"normal": ("bremen", "line2"), "valve_leak": ("bremen", "line2"),
         "line_silent": ("lyon", "line1"), "grid_spike": ("bremen", "line2")}


@dataclass
class SeededInflux:
    """The seeded database and what is in it, in the terms tests ask about."""

    influx: InfluxDB
    database: str
    start_ns: int
    end_ns: int
    sites: list[str]
    #: name → (start, end) ns UTC; see the module docstring
    periods: dict[str, tuple[int, int]]
    #: name → (site, line) the period concerns ("normal" names one to look at; all are normal)
    where: dict[str, tuple[str, str]]
    thresholds: dict[str, float] = field(default_factory=lambda: dict(THRESHOLDS))


def seed_site(site: str, seed: int, events: list[Event], output: str, work: Path) -> None:
    """Simulate ``site`` and run it through a LiveRun into ``output``, one simulated minute at
    a time: the minute's line protocol parsed by the run's own source (input ``-``, whose
    ``parse`` takes a body as an InfluxDB subscription POST is taken; stdin is never read),
    then a health row set stamped at the minute's end — so ``last_reading_age_s`` is the age
    a live run reports, in simulated seconds."""
    plant_layout = layout(3, 5, site=site)
    scenario = Scenario(name=f"grafana-{site}", description="seeded for the Grafana tests",
                        duration=DURATION_S, events=events)
    signals = simulate(plant_layout, scenario, START_NS, DURATION_S, seed)
    grid = work / f"{site}.grid.csv"
    files.write_grid_csv(signals, grid)
    doc = tomllib.loads(files.plant_toml(plant_layout, grid))
    doc["engine"]["machine_windows"] = ["1m", "15m"]
    doc["analysis"] = {"enabled": True, "thresholds": THRESHOLDS}
    clock = [START_NS]
    live = LiveRun(build_plant(parse_config(doc)), inputs=["-"], outputs=[output],
                   wall_clock=lambda: clock[0])
    (source,) = live.sources
    minute, lines = START_NS, []
    for tick, chunk in files.ticks_as_lines(plant_layout, signals):
        while tick >= minute + MINUTE_NS:
            _feed_minute(live, source, lines, clock, minute + MINUTE_NS)
            minute, lines = minute + MINUTE_NS, []
        lines.extend(chunk)
    _feed_minute(live, source, lines, clock, minute + MINUTE_NS)
    live.close()  # flush the open windows, last health rows, close the sink


def _feed_minute(live: LiveRun, source, lines: list[str], clock: list[int], end: int) -> None:
    if lines:
        live.feed(source, source.parse("\n".join(lines)))
    clock[0] = end
    live.write_health()


@pytest.fixture(scope="session")
def seeded_influx(influxdb: InfluxDB, tmp_path_factory: pytest.TempPathFactory
                  ) -> Iterator[SeededInflux]:
    """The session's InfluxDB with database ``carbonline_grafana`` seeded as the module
    docstring says (read-only for tests: they share it)."""
    database = "carbonline_grafana"
    influxdb.create_database(database)
    work = tmp_path_factory.mktemp("grafana-seed")
    for site, (seed, events) in SITES.items():
        seed_site(site, seed, events, f"{influxdb.url}?db={database}", work)
    yield SeededInflux(influxdb, database, START_NS, START_NS + DURATION_S * NS_PER_S,
                       list(SITES), dict(PERIODS), dict(WHERE))
    influxdb.query(f'DROP DATABASE "{database}"')


# --- Grafana's InfluxQL macros ------------------------------------------------------------------
# As Grafana's InfluxDB data source expands them (InfluxQL raw mode):
# - $timeFilter, $interval, $__interval_ms, $__interval: the backend, grafana/grafana
#   pkg/tsdb/influxdb/models/query.go `Build` (time filter "time >= {from}ms and time <= {to}ms",
#   interval text from grafana-plugin-sdk-go gtime.FormatInterval); $__timeFilter is the same
#   filter (https://grafana.com/docs/grafana/latest/datasources/influxdb/query-editor/ — "Use
#   $timeFilter or $__timeFilter"; alert rules and panels of Grafana 11 both run in the backend).
# - template variables: public/app/plugins/datasource/influxdb/datasource.ts
#   `interpolateQueryExpr`: a multi-value variable's values are regex-escaped (@grafana/data
#   `escapeRegex`) and joined as "(a|b)"; "All" without a custom all value stands for every
#   value (https://grafana.com/docs/grafana/latest/datasources/influxdb/template-variables/ and
#   https://grafana.com/docs/grafana/latest/dashboards/variables/variable-syntax/).

_REGEX_SPECIAL = re.compile(r"[\\^$*+?.()|\[\]{}/]")
_UNITS = (("y", 365 * 86400), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def grafana_interval_text(seconds: int) -> str:
    """``gtime.FormatInterval``: the largest unit that fits, truncated (90 s → "1m")."""
    for unit, size in _UNITS:
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return "1ms"


def escape_regex(value: str) -> str:
    """@grafana/data ``escapeRegex``."""
    return _REGEX_SPECIAL.sub(lambda m: "\\" + m.group(0), value)


def expand(query: str, *, start_ns: int, end_ns: int, interval_s: int,
           variables: dict[str, list[str]] | None = None) -> str:
    """``query`` with Grafana's macros and multi-value template variables replaced."""
    for name, values in sorted((variables or {}).items(), key=lambda kv: -len(kv[0])):
        text = "(" + "|".join(escape_regex(v) for v in values) + ")"
        query = query.replace("${" + name + "}", text)
        query = re.sub(r"\$" + re.escape(name) + r"(?![A-Za-z0-9_])", lambda _: text, query)
    time_filter = f"time >= {start_ns // 1_000_000}ms and time <= {end_ns // 1_000_000}ms"
    interval = grafana_interval_text(interval_s)
    for macro, value in (("$__timeFilter", time_filter), ("$timeFilter", time_filter),
                         ("$interval", interval), ("$__interval_ms", str(interval_s * 1000)),
                         ("$__interval", interval)):
        query = query.replace(macro, value)
    return query


@pytest.fixture(scope="session")
def expand_macros() -> Callable[..., str]:
    """:func:`expand`: ``expand(query, *, start_ns, end_ns, interval_s, variables=None)``."""
    return expand
