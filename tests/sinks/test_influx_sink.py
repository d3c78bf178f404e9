"""The InfluxDB writer against real servers: the v1 path into InfluxDB 1.6, the v2 path
(influxdb-client) into VictoriaMetrics, detection from /ping, outages, refusals, batching and
the memory bound. Every point is compared with what the series contract (carbonline.series)
says the row is: measurement, tags, fields and time."""

from __future__ import annotations

import time
import uuid

import pytest

from carbonline.config import InfluxSink, parse_config
from carbonline.plant import build_plant
from carbonline.records import FactorRow, HealthRow, IntensityRow, MachineRow, Provenance, Window
from carbonline.series import TAGS, fields_of, measurement_of, tag_values, time_of
from carbonline.sinks.influx import InfluxWriter, carbonline_sinks
from servers._common import free_ports
from servers.influxdb import InfluxDB, influxd_on
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


def rows_for(site: str, minute: int = 0) -> list:
    """One row of every type (two intensity rows), tagged with ``site`` (the factor row with
    zone ``site``) so tests sharing a server tell their points apart."""
    start = T0 + minute * MINUTE
    return [
        intensity(site, minute, 3.0), intensity(site, minute + 1, 4.5),
        MachineRow(site, "line 1", "filler", "cola,0.5l", Window("15m", start, start + 15 * MINUTE),
                   energy_kwh=4.0, co2e_kg=2.0, good_units=20.0, allocated_share=1.0),
        FactorRow(site, start, 0.38, Provenance("table", "OWID 2023", year=2023)),
        HealthRow(start, site, "engine", {"accepted": 12, "rejected": 1}),
    ]


def point_key(measurement: str, tags: dict[str, str], ns: int) -> tuple:
    return (measurement, tuple(sorted((k, v) for k, v in tags.items() if v)), ns)


def point_of(row) -> tuple[tuple, dict]:
    """The row as the series contract says it reads back: ((measurement, tags, time ns),
    defined fields)."""
    measurement = measurement_of(row)
    key = point_key(measurement, dict(zip(TAGS[measurement], tag_values(row))), time_of(row))
    return key, {name: value for name, value in fields_of(row).items() if value is not None}


def expected_points(rows: list) -> dict[tuple, dict]:
    """Key → fields of every row; a later row with the same key replaces the earlier one, as
    in InfluxDB."""
    return dict(point_of(row) for row in rows)


def influxql_points(server: InfluxDB, db: str) -> dict[tuple, dict]:
    """Every point of every carbon series in ``db``, read with InfluxQL (times in ns)."""
    points = {}
    for measurement in TAGS:
        response = server.http.get("/query", params={
            "q": f'SELECT * FROM "{measurement}" GROUP BY *', "db": db, "epoch": "ns"})
        response.raise_for_status()
        (result,) = response.json()["results"]
        assert "error" not in result, result
        for series in result.get("series", []):
            for values in series["values"]:
                fields = dict(zip(series["columns"], values))
                ns = fields.pop("time")
                points[point_key(measurement, series["tags"], ns)] = {
                    k: v for k, v in fields.items() if v is not None}
    return points


def victoria_samples(server, site: str, count: int,
                     timeout: float = 10.0) -> dict[tuple, list[tuple[int, float]]]:
    """VictoriaMetrics' series of one test, ``(name, labels) → [(ms, value), …]``, once
    ``count`` samples are there (a write becomes searchable about a second later); the ``db``
    label its v1 /write adds is left out."""
    deadline = time.monotonic() + timeout
    while True:
        found = (server.export(f'{{__name__=~"carbon.*", site="{site}"}}', timeout=0)
                 + server.export(f'{{__name__=~"carbon_factor.*", zone="{site}"}}', timeout=0))
        if sum(len(series["values"]) for series in found) >= count or (
                time.monotonic() > deadline):
            break
        time.sleep(0.1)
    samples = {}
    for series in found:
        labels = {k: v for k, v in series["metric"].items() if k not in ("__name__", "db")}
        key = (series["metric"]["__name__"], tuple(sorted(labels.items())))
        samples[key] = list(zip(series["timestamps"], series["values"]))
    return samples


