"""The InfluxDB writer against real servers: the v1 path into InfluxDB 1.6, the v2 path
(influxdb-client) into VictoriaMetrics, detection from /ping, outages and refusals."""

from __future__ import annotations

import uuid


from carbonline.config import InfluxSink, parse_config
from carbonline.plant import build_plant
from carbonline.records import FactorRow, HealthRow, IntensityRow, MachineRow, Provenance, Window
from carbonline.sinks.influx import InfluxWriter, carbonline_sinks, detect_api
from servers._common import free_ports
from servers.victoria import start_victoria

MINUTE = 60 * 10**9
T0 = 1_772_431_200 * 10**9  # 2026-03-02T06:00:00Z


def intensity(site: str, minute: int, co2e: float, revision: int = 1) -> IntensityRow:
    start = T0 + minute * MINUTE
    return IntensityRow(site, "line 1", "cola,0.5l", "early", Window("1m", start, start + MINUTE),
                        electricity_kwh=co2e * 2, fuel_kwh=0.5, scope1_co2e_kg=0.1,
                        scope2_location_co2e_kg=co2e - 0.1, scope2_market_co2e_kg=co2e / 2,
                        good_units=10.0, grid_factor_kg_per_kwh=0.5, coverage_pct=100.0,
                        revision=revision)


def rows_for(site: str) -> list:
    return [
        intensity(site, 0, 3.0), intensity(site, 1, 4.5),
        MachineRow(site, "line 1", "filler", "cola,0.5l", Window("15m", T0, T0 + 15 * MINUTE),
                   energy_kwh=4.0, co2e_kg=2.0, good_units=20.0, allocated_share=1.0),
        FactorRow("DE", T0, 0.38, Provenance("table", "OWID 2023", year=2023)),
        HealthRow(T0, site, "engine", {"accepted": 12, "rejected": 1}),
    ]


def test_v1_path_round_trips_every_row_type_through_influxql(influxdb, influx_db):
    site = "bremen"
    sink = InfluxWriter(InfluxSink(url=influxdb.url, database=influx_db, api="auto"), "x")
    assert sink.api == "v1"  # InfluxDB 1.6 answers /ping with X-Influxdb-Version 1.6.7
    sink.write(rows_for(site))
    sink.write([intensity(site, 1, 5.0, revision=2)])  # same point, a later revision
    sink.close()
    assert sink.counters["points_written"] == 6 and sink.queue_depth == 0
    body = influxdb.query('SELECT "co2e_kg", "revision" FROM "carbon_intensity" '
                          'GROUP BY * ORDER BY time', db=influx_db)
    (series,) = body["results"][0]["series"]
    assert series["tags"] == {"line": "line 1", "shift": "early", "site": site,
                              "sku": "cola,0.5l", "window": "1m"}
    assert series["values"] == [["2026-03-02T06:00:00Z", 3.0, 1],
                                ["2026-03-02T06:01:00Z", 5.0, 2]]  # revision 2 replaced it
    machine = influxdb.query('SELECT "energy_per_unit_kwh" FROM "carbon_machine"', db=influx_db)
    assert machine["results"][0]["series"][0]["values"] == [["2026-03-02T06:00:00Z", 0.2]]
    factor = influxdb.query('SELECT "kg_per_kwh", "dataset", "year" FROM "carbon_factor"',
                            db=influx_db)
    assert factor["results"][0]["series"][0]["values"] == [
        ["2026-03-02T06:00:00Z", 0.38, "OWID 2023", 2023]]
    health = influxdb.query('SELECT "accepted" FROM "carbonline_health" WHERE '
                            '"component" = \'engine\'', db=influx_db)
    assert health["results"][0]["series"][0]["values"] == [["2026-03-02T06:00:00Z", 12]]


