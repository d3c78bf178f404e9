"""The MQTT publisher against a real Mosquitto: topics, payloads, retained last values."""

from __future__ import annotations

import json
import threading
import time
import uuid

import paho.mqtt.client as mqtt
import pytest

from carbonline.config import MqttSink, parse_config
from carbonline.plant import build_plant
from carbonline.records import (
    FactorRow,
    HealthRow,
    IntensityRow,
    MachineRow,
    Provenance,
    Window,
)
from carbonline.sinks.mqtt import MqttPublisher, carbonline_sinks

MINUTE = 60 * 10**9
T0 = 1_772_431_200 * 10**9  # 2026-03-02T06:00:00Z


@pytest.fixture
def plant():
    site = f"site{uuid.uuid4().hex[:8]}"
    return build_plant(parse_config({
        "site": {"name": site, "timezone": "UTC", "grid_zone": "DE"},
        "factors": {"grid_kg_per_kwh": 0.5},
        "lines": [{"id": "l1"}, {"id": "l2"}],
        "machines": [{"id": "filler", "line": "l1"}, {"id": "oven", "line": "l2"}],
        "meters": [{"id": "e", "role": "energy_counter", "machine": "filler", "unit": "kWh"}],
    }))


def intensity(line: str, minute: int, kind: str = "1m", co2e: float = 3.0,
              units: float = 10.0, revision: int = 1) -> IntensityRow:
    start = T0 + minute * MINUTE
    return IntensityRow("s", line, "cola", "early", Window(kind, start, start + MINUTE),
                        electricity_kwh=co2e * 2, fuel_kwh=0.0, scope1_co2e_kg=0.0,
                        scope2_location_co2e_kg=co2e, scope2_market_co2e_kg=co2e,
                        good_units=units, grid_factor_kg_per_kwh=0.5, coverage_pct=100.0,
                        order_id="o-17" if kind == "order" else "", revision=revision)


class Listener:
    """Subscribes to everything under the site and keeps (topic, payload, retained)."""

    def __init__(self, url: str, topic: str) -> None:
        self.got: list[tuple[str, dict, bool]] = []
        self.ready = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.on_message = lambda c, u, m: self.got.append(
            (m.topic, json.loads(m.payload), bool(m.retain)))
        self.client.on_subscribe = lambda *a: self.ready.set()
        self.client.connect("127.0.0.1", int(url.rsplit(":", 1)[1]))
        self.client.subscribe(topic, qos=1)
        self.client.loop_start()
        assert self.ready.wait(5)

    def wait(self, count: int) -> list[tuple[str, dict, bool]]:
        deadline = time.monotonic() + 10
        while len(self.got) < count:
            assert time.monotonic() < deadline, f"got {len(self.got)} of {count}: {self.got}"
            time.sleep(0.02)
        return self.got

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_rows_go_to_their_topics_with_tags_and_fields(mosquitto, plant):
    site = plant.site
    listener = Listener(mosquitto.url, f"carbonline/{site}/#")
    (sink,) = carbonline_sinks(plant, [mosquitto.url, "out.lp"])
    provenance = Provenance("constant", "configured", basis="market", estimated=True)
    rows = [
        intensity("l1", 0),
        intensity("l1", 0, kind="15m"),  # not a published window by default
        intensity("l2", 0, kind="order"),
        MachineRow("s", "l1", "filler", "cola", Window("15m", T0, T0 + 15 * MINUTE),
                   energy_kwh=4.0, co2e_kg=2.0, good_units=0.0, allocated_share=1.0),
        FactorRow("DE", T0, 0.38, provenance),
        HealthRow(T0, site, "engine", {"accepted": 12, "rejected_malformed": 1}),
    ]
    sink.write(rows)
    sink.close()
    assert sink.queue_depth == 0
    got = {topic: (payload, retained) for topic, payload, retained in listener.wait(5)}
    listener.stop()
    base = f"carbonline/{site}"
    assert set(got) == {f"{base}/l1/intensity", f"{base}/l2/order", f"{base}/l1/machine/filler",
                        f"{base}/factor/market", f"{base}/health/engine"}
    payload, _ = got[f"{base}/l1/intensity"]
    assert payload["time"] == "2026-03-02T06:00:00Z"
    assert (payload["line"], payload["sku"], payload["window"]) == ("l1", "cola", "1m")
    assert payload["co2e_kg"] == 3.0 and payload["good_units"] == 10.0
    assert payload["co2e_per_unit_kg"] == pytest.approx(0.3)
    assert payload["revision"] == 1
    order, _ = got[f"{base}/l2/order"]
    assert order["order_id"] == "o-17"
    assert order["end_time"] == "2026-03-02T06:01:00Z"
    machine, _ = got[f"{base}/l1/machine/filler"]
    assert "energy_per_unit_kwh" not in machine  # no good units: undefined, left out
    factor, _ = got[f"{base}/factor/market"]
    assert factor == {"time": "2026-03-02T06:00:00Z", "zone": "DE", "provider": "constant",
                      "basis": "market", "type": "direct", "dataset": "configured",
                      "estimated": True, "kg_per_kwh": 0.38}
    health, _ = got[f"{base}/health/engine"]
    assert "line" not in health and health["accepted"] == 12


def test_a_late_subscriber_gets_each_lines_last_intensity(mosquitto, plant):
    """Retained: a flow subscribing later sees each line's current value, not only the next
    one; orders are events, not state, so they are not retained."""
    sink = MqttPublisher(plant, MqttSink(url=mosquitto.url))
    sink.write([intensity("l1", 0, co2e=3.0), intensity("l2", 0, co2e=5.0),
                intensity("l1", 1, co2e=4.0), intensity("l1", 1, co2e=4.5, revision=2),
                intensity("l1", 1, kind="order")])
    sink.close()
    listener = Listener(mosquitto.url, f"carbonline/{plant.site}/#")
    listener.wait(2)
    time.sleep(0.3)  # an order, wrongly retained, would arrive now
    got = sorted(listener.got)
    listener.stop()
    assert [(t.split("/")[2], p["co2e_kg"], p["revision"], r) for t, p, r in got] == [
        ("l1", 4.5, 2, True), ("l2", 5.0, 1, True)]
