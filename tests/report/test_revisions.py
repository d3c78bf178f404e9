"""A revised window in InfluxDB: the report uses its current revision and counts it in the
data-quality notes. The two revisions are written as carbonline writes them (its line-protocol
serializer) into a real InfluxDB, where the second overwrites the first (same time and tags)."""

from __future__ import annotations

from carbonline.records import IntensityRow, Window
from carbonline.report import Period, build_inventory, SeriesReader
from carbonline.sinks.lineprotocol import to_line_protocol

from servers.influxdb import InfluxDB

START = 1_772_496_000 * 10**9  # 2026-03-03T00:00:00Z
MINUTE = 60 * 10**9


def row(minute: int, revision: int, kwh: float) -> IntensityRow:
    """A 1m window of line1 at ``minute``: ``kwh`` at 0.4 kg/kWh, 100 units."""
    return IntensityRow(site="plant", line="line1", sku="a", shift="",
                        window=Window("1m", START + minute * MINUTE, START + (minute + 1) * MINUTE),
                        electricity_kwh=kwh, fuel_kwh=0.0, scope1_co2e_kg=0.0,
                        scope2_location_co2e_kg=0.4 * kwh, scope2_market_co2e_kg=0.1 * kwh,
                        good_units=100.0, grid_factor_kg_per_kwh=0.4,
                        coverage_pct=100.0 if revision > 1 else 80.0, revision=revision)


def test_report_uses_the_current_revision(influxdb: InfluxDB, influx_db: str) -> None:
    first = [row(m, 1, 10.0) for m in range(3)]
    late = row(1, 2, 16.0)  # a late reading added 6 kWh to minute 1
    influxdb.write(influx_db, "\n".join(map(to_line_protocol, first)))
    influxdb.write(influx_db, to_line_protocol(late))
    period = Period(START, START + 3 * MINUTE)
    inv = build_inventory(SeriesReader.at(influxdb.url, influx_db), period)
    (line,) = inv.lines
    assert line.amounts.electricity_kwh == 10.0 + 16.0 + 10.0
    assert line.amounts.scope2_location_co2e_kg == 0.4 * 36.0
    assert line.amounts.scope2_market_co2e_kg == 0.1 * 36.0
    (quality,) = inv.quality
    assert (quality.windows, quality.revised_windows, quality.max_revision) == (3, 1, 2)
    assert quality.windows_below_full == 2  # the revised minute is now fully covered
    assert quality.coverage_pct == (80.0 + 100.0 + 80.0) / 3
    assert "current revision" in inv.revision
