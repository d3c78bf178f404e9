"""``carbonline run`` as a plant runs it: a process, a plant.toml, real servers, a signal to
stop. Readings go in over MQTT; the carbon series come out in line protocol and on MQTT."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest
from line_protocol_parser import parse_line

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


def wait_subscribed(port: int, broker: str) -> None:
    """Until the run's /health shows its MQTT source subscribed (a new session only gets what
    is published after that)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            rows = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).json()
        except httpx.HTTPError:
            rows = []
        if any(r["component"] == f"source {broker}" and r.get("subscribed") for r in rows):
            return
        time.sleep(0.2)
    raise AssertionError("carbonline run never reported its MQTT source subscribed")


def test_run_reads_mqtt_and_writes_until_sigterm(mosquitto, tmp_path: Path):
    site = f"site{uuid.uuid4().hex[:8]}"
    (port,) = free_ports(1)
    config = tmp_path / "plant.toml"
    config.write_text(plant_toml(site, mosquitto.url, port))
    output = tmp_path / "out.lp"
    process = subprocess.Popen(
        [sys.executable, "-m", "carbonline", "run", "--config", str(config), "--output",
         str(output)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    pub.connect("127.0.0.1", mosquitto.port)
    pub.loop_start()
    try:
        wait_subscribed(port, mosquitto.url)
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
