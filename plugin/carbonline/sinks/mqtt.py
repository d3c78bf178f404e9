"""The built-in MQTT publisher: carbon results on the plant's broker, for Node-RED.

It claims outputs ``mqtt://host:port`` / ``mqtts://…``, with the ``[sinks.mqtt]`` settings
when the URL is that section's. Topics (``<prefix>`` is ``carbonline`` unless configured):

- ``<prefix>/<site>/<line>/intensity``: ``carbon_intensity`` rows of the configured windows
  (default ``1m``), retained, so a dashboard or flow that subscribes sees a line's current
  kg CO₂e/unit at once;
- ``<prefix>/<site>/<line>/machine/<machine>``: ``carbon_machine`` rows, retained;
- ``<prefix>/<site>/<line>/order``: each finished order's ``carbon_order`` row;
- ``<prefix>/<site>/factor/<basis>``: the grid factor (kg CO₂e/kWh), retained;
- ``<prefix>/<site>/health/<component>``: ``carbonline_health``, retained.

Payloads are JSON objects with the series' tags and fields (design brief §3; units in the
names: kWh, kg CO₂e, kg/unit) and ``time``, the window start in RFC 3339. A revised window is
published again with its higher ``revision``. Messages go out at QoS 1 by default; while the
broker is unreachable paho keeps them in memory and sends them on reconnect.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence

import paho.mqtt.client as mqtt

from ..config import MqttSink, settings_for
from ..plant import PlantModel
from ..plugins import hookimpl
from ..records import AlertRow, FactorRow, HealthRow, IntensityRow, MachineRow, Row
from ..series import as_json
from ..sources.mqtt import client_id_for, connect_client

log = logging.getLogger(__name__)


@hookimpl
def carbonline_sinks(plant: PlantModel, outputs: Sequence[str]) -> list:
    """Claim ``mqtt://`` and ``mqtts://`` outputs."""
    configured = plant.config.sinks.mqtt
    return [
        MqttPublisher(plant, settings_for(url, configured, MqttSink))
        for url in outputs if url.startswith(("mqtt://", "mqtts://"))
    ]


class MqttPublisher:
    """Publishes result rows; see the module docstring for topics and payloads."""

    def __init__(self, plant: PlantModel, settings: MqttSink) -> None:
        self.name = settings.url
        self.settings = settings
        self.counters: Counter[str] = Counter()
        self.site_topic = f"{settings.topic_prefix}/{plant.site}"
        self.windows = set(settings.windows)
        self.machine_windows = set(plant.config.engine.machine_windows) | {"shift", "day",
                                                                           "order"}
        self._lock = threading.Lock()
        self._pending: set[int] = set()  # message ids the broker has not acknowledged
        self._early: set[int] = set()  # acknowledged before publish() returned its id
        self._client = connect_client(settings, client_id_for(plant.site, "-sink"), False)
        self._client.on_publish = self._on_publish

    def write(self, rows: Iterable[Row]) -> None:
        for row in rows:
            target = self._topic(row)
            if target is None:
                continue
            topic, retain = target
            info = self._client.publish(topic, json.dumps(as_json(row)),
                                        qos=self.settings.qos,
                                        retain=retain and self.settings.retain)
            self.counters["published"] += 1
            if self.settings.qos:  # QoS 0 is fire and forget: nothing to wait for
                with self._lock:
                    if info.mid in self._early:
                        self._early.discard(info.mid)
                    else:
                        self._pending.add(info.mid)

    def _topic(self, row: Row) -> tuple[str, bool] | None:
        """Where a row goes and whether it is retained; ``None``: not published."""
        if isinstance(row, IntensityRow):
            if row.window.kind == "order":
                return f"{self.site_topic}/{row.line}/order", False
            if row.window.kind in self.windows:
                return f"{self.site_topic}/{row.line}/intensity", True
            return None
        if isinstance(row, MachineRow):
            return f"{self.site_topic}/{row.line}/machine/{row.machine}", True
        if isinstance(row, FactorRow):
            return f"{self.site_topic}/factor/{row.provenance.basis}", True
        if isinstance(row, HealthRow):
            return f"{self.site_topic}/health/{row.component}", True
        if isinstance(row, AlertRow):  # every transition matters: not retained
            return f"{self.site_topic}/{row.line}/alert", False
        return None

    @property
    def queue_depth(self) -> int:
        """Messages the broker has not acknowledged yet (held by paho until it does)."""
        return len(self._pending)

    def _on_publish(self, client: mqtt.Client, userdata: object, mid: int,
                    reason_code: object, properties: object) -> None:
        """The broker acknowledged ``mid`` (paho's thread; may come before publish returns)."""
        with self._lock:
            if mid in self._pending:
                self._pending.discard(mid)
            else:
                self._early.add(mid)

    def close(self) -> None:
        """Disconnect once the broker has what is pending (waiting at most 10 s)."""
        deadline = time.monotonic() + 10
        while self.queue_depth and time.monotonic() < deadline:
            time.sleep(0.01)
        if self.queue_depth:
            log.error("MQTT %s: %d messages not delivered at close", self.name,
                      self.queue_depth)
        self._client.disconnect()
        self._client.loop_stop()
