"""The real steel plant year (examples/steel-plant), replayed end to end through the CLI and
checked against two references carbonline's code has no part in: a real InfluxDB summing the
plant's CSV, and the plant's own ``CO2(tCO2)`` column.

The CSV is read here with the csv module alone (see ATTRIBUTION.md for its conventions): a UTF-8
byte-order mark, day/month/year dates in Korean time (UTC+9, no DST), each row the energy of the
15 minutes that END at its timestamp, and each day's 00:00 row labelled with the day that ends.
"""

from __future__ import annotations

import csv
import math
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from pathlib import Path

import pytest
from line_protocol_parser import parse_line

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "steel-plant"
CSV = EXAMPLE / "steel_industry_daewoo_2018_15min.csv"
KST = timezone(timedelta(hours=9))  # Asia/Seoul: UTC+9 all year, no DST
S = 1_000_000_000
QUARTER = 15 * 60 * S
ROWS = 365 * 24 * 4  # 2018 is not a leap year: 35,040 quarter hours


@dataclass(frozen=True)
class Interval:
    """One CSV row: the 15 minutes ending at ``end`` (ns UTC)."""

    end: int
    kwh: float
    co2_t: float  # as the plant reported it, rounded to 0.01 t


def read_plant_csv() -> list[Interval]:
    intervals = []
    with CSV.open(encoding="utf-8-sig", newline="") as f:  # utf-8-sig drops the BOM
        for row in csv.DictReader(f):
            local = datetime.strptime(row["date"], "%d/%m/%Y %H:%M")
            if local.time() == time(0):
                # "01/01/2018 00:00" closes 1 January: it is 2018-01-02 00:00 in Seoul
                local += timedelta(days=1)
            end = int(local.replace(tzinfo=KST).timestamp()) * S
            intervals.append(Interval(end, float(row["Usage_kWh"]), float(row["CO2(tCO2)"])))
    return intervals


@pytest.fixture(scope="module")
def intervals() -> list[Interval]:
    return read_plant_csv()


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[int, dict]]:
    """carbonline's ``carbon_intensity`` rows as {window: {window start ns: fields}}, keeping
    only the highest revision of each row (a later revision replaces an earlier one)."""
    out = tmp_path_factory.mktemp("steel") / "out.lp"
    result = subprocess.run(
        [sys.executable, "-m", "carbonline", "replay", "--config", str(EXAMPLE / "plant.toml"),
         "--input", str(CSV), "--output", str(out)],
        capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, f"carbonline replay failed:\n{result.stderr}"
    latest: dict[tuple, dict] = {}
    with out.open(encoding="utf-8") as f:
        for line in f:
            # cheap pre-filter: the output also holds 1m and per-machine rows, ~30x more lines
            if not line.startswith("carbon_intensity,") or not (
                    "window=15m" in line or "window=day" in line):
                continue
            point = parse_line(line)
            key = (tuple(sorted(point["tags"].items())), point["time"])
            if key not in latest or latest[key]["revision"] < point["fields"]["revision"]:
                latest[key] = point["fields"]
    by_window: dict[str, dict[int, dict]] = defaultdict(dict)
    for (tags, start), fields in latest.items():
        window = dict(tags)["window"]
        # one line, one SKU: a second row at the same start would be double counting
        assert start not in by_window[window], f"two {window} rows start at {start}"
        by_window[window][start] = fields
    return by_window


def test_total_kwh_equals_the_influxql_sum(intervals, replayed, influxdb, influx_db):
    assert len(intervals) == ROWS
    influxdb.write(influx_db, "\n".join(f"steel Usage_kWh={i.kwh!r} {i.end}" for i in intervals))
    body = influxdb.query('SELECT sum("Usage_kWh"), count("Usage_kWh") FROM "steel"', influx_db)
    ((_, reference, count),) = body["results"][0]["series"][0]["values"]
    # InfluxDB keeps one point per series and timestamp: 35,040 points means no two rows were
    # given the same time, so the reference really is the sum of every row
    assert count == ROWS
    assert reference == pytest.approx(math.fsum(i.kwh for i in intervals), rel=1e-12)
    for window in ("15m", "day"):
        total = sum(fields["electricity_kwh"] for fields in replayed[window].values())
        assert total == pytest.approx(reference, rel=1e-6), window


def test_every_interval_has_its_15_minute_window_and_the_plant_co2(intervals, replayed):
    quarters = replayed["15m"]
    missing, matched = [], 0
    for interval in intervals:
        # rows are stamped with the window START; the CSV with the interval END
        fields = quarters.get(interval.end - QUARTER)
        if fields is None:
            missing.append(interval)
            continue
        # a meter-sized window holds exactly that row's energy
        assert fields["electricity_kwh"] == pytest.approx(interval.kwh, rel=1e-9, abs=1e-12)
        # kWh × 0.4594 kg/kWh = kg CO₂e; / 1000 = t, which the plant rounds to 0.01 t (10 kg)
        matched += round(fields["co2e_kg"] / 1000, 2) == interval.co2_t
    # a misread date (month/day swapped, UTC instead of Seoul, midnight rows put at the start
    # of their labelled day) would leave CSV rows without a window here
    assert not missing, f"{len(missing)} CSV rows have no 15m window, e.g. {missing[:3]}"
    # the plant's column is 0.00 in ~0.3 % of rows whose energy is not (its own data gaps)
    assert matched / ROWS >= 0.995, f"only {matched} of {ROWS} rows match the plant's CO2"


def test_days_are_seoul_days_and_hold_their_intervals(intervals, replayed):
    expected: dict[int, float] = defaultdict(float)
    for interval in intervals:
        # an interval belongs to the Seoul day it starts in (the 23:45–24:00 one included)
        start = datetime.fromtimestamp((interval.end - QUARTER) / S, KST)
        midnight = datetime.combine(start.date(), time(0), KST)
        expected[int(midnight.timestamp()) * S] += interval.kwh
    days = replayed["day"]
    assert sorted(days) == sorted(expected)  # 365 windows, each starting at 00:00 in Seoul
    for start, kwh in expected.items():
        assert days[start]["electricity_kwh"] == pytest.approx(kwh, rel=1e-9), start
