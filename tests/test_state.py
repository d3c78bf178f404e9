"""The state store: a run resumes from its checkpoint and batch log after SIGTERM or kill -9,
with no window lost and none doubled, checked in a real InfluxDB 1.6; and a simulated shift
survives three of each fault a plant deals it."""

from __future__ import annotations

import json
import pickle
import signal
import time
import tomllib
import uuid
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from carbonline.cli import main
from carbonline.config import ConfigError, parse_config
from carbonline.engine.accumulator import Engine
from carbonline.plant import build_plant
from carbonline.plugins import get_manager
from carbonline.records import to_ns
from carbonline.replay import replay
from carbonline.series import rfc3339
from carbonline.simulate.model import Signals, layout, simulate
from carbonline.simulate.mqtt import publish
from carbonline.simulate.scenario import load_scenario
from carbonline.state import StateStore
from click.testing import CliRunner
from line_protocol_parser import parse_line
from run_process import start_run
from servers._common import free_ports
from servers.influxdb import influxd_on
from servers.mosquitto import start_mosquitto

MINUTE = 60 * 10**9
FACTOR = 0.4


def config_text(site: str, broker: str, influx: str, db: str, state: Path, port: int) -> str:
    return f"""
[site]
name = "{site}"
timezone = "UTC"
grid_zone = "DE"

[factors]
grid_kg_per_kwh = {FACTOR}

[engine]
lateness = "1s"

[run]
idle_timeout = "0.5s"
health_interval = "1s"
checkpoint_interval = "30s"  # kills land between checkpoints: the log must carry it
state_dir = "{state}"

[http]
listen = "127.0.0.1:{port}"

[sources.mqtt]
url = "{broker}"

[sinks.influx]
url = "{influx}"
database = "{db}"
api = "v1"
flush_interval = "0.1s"

[[lines]]
id = "l1"

[[machines]]
id = "filler"
line = "l1"

[[meters]]
id = "e1"
role = "energy_counter"
machine = "filler"
unit = "kWh"

[[meters]]
id = "u1"
role = "units_counter"
line = "l1"
"""


def kwh(i: int) -> float:
    return 100.0 + 1.5 * i + (i % 3) * 0.25


