"""Flow 3 (``alerts-to-operators.json``) end to end in a real Node-RED: carbonline's own MQTT
publisher sends its alerts, Grafana's MQTT contact point payload comes on its topic; the
plant's webhook receiver and mail relay get the operator message, severity info is not
e-mailed."""

from __future__ import annotations

import json
import time
import uuid

import paho.mqtt.client as mqtt

from carbonline.config import MqttSink, parse_config
from carbonline.plant import build_plant
from carbonline.records import NS_PER_S, AlertRow
from carbonline.sinks.mqtt import MqttPublisher

from .conftest import (MailServer, Recorder, deploy_flow, listening, mqtt_env, serving,
                       wait_for)

#: Grafana's MQTT contact point in its JSON message format (the Alertmanager webhook body
#: plus "message"), as Grafana's own receiver tests show it (grafana/alerting,
#: receivers/mqtt/v1/mqtt_test.go), with the labels carbonline's alert rules set.
GRAFANA = {
    "receiver": "carbonline-node-red", "status": "firing",
    "alerts": [{"status": "firing",
                "labels": {"alertname": "Intensity above threshold", "source": "carbonline",
                           "severity": "critical", "cause": "unknown", "line": "line2"},
                "annotations": {"summary": "line2 is above its kg CO2e/unit threshold"},
                "startsAt": "2026-11-30T06:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://grafana:3000/alerting/grafana/carbonline-threshold/view",
                "fingerprint": "fac0861a85de433a", "silenceURL": "",
                "dashboardURL": "http://grafana:3000/d/carbonline-line", "panelURL": "",
                "values": None, "valueString": "[ var='B' value=0.93 ]"}],
    "groupLabels": {"alertname": ""}, "commonLabels": {}, "commonAnnotations": {},
    "externalURL": "http://grafana:3000/", "version": "1", "groupKey": "{}:{}",
    "message": "**Firing**\n\nValue: B=0.93",
}


def alert(site: str, alert_id: str, severity: str, cause: str, machine: str,
          message: str) -> AlertRow:
    return AlertRow(site, "line2", "sku-a", 1_796_018_400 * NS_PER_S, alert_id, "firing",
                    severity, cause, machine, "deviation", 0.87, 0.61, None, 70.0, message)


def test_alerts_reach_the_webhook_and_mail_and_info_is_not_mailed(flow_red, mosquitto):
    site = f"s{uuid.uuid4().hex[:8]}"
    plant = build_plant(parse_config({
        "site": {"name": site, "timezone": "UTC", "grid_zone": "DE"},
        "factors": {"grid_kg_per_kwh": 0.4}, "lines": [{"id": "line2"}],
        "machines": [{"id": "compressor2", "line": "line2"}],
        "meters": [{"id": "e", "role": "energy_counter", "machine": "compressor2",
                    "unit": "kWh"}]}))
    with serving(Recorder()) as hook, serving(MailServer()) as relay:
        env = {**mqtt_env(mosquitto), "CARBONLINE_ALERT_WEBHOOK_URL": hook.url,
               "CARBONLINE_ALERT_WEBHOOK_TOKEN": "hook-token",
               "CARBONLINE_ALERT_EMAIL": "shift-lead@plant.example",
               "CARBONLINE_ALERT_EMAIL_FROM": "carbonline@plant.example",
               "CARBONLINE_SMTP_HOST": "127.0.0.1", "CARBONLINE_SMTP_PORT": str(relay.port)}
        with flow_red(env) as red, listening(mosquitto, "carbonline/+/operators/alerts"
                                             ) as operators:
            deploy_flow(red, "alerts-to-operators.json")
            sink = MqttPublisher(plant, MqttSink(url=mosquitto.url))
            # the flow's broker connection comes up after the deploy: probe until it hears
            probe = alert(site, "probe", "warning", "equipment", "compressor2", "probe")
            def heard_probe() -> bool:
                sink.write([probe])
                time.sleep(0.3)
                return any(body["alert_id"] == "probe" for body, _ in hook.received)
            wait_for(heard_probe, "the flow answered carbonline's alert")
            sink.write([
                alert(site, "a-leak", "warning", "equipment", "compressor2",
                      "line2 0.87 kg CO2e/unit, +44 % vs baseline 0.61; 70 % of the rise is "
                      "compressor2 energy per unit"),
                alert(site, "a-grid", "info", "grid", "", "grid factor 25 % above its median"),
            ])
            sink.close()
            grafana = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
            grafana.connect("127.0.0.1", mosquitto.port)
            grafana.loop_start()
            grafana.publish("carbonline/grafana/alerts", json.dumps(GRAFANA), qos=1
                            ).wait_for_publish(5)
            grafana.loop_stop()

            def hooked() -> dict[str, tuple[dict, dict]]:
                found = {b["alert_id"]: (b, h) for b, h in hook.received}
                return found if {"a-leak", "a-grid", "fac0861a85de433a"} <= set(found) else {}
            received = wait_for(hooked, "the three alerts reached the webhook")
            wait_for(lambda: len([m for m in relay.messages if "probe" not in m[1]]) >= 2,
                     "two e-mails")
            time.sleep(1)  # an e-mail for the info alert would have come by now
            mails = [m for m in relay.messages if "probe" not in m[1]]
            def shown() -> dict[str, str]:
                found = {p["alert_id"]: topic for topic, p in operators}
                return found if {"a-leak", "a-grid", "fac0861a85de433a"} <= set(found) else {}
            to_operators = wait_for(shown, "the operators' topic")

    leak, headers = received["a-leak"]
    assert headers["Authorization"] == "Bearer hook-token"
    assert leak["source"] == "carbonline" and leak["site"] == site
    assert (leak["severity"], leak["cause"], leak["machine"]) == ("warning", "equipment",
                                                                  "compressor2")
    assert leak["text"] == (f"[warning] {site}/line2: line2 0.87 kg CO2e/unit, +44 % vs "
                            "baseline 0.61; 70 % of the rise is compressor2 energy per unit")
    assert received["a-grid"][0]["severity"] == "info"
    critical = received["fac0861a85de433a"][0]
    assert (critical["source"], critical["severity"], critical["line"]) == (
        "grafana", "critical", "line2")
    assert critical["message"] == "line2 is above its kg CO2e/unit threshold"
    # the operators' topic (for a dashboard) shows all three, Grafana's without a site label
    assert to_operators["a-leak"] == to_operators["a-grid"] == f"carbonline/{site}/operators/alerts"
    assert to_operators["fac0861a85de433a"] == "carbonline/all/operators/alerts"
    # e-mail: the warning and the critical one, not the info
    assert len(mails) == 2
    assert all(recipients == ["shift-lead@plant.example"] for recipients, _ in mails)
    bodies = "\n".join(text for _, text in mails)
    assert "compressor2 energy per unit" in bodies
    assert "above its kg CO2e/unit threshold" in bodies
    assert "grid factor" not in bodies
