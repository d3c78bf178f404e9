"""``carbonline run`` as a plant runs it: a process, a plant.toml, real servers, a signal to
stop. Readings go in over MQTT; the carbon series come out in line protocol and on MQTT."""

from __future__ import annotations

import json
import signal
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from line_protocol_parser import parse_line

from run_process import start_run
from servers._common import free_ports

MINUTE = 60 * 10**9
KWH = [10.0, 12.5, 13.0, 16.0]
UNITS = [0, 25, 30, 70]


def plant_toml(site: str, broker: str, port: int) -> str:
    return f"""
[site]
name = "{site}"
timezone = "UTC"
grid_zone = "DE"

[factors]
grid_kg_per_kwh = 0.25

[engine]
lateness = "1s"

[run]
idle_timeout = "0.5s"
health_interval = "1s"

[http]
listen = "127.0.0.1:{port}"

[sources.mqtt]
url = "{broker}"

[sinks.mqtt]
url = "{broker}"

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
mqtt = {{ topic = "{site}/filler", path = "kwh", time_path = "t" }}

[[meters]]
id = "u1"
role = "units_counter"
line = "l1"
mqtt = {{ topic = "{site}/filler", path = "good", time_path = "t" }}
"""


def test_run_reads_mqtt_and_writes_until_sigterm(mosquitto, tmp_path: Path):
    site = f"site{uuid.uuid4().hex[:8]}"
    (port,) = free_ports(1)
    config = tmp_path / "plant.toml"
    config.write_text(plant_toml(site, mosquitto.url, port))
    output = tmp_path / "out.lp"
    process = start_run(config, port, mosquitto.url, args=("--output", str(output)))
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    pub.connect("127.0.0.1", mosquitto.port)
    pub.loop_start()
    try:
        now = time.time_ns()
        t0 = now - now % MINUTE - 30 * MINUTE
        for i, (kwh, good) in enumerate(zip(KWH, UNITS)):
            payload = {"t": (t0 + i * MINUTE) // 10**6, "kwh": kwh, "good": good}  # epoch ms
            pub.publish(f"{site}/filler", json.dumps(payload), qos=1).wait_for_publish(5)
        pub.publish(f"{site}/filler", "{broken", qos=1).wait_for_publish(5)
        time.sleep(4)  # idle timeout closes the windows
    finally:
        pub.loop_stop()
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert "8 readings accepted" in err, err
    assert "malformed" in err
    points = [parse_line(line) for line in output.read_text().splitlines()]
    minutes = sorted((p for p in points if p["measurement"] == "carbon_intensity"
                      and p["tags"]["window"] == "1m"), key=lambda p: p["time"])
    assert [p["time"] for p in minutes] == [t0 + i * MINUTE for i in range(3)]
    for i, point in enumerate(minutes):
        assert point["fields"]["co2e_kg"] == pytest.approx((KWH[i + 1] - KWH[i]) * 0.25)
        assert point["fields"]["good_units"] == UNITS[i + 1] - UNITS[i]
    health = [p for p in points if p["measurement"] == "carbonline_health"
              and p["tags"]["component"] == f"source {mosquitto.url}"]
    assert health[-1]["fields"]["dead_lettered"] == 1


def test_mqtt_and_opcua_lines_land_in_influxdb_as_computed(mosquitto, opcua_server, influxdb,
                                                          influx_db, tmp_path: Path):
    """Two lines, one metered over MQTT, one on a PLC over OPC UA; the run writes into a real
    InfluxDB 1.6. The carbon_intensity points there equal Δ kWh × factor and Δ units worked
    out here, without engine code."""
    site = f"site{uuid.uuid4().hex[:8]}"
    (port,) = free_ports(1)
    tag = uuid.uuid4().hex[:6]
    energy = opcua_server.add(f"{tag}.Oven.Energy", 0.0, "kWh")
    good = opcua_server.add(f"{tag}.Line2.Good", 0.0)
    now = time.time_ns()
    t0 = now - now % MINUTE - 30 * MINUTE
    oven_kwh, oven_good = [300.0, 304.0, 309.0, 310.0], [0.0, 8.0, 20.0, 22.0]
    stamp = datetime.fromtimestamp(t0 / 1e9, timezone.utc)
    opcua_server.write(energy, oven_kwh[0], stamp)
    opcua_server.write(good, oven_good[0], stamp)
    config = tmp_path / "plant.toml"
    config.write_text(plant_toml(site, mosquitto.url, port) + f"""
[sources.opcua]
url = "{opcua_server.url}"
publishing_interval = "50ms"

[sinks.influx]
url = "{influxdb.url}"
database = "{influx_db}"

[[lines]]
id = "l2"

[[machines]]
id = "oven"
line = "l2"

[[meters]]
id = "e2"
role = "energy_counter"
machine = "oven"
unit = "kWh"
opcua = {{ node = "{energy}" }}

[[meters]]
id = "u2"
role = "units_counter"
line = "l2"
opcua = {{ node = "{good}" }}
""")
    process = start_run(config, port, mosquitto.url, opcua_server.url)
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    pub.connect("127.0.0.1", mosquitto.port)
    pub.loop_start()
    try:
        for i, (kwh, units) in enumerate(zip(KWH, UNITS)):
            payload = {"t": (t0 + i * MINUTE) // 10**6, "kwh": kwh, "good": units}
            pub.publish(f"{site}/filler", json.dumps(payload), qos=1).wait_for_publish(5)
        for i in range(1, 4):
            at = datetime.fromtimestamp((t0 + i * MINUTE) / 1e9, timezone.utc)
            opcua_server.write(energy, oven_kwh[i], at)
            opcua_server.write(good, oven_good[i], at)
        time.sleep(3)  # the idle timeout closes the windows
    finally:
        pub.loop_stop()
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    body = influxdb.query(
        'SELECT "co2e_kg", "good_units" FROM "carbon_intensity" WHERE "window" = \'1m\' '
        'GROUP BY "line"', db=influx_db)
    got = {s["tags"]["line"]: s["values"] for s in body["results"][0]["series"]}
    for line, kwh, units in (("l1", KWH, UNITS), ("l2", oven_kwh, oven_good)):
        assert [row[1] for row in got[line]] == pytest.approx(
            [(kwh[i + 1] - kwh[i]) * 0.25 for i in range(3)]), line
        assert [row[2] for row in got[line]] == [units[i + 1] - units[i] for i in range(3)]
    health = influxdb.query('SELECT last("accepted") FROM "carbonline_health" WHERE '
                            '"component" = \'engine\'', db=influx_db)
    assert health["results"][0]["series"][0]["values"][0][1] == 16
