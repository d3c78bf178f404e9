"""The Node-RED fixture runs a real Node-RED that deploys flows and talks MQTT: a flow hears
carbonline's intensity topic and answers with what an operator's dashboard would show."""

from __future__ import annotations

import json
import threading
import time
import uuid

import paho.mqtt.client as mqtt

from carbonline.config import MqttSink, parse_config
from carbonline.plant import build_plant
from carbonline.records import IntensityRow, Window
from carbonline.sinks.mqtt import MqttPublisher


def flow(site: str, port: int) -> list[dict]:
    return [
        {"id": "tab1", "type": "tab", "label": "carbonline test"},
        {"id": "broker1", "type": "mqtt-broker", "name": "test broker", "broker": "127.0.0.1",
         "port": str(port), "clientid": "", "autoConnect": True, "usetls": False,
         "protocolVersion": "4", "keepalive": "60", "cleansession": True},
        {"id": "in1", "type": "mqtt in", "z": "tab1", "topic": f"carbonline/{site}/+/intensity",
         "qos": "1", "datatype": "json", "broker": "broker1", "wires": [["fn1"]]},
        {"id": "fn1", "type": "function", "z": "tab1", "outputs": 1,
         "func": "msg.topic = 'operators/' + msg.payload.line;\n"
                 "msg.payload = {line: msg.payload.line, "
                 "kg_per_unit: msg.payload.co2e_per_unit_kg};\nreturn msg;",
         "wires": [["out1"]]},
        {"id": "out1", "type": "mqtt out", "z": "tab1", "topic": "", "qos": "1",
         "retain": "false", "broker": "broker1", "wires": []},
    ]


def test_a_deployed_flow_hears_carbonline_and_answers(nodered, mosquitto):
    site = f"s{uuid.uuid4().hex[:8]}"
    nodered.deploy(flow(site, mosquitto.port))
    assert {n["id"] for n in nodered.flows()} >= {"in1", "fn1", "out1"}
    heard: list[dict] = []
    ready = threading.Event()
    listener = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    listener.on_message = lambda c, u, m: heard.append(json.loads(m.payload))
    listener.on_subscribe = lambda *a: ready.set()
    listener.connect("127.0.0.1", mosquitto.port)
    listener.subscribe("operators/#", qos=1)
    listener.loop_start()
    assert ready.wait(5)
    plant = build_plant(parse_config({
        "site": {"name": site, "timezone": "UTC", "grid_zone": "DE"},
        "factors": {"grid_kg_per_kwh": 0.5}, "lines": [{"id": "l1"}],
        "machines": [{"id": "m", "line": "l1"}],
        "meters": [{"id": "e", "role": "energy_counter", "machine": "m", "unit": "kWh"}]}))
    sink = MqttPublisher(plant, MqttSink(url=mosquitto.url))
    row = IntensityRow(site, "l1", "cola", "early", Window("1m", 0, 60 * 10**9), 4.0, 0.0, 0.0,
                       2.0, 2.0, 10.0, 0.5, 100.0)
    deadline = time.monotonic() + 20  # Node-RED's broker connection comes up after the deploy
    while not heard:
        assert time.monotonic() < deadline, "the flow never answered"
        sink.write([row])
        time.sleep(0.5)
    sink.close()
    listener.loop_stop()
    assert heard[0] == {"line": "l1", "kg_per_unit": 0.2}