def test_v2_path_writes_to_a_real_v2_write_api(victoria):
    site = f"s{uuid.uuid4().hex[:8]}"
    assert detect_api(InfluxSink(url=victoria.url, database="carbon")) == "v2"  # no version
    plant = build_plant(parse_config({
        "site": {"name": site, "timezone": "UTC", "grid_zone": "DE"},
        "factors": {"grid_kg_per_kwh": 0.5}, "lines": [{"id": "l"}],
        "machines": [{"id": "m", "line": "l"}],
        "meters": [{"id": "e", "role": "energy_counter", "machine": "m", "unit": "kWh"}],
        "sinks": {"influx": {"url": victoria.url, "database": "carbon", "token": "t"}}}))
    (sink,) = carbonline_sinks(plant, [victoria.url, "out.lp", "mqtt://b:1883"])
    assert sink.api == "v2"
    sink.write(rows_for(site))
    sink.close()
    assert sink.counters["points_written"] == 5 and sink.queue_depth == 0
    (co2e,) = victoria.export(f'carbon_intensity_co2e_kg{{site="{site}"}}')
    assert co2e["metric"]["line"] == "line 1" and co2e["metric"]["sku"] == "cola,0.5l"
    assert co2e["values"] == [3.0, 4.5]
    assert co2e["timestamps"] == [T0 // 10**6, (T0 + MINUTE) // 10**6]  # stored in ms
    (units,) = victoria.export(f'carbon_machine_energy_per_unit_kwh{{site="{site}"}}')
    assert units["values"] == [0.2]


def test_a_server_that_is_down_gets_every_point_once_it_is_up(tmp_path, influxdb, influx_db):
    """Both paths keep the points while nothing listens, and deliver them exactly once."""
    (port,) = free_ports(1)
    site = f"s{uuid.uuid4().hex[:8]}"
    v2 = InfluxWriter(InfluxSink(url=f"http://127.0.0.1:{port}", database="carbon", api="v2",
                                 flush_interval=0.2), "v2")
    v2.write(rows_for(site))
    v1 = InfluxWriter(InfluxSink(url=f"http://127.0.0.1:{free_ports(1)[0]}",
                                 database=influx_db, api="v1", flush_interval=0.2), "v1")
    v1.write(rows_for(site))
    assert not v1.flush(1.5) and v1.queue_depth == 5 and v1.counters["retries"] >= 1
    server = start_victoria(tmp_path, port)  # comes up on the port the sink was given
    try:
        assert v2.flush(30), f"{v2.queue_depth} points still pending"
        v2.close()
        assert v2.counters["retries"] >= 1 and v2.counters["points_written"] == 5
        (co2e,) = server.export(f'carbon_intensity_co2e_kg{{site="{site}"}}')
        assert co2e["values"] == [3.0, 4.5]
    finally:
        server.stop()
    v1.close(wait=0.5)  # never came up: says so (logged) and does not hang


def test_an_unknown_database_is_reported_and_the_points_kept(influxdb, caplog):
    sink = InfluxWriter(InfluxSink(url=influxdb.url, database="no_such_db", api="v1",
                                   flush_interval=0.1), "x")
    sink.write(rows_for("bremen"))
    assert not sink.flush(1.0)
    assert sink.queue_depth == 5 and sink.counters["failures"] >= 1
    assert "database not found" in caplog.text
    influxdb.create_database("no_such_db")  # the engineer fixes it: the kept points go in
    try:
        assert sink.flush(30)
        sink.close()
        body = influxdb.query('SELECT count("co2e_kg") FROM "carbon_intensity"', db="no_such_db")
        assert body["results"][0]["series"][0]["values"][0][1] == 2
    finally:
        influxdb.query('DROP DATABASE "no_such_db"')


def test_claims_only_its_urls():
    plant = build_plant(parse_config({
        "site": {"name": "s", "timezone": "UTC", "grid_zone": "DE"},
        "factors": {"grid_kg_per_kwh": 0.5}, "lines": [{"id": "l"}],
        "machines": [{"id": "m", "line": "l"}],
        "meters": [{"id": "e", "role": "energy_counter", "machine": "m", "unit": "kWh"}]}))
    (sink,) = carbonline_sinks(plant, ["out.lp", "http://127.0.0.1:9?db=carbon",
                                       "http://127.0.0.1:9/no-db"])
    assert sink.settings.database == "carbon" and sink.settings.url == "http://127.0.0.1:9"
    sink._path.close()
