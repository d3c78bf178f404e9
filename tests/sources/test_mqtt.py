"""The MQTT source against a real Mosquitto: mapping, timestamps, bad input, sessions."""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime, timezone

import paho.mqtt.client as mqtt
import pytest

from carbonline.config import MqttBroker, Tls, parse_config
from carbonline.engine.accumulator import Engine
from carbonline.plant import PlantModel, build_plant
from carbonline.records import NS_PER_S, IntensityRow, Reason
from carbonline.sources.mqtt import MqttSource, carbonline_sources
from running import Running
from servers.mosquitto import start_mosquitto

T0 = int(datetime(2026, 3, 2, 6, tzinfo=timezone.utc).timestamp())  # seconds


def plant_for(prefix: str, site: str) -> PlantModel:
    """One line: a JSON energy counter with its own timestamp, a plain units counter, a
    wildcard power meter, a SKU on a plain topic."""
    return build_plant(parse_config({
        "site": {"name": site, "timezone": "UTC", "grid_zone": "DE"},
        "factors": {"grid_kg_per_kwh": 0.5},
        "lines": [{"id": "l1"}],
        "machines": [{"id": "filler", "line": "l1"}, {"id": "press", "line": "l1"}],
        "meters": [
            {"id": "e1", "role": "energy_counter", "machine": "filler", "unit": "kWh",
             "mqtt": {"topic": f"{prefix}/l1/filler", "path": "energy.kwh",
                      "time_path": "t"}},
            {"id": "u1", "role": "units_counter", "line": "l1",
             "mqtt": {"topic": f"{prefix}/l1/filler", "path": "count", "time_path": "t"}},
            {"id": "p1", "role": "power", "machine": "press", "unit": "kW",
             "mqtt": {"topic": f"{prefix}/+/press/kw"}},
            {"id": "sku", "role": "sku", "line": "l1", "mqtt": {"topic": f"{prefix}/l1/sku"}},
        ],
    }))


def publisher(url: str) -> mqtt.Client:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", int(url.rsplit(":", 1)[1]))
    client.loop_start()
    return client


def send(client: mqtt.Client, topic: str, payload: object, qos: int = 1) -> None:
    text = payload if isinstance(payload, (str, bytes)) else json.dumps(payload)
    client.publish(topic, text, qos=qos).wait_for_publish(5)


@pytest.fixture
def names() -> tuple[str, str]:
    """A topic prefix and site name of this test's own, on the shared broker."""
    tag = uuid.uuid4().hex[:8]
    return f"plant-{tag}", f"site{tag}"


def test_claims_mqtt_urls_with_their_section_settings(mosquitto, names):
    plant = plant_for(*names)
    (source,) = carbonline_sources(plant, [mosquitto.url, "/tmp/x.lp", "opc.tcp://plc:4840"])
    assert source.name == mosquitto.url
    assert source.settings == MqttBroker(url=mosquitto.url)


def test_json_plain_wildcard_and_array_payloads_become_readings(mosquitto, names):
    prefix, site = names
    plant = plant_for(prefix, site)
    running = Running(MqttSource(plant, MqttBroker(url=mosquitto.url)))
    pub = publisher(mosquitto.url)
    try:
        send(pub, f"{prefix}/l1/filler", {"t": T0, "energy": {"kwh": 100.0}, "count": 7})
        send(pub, f"{prefix}/l1/filler", [  # a burst: epoch ms and ISO 8601 stamps
            {"t": (T0 + 60) * 1000, "energy": {"kwh": 101.5}, "count": 19},
            {"t": "2026-03-02T06:02:00Z", "energy": {"kwh": 103.0}, "count": 31}])
        send(pub, f"{prefix}/hall2/press/kw", "42.5")
        send(pub, f"{prefix}/l1/sku", "cola-0.5l")
        running.wait(lambda: len(running.readings()) >= 7 and any(
            b.context for b in list(running.batches)), "7 readings and the SKU")
        before = time.time_ns()
        assert len(running.readings()) == 7, running.readings()
        got = {(plant.meters[m].id, t, v) for m, t, v in running.readings().tolist()}
        e1 = {(t, v) for m, t, v in got if m == "e1"}
        assert e1 == {(T0 * NS_PER_S, 100.0), ((T0 + 60) * NS_PER_S, 101.5),
                      ((T0 + 120) * NS_PER_S, 103.0)}
        assert {(t, v) for m, t, v in got if m == "u1"} == {
            (T0 * NS_PER_S, 7.0), ((T0 + 60) * NS_PER_S, 19.0), ((T0 + 120) * NS_PER_S, 31.0)}
        (press,) = [(t, v) for m, t, v in got if m == "p1"]
        assert press[1] == 42.5 and before - 10 * NS_PER_S < press[0] <= before  # arrival
        (event,) = [e for b in running.batches for e in b.context]
        assert (plant.meters[event.meter].id, event.text) == ("sku", "cola-0.5l")
        assert running.rejections() == []
    finally:
        running.stop()
        pub.loop_stop()


