"""The simulator on a broker: every reading published as it happens on the plant's unified
namespace (:mod:`.topics`), at plant pace, accelerated, or as fast as the broker takes it."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import numpy as np

from ..config import MqttBroker
from ..records import NS_PER_S
from ..sources.mqtt import connect_client
from .model import Layout, Signals
from .topics import UNITS, areas, context_topic, topic


def publish(plant: Layout, signals: Signals, url: str, speed: float,
            progress: Callable[[int], None] | None = None) -> int:
    """Publish every reading (QoS 1) and context change (retained); returns messages sent.
    ``speed`` is plant seconds per wall second (``0``: no waiting)."""
    client = connect_client(MqttBroker(url=url), f"carbonline-sim-{plant.site}", False)
    deadline = time.monotonic() + 10
    while not client.is_connected():
        if time.monotonic() > deadline:
            client.loop_stop()
            raise ConnectionError(f"no MQTT broker answers at {url}")
        time.sleep(0.01)
    where = areas(plant)
    meters = [(topic(plant, where[m], m), signals.values[m], UNITS[kind])
              for m, kind in signals.kinds.items()]
    context: dict[int, list[tuple[str, str]]] = {}
    for t, line, what, text in signals.context:
        context.setdefault(t, []).append((context_topic(plant, line, what), text))
    first = int(signals.times[0])
    wall0 = time.monotonic()
    sent = 0
    pending = []
    try:
        for i, t in enumerate(signals.times.tolist()):
            if speed > 0:
                delay = wall0 + (t - first) / NS_PER_S / speed - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            stamp = t // 1_000_000  # epoch ms, as most gateways send
            for name, text in context.get(t, []):
                pending.append(client.publish(name, json.dumps({"ts": stamp, "value": text}),
                                              qos=1, retain=True))
                sent += 1
            for name, values, unit in meters:
                value = values[i]
                if not np.isnan(value):
                    pending.append(client.publish(name, json.dumps(
                        {"ts": stamp, "value": float(value), "unit": unit}), qos=1))
                    sent += 1
            if len(pending) > 10_000:  # bound what paho holds: wait for the broker
                for info in pending:
                    info.wait_for_publish(30)
                pending = []
            if progress is not None:
                progress(sent)
        for info in pending:
            info.wait_for_publish(30)
    finally:
        client.disconnect()
        client.loop_stop()
    return sent
