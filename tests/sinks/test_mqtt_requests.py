"""MQTT request/response on the MQTT publisher's own connection, over a real Mosquitto, in a
real run: a flow's request is answered on its MQTT 5 Response Topic with its Correlation Data
(or, from an MQTT 3.1.1 client, on ``carbonline/<site>/response/<correlation_id>``), with the
same body the HTTP API gives for the same question; bad requests get an error with a reason."""

from __future__ import annotations

import json
import queue
import uuid

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from carbonline.series import rfc3339
from carbonline.sinks.mqtt import MqttPublisher

from api.plant_run import MINUTE, served_with_order, wait_for


@pytest.fixture(scope="module")
def served(mosquitto, influxdb):
    """A run fed 18 minutes over HTTP, once order A-2 has ended."""
    with served_with_order(mosquitto, influxdb) as served:
        yield served


class Flow:
    """A Node-RED-like MQTT client: collects what arrives on the topics it subscribes."""

    def __init__(self, port: int, protocol: int) -> None:
        self.received: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=protocol)
        self.client.on_message = lambda c, u, m: self.received.put(m)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def subscribe(self, topic: str) -> None:
        subscribed = queue.Queue()
        self.client.on_subscribe = lambda *args: subscribed.put(True)
        self.client.subscribe(topic, qos=1)
        subscribed.get(timeout=10)

    def ask(self, topic: str, request: dict | bytes, properties: Properties | None = None
            ) -> mqtt.MQTTMessage:
        payload = request if isinstance(request, bytes) else json.dumps(request)
        self.client.publish(topic, payload, qos=1, properties=properties).wait_for_publish(5)
        return self.received.get(timeout=15)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def flow5(mosquitto):
    flow = Flow(mosquitto.port, mqtt.MQTTv5)
    yield flow
    flow.close()


def asking(reply_to: str, correlation: bytes) -> Properties:
    properties = Properties(PacketTypes.PUBLISH)
    properties.ResponseTopic = reply_to
    properties.CorrelationData = correlation
    return properties


def http(served, path: str, **params) -> dict:
    response = httpx.get(served.url + path, params=params, headers=served.headers, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def test_an_mqtt5_request_is_answered_on_its_response_topic_with_its_correlation_data(
        served, flow5):
    reply_to = f"flows/{uuid.uuid4().hex}/reply"
    flow5.subscribe(reply_to)
    correlation = uuid.uuid4().bytes
    answer = flow5.ask(f"carbonline/{served.site}/request/orders",
                       {"method": "order", "params": {"order_id": "A-2"}},
                       asking(reply_to, correlation))
    assert answer.topic == reply_to
    assert answer.properties.CorrelationData == correlation
    response = json.loads(answer.payload)
    assert (response["status"], response["method"]) == (200, "order")
    assert response["body"] == http(served, "/api/v1/orders/A-2")
    assert response["body"]["co2e_kg"] > 0 and response["body"]["skus"] == ["cola", "lime"]


def test_an_mqtt311_request_is_answered_on_the_response_topic_of_its_correlation_id(
        served, mosquitto):
    flow = Flow(mosquitto.port, mqtt.MQTTv311)
    try:
        correlation_id = f"stamp-{uuid.uuid4().hex[:8]}"
        flow.subscribe(f"carbonline/{served.site}/response/{correlation_id}")
        period = {"from": rfc3339(served.t0), "to": rfc3339(served.t0 + 17 * MINUTE),
                  "line": "l1"}
        answer = flow.ask(f"carbonline/{served.site}/request",
                          {"method": "footprint", "params": period,
                           "correlation_id": correlation_id})
    finally:
        flow.close()
    response = json.loads(answer.payload)
    assert response["status"] == 200 and response["correlation_id"] == correlation_id
    assert response["body"] == http(served, "/api/v1/footprint", **period)


@pytest.mark.parametrize(("request_", "status", "words"), [
    (b"{not json", 400, "not JSON"),
    ({"method": "delete_everything"}, 400, "method"),
    ({"method": "order", "params": {}}, 400, "order_id"),
    ({"method": "order", "params": {"order_id": "Z-9"}}, 404, "Z-9"),
    ({"method": "intensity", "params": {"line": "l9"}}, 404, "l9"),
    ({"method": "footprint", "params": {"from": "2026-01-02T00:00:00Z",
                                        "to": "2026-01-01T00:00:00Z"}}, 400, "before"),
])
def test_a_bad_request_gets_an_error_with_a_reason(served, flow5, request_, status, words):
    reply_to = f"flows/{uuid.uuid4().hex}/reply"
    flow5.subscribe(reply_to)
    answer = flow5.ask(f"carbonline/{served.site}/request/x", request_,
                       asking(reply_to, b"bad"))
    response = json.loads(answer.payload)
    assert response["status"] == status and words in response["error"]
    assert "body" not in response and answer.properties.CorrelationData == b"bad"


def test_a_request_with_no_way_back_is_counted(served, flow5):
    (sink,) = [s for s in served.live.sinks if isinstance(s, MqttPublisher)]
    flow5.subscribe(f"carbonline/{served.site}/response/#")
    before = sink.counters["requests_unanswerable"]
    flow5.client.publish(f"carbonline/{served.site}/request", json.dumps(
        {"method": "alerts", "correlation_id": "a/+/b"}), qos=1).wait_for_publish(5)
    wait_for(lambda: sink.counters["requests_unanswerable"] == before + 1, "the count")
    with pytest.raises(queue.Empty):  # a wildcard in the id: no response topic was made up
        flow5.received.get(timeout=0.5)
