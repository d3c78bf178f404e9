"""The compose stack's data path without Docker: the `simulator` service's command and the
`carbonline` service (its plant.toml and environment) against the real Mosquitto and InfluxDB
the other tests use. What Docker would provide is swapped in, nothing else: the servers'
addresses (service names → loopback ports), the HTTP listen address and the state directory;
health rows come every second (so the test sees the subscription at once), and the simulator
runs faster than real time (``--speed``) with an end (``--duration``), so windows close within
seconds. Proves the plant.toml reads what the simulator publishes, the
shell command's ``$(date …)`` start is accepted, and intensity rows reach InfluxDB and MQTT
stamped near now — what the dashboards show."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from deploy.compose_model import COMPOSE, ComposeFile
from run_process import start_run
from servers._common import free_ports

STACK = ComposeFile(COMPOSE / "docker-compose.yml")
BROKER = "mqtt://mosquitto:1883"  # how the services reach Mosquitto inside compose


def localised_config(tmp_path: Path, broker_url: str, port: int) -> Path:
    service = STACK.service("carbonline")
    (mount,) = [m for m in STACK.mounts(service) if m.target.endswith("plant.toml")]
    text = mount.source.read_text(encoding="utf-8")
    assert BROKER in text and '"0.0.0.0:8787"' in text and '"/var/lib/carbonline"' in text
    text = (text.replace(BROKER, broker_url)
            .replace('"0.0.0.0:8787"', f'"127.0.0.1:{port}"')
            .replace('"/var/lib/carbonline"', json.dumps(str(tmp_path / "state"))
                     + '\nhealth_interval = "1s"'))  # /health shows the subscription soon
    config = tmp_path / "plant.toml"
    config.write_text(text, encoding="utf-8")
    return config


def simulator_command(broker_url: str) -> str:
    (command,) = STACK.service("simulator")["command"]
    assert "--speed 1 " in command and BROKER in command
    return (command.replace("--speed 1 ", "--speed 600 --duration 12m ")
            .replace(BROKER, broker_url))


def retained(broker_url: str, topic: str) -> dict:
    """The retained message on ``topic`` (carbonline keeps each line's latest intensity)."""
    got: list[bytes] = []
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.on_message = lambda _c, _u, message: got.append(message.payload)
    host, port = broker_url.removeprefix("mqtt://").split(":")
    client.connect(host, int(port))
    client.subscribe(topic, qos=1)
    client.loop_start()
    deadline = time.monotonic() + 5
    while not got and time.monotonic() < deadline:
        time.sleep(0.05)
    client.loop_stop()
    client.disconnect()
    assert got, f"nothing retained on {topic}"
    return json.loads(got[-1])


def test_simulator_feeds_carbonline_into_influxdb(tmp_path: Path, mosquitto, influxdb,
                                                  influx_db: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    environment = dict(STACK.service("carbonline")["environment"])
    environment.update(CARBONLINE_INFLUX_URL=influxdb.url, CARBONLINE_INFLUX_DATABASE=influx_db)
    for key, value in environment.items():
        monkeypatch.setenv(key, str(value))
    (port,) = free_ports(1)
    config = localised_config(tmp_path, mosquitto.url, port)
    began = time.time()
    run = start_run(config, port, mosquitto.url)
    try:
        path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
        simulated = subprocess.run(["/bin/sh", "-c", simulator_command(mosquitto.url)],
                                   cwd=tmp_path, env={**os.environ, "PATH": path},
                                   capture_output=True, text=True, timeout=120)
        assert simulated.returncode == 0, simulated.stderr
        query = ('SELECT count("co2e_kg") FROM "carbon_intensity" WHERE "window" = \'1m\' '
                 'GROUP BY "line"')
        deadline = time.monotonic() + 60
        while True:
            series = influxdb.query(query, db=influx_db)["results"][0].get("series", [])
            counts = {s["tags"]["line"]: s["values"][0][1] for s in series}
            if len(counts) == 3 and min(counts.values()) >= 8 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    finally:
        run.send_signal(signal.SIGTERM)
        _, stderr = run.communicate(timeout=60)
    assert run.returncode == 0, stderr[-2000:]
    assert sorted(counts) == ["line1", "line2", "line3"], counts
    assert min(counts.values()) >= 8, counts  # most of the 12 simulated minutes
    first = influxdb.query('SELECT first("co2e_kg") FROM "carbon_intensity" '
                           'WHERE "window" = \'1m\'', db=influx_db)
    stamped = first["results"][0]["series"][0]["values"][0][0]
    start = time.mktime(time.strptime(stamped, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    assert abs(start - began) < 180, stamped  # plant time = wall-clock time (the $(date))
    latest = retained(mosquitto.url, "carbonline/sim-plant/line1/intensity")
    assert latest["line"] == "line1" and latest["co2e_kg"] > 0
