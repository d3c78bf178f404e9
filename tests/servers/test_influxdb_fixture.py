"""The ``influxdb`` fixture is a real server whose sums and integrals come back exact, so other
tests can use it as the independent reference for carbonline's numbers."""

from __future__ import annotations

import pytest

S = 1_000_000_000
T0 = 1_772_409_600 * S  # 2026-03-02 00:00 UTC
MIN = 60 * S


def scalar(body: dict) -> float:
    """The single value of a one-row, one-column InfluxQL answer."""
    (series,) = body["results"][0]["series"]
    ((_time, value),) = series["values"]
    return value


def test_written_points_sum_exactly(influxdb, influx_db):
    # 1.5 + 2.25 + 4.0 = 7.75, all exact in binary floating point, so == is fair
    influxdb.write(influx_db, "\n".join(
        f"energy,meter=m1 kwh={v} {T0 + i * MIN}" for i, v in enumerate([1.5, 2.25, 4.0])))
    assert scalar(influxdb.query('SELECT sum("kwh") FROM "energy"', db=influx_db)) == 7.75


def test_integral_of_power_is_the_trapezoid_kwh(influxdb, influx_db):
    # kW samples at 0, 15, 45 and 60 min; the trapezoid rule, interval by interval:
    #   0–15 min:  (100 + 200) / 2 kW × 0.25 h = 37.5 kWh
    #   15–45 min: (200 +  50) / 2 kW × 0.5 h  = 62.5 kWh
    #   45–60 min: ( 50 +  50) / 2 kW × 0.25 h = 12.5 kWh
    #   total                                  = 112.5 kWh
    samples = [(0, 100), (15, 200), (45, 50), (60, 50)]
    influxdb.write(influx_db, "\n".join(
        f"power,machine=press1 power_kw={kw} {T0 + m * MIN}" for m, kw in samples))
    kwh = scalar(influxdb.query('SELECT integral("power_kw", 1h) FROM "power"', db=influx_db))
    assert kwh == pytest.approx(37.5 + 62.5 + 12.5, rel=1e-12)


def test_write_errors_carry_the_server_reason(influxdb, influx_db):
    with pytest.raises(RuntimeError, match="unable to parse"):
        influxdb.write(influx_db, "energy kwh=")


def test_each_test_gets_its_own_empty_database(influxdb, influx_db):
    names = [row[0] for row in
             influxdb.query("SHOW DATABASES")["results"][0]["series"][0]["values"]]
    assert influx_db in names
    assert "series" not in influxdb.query('SELECT * FROM "energy"', db=influx_db)["results"][0]
