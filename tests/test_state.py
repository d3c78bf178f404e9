"""The state store: a run resumes from its checkpoint and batch log after SIGTERM or kill -9,
with no window lost and none doubled, checked in a real InfluxDB 1.6."""

from __future__ import annotations

import json
import signal
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from carbonline.config import ConfigError, parse_config
from carbonline.engine.accumulator import Engine
from carbonline.plant import build_plant
from carbonline.plugins import get_manager
from carbonline.state import StateStore
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


def test_a_checkpoint_of_another_plant_is_refused(tmp_path):
    doc = {"site": {"name": "s", "timezone": "UTC", "grid_zone": "DE"},
           "factors": {"grid_kg_per_kwh": 0.5}, "lines": [{"id": "l1"}],
           "machines": [{"id": "m", "line": "l1"}],
           "meters": [{"id": "e", "role": "energy_counter", "machine": "m", "unit": "kWh"}]}
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
    assert engine is not None and backlog == []


def test_influxdb_stopped_mosquitto_restarted_and_a_kill_9_lose_nothing(tmp_path):
    """The faults a plant deals carbonline within one simulated hour: its InfluxDB goes away
    for a while, the broker restarts, the run is killed; every window still lands once."""
    site = f"s{uuid.uuid4().hex[:8]}"
    for folder in ("mosquitto", "influx"):
        (tmp_path / folder).mkdir()
    broker = start_mosquitto(tmp_path / "mosquitto")
    (influx_port, http_port) = free_ports(2)
    influx = influxd_on(tmp_path / "influx", influx_port)
    server = influx.__enter__()
    server.create_database("carbon")
    config = tmp_path / "plant.toml"
    config.write_text(config_text(site, broker.url, server.url, "carbon", tmp_path / "state",
                                  http_port))
    now = time.time_ns()
    t0 = now - now % MINUTE - 60 * MINUTE
    minutes = 40

    def send(first: int, last: int) -> None:
        pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        pub.connect("127.0.0.1", broker.port)
        pub.loop_start()
        for i in range(first, last):
            for meter, value in (("e1", kwh(i)), ("u1", 10 * i)):
                pub.publish(f"carbonline/{site}/in/{meter}", json.dumps(
                    {"ts": t0 + i * MINUTE, "value": value}), qos=1).wait_for_publish(5)
        pub.disconnect()
        pub.loop_stop()

    process = start_run(config, http_port, broker.url)
    try:
        send(0, 10)
        time.sleep(1)
        influx.__exit__(None, None, None)  # the plant's InfluxDB goes away …
        send(10, 20)
        time.sleep(1)
        broker.restart()  # … the broker restarts …
        send(20, 30)
        influx = influxd_on(tmp_path / "influx", influx_port)
        server = influx.__enter__()  # … InfluxDB is back …
        time.sleep(1)
        process.send_signal(signal.SIGKILL)  # … and the run is killed
        process.wait(10)
        send(30, minutes + 1)
        process = start_run(config, http_port, broker.url)
        time.sleep(3)
        process.send_signal(signal.SIGTERM)
        assert process.wait(60) == 0, process.communicate()[1]
        body = server.query('SELECT "co2e_kg", "good_units" FROM "carbon_intensity" WHERE '
                            """"window" = '1m'""", db="carbon")
    finally:
        if process.poll() is None:
            process.kill()
        influx.__exit__(None, None, None)
        broker.stop()
    rows = body["results"][0]["series"][0]["values"]
    assert len(rows) == minutes  # every window, once
    for i, (stamp, co2e, units) in enumerate(sorted(rows)):
        assert stamp == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime((t0 + i * MINUTE)
                                                                        // 10**9))
        assert co2e == pytest.approx((kwh(i + 1) - kwh(i)) * FACTOR), stamp
        assert units == 10, stamp
