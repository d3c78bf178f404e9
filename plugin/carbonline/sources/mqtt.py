"""The built-in MQTT source: meters read from the plant's broker (paho-mqtt).

It claims inputs ``mqtt://host:port`` and ``mqtts://host:port`` (TLS); the settings of the
``[sources.mqtt]`` section with that URL apply (credentials, TLS, session), defaults otherwise.

**Which messages are meters.** A meter's ``mqtt = { topic, path, time_path }`` mapping names a
topic filter (``+`` and ``#`` allowed) and, for JSON payloads, the dotted ``path`` of its value
and optionally of its timestamp; without a ``path`` the payload is the value itself, a plain
number (or, for ``sku``/``order`` meters, the text). A JSON payload may carry many readings:
several meters may map paths of the same topic, and a payload that is a JSON array is read
element by element (a gateway sending a burst of samples). Every meter also listens on the
design brief's input convention ``carbonline/<site>/in/<meter id>`` with ``{"ts", "value",
"unit"}``, for flows that hold values already.

**Time.** ``time_path`` (``ts`` in the convention) is ISO 8601 (a time without offset is in
the site's zone) or epoch seconds, milliseconds, microseconds or nanoseconds, told apart by
magnitude (a plant's clock does not read 1973); without one, the arrival time stands in.

**Bad input** never stops the run: a payload over ``max_payload`` bytes, JSON that does not
parse, a value that is not a number, a ``unit`` beside the value that is not the meter's, a
message that gives no meter anything (``unknown_meter``) are counted as rejections with their
reason, logged by the engine, and republished raw on the dead-letter topic (default
``carbonline/<site>/deadletter``) as ``{"topic", "reason", "detail", "payload"}`` so a flow can
inspect and replay them.

**Delivery.** QoS 1 on a persistent session (MQTT 5, ``clean_start`` off, session expiry
``session_expiry``): while carbonline is away the broker queues what is published (bounded by
the broker, e.g. Mosquitto's ``max_queued_messages``), and delivers it on reconnect. Lost
connections are retried by paho with backoff from 1 s to 60 s. QoS 1 is *at least once*: after
a broker restart a message may come again. With its own timestamp the engine refuses the
repeat as a ``duplicate``; a counter repeated at arrival time adds nothing; an interval-energy
meter should therefore carry its timestamp (``time_path``).
"""

from __future__ import annotations

import json
import logging
import math
import re
import ssl
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import datetime
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ..config import CONTEXT_ROLES, MqttBroker, MqttMapping, Tls, settings_for
from ..partition import own_lines
from ..plant import PlantModel
from ..plugins import hookimpl
from ..records import NS_PER_S, ContextEvent, ReadingBatch, Reason, Rejection
from .files import meter_unit
from .inbox import LiveSource

log = logging.getLogger(__name__)

#: Distinct topics whose meters are remembered.
MAX_TOPICS = 100_000
#: Characters of a refused payload kept in the rejection (the dead letter keeps it all).
RAW_CHARS = 200
#: Epoch numbers above these are ns, µs, ms; below, seconds (the year 5138 in seconds).
_EPOCH_SCALES = ((1e17, 1), (1e14, 1_000), (1e11, 1_000_000))


@hookimpl
def carbonline_sources(plant: PlantModel, inputs: Sequence[str]) -> list:
    """Claim ``mqtt://`` and ``mqtts://`` inputs."""
    configured = plant.config.sources.mqtt
    return [
        MqttSource(plant, settings_for(url, configured, MqttBroker))
        for url in inputs if url.startswith(("mqtt://", "mqtts://"))
    ]


