"""compose/mosquitto/mosquitto.conf on a real Mosquitto (Debian's, as the MQTT tests use): the
broker accepts the file, and what it is there for holds — a persistent session's QoS 1 messages
are queued while carbonline is away and survive a broker restart (persistence on disk), up to
``max_queued_messages``. Only what differs outside a container is rewritten: the listener
(loopback, a free port), the persistence folder and the log file."""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import paho.mqtt.client as mqtt
from deploy.compose_model import COMPOSE, ComposeFile
from servers._common import debian_binary, free_ports, stop, wait_until

CONF = COMPOSE / "mosquitto" / "mosquitto.conf"


def settings(text: str) -> dict[str, list[str]]:
    """The file's directives: name → the values it is given (comments and blanks left out)."""
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.strip().partition(" ")
            found.setdefault(name, []).append(value)
    return found


def localised(text: str, port: int, root: Path) -> str:
    """The compose file for a broker on this machine: listener, persistence folder and log
    moved; ``user root`` when run as root (Mosquitto otherwise drops to a user that may not
    exist, stack notes)."""
    text = re.sub(r"^listener \d+$", f"listener {port} 127.0.0.1", text, flags=re.MULTILINE)
    text = re.sub(r"^persistence_location .*$", f"persistence_location {root}/", text,
                  flags=re.MULTILINE)
    text = re.sub(r"^log_dest .*$", f"log_dest file {root}/mosquitto.log", text,
                  flags=re.MULTILINE)
    return text + ("user root\n" if os.geteuid() == 0 else "")


@contextmanager
def broker(config: Path, port: int, root: Path) -> Iterator[None]:
    binary = debian_binary("mosquitto", "mosquitto", "CARBONLINE_MOSQUITTO")
    process = subprocess.Popen([str(binary), "-c", str(config)], stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: _connects(port), process, root / "mosquitto.log", "mosquitto")
        yield
    finally:
        stop(process)


def _connects(port: int) -> bool:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", port)
    client.disconnect()
    return True


def _client(port: int, client_id: str) -> mqtt.Client:
    """A connected MQTT 5 client with a persistent session (an hour), loop running."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                         protocol=mqtt.MQTTv5)
    properties = mqtt.Properties(mqtt.PacketTypes.CONNECT)
    properties.SessionExpiryInterval = 3600
    client.connect("127.0.0.1", port, clean_start=False, properties=properties)
    client.loop_start()
    return client


def test_compose_conf_keeps_messages_for_an_absent_subscriber(tmp_path: Path) -> None:
    text = CONF.read_text(encoding="utf-8")
    given = settings(text)
    assert given["persistence"] == ["true"]
    assert int(given["max_queued_messages"][0]) >= 10_000
    # the compose file mounts it where the image reads it, and a volume where it persists
    service = ComposeFile(COMPOSE / "docker-compose.yml").service("mosquitto")
    assert "/mosquitto/config/mosquitto.conf" in [m.target for m in ComposeFile(
        COMPOSE / "docker-compose.yml").mounts(service)]
    assert any(v.endswith(":" + given["persistence_location"][0].rstrip("/"))
               for v in service["volumes"] if isinstance(v, str))

    (port,) = free_ports(1)
    config = tmp_path / "mosquitto.conf"
    config.write_text(localised(text, port, tmp_path))
    received: list[bytes] = []
    with broker(config, port, tmp_path):
        carbonline = _client(port, "carbonline-sim-plant")
        carbonline.subscribe("uns/sim-plant/#", qos=1)
        time.sleep(0.3)
        carbonline.disconnect()  # carbonline restarts: its session stays
        carbonline.loop_stop()
        simulator = _client(port, "carbonline-sim-sim-plant")
        for i in range(5):
            simulator.publish("uns/sim-plant/line1/filler1-kwh", f'{{"value": {i}}}',
                              qos=1).wait_for_publish(5)
        simulator.disconnect()
        simulator.loop_stop()
    with broker(config, port, tmp_path):  # the broker restarted: the queue is on disk
        carbonline = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                                 client_id="carbonline-sim-plant", protocol=mqtt.MQTTv5)
        carbonline.on_message = lambda _c, _u, message: received.append(message.payload)
        properties = mqtt.Properties(mqtt.PacketTypes.CONNECT)
        properties.SessionExpiryInterval = 3600
        carbonline.connect("127.0.0.1", port, clean_start=False, properties=properties)
        carbonline.loop_start()
        deadline = time.monotonic() + 10
        while len(received) < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        carbonline.disconnect()
        carbonline.loop_stop()
    assert received == [f'{{"value": {i}}}'.encode() for i in range(5)]
