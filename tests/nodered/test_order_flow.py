"""Flow 2 (``order-footprint-to-mes.json``) in a real Node-RED against a real ``carbonline
run`` (the API tests' plant, fed over its HTTP API): an MES "order finished" message is
stamped with the order's CO₂e from ``GET /api/v1/orders/{id}`` and published back; the flow
retries while carbonline has not closed the order yet, and reports an unknown order."""

from __future__ import annotations

import json

import httpx
import paho.mqtt.client as mqtt
import pytest

from api.plant_run import FACTOR, KWH, UNITS, minutes, serve

from .conftest import deploy_flow, listening, mqtt_env, wait_for


def test_a_finished_order_is_stamped_with_its_co2e(flow_red, mosquitto, influxdb):
    with serve(mosquitto, influxdb) as served:
        site = served.site
        env = {**mqtt_env(mosquitto), "CARBONLINE_API_URL": served.url,
               "CARBONLINE_API_TOKEN": served.headers["Authorization"].split()[1],
               "CARBONLINE_ORDER_RETRIES": "20", "CARBONLINE_ORDER_RETRY_MS": "500"}
        mes = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        mes.connect("127.0.0.1", mosquitto.port)
        mes.loop_start()
        finished = f"mes/{site}/order/finished"
        with listening(mosquitto, f"mes/{site}/order/co2e/#") as heard, flow_red(env) as red:
            # retained, so the flow gets it whenever its subscription comes up; carbonline
            # has no reading yet: the flow's first asks are 404 and retried
            mes.publish(finished, json.dumps({"order_id": "A-1", "quantity": 120}), qos=1,
                        retain=True).wait_for_publish(5)
            deploy_flow(red, "order-footprint-to-mes.json")
            answer = httpx.post(f"{served.url}/api/v1/readings",
                                json={"readings": minutes(served.t0, 0, 8)},
                                headers=served.headers, timeout=30)
            assert answer.status_code < 300, answer.text
            wait_for(lambda: [p for t, p in heard if t.endswith("/co2e")], "A-1 stamped")
            mes.publish(finished, b"", qos=1, retain=True).wait_for_publish(5)
            mes.publish(finished, json.dumps({"order_id": "Z-9"}), qos=1).wait_for_publish(5)
            wait_for(lambda: [p for t, p in heard if t.endswith("/error")], "Z-9 reported")
        mes.loop_stop()
        own = httpx.get(f"{served.url}/api/v1/orders/A-1", headers=served.headers).json()
    (stamped,) = {json.dumps(p, sort_keys=True) for t, p in heard if t.endswith("/co2e")}
    stamped = json.loads(stamped)
    assert stamped["order_id"] == "A-1" and stamped["quantity"] == 120  # the MES's own fields
    assert stamped["co2e_kg"] == pytest.approx(FACTOR * sum(KWH[0:6]))
    assert stamped["good_units"] == sum(UNITS[0:6])
    assert stamped["co2e_per_unit_kg"] == pytest.approx(
        FACTOR * sum(KWH[0:6]) / sum(UNITS[0:6]))
    assert {k: stamped[k] for k in own} == own  # all of carbonline's answer, as it gave it
    (error,) = [p for t, p in heard if t == f"mes/{site}/order/co2e/error"]
    assert (error["order_id"], error["status"], error["attempts"]) == ("Z-9", 404, 21)