def test_kill_9_and_sigterm_lose_no_window_and_double_none(mosquitto, influxdb, influx_db,
                                                          tmp_path):
    site = f"s{uuid.uuid4().hex[:8]}"
    (port,) = free_ports(1)
    config = tmp_path / "plant.toml"
    config.write_text(config_text(site, mosquitto.url, influxdb.url, influx_db,
                                  tmp_path / "state", port))
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    pub.connect("127.0.0.1", mosquitto.port)
    pub.loop_start()
    now = time.time_ns()
    t0 = now - now % MINUTE - 60 * MINUTE
    minutes = 40

    def send(i: int) -> None:
        for meter, value in (("e1", kwh(i)), ("u1", 10 * i)):
            pub.publish(f"carbonline/{site}/in/{meter}", json.dumps(
                {"ts": t0 + i * MINUTE, "value": value}), qos=1).wait_for_publish(5)

    process = start_run(config, port, mosquitto.url)
    cuts = {10: "kill", 20: "kill", 30: "term"}  # three interruptions within the hour
    sent = set()
    for i in range(minutes + 1):
        if i not in sent:
            send(i)
            sent.add(i)
        if i in cuts:
            time.sleep(0.8)  # some checkpointed, some only logged or in flight
            if cuts[i] == "kill":
                process.send_signal(signal.SIGKILL)
                process.wait(10)
            else:
                process.send_signal(signal.SIGTERM)
                assert process.wait(60) == 0, process.communicate()[1]
            if i + 1 <= minutes:
                send(i + 1)  # published while carbonline is down: the session keeps it
                sent.add(i + 1)
            process = start_run(config, port, mosquitto.url)
    time.sleep(3)  # idle timeout closes what the readings allow
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    pub.loop_stop()
    body = influxdb.query('SELECT "co2e_kg", "good_units", "revision" FROM "carbon_intensity" '
                          """WHERE "window" = '1m'""", db=influx_db)
    rows = body["results"][0]["series"][0]["values"]
    got = {row[0]: (row[1], row[2]) for row in rows}
    assert len(got) == len(rows)
    expected_minutes = {time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime((t0 + i * MINUTE)
                                                                        // 10**9))
                        for i in range(minutes)}
    assert set(got) == expected_minutes  # no window lost
    for i in range(minutes):
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime((t0 + i * MINUTE) // 10**9))
        co2e, units = got[stamp]
        assert co2e == pytest.approx((kwh(i + 1) - kwh(i)) * FACTOR), stamp  # none doubled
        assert units == 10, stamp


def one_meter_plant() -> dict:
    """A plant.toml document: one line, one machine, one energy counter, a fixed factor."""
    return {"site": {"name": "s", "timezone": "UTC", "grid_zone": "DE"},
            "factors": {"grid_kg_per_kwh": 0.5}, "lines": [{"id": "l1"}],
            "machines": [{"id": "m", "line": "l1"}],
            "meters": [{"id": "e", "role": "energy_counter", "machine": "m", "unit": "kWh"}]}


def test_a_checkpoint_of_another_plant_is_refused(tmp_path):
    doc = one_meter_plant()
    plant = build_plant(parse_config(doc))
    store = StateStore(tmp_path, plant)
    store.checkpoint(Engine(plant))
    store.close()
    doc["factors"]["grid_kg_per_kwh"] = 0.6
    other = StateStore(tmp_path, build_plant(parse_config(doc)))
    with pytest.raises(ConfigError, match="belongs to a different plant"):
        other.restore(get_manager(), time.time_ns)
    doc["factors"]["grid_kg_per_kwh"] = 0.5
    doc["run"] = {"health_interval": "5s"}  # connection and run settings may change
    same = StateStore(tmp_path, build_plant(parse_config(doc)))
    engine, backlog = same.restore(get_manager(), time.time_ns)
    assert engine is not None and backlog == [] and same.analyser is None


def test_a_checkpoint_saved_before_the_analyser_was_restores_its_engine(tmp_path):
    # checkpoints used to hold the bare engine; an upgraded run must go on from one
    plant = build_plant(parse_config(one_meter_plant()))
    store = StateStore(tmp_path, plant)
    store._db.execute("INSERT INTO checkpoint VALUES (?, ?, ?, ?)",
                      (store.name, store.digest, pickle.dumps(Engine(plant)), 0))
    engine, backlog = store.restore(get_manager(), time.time_ns)
    assert isinstance(engine, Engine) and engine.pm is not None
    assert store.analyser is None and backlog == []


SHIFT_START = "2026-03-02T06:00:00Z"


def one_minute_rows(rows: list) -> dict:
    """``carbon_intensity`` 1m rows by (time, line, SKU, shift): (kg CO₂e, good units)."""
    return {key: (co2e, units) for key, co2e, units in rows}


def replayed_shift(tmp_path: Path, site: str) -> tuple[Path, dict, Signals]:
    """The simulated shift, its config and the file replay's 1m rows: the ground truth."""
    result = CliRunner().invoke(main, [
        "simulate", "--scenario", "normal-week", "--duration", "8h", "--lines", "2", "--machines", "3", "--site", site,
        "--start", SHIFT_START, "--output", str(tmp_path / "shift.lp"), "--write-config",
        str(tmp_path / "sim.toml")])
    assert result.exit_code == 0, result.output
    text = (tmp_path / "sim.toml").read_text()
    replayed = tmp_path / "replayed.lp"
    replay(build_plant(parse_config(tomllib.loads(text))), [str(tmp_path / "shift.lp")],
           [str(replayed)])
    truth = []
    for line in replayed.read_text().splitlines():
        point = parse_line(line)
        if point["measurement"] == "carbon_intensity" and point["tags"]["window"] == "1m":
            tags = point["tags"]
            truth.append(((rfc3339(point["time"]), tags["line"], tags["sku"], tags["shift"]),
                          point["fields"]["co2e_kg"], point["fields"]["good_units"]))
    signals = simulate(layout(2, 3, site), load_scenario("normal-week"),
                       to_ns(datetime.fromisoformat(SHIFT_START)), 8 * 3600, 1)
    return tmp_path / "sim.toml", one_minute_rows(truth), signals


def ticks(signals: Signals, first: int, last: int) -> Signals:
    """The readings and context changes of ticks ``first`` … ``last - 1``."""
    t0, t1 = int(signals.times[first]), int(signals.times[last - 1])
    return replace(signals, times=signals.times[first:last],
                   values={m: v[first:last] for m, v in signals.values.items()},
                   context=[c for c in signals.context if t0 <= c[0] <= t1],
                   grid=signals.grid[first:last])


def test_each_fault_three_times_within_one_simulated_shift(tmp_path):
    """A simulated 8-hour shift published on a private Mosquitto into ``carbonline run``
    while its InfluxDB 1.6 is stopped and started, the broker restarted and the run killed
    with SIGKILL, each three times: InfluxDB ends with every 1m window of the shift's file
    replay (the ground truth), once, with its kg CO₂e and good units."""
    site = f"s{uuid.uuid4().hex[:8]}"
    for folder in ("mosquitto", "influx"):
        (tmp_path / folder).mkdir()
    simulated, truth, signals = replayed_shift(tmp_path, site)
    broker = start_mosquitto(tmp_path / "mosquitto")
    (influx_port, http_port) = free_ports(2)
    influx = influxd_on(tmp_path / "influx", influx_port)
    server = influx.__enter__()
    server.create_database("carbon")
    config = tmp_path / "plant.toml"
    text = simulated.read_text()
    assert 'lateness = "30s"' in text  # replayed from history, 30 s would be 30 s of waiting
    config.write_text(text.replace('lateness = "30s"', 'lateness = "2s"') + f"""
[run]
idle_timeout = "0.5s"
health_interval = "1s"
checkpoint_interval = "3s"
state_dir = "{tmp_path / 'state'}"

[http]
listen = "127.0.0.1:{http_port}"

[sources.mqtt]
url = "{broker.url}"

[sinks.influx]
url = "{server.url}"
database = "carbon"
api = "v1"
flush_interval = "0.1s"
""")
    faults = ["influx down", "broker restart", "kill -9"] * 3
    chunk = -(-len(signals.times) // (len(faults) + 1))
    process = start_run(config, http_port, broker.url)
    influx_down = False
    try:
        for n in range(len(faults) + 1):
            publish(layout(2, 3, site), ticks(signals, n * chunk,
                                              min((n + 1) * chunk, len(signals.times))),
                    broker.url, speed=0)
            time.sleep(1)
            if influx_down:  # down for one chunk of the shift, then back
                influx = influxd_on(tmp_path / "influx", influx_port)
                server = influx.__enter__()
                influx_down = False
            fault = faults[n] if n < len(faults) else None
            if fault == "influx down":
                influx.__exit__(None, None, None)
                influx_down = True
            elif fault == "broker restart":
                broker.restart()
            elif fault == "kill -9":
                process.send_signal(signal.SIGKILL)
                process.wait(10)
                process = start_run(config, http_port, broker.url)
        time.sleep(4)  # the idle timeout closes what the readings allow (after lateness)
        process.send_signal(signal.SIGTERM)
        assert process.wait(60) == 0, process.communicate()[1]
        body = server.query('SELECT "co2e_kg", "good_units" FROM "carbon_intensity" WHERE '
                            """"window" = '1m' GROUP BY "line", "sku", "shift\"""",
                            db="carbon")
    finally:
        if process.poll() is None:
            process.kill()
        influx.__exit__(None, None, None)
        broker.stop()
    rows = [((stamp, s["tags"]["line"], s["tags"]["sku"], s["tags"]["shift"]), co2e, units)
            for s in body["results"][0]["series"] for stamp, co2e, units in s["values"]]
    got = one_minute_rows(rows)
    assert len(got) == len(rows)
    assert len(truth) > 900  # 2 lines × 480 minutes, split at changeovers
    assert set(got) == set(truth), (sorted(set(truth) - set(got))[:5],
                                   sorted(set(got) - set(truth))[:5])
    for key, (co2e, units) in truth.items():
        assert got[key] == (pytest.approx(co2e, rel=1e-9), units), key
