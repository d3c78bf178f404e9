"""``carbonline run``'s loop against a real broker: MQTT in, MQTT and line protocol out, the
idle timeout, health rows and the HTTP app."""

from __future__ import annotations

import json
import threading
import time
import uuid

import httpx
import paho.mqtt.client as mqtt
import pytest
from line_protocol_parser import parse_line

from carbonline.config import parse_config
from carbonline.live import LiveRun
from carbonline.plant import build_plant
from carbonline.plugins import hookimpl, make_manager
from carbonline.records import NS_PER_S, ReadingBatch
from servers._common import free_ports

KWH = [100.0, 101.2, 103.0]  # energy counter at minutes 0, 1, 2
UNITS = [0, 20, 50]


@pytest.fixture
def plant(mosquitto):
    site = f"site{uuid.uuid4().hex[:8]}"
    (port,) = free_ports(1)
    return build_plant(parse_config({
        "site": {"name": site, "timezone": "UTC", "grid_zone": "DE"},
        "factors": {"grid_kg_per_kwh": 0.4},
        "engine": {"lateness": 2},
        "run": {"idle_timeout": 0.5, "health_interval": 1},
        "http": {"listen": f"127.0.0.1:{port}"},
        "sources": {"mqtt": {"url": mosquitto.url}},
        "sinks": {"mqtt": {"url": mosquitto.url}},
        "lines": [{"id": "l1"}],
        "machines": [{"id": "filler", "line": "l1"}],
        "meters": [{"id": "e1", "role": "energy_counter", "machine": "filler", "unit": "kWh"},
                   {"id": "u1", "role": "units_counter", "line": "l1"}],
    }))


def client(url: str) -> mqtt.Client:
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    c.connect("127.0.0.1", int(url.rsplit(":", 1)[1]))
    c.loop_start()
    return c


def test_live_run_publishes_closes_idle_windows_and_reports_health(mosquitto, plant, tmp_path):
    site = plant.site
    output = tmp_path / "out.lp"
    live = LiveRun(plant, outputs=[str(output)])
    runner = threading.Thread(target=live.run)
    runner.start()
    intensities: list[dict] = []
    listener = client(mosquitto.url)
    listener.on_message = lambda c, u, m: intensities.append(json.loads(m.payload))
    listener.subscribe(f"carbonline/{site}/l1/intensity", qos=1)
    pub = client(mosquitto.url)
    try:
        assert live.sources[0].subscribed.wait(10)
        now = time.time_ns()
        t0 = now - now % (60 * NS_PER_S) - 10 * 60 * NS_PER_S  # ten minutes ago, on a minute
        for i in range(3):
            stamp = t0 + i * 60 * NS_PER_S
            for meter, value in (("e1", KWH[i]), ("u1", UNITS[i])):
                pub.publish(f"carbonline/{site}/in/{meter}",
                            json.dumps({"ts": stamp, "value": value}), qos=1).wait_for_publish(5)
        # the newest readings hold the watermark 2 s (lateness) behind minute 2: only the idle
        # timeout, moving event time on with the wall clock, closes minute 1
        deadline = time.monotonic() + 15
        while len(intensities) < 2:
            assert time.monotonic() < deadline, f"windows did not close: {intensities}"
            time.sleep(0.05)
        health = httpx.get(f"http://{plant.config.http.listen}/health", timeout=5).json()
    finally:
        live.stop()
        runner.join(30)
        pub.loop_stop()
        listener.loop_stop()
    assert not runner.is_alive()
    for i, row in enumerate(intensities[:2]):
        assert row["time"].endswith(":00Z") and row["window"] == "1m"
        assert row["co2e_kg"] == pytest.approx((KWH[i + 1] - KWH[i]) * 0.4)
        assert row["good_units"] == UNITS[i + 1] - UNITS[i]
    engine_rows = [r for r in health if r["component"] == "engine" and "line" not in r]
    assert engine_rows and engine_rows[0]["accepted"] >= 4
    (age,) = [r for r in health if r.get("line") == "l1"]
    newest = t0 + 2 * 60 * NS_PER_S
    assert (now - newest) / NS_PER_S <= age["last_reading_age_s"] < (now - newest) / NS_PER_S + 20
    points = [parse_line(line) for line in output.read_text().splitlines()]
    healths = [p for p in points if p["measurement"] == "carbonline_health"]
    final_engine = [p for p in healths if p["tags"]["component"] == "engine"
                    and "line" not in p["tags"]][-1]
    assert final_engine["fields"]["accepted"] == 6
    assert final_engine["fields"]["rejected"] == 0
    assert {p["tags"]["component"] for p in healths} >= {
        "engine", f"source {mosquitto.url}", f"sink {mosquitto.url}"}
    minutes = [p for p in points if p["measurement"] == "carbon_intensity"
               and p["tags"]["window"] == "1m"]
    assert sum(p["fields"]["co2e_kg"] for p in minutes) == pytest.approx((KWH[2] - KWH[0]) * 0.4)


