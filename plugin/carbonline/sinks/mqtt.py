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

**Requests.** In ``carbonline run`` the same connection also answers the HTTP API's questions
asked over MQTT (:mod:`carbonline.api.requests`: one publisher, one client id, whatever the
broker's ACL grants it): it subscribes ``request_topic`` (default
``<prefix>/<site>/request/#``, again after every reconnect) and publishes each answer at QoS 1
on the request's MQTT 5 Response Topic with its Correlation Data, or — an MQTT 3.1.1 client
has neither — on ``<response_prefix>/<correlation_id>`` (default
``<prefix>/<site>/response``) when the request holds a ``correlation_id``. A request that
names no way back is counted as ``requests_unanswerable`` and logged. Answers are worked out
in ``REQUEST_WORKERS`` threads of their own, so a slow InfluxDB query never holds up paho's
network thread (and the results it publishes).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ..config import MqttSink, settings_for
from ..plant import PlantModel
from ..plugins import hookimpl
from ..records import AlertRow, FactorRow, HealthRow, IntensityRow, MachineRow, Row
from ..series import as_json
from ..sources.mqtt import client_id_for, connect_client

log = logging.getLogger(__name__)

#: Threads answering MQTT requests (an InfluxDB query each, at most).
REQUEST_WORKERS = 2


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
        self._answer: Callable[[bytes], dict] | None = None
        self._workers: ThreadPoolExecutor | None = None
        self.request_topic = (f"{self.site_topic}/request/#" if settings.request_topic is None
                              else settings.request_topic)
        self.response_prefix = settings.response_prefix or f"{self.site_topic}/response"
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
                self._track(info.mid)

    def _track(self, mid: int) -> None:
        """Count ``mid`` as pending until the broker acknowledges it."""
        with self._lock:
            if mid in self._early:
                self._early.discard(mid)
            else:
                self._pending.add(mid)

    # --- MQTT request/response ---------------------------------------------------------------

    def serve_requests(self, answer: Callable[[bytes], dict]) -> None:
        """Answer requests on :attr:`request_topic` with ``answer`` (a request payload → the
        response object); an empty ``request_topic`` leaves requests off."""
        if not self.request_topic:
            return
        self._answer = answer
        self._workers = ThreadPoolExecutor(REQUEST_WORKERS, thread_name_prefix="mqtt-request")
        self._client.message_callback_add(self.request_topic, self._on_request)
        self._client.on_connect = self._on_connect
        if self._client.is_connected():  # connected before on_connect was set
            self._subscribe()

    def _subscribe(self) -> None:
        self._client.subscribe(self.request_topic, qos=1)

    def _on_connect(self, client: mqtt.Client, userdata: object, flags: object,
                    reason_code: mqtt.ReasonCode, properties: object) -> None:
        if not reason_code.is_failure:  # a clean session: subscribe again at every connect
            self._subscribe()

    def _on_request(self, client: mqtt.Client, userdata: object,
                    message: mqtt.MQTTMessage) -> None:
        """paho's network thread: hand the request to a worker."""
        self.counters["requests"] += 1
        if self._workers is not None:
            self._workers.submit(self._respond, message)

    def _respond(self, message: mqtt.MQTTMessage) -> None:
        assert self._answer is not None
        try:
            response = self._answer(message.payload)
        except Exception:  # noqa: BLE001 - a bug in one answer must not end the worker
            log.exception("MQTT request on %s could not be answered", message.topic)
            response = {"status": 500, "error": "internal error; see carbonline's log"}
        properties = Properties(PacketTypes.PUBLISH)
        topic = getattr(message.properties, "ResponseTopic", None)
        correlation = getattr(message.properties, "CorrelationData", None)
        if correlation is not None:
            properties.CorrelationData = correlation
        if not topic:
            topic = _response_topic(self.response_prefix, response.get("correlation_id"))
        if topic is None:
            self.counters["requests_unanswerable"] += 1
            log.warning("MQTT request on %s has no Response Topic and no usable "
                        "correlation_id: not answered", message.topic)
            return
        if response["status"] >= 400:
            self.counters["request_errors"] += 1
        info = self._client.publish(topic, json.dumps(response), qos=1,
                                    properties=properties)
        self._track(info.mid)

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
        if self._workers is not None:
            self._workers.shutdown(cancel_futures=True)
        if self.queue_depth:
            log.error("MQTT %s: %d messages not delivered at close", self.name,
                      self.queue_depth)
        self._client.disconnect()
        self._client.loop_stop()


def _response_topic(prefix: str, correlation_id: object) -> str | None:
    """``<prefix>/<correlation_id>`` for an MQTT 3.1.1 request; ``None`` when the id is
    missing or not usable in a topic (wildcards, an empty level)."""
    if not isinstance(correlation_id, str) or not correlation_id:
        return None
    if any(c in correlation_id for c in "+#\0") or "" in correlation_id.split("/"):
        return None
    return f"{prefix}/{correlation_id}"
