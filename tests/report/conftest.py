"""A simulated week in a real InfluxDB, put there by carbonline's own path, and the report
written from it by the ``report`` command.

``week`` — site ``bremen`` (3 lines × 5 machines, line3's oven burns natural gas), scenario
``normal-week`` (seed 1), 2026-03-02 06:00 UTC for 7 days: ``carbonline simulate`` writes the
readings and the plant.toml, which gets ``[analysis]`` (baselines; alerts above 0.83 kg
CO₂e/unit for sku-2b), a renewable power purchase agreement covering part of the electricity
(so Scope 2 market-based differs from location-based), ``[report] revenue`` for 2026 and
``[sinks.influx]``; ``carbonline replay`` then runs it through the engine and analyser into
InfluxDB. Replaying the week takes about a minute.

``report_dir`` — ``carbonline report --format all`` over 2026-03-03 00:00 – 2026-03-09 00:00
UTC (six whole days inside the week) with that config; Chromium is installed first, so the PDF
is printed too.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from carbonline.cli import main
from carbonline.records import to_ns
from carbonline.report.cli import report

from servers._common import debian_binary
from servers.influxdb import InfluxDB

SITE = "bremen"
DATABASE = "carbonline_report"
FROM, TO = "2026-03-03T00:00:00Z", "2026-03-09T00:00:00Z"
#: net revenue configured for 2026, EUR
REVENUE_2026 = 36_500_000.0

ADDITIONS = """
[[factors.instruments]]
name = "wind PPA (test)"
valid_from = 2026-03-01T00:00:00Z
valid_to = 2026-04-01T00:00:00Z
mwh = 20.0
kg_per_kwh = 0.0

[analysis]
enabled = true
thresholds = {{ "sku-2b" = 0.83 }}

[report]
currency = "EUR"
revenue = [{{ start = 2026-01-01, end = 2027-01-01, net_revenue = {revenue} }}]

[sinks.influx]
url = "{url}"
database = "{database}"
api = "v1"
"""


@dataclass
class Week:
    """The seeded database and the config that wrote it."""

    influx: InfluxDB
    database: str
    config: Path
    site: str
    start_ns: int  # the report period
    end_ns: int

    def query(self, q: str) -> list[dict]:
        """InfluxQL → rows as dicts (tags merged in), times as ns."""
        body = self.influx.http.get("/query", params={"q": q, "db": self.database,
                                                      "epoch": "ns"}).json()
        (result,) = body["results"]
        assert "error" not in result, result
        return [{**s.get("tags", {}), **dict(zip(s["columns"], v))}
                for s in result.get("series", []) for v in s["values"]]


def _run(command, args: list[str]) -> None:
    result = CliRunner().invoke(command, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="session")
def week(influxdb: InfluxDB, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Week]:
    work = tmp_path_factory.mktemp("report-week")
    readings, config = work / "week.lp", work / "plant.toml"
    _run(main, ["simulate", "--scenario", "normal-week", "--seed", "1", "--site", SITE,
                "--output", str(readings), "--write-config", str(config)])
    text = config.read_text().replace(
        "[engine]\n", "[engine]\nmachine_windows = [\"1m\", \"15m\"]\n", 1)
    config.write_text(text + ADDITIONS.format(revenue=REVENUE_2026, url=influxdb.url,
                                              database=DATABASE))
    influxdb.create_database(DATABASE)
    _run(main, ["replay", "--config", str(config), "--input", str(readings), "--output",
                f"{influxdb.url}?db={DATABASE}", "--no-progress"])
    yield Week(influxdb, DATABASE, config, SITE,
               to_ns(datetime.fromisoformat(FROM)), to_ns(datetime.fromisoformat(TO)))
    influxdb.query(f'DROP DATABASE "{DATABASE}"')


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's headless-capable Chromium, installed on demand."""
    return debian_binary("chromium", "chromium", "CARBONLINE_CHROMIUM")


@pytest.fixture(scope="session")
def report_dir(week: Week, chromium: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "out"
    _run(report, ["--from", FROM, "--to", TO, "--format", "all", "--out", str(out),
                  "--config", str(week.config), "--no-progress"])
    return out