def connect_client(settings: MqttBroker, client_id: str, persistent: bool,
                   manual_ack: bool = False) -> mqtt.Client:
    """A paho MQTT 5 client for ``settings``, connecting in the background (``loop_start``) and
    reconnecting with backoff; ``persistent`` keeps the session (and its queued QoS 1
    messages) on the broker for ``session_expiry`` seconds; with ``manual_ack`` a QoS 1
    message stays unacknowledged (delivered again after a crash) until ``ack``."""
    url = urlsplit(settings.url)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                         protocol=mqtt.MQTTv5, manual_ack=manual_ack)
    if settings.username:
        client.username_pw_set(settings.username, settings.password)
    if url.scheme == "mqtts" or settings.tls is not None:
        _tls(client, settings.tls or Tls())
    client.reconnect_delay_set(min_delay=1, max_delay=60)
    properties = None
    if persistent:
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = int(settings.session_expiry)
    client.connect_async(url.hostname or "localhost",
                         url.port or (8883 if url.scheme == "mqtts" else 1883),
                         keepalive=int(settings.keepalive), clean_start=not persistent,
                         properties=properties)
    client.loop_start()
    return client


def _tls(client: mqtt.Client, tls: Tls) -> None:
    client.tls_set(ca_certs=tls.ca, certfile=tls.certificate, keyfile=tls.private_key,
                   cert_reqs=ssl.CERT_REQUIRED)
    client.tls_insecure_set(tls.insecure)