def victoria_expected(rows: list) -> dict[tuple, list[tuple[int, float]]]:
    """Rows as VictoriaMetrics stores them: a series ``measurement_field{tags}`` per field
    (a boolean as 1/0, a string as 0), timestamps in ms, every write kept."""
    expected: dict[tuple, list[tuple[int, float]]] = {}
    for (measurement, tags, ns), fields in map(point_of, rows):
        for name, value in fields.items():
            expected.setdefault((f"{measurement}_{name}", tags), []).append(
                (ns // 10**6, 0.0 if isinstance(value, str) else float(value)))
    return {key: sorted(values) for key, values in expected.items()}


def samples(expected: dict) -> int:
    return sum(map(len, expected.values()))


def assert_same_samples(got: dict, expected: dict) -> None:
    """Same series, same timestamps, same values to VictoriaMetrics' precision (it keeps 12
    significant digits: 3.3333333333333335 reads back as 3.333333333333)."""
    assert sorted(got) == sorted(expected)
    for key, samples in expected.items():
        assert [ms for ms, _ in got[key]] == [ms for ms, _ in samples], key
        assert [v for _, v in got[key]] == pytest.approx([v for _, v in samples], rel=1e-11), key


def test_v1_path_round_trips_every_row_type_through_influxql(influxdb, influx_db):
    site = "bremen"
    sink = InfluxWriter(InfluxSink(url=influxdb.url, database=influx_db, api="auto"), "x")
    assert sink.api == "v1"  # InfluxDB 1.6 answers /ping with X-Influxdb-Version 1.6.7
    rows = rows_for(site)
    revised = intensity(site, 1, 5.0, revision=2)  # same time and tags, a later revision
    sink.write(rows)
    sink.write([revised])
    assert sink.close() == 0
    assert sink.counters["points_written"] == 6 and sink.queue_depth == 0
    got = influxql_points(influxdb, influx_db)
    assert got == expected_points([*rows, revised])
    # the same, spelt out: the revision replaced the point instead of adding one
    body = influxdb.query('SELECT "co2e_kg", "revision" FROM "carbon_intensity" '
                          'GROUP BY * ORDER BY time', db=influx_db)
    (series,) = body["results"][0]["series"]
    assert series["tags"] == {"line": "line 1", "shift": "early", "site": site,
                              "sku": "cola,0.5l", "window": "1m"}
    assert series["values"] == [["2026-03-02T06:00:00Z", 3.0, 1],
                                ["2026-03-02T06:01:00Z", 5.0, 2]]
    assert got[point_key("carbon_factor", {"zone": site, "provider": "table",
                                           "basis": "location", "type": "direct"}, T0)] == {
        "dataset": "OWID 2023", "estimated": False, "kg_per_kwh": 0.38, "year": 2023}


def test_v2_path_writes_every_row_type_to_a_real_v2_write_api(victoria):
    site = f"s{uuid.uuid4().hex[:8]}"
    plant = build_plant(parse_config({
        "site": {"name": site, "timezone": "UTC", "grid_zone": "DE"},
        "factors": {"grid_kg_per_kwh": 0.5}, "lines": [{"id": "l"}],
        "machines": [{"id": "m", "line": "l"}],
        "meters": [{"id": "e", "role": "energy_counter", "machine": "m", "unit": "kWh"}],
        "sinks": {"influx": {"url": victoria.url, "database": "carbon", "token": "t"}}}))
    (sink,) = carbonline_sinks(plant, [victoria.url, "out.lp", "mqtt://b:1883"])
    assert sink.api == "v2"  # VictoriaMetrics' /ping: 204 without X-Influxdb-Version
    rows = rows_for(site)
    sink.write(rows)
    assert sink.close() == 0
    assert sink.counters["points_written"] == 5 and sink.queue_depth == 0
    expected = victoria_expected(rows)
    assert_same_samples(victoria_samples(victoria, site, samples(expected)), expected)
    co2e = expected[("carbon_intensity_co2e_kg", (("line", "line 1"), ("shift", "early"),
                                                  ("site", site), ("sku", "cola,0.5l"),
                                                  ("window", "1m")))]
    assert co2e == [(T0 // 10**6, 3.0), ((T0 + MINUTE) // 10**6, 4.5)]  # VM stores ms


@pytest.mark.parametrize(("api", "chosen"), [("v1", "v1"), ("v2", "v2"), ("auto", "v2")])
def test_every_point_arrives_exactly_once_across_outages(tmp_path, api, chosen):
    """Nothing listens at first; the server comes up, goes down, comes back on the same
    port: each path keeps the points in order and delivers every one exactly once
    (VictoriaMetrics keeps duplicate samples, so a point sent twice would show)."""
    (port,) = free_ports(1)
    site = f"s{uuid.uuid4().hex[:8]}"
    sink = InfluxWriter(InfluxSink(url=f"http://127.0.0.1:{port}", database="carbon", api=api,
                                   flush_interval=0.1), "x")
    first, second = rows_for(site), rows_for(site, minute=30)
    sink.write(first)
    assert not sink.flush(1.0) and sink.queue_depth == 5 and sink.counters["retries"] >= 1
    server = start_victoria(tmp_path, port)
    try:
        assert sink.flush(30), f"{sink.queue_depth} points still pending"
        assert sink.api == chosen
        server.stop()
        sink.write(second)
        assert not sink.flush(1.0) and sink.queue_depth == 5
        server.start()
        assert sink.flush(30), f"{sink.queue_depth} points still pending"
        assert sink.close() == 0
        assert sink.counters["points_written"] == 10
        expected = victoria_expected(first + second)
        assert_same_samples(victoria_samples(server, site, samples(expected)), expected)
    finally:
        server.stop()


def test_auto_waits_for_a_late_influxdb_1_6_and_writes_through_v1(tmp_path):
    """Started before its database (a plant after a power cut): the sink keeps the points
    until /ping answers, then takes the v1 path a 1.6 needs — not v2, which 1.6 lacks."""
    (port,) = free_ports(1)
    sink = InfluxWriter(InfluxSink(url=f"http://127.0.0.1:{port}", database="carbon",
                                   flush_interval=0.1), "x")
    rows = rows_for("bremen")
    sink.write(rows)
    assert sink.api is None and sink.queue_depth == 5
    with influxd_on(tmp_path, port) as server:
        server.create_database("carbon")
        assert sink.flush(30), f"{sink.queue_depth} points still pending"
        assert sink.api == "v1" and sink.close() == 0
        assert sink.counters["points_written"] == 5
        assert influxql_points(server, "carbon") == expected_points(rows)


def test_an_unknown_database_is_reported_and_the_points_kept(influxdb, caplog):
    db = f"missing_{uuid.uuid4().hex[:8]}"
    sink = InfluxWriter(InfluxSink(url=influxdb.url, database=db, api="v1",
                                   flush_interval=0.1), "x")
    rows = rows_for("bremen")
    sink.write(rows)
    assert not sink.flush(1.0)
    assert sink.queue_depth == 5 and sink.counters["failures"] >= 1
    assert sink.counters["points_written"] == 0
    assert "answered 404 to a write" in caplog.text and "database not found" in caplog.text
    influxdb.create_database(db)  # the engineer fixes it: the kept points go in
    try:
        assert sink.flush(30)
        assert sink.close() == 0
        assert influxql_points(influxdb, db) == expected_points(rows)
    finally:
        influxdb.query(f'DROP DATABASE "{db}"')


def test_v1_sends_full_batches_at_once_and_the_rest_after_flush_interval(influxdb, influx_db):
    sink = InfluxWriter(InfluxSink(url=influxdb.url, database=influx_db, api="v1",
                                   batch_size=2, flush_interval=1.5), "x")
    sink.write(rows_for("bremen"))
    deadline = time.monotonic() + 1.0
    while sink.counters["points_written"] < 4 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sink.counters["batches"] == 2 and sink.queue_depth == 1  # the fifth waits
    assert sink.flush(5.0)  # … at most flush_interval
    assert time.monotonic() < deadline + 1.5
    assert sink.counters["batches"] == 3 and sink.close() == 0


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_memory_is_bounded_and_what_is_left_is_reported_at_close(caplog, api):
    (port,) = free_ports(1)
    sink = InfluxWriter(InfluxSink(url=f"http://127.0.0.1:{port}", database="carbon",
                                   api=api, flush_interval=0.1), "x", max_queue=3)
    sink.write(rows_for("bremen"))
    assert sink.queue_depth == 3 and sink.counters["points_dropped"] == 2
    assert "2 new points dropped" in caplog.text
    started = time.monotonic()
    assert sink.close(wait=0.5) == 3  # never came up: says so and does not hang
    assert time.monotonic() - started < 5
    assert sink.counters["points_undelivered"] == 3 and "3 points not written" in caplog.text


def test_claims_only_its_urls():
    plant = build_plant(parse_config({
        "site": {"name": "s", "timezone": "UTC", "grid_zone": "DE"},
        "factors": {"grid_kg_per_kwh": 0.5}, "lines": [{"id": "l"}],
        "machines": [{"id": "m", "line": "l"}],
        "meters": [{"id": "e", "role": "energy_counter", "machine": "m", "unit": "kWh"}]}))
    (port,) = free_ports(1)
    (sink,) = carbonline_sinks(plant, ["out.lp", f"http://127.0.0.1:{port}?db=carbon",
                                       f"http://127.0.0.1:{port}/no-db"])
    assert sink.settings.database == "carbon"
    assert sink.settings.url == f"http://127.0.0.1:{port}" and sink.settings.api == "auto"
    assert sink.close(wait=0) == 0