def test_input_convention_end_to_end_through_the_engine(mosquitto, names):
    """carbonline/<site>/in/<meter> {"ts","value","unit"} → carbon rows whose kg CO₂e per
    unit is the test's own arithmetic: Δ kWh × 0.5 kg/kWh ÷ Δ units."""
    prefix, site = names
    plant = plant_for(prefix, site)
    running = Running(MqttSource(plant, MqttBroker(url=mosquitto.url)))
    pub = publisher(mosquitto.url)
    kwh = [500.0, 502.5, 506.0, 507.0]
    units = [10, 40, 90, 100]
    try:
        for i, (e, u) in enumerate(zip(kwh, units)):
            stamp = datetime.fromtimestamp(T0 + 60 * i, timezone.utc).isoformat()
            send(pub, f"carbonline/{site}/in/e1", {"ts": stamp, "value": e, "unit": "kWh"})
            send(pub, f"carbonline/{site}/in/u1", {"ts": (T0 + 60 * i) * NS_PER_S,
                                                   "value": u})
        running.wait(lambda: len(running.readings()) == 8, "8 readings")
    finally:
        running.stop()
    engine = Engine(plant)
    rows = [r for b in running.batches for r in engine.ingest(b)] + engine.flush()
    minutes = sorted((r for r in rows if isinstance(r, IntensityRow) and r.window.kind == "1m"),
                     key=lambda r: r.window.start)
    assert [r.window.start // NS_PER_S - T0 for r in minutes] == [0, 60, 120]
    for i, row in enumerate(minutes):
        assert row.co2e_kg == pytest.approx((kwh[i + 1] - kwh[i]) * 0.5)
        assert row.good_units == units[i + 1] - units[i]
        assert row.co2e_per_unit_kg == pytest.approx(
            (kwh[i + 1] - kwh[i]) * 0.5 / (units[i + 1] - units[i]))


def test_bad_payloads_are_counted_dead_lettered_and_the_run_goes_on(mosquitto, names):
    prefix, site = names
    plant = plant_for(prefix, site)
    settings = MqttBroker(url=mosquitto.url, max_payload=1000)
    running = Running(MqttSource(plant, settings))
    letters: list[dict] = []
    pub = publisher(mosquitto.url)
    pub.on_message = lambda c, u, m: letters.append(json.loads(m.payload))
    pub.subscribe(f"carbonline/{site}/deadletter", qos=1)
    time.sleep(0.2)
    bad = [
        (f"{prefix}/l1/filler", "{not json", Reason.MALFORMED),
        (f"{prefix}/l1/filler", {"t": T0, "energy": {"kwh": "lots"}}, Reason.NOT_A_NUMBER),
        (f"{prefix}/l1/filler", {"t": T0, "energy": {"kwh": 5, "unit": "MWh"}},
         Reason.WRONG_UNIT),
        (f"{prefix}/l1/filler", {"t": T0, "other": 1}, Reason.UNKNOWN_METER),
        (f"{prefix}/l1/filler", {"t": "yesterday", "count": 3}, Reason.MALFORMED),
        (f"{prefix}/x/press/kw", "NaN", Reason.NOT_A_NUMBER),
        (f"carbonline/{site}/in/nosuchmeter", {"ts": T0, "value": 1}, Reason.UNKNOWN_METER),
        (f"{prefix}/x/press/kw", "9" * 1001, Reason.MALFORMED),
    ]
    try:
        for topic, payload, _ in bad:
            send(pub, topic, payload)
        send(pub, f"{prefix}/x/press/kw", "12")
        running.wait(lambda: len(running.readings()) == 1 and len(letters) == len(bad),
                     "the good reading and every dead letter")
        assert [r.reason for r in running.rejections()] == [reason for _, _, reason in bad]
        assert running.readings()["value"].tolist() == [12.0]
        assert running.source.counters["dead_lettered"] == len(bad)
        assert [(d["topic"], d["reason"]) for d in letters] == [
            (topic, reason.value) for topic, _, reason in bad]
        assert letters[0]["payload"] == "{not json"  # raw, for a flow to inspect or replay
        assert "nosuchmeter" in running.rejections()[6].detail
    finally:
        running.stop()
        pub.loop_stop()


def test_messages_published_while_away_arrive_on_return_and_after_a_broker_restart(
        tmp_path, names):
    """The persistent session: QoS 1 messages queued by the broker while carbonline is down
    (and kept across a broker restart, with persistence on) are delivered when it returns."""
    prefix, site = names
    broker = start_mosquitto(tmp_path)
    plant = plant_for(prefix, site)
    try:
        first = Running(MqttSource(plant, MqttBroker(url=broker.url)))
        first.stop()
        pub = publisher(broker.url)
        for value in (1.0, 2.0, 3.0):
            send(pub, f"{prefix}/x/press/kw", str(value))
        pub.loop_stop()
        second = Running(MqttSource(plant, MqttBroker(url=broker.url)))
        second.wait(lambda: len(second.readings()) == 3, "the queued messages")
        assert second.readings()["value"].tolist() == [1.0, 2.0, 3.0]
        broker.restart()
        second.wait(lambda: second.source.counters["reconnects"] >= 1, "a reconnect")
        pub = publisher(broker.url)
        send(pub, f"{prefix}/x/press/kw", "4")
        pub.loop_stop()
        second.wait(lambda: 4.0 in second.readings()["value"], "a message after the restart")
        second.stop()
        # QoS 1 is at least once: a broker restart may deliver a message again (the engine
        # refuses a repeated meter + timestamp as a duplicate); none is lost
        assert set(second.readings()["value"].tolist()) == {1.0, 2.0, 3.0, 4.0}
    finally:
        broker.stop()


def test_tls_and_credentials_are_used_and_a_refusal_is_counted(tmp_path, names):
    prefix, site = names
    broker = start_mosquitto(tmp_path, users={"carbonline": "s3cret"}, tls=True)
    plant = plant_for(prefix, site)
    tls = Tls(ca=str(broker.ca))
    try:
        refused = MqttSource(plant, MqttBroker(url=broker.url, username="carbonline",
                                               password="wrong", tls=tls))
        trying = Running(refused, wait_subscribed=False)
        trying.wait(lambda: refused.counters["connect_refused"], "a refused password")
        trying.stop()
        running = Running(MqttSource(plant, MqttBroker(url=broker.url, username="carbonline",
                                                       password="s3cret", tls=tls)))
        pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        pub.username_pw_set("carbonline", "s3cret")
        pub.tls_set(ca_certs=str(broker.ca))
        pub.connect("127.0.0.1", broker.port)
        pub.loop_start()
        send(pub, f"{prefix}/x/press/kw", "7.5")
        running.wait(lambda: len(running.readings()) == 1, "a reading over TLS")
        assert running.readings()["value"].tolist() == [7.5]
        running.stop()
        pub.loop_stop()
    finally:
        broker.stop()
