"""Discovery on a broker: listen for a while and list every topic and JSON leaf that carries a
number or a short text, with the values seen.

A broker has no catalogue, so this is a sniff: subscribe to a filter (``#`` by default) for
``seconds`` and keep what arrives. Retained messages come at once; others only if published
while listening, so give it at least one publishing cycle of the plant's gateways. Topics under
``$SYS/`` and carbonline's own ``carbonline/`` are left out. A JSON key named ``ts``, ``time``
or ``timestamp`` beside a value (or above it) becomes its ``time_path``, a ``unit`` key beside
it its unit.
"""

from __future__ import annotations

import json
import threading
import time

import paho.mqtt.client as mqtt

from ..config import MqttBroker
from .found import Found

#: Keys that hold a reading's own timestamp rather than a value.
TIME_KEYS = ("ts", "time", "timestamp")
#: Values kept per signal (the newest), for the role guess and the listing.
SAMPLES = 5
#: Text longer than this is a message, not a SKU or order number.
MAX_TEXT = 64


def sniff_mqtt(settings: MqttBroker, seconds: float = 10.0, topic: str = "#") -> list[Found]:
    """Every signal seen on ``topic`` within ``seconds``, in the order first seen."""
    from ..sources.mqtt import connect_client

    seen: dict[tuple[str, str | None], Found] = {}
    lock = threading.Lock()
    subscribed = threading.Event()

    def on_message(client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        if message.topic.startswith(("$SYS/", "carbonline/")):
            return
        with lock:
            for path, value, time_path, unit in _leaves(message.payload):
                key = (message.topic, path)
                if key not in seen:
                    mapping = {"topic": message.topic, "path": path, "time_path": time_path}
                    name = message.topic + (f"/{path}" if path else "")
                    seen[key] = Found(name, {"mqtt": {k: v for k, v in mapping.items()
                                                      if v is not None}}, unit=unit, where=name)
                seen[key].samples = (seen[key].samples + [value])[-SAMPLES:]

    client = connect_client(settings, f"carbonline-discover-{time.time_ns() % 10**9}", False)
    client.on_message = on_message
    client.on_connect = lambda c, *a: c.subscribe(topic, qos=0)
    client.on_subscribe = lambda *a: subscribed.set()
    try:
        if not subscribed.wait(30):
            raise ConnectionError(f"could not subscribe on {settings.url} within 30 s")
        time.sleep(seconds)
    finally:
        client.disconnect()
        client.loop_stop()
    with lock:
        return list(seen.values())


Leaf = tuple[str | None, float | str, str | None, str | None]


def _leaves(payload: bytes) -> list[Leaf]:
    """(JSON path or None for a plain payload, value, time path, stated unit) of each usable
    value; a ``unit`` key beside a value is its unit."""
    text = payload.decode("utf-8", errors="replace").strip()
    try:
        document = json.loads(text)
    except ValueError:
        return [(None, text, None, None)] if 0 < len(text) <= MAX_TEXT else []
    if isinstance(document, (int, float)) and not isinstance(document, bool):
        return [(None, float(document), None, None)]
    out: list[Leaf] = []
    _walk(document, "", out)
    return out


def _walk(node: object, prefix: str, out: list[Leaf], time_path: str | None = None) -> None:
    """Leaves of a JSON object; a timestamp key applies to its siblings and below."""
    if not isinstance(node, dict):
        return
    stamp = next((k for k in TIME_KEYS if k in node), None)
    time_path = f"{prefix}{stamp}" if stamp else time_path
    unit = node.get("unit") if isinstance(node.get("unit"), str) else None
    for key, value in node.items():
        if key == stamp or key == "unit":
            continue
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            _walk(value, path + ".", out, time_path)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out.append((path, float(value), time_path, unit))
        elif isinstance(value, str) and 0 < len(value) <= MAX_TEXT:
            out.append((path, value, time_path, None))
