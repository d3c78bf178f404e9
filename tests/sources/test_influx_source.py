"""The InfluxDB source against a real InfluxDB 1.6: the subscription path (through
``carbonline run``'s HTTP app, writing back into the same database) and the poll path."""

from __future__ import annotations

import threading
import time

import pytest
from line_protocol_parser import parse_line

from carbonline.config import parse_config
from carbonline.engine.accumulator import Engine
from carbonline.live import LiveRun
from carbonline.plant import PlantModel, build_plant
from carbonline.records import NS_PER_S, IntensityRow, Reason
from carbonline.sources.influx import InfluxPoll, InfluxSubscription, carbonline_sources
from running import Running
from servers._common import free_ports

KWH = [50.0, 51.0, 53.5, 54.0]
GOOD = [0.0, 10.0, 30.0, 40.0]


def plant_for(url: str, database: str, mode: str, **extra) -> PlantModel:
    (port,) = free_ports(1)
    return build_plant(parse_config({
        "site": {"name": "s", "timezone": "UTC", "grid_zone": "DE"},
        "factors": {"grid_kg_per_kwh": 0.5},
        "engine": {"lateness": "2s"},
        "run": {"idle_timeout": "0.5s", "health_interval": "1s"},
        "http": {"listen": f"127.0.0.1:{port}"},
        "sources": {"influx": {"url": url, "database": database, "mode": mode,
                               "poll_interval": "0.2s", "subscription": f"cl_{database}"}},
        "lines": [{"id": "l1"}],
        "machines": [{"id": "filler", "line": "l1"}],
        "meters": [
            {"id": "e1", "role": "energy_counter", "machine": "filler", "unit": "kWh",
             "influx": {"measurement": "energy", "field": "kwh", "tags": {"machine": "filler"}}},
            {"id": "u1", "role": "units_counter", "line": "l1",
             "influx": {"measurement": "production", "field": "good", "tags": {"line": "1"}}},
            {"id": "sku", "role": "sku", "line": "l1",
             "influx": {"measurement": "production", "tag": "recipe", "tags": {"line": "1"}}},
        ],
        **extra,
    }))


def raw_points(t0: int, step: int) -> str:
    return "\n".join(
        f"energy,machine=filler kwh={kwh} {t0 + i * step}\n"
        f"production,line=1,recipe=cola good={good} {t0 + i * step}"
        for i, (kwh, good) in enumerate(zip(KWH, GOOD)))


def test_subscription_feeds_run_and_its_own_writes_do_not_loop(influxdb, influx_db, tmp_path):
    plant = plant_for(influxdb.url, influx_db, "subscription",
                      sinks={"influx": {"url": influxdb.url, "database": influx_db}})
    output = tmp_path / "out.lp"
    live = LiveRun(plant, outputs=[str(output)])
    (source,) = live.sources
    assert isinstance(source, InfluxSubscription)
    runner = threading.Thread(target=live.run)
    runner.start()
    try:
        assert source.registered.wait(15)
        time.sleep(1.5)  # InfluxDB starts forwarding about a second after CREATE SUBSCRIPTION
        now = time.time_ns()
        t0 = now - now % (60 * NS_PER_S) - 20 * 60 * NS_PER_S
        influxdb.write(influx_db, raw_points(t0, 60 * NS_PER_S))
        influxdb.write(influx_db, "boiler,site=x temp=80 1")  # a measurement no meter maps
        deadline = time.monotonic() + 20
        while live.engine.stats.accepted < 8 or source.counters["ignored"] < 1:
            assert time.monotonic() < deadline, f"subscription delivered {source.counters}"
            time.sleep(0.1)
        deadline = time.monotonic() + 20  # the sink's carbon_* writes come back, ignored
        while source.counters["ignored"] < 2:
            assert time.monotonic() < deadline, f"own writes not seen: {source.counters}"
            time.sleep(0.1)
    finally:
        live.stop()
        runner.join(60)
    assert live.engine.stats.accepted == 8 and source.counters["points"] == 8
    assert sum(live.engine.stats.rejected.values()) == 0
    minutes = [p for p in map(parse_line, output.read_text().splitlines())
               if p["measurement"] == "carbon_intensity" and p["tags"]["window"] == "1m"]
    assert [p["time"] for p in sorted(minutes, key=lambda p: p["time"])] == [
        t0 + i * 60 * NS_PER_S for i in range(3)]
    for point in minutes:
        i = (point["time"] - t0) // (60 * NS_PER_S)
        assert point["fields"]["co2e_kg"] == pytest.approx((KWH[i + 1] - KWH[i]) * 0.5)
        assert point["fields"]["good_units"] == GOOD[i + 1] - GOOD[i]
        assert point["tags"]["sku"] == "cola"
    stored = influxdb.query('SELECT sum("co2e_kg") FROM "carbon_intensity" WHERE '
                            '"window" = \'1m\'', db=influx_db)
    assert stored["results"][0]["series"][0]["values"][0][1] == pytest.approx(
        (KWH[-1] - KWH[0]) * 0.5)
    subs = influxdb.query("SHOW SUBSCRIPTIONS")
    names = [v[1] for s in subs["results"][0].get("series", []) for v in s["values"]]
    assert f"cl_{influx_db}" not in names  # dropped on exit


def test_poll_reads_each_point_once_and_picks_up_later_ones(influxdb, influx_db):
    plant = plant_for(influxdb.url, influx_db, "poll")
    (source,) = carbonline_sources(plant, [influxdb.url])
    assert isinstance(source, InfluxPoll)
    start = time.time_ns()
    step = NS_PER_S // 2
    polling = Running(source, wait_subscribed=False)
    # polls trail the clock by the lateness (2 s): these become readable one by one
    influxdb.write(influx_db, raw_points(start - NS_PER_S, step))
    influxdb.write(influx_db, f"energy,machine=filler,unit=MWh kwh=0.05 {start}")  # wrong unit
    deadline = time.monotonic() + 15
    while len(polling.readings()) < 8:
        assert time.monotonic() < deadline, f"poll read {source.counters}"
        time.sleep(0.1)
    later = start + 3 * NS_PER_S
    influxdb.write(influx_db, f"energy,machine=filler kwh=60.0 {later}")
    while len(polling.readings()) < 9:
        assert time.monotonic() < deadline + 10, f"the later point was not read {source.counters}"
        time.sleep(0.1)
    time.sleep(1)  # more polls: nothing is read twice
    polling.stop()
    assert len(polling.readings()) == 9 and source.counters["polls"] > 5
    (rejection,) = [r for b in polling.batches for r in b.rejections]
    assert rejection.reason == Reason.WRONG_UNIT and "'MWh'" in rejection.detail
    engine = Engine(plant)
    rows = [r for b in polling.batches for r in engine.ingest(b)] + engine.flush()
    total = sum(r.co2e_kg for r in rows if isinstance(r, IntensityRow) and r.window.kind == "1m")
    assert total == pytest.approx((60.0 - KWH[0]) * 0.5)


def test_poll_of_an_unreachable_server_counts_errors_and_goes_on(influx_db):
    (port,) = free_ports(1)
    plant = plant_for(f"http://127.0.0.1:{port}", influx_db, "poll")
    polling = Running(carbonline_sources(plant, [f"http://127.0.0.1:{port}"])[0],
                      wait_subscribed=False)
    deadline = time.monotonic() + 10
    while polling.source.counters["errors"] < 2:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    polling.stop()