def client_id_for(site: str, suffix: str = "") -> str:
    """``carbonline-<site>[-suffix]``, in the characters every broker accepts: a fixed id is
    what lets the broker find the persistent session again after a restart."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", f"carbonline-{site}{suffix}")[:64]


class MqttSource(LiveSource):
    """Readings from one broker; see the module docstring for the rules."""

    def __init__(self, plant: PlantModel, settings: MqttBroker) -> None:
        super().__init__(plant, settings)
        site = plant.site
        self.input_prefix = f"carbonline/{site}/in/"
        self.dead_letter = (f"carbonline/{site}/deadletter" if settings.dead_letter_topic is None
                            else settings.dead_letter_topic)
        self.zone = ZoneInfo(plant.config.site.timezone)
        self.units = [meter_unit(plant, m) for m in plant.meters]
        self.context = [m.role in CONTEXT_ROLES for m in plant.meters]
        self.mapped: list[tuple[int, MqttMapping]] = [
            (i, m.mqtt) for i, m in enumerate(plant.meters) if m.mqtt is not None]
        # a worker of a partitioned run listens to its own meters only, so other workers'
        # readings on the input convention are not refused (and dead-lettered) here
        lines = own_lines(plant.config)
        convention = ({self.input_prefix + m.id for m in plant.meters}
                      if lines is not None else {self.input_prefix + "+"})
        self.filters = sorted({m.topic for _, m in self.mapped} | convention)
        # one persistent session per worker: two workers under one client id would take the
        # session from each other at every reconnect
        run = plant.config.run
        #: with a state store, a message is acknowledged only once logged there (acknowledge)
        self.manual_ack = run.state_dir is not None
        self.client_id = settings.client_id or client_id_for(
            plant.site, "" if lines is None else f"-{run.worker or '+'.join(lines)}")
        self.subscribed = threading.Event()  # set once the broker has taken the subscriptions
        self._connected_once = False
        self._topic_cache: dict[str, list[tuple[int, str | None, str | None]]] = {}
        self._client: mqtt.Client | None = None

    # --- the run's side ----------------------------------------------------------------------

    def read(self) -> Iterator[ReadingBatch]:
        """Connect, then yield what arrived, at least every second, until :meth:`close`."""
        self._client = connect_client(self.settings, self.client_id, True, self.manual_ack)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.on_subscribe = self._on_subscribe
        try:
            yield from self.inbox.batches()
        finally:
            self._client.disconnect()
            self._client.loop_stop()

    def acknowledge(self, receipt: list) -> None:
        """The messages behind a batch now safe in the state store: the broker may forget
        them (before this, a crash has them delivered again)."""
        if self._client is not None:
            for mid, qos in receipt:
                if qos:
                    self._client.ack(mid, qos)

    # --- paho's network thread ---------------------------------------------------------------

    def _on_connect(self, client: mqtt.Client, userdata: object, flags: object,
                    reason_code: mqtt.ReasonCode, properties: object) -> None:
        if reason_code.is_failure:
            log.error("MQTT %s refused the connection: %s", self.name, reason_code)
            self.counters["connect_refused"] += 1
            return
        if self._connected_once:
            self.counters["reconnects"] += 1
        self._connected_once = True
        client.subscribe([(topic, 1) for topic in self.filters])
        log.info("MQTT %s connected; subscribed to %s", self.name, ", ".join(self.filters))

    def _on_subscribe(self, *args: object) -> None:
        self.counters["subscribed"] += 1  # once per (re)connection, in carbonline_health
        self.subscribed.set()

    def _on_disconnect(self, client: mqtt.Client, userdata: object, flags: object,
                       reason_code: mqtt.ReasonCode, properties: object) -> None:
        if not self.inbox.closed.is_set():
            log.warning("MQTT %s disconnected (%s); reconnecting", self.name, reason_code)
            self.counters["disconnects"] += 1

    def _on_message(self, client: mqtt.Client, userdata: object,
                    message: mqtt.MQTTMessage) -> None:
        self.counters["messages"] += 1
        arrival = time.time_ns()
        readings: list[tuple[int, int, float]] = []
        events: list[ContextEvent] = []
        receipt = (message.mid, message.qos) if self.manual_ack else None
        try:
            self._parse(message.topic, message.payload, arrival, readings, events)
        except _Refused as refused:
            self._refuse(client, message, refused.reason, refused.detail, receipt)
            return
        self.inbox.put(readings, events, receipt=receipt)

    def _refuse(self, client: mqtt.Client, message: mqtt.MQTTMessage, reason: Reason,
                detail: str, receipt: object = None) -> None:
        raw = message.payload.decode("utf-8", errors="replace")
        self.inbox.put(rejections=[Rejection(reason, f"{self.name} {message.topic}: {detail}",
                                             raw[:RAW_CHARS])], receipt=receipt)
        self.counters["rejected"] += 1
        if self.dead_letter:
            letter = {"topic": message.topic, "reason": reason.value, "detail": detail,
                      "payload": raw}
            client.publish(self.dead_letter, json.dumps(letter), qos=1)
            self.counters["dead_lettered"] += 1

    # --- payload → readings ------------------------------------------------------------------

    def _parse(self, topic: str, payload: bytes, arrival: int,
               readings: list[tuple[int, int, float]], events: list[ContextEvent]) -> None:
        if len(payload) > self.settings.max_payload:
            raise _Refused(Reason.MALFORMED, f"payload of {len(payload)} bytes is over "
                           f"max_payload ({self.settings.max_payload})")
        targets = self._targets(topic)
        if not targets:
            meter = topic.removeprefix(self.input_prefix)
            raise _Refused(Reason.UNKNOWN_METER, f"no meter {meter!r}"
                           if topic.startswith(self.input_prefix) else "no meter maps this topic")
        document: object = _NOT_PARSED
        given = 0
        for meter, path, time_path in targets:
            if path is None:
                given += self._plain(meter, payload, arrival, readings, events)
                continue
            if document is _NOT_PARSED:
                try:
                    document = json.loads(payload)
                except (ValueError, UnicodeDecodeError) as exc:
                    raise _Refused(Reason.MALFORMED, f"not JSON: {exc}") from None
            for element in document if isinstance(document, list) else [document]:
                given += self._from_json(meter, element, path, time_path, arrival, readings,
                                         events)
        if not given:
            raise _Refused(Reason.UNKNOWN_METER, "the payload has none of the mapped paths ("
                           + ", ".join(sorted({p for _, p, _ in targets if p})) + ")")

    def _targets(self, topic: str) -> list[tuple[int, str | None, str | None]]:
        """(meter, value path, time path) of every meter this topic feeds; cached per topic,
        since matching against every filter is the costly part and a plant's topics are a
        fixed set (the cache is dropped if a broker ever sends more than MAX_TOPICS)."""
        found = self._topic_cache.get(topic)
        if found is None:
            if len(self._topic_cache) >= MAX_TOPICS:
                self._topic_cache.clear()
            if topic.startswith(self.input_prefix):
                meter = self.plant.meter_index.get(topic.removeprefix(self.input_prefix))
                found = [] if meter is None else [(meter, "value", "ts")]
            else:
                found = [(meter, m.path, m.time_path) for meter, m in self.mapped
                         if mqtt.topic_matches_sub(m.topic, topic)]
            self._topic_cache[topic] = found
        return found

    def _plain(self, meter: int, payload: bytes, arrival: int,
               readings: list[tuple[int, int, float]], events: list[ContextEvent]) -> int:
        text = payload.decode("utf-8", errors="replace").strip()
        return self._value(meter, text, arrival, readings, events)

    def _from_json(self, meter: int, element: object, path: str, time_path: str | None,
                   arrival: int, readings: list[tuple[int, int, float]],
                   events: list[ContextEvent]) -> int:
        parent, key = _walk(element, path)
        if parent is None or key not in parent:
            return 0
        unit = parent.get("unit")
        if unit is not None and not self.context[meter] and unit != self.units[meter]:
            raise _Refused(Reason.WRONG_UNIT, f"unit {unit!r}, meter "
                           f"{self.plant.meters[meter].id} is in {self.units[meter]!r}")
        moment = arrival
        if time_path is not None:
            stamp_parent, stamp_key = _walk(element, time_path)
            if stamp_parent is None or stamp_key not in stamp_parent:
                raise _Refused(Reason.MALFORMED, f"no timestamp at {time_path!r}")
            moment = self._moment(stamp_parent[stamp_key])
        return self._value(meter, parent[key], moment, readings, events)

    def _value(self, meter: int, value: object, moment: int,
               readings: list[tuple[int, int, float]], events: list[ContextEvent]) -> int:
        if self.context[meter]:
            text = value if isinstance(value, str) else json.dumps(value)
            event = self._texts.event(meter, moment, text)
            if event is not None:
                events.append(event)
            return 1
        number = _number(value)
        if number is None:
            raise _Refused(Reason.NOT_A_NUMBER, f"{value!r} for meter "
                           f"{self.plant.meters[meter].id} is not a number")
        readings.append((meter, moment, number))
        return 1

    def _moment(self, stamp: object) -> int:
        """A timestamp as ns UTC (see the module docstring for the accepted forms)."""
        if isinstance(stamp, (int, float)) and not isinstance(stamp, bool):
            if not math.isfinite(stamp):
                raise _Refused(Reason.MALFORMED, f"timestamp {stamp!r}")
            for limit, ns_per_unit in _EPOCH_SCALES:
                if abs(stamp) >= limit:
                    return int(stamp * ns_per_unit)
            return int(stamp * NS_PER_S)
        if isinstance(stamp, str):
            try:
                moment = datetime.fromisoformat(stamp)
            except ValueError:
                raise _Refused(Reason.MALFORMED, f"timestamp {stamp!r} is not ISO 8601") from None
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=self.zone)
            seconds = int(moment.timestamp() // 1)
            return seconds * NS_PER_S + moment.microsecond * 1000
        raise _Refused(Reason.MALFORMED, f"timestamp {stamp!r}")


class _Refused(Exception):
    """A message that cannot be used, with why."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


_NOT_PARSED = object()


def _walk(document: object, path: str) -> tuple[dict | None, str]:
    """The object holding the last key of a dotted ``path`` and that key (``None`` when the
    way there is missing)."""
    *parents, key = path.split(".")
    for part in parents:
        if not isinstance(document, dict) or part not in document:
            return None, key
        document = document[part]
    return (document if isinstance(document, dict) else None), key


def _number(value: object) -> float | None:
    """A finite float from a JSON number or numeric text; ``None`` otherwise (booleans too)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None