def test_a_run_without_sources_or_sinks_says_what_to_configure(plant, tmp_path):
    bare = build_plant(parse_config({
        **{k: v for k, v in plant.config.model_dump(exclude_none=True).items()
           if k in ("site", "factors", "lines", "machines", "meters")}}))
    with pytest.raises(ValueError, match=r"nothing to read.*\[sources.mqtt\]"):
        LiveRun(bare, outputs=[str(tmp_path / "x.lp")])
    with pytest.raises(ValueError, match=r"nowhere to write.*\[sinks.influx\]"):
        LiveRun(bare, inputs=[plant.config.sources.mqtt.url])


class BrokenSource:
    """A third-party source whose read() fails after its first batch."""

    name = "broken://plc"

    def read(self):
        yield ReadingBatch()
        raise ConnectionResetError("the PLC went away")

    def close(self) -> None:
        pass


class BrokenSourcePlugin:
    @hookimpl
    def carbonline_sources(self, plant, inputs):
        return [BrokenSource()] if "broken://plc" in inputs else []


def test_a_failing_source_shows_as_stopped_and_the_run_goes_on(plant, tmp_path, caplog):
    pm = make_manager(load_entry_points=False)
    pm.register(BrokenSourcePlugin())
    live = LiveRun(plant, inputs=["broken://plc"], outputs=[str(tmp_path / "out.lp")], pm=pm)
    runner = threading.Thread(target=live.run)
    runner.start()
    try:
        deadline = time.monotonic() + 10
        while not any(r.component == "source broken://plc" and r.fields["stopped"]
                      for r in live.latest_health):
            assert time.monotonic() < deadline, "the failed source never showed in health"
            time.sleep(0.1)
        assert runner.is_alive()  # the MQTT source and the loop go on
    finally:
        live.stop()
        runner.join(30)
    assert "the PLC went away" in caplog.text
    mqtt_row = [r for r in live.latest_health if r.component == f"source {plant.config.sources.mqtt.url}"]
    assert mqtt_row and mqtt_row[0].fields["stopped"] == 0


def test_with_a_state_store_messages_that_give_nothing_are_acknowledged_too(
        mosquitto, plant, tmp_path):
    """A SKU repeated in every message yields no event, but the broker must still hear the
    message acknowledged: Mosquitto sends at most 20 unacknowledged messages per client."""
    doc = plant.config.model_dump(exclude_none=True)
    doc["run"]["state_dir"] = str(tmp_path / "state")
    doc["meters"].append({"id": "sku", "role": "sku", "line": "l1"})
    stateful = build_plant(parse_config(doc))
    live = LiveRun(stateful, outputs=[str(tmp_path / "out.lp")])
    runner = threading.Thread(target=live.run)
    runner.start()
    pub = client(mosquitto.url)
    try:
        assert live.sources[0].subscribed.wait(10)
        now = time.time_ns()
        for i in range(200):
            pub.publish(f"carbonline/{stateful.site}/in/sku",
                        json.dumps({"ts": now - NS_PER_S * (300 - i), "value": "cola"}),
                        qos=1).wait_for_publish(5)
        pub.publish(f"carbonline/{stateful.site}/in/e1", json.dumps({"ts": now, "value": 5.0}),
                    qos=1).wait_for_publish(5)
        deadline = time.monotonic() + 15
        while live.engine.newest_reading != now:
            assert time.monotonic() < deadline, "the broker stopped sending: no acknowledgements"
            time.sleep(0.1)
    finally:
        pub.loop_stop()
        live.stop()
        runner.join(60)
    assert live.engine.stats.context_changes == 1
