"""Flow 1 (``opcua-to-carbonline.json``) in a real Node-RED with node-red-contrib-opcua: it
subscribes to a real asyncua PLC, publishes each change on carbonline's input convention on
a real Mosquitto, and a ``carbonline run`` (LiveRun) listening there writes the windows."""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import datetime, timezone

import pytest
from line_protocol_parser import parse_line

from carbonline.config import parse_config
from carbonline.live import LiveRun
from carbonline.plant import build_plant
from carbonline.records import NS_PER_S
from servers._common import free_ports

from .conftest import deploy_flow, listening, mqtt_env, wait_for

KWH = [1000.0, 1004.5, 1010.0]  # the filler's energy counter, kWh
UNITS = [500.0, 530.0, 555.0]  # good units


def test_plc_values_reach_carbonline_through_the_flow(flow_red, mosquitto, opcua_server,
                                                      tmp_path):
    site = f"s{uuid.uuid4().hex[:8]}"
    energy = opcua_server.add(f"{site}.Line1.Filler.Energy", KWH[0])
    units = opcua_server.add(f"{site}.Line1.GoodCount", UNITS[0])
    meters = [{"node": energy, "meter": "filler-energy", "unit": "kWh"},
              {"node": units, "meter": "line1-good"}]
    (port,) = free_ports(1)
    plant = build_plant(parse_config({
        "site": {"name": site, "timezone": "UTC", "grid_zone": "DE"},
        "factors": {"grid_kg_per_kwh": 0.4}, "engine": {"lateness": 2},
        "run": {"idle_timeout": 60}, "http": {"listen": f"127.0.0.1:{port}"},
        "sources": {"mqtt": {"url": mosquitto.url}},
        "lines": [{"id": "line1"}], "machines": [{"id": "filler", "line": "line1"}],
        "meters": [{"id": "filler-energy", "role": "energy_counter", "machine": "filler",
                    "unit": "kWh"},
                   {"id": "line1-good", "role": "units_counter", "line": "line1"}]}))
    output = tmp_path / "out.lp"
    live = LiveRun(plant, outputs=[str(output)])
    runner = threading.Thread(target=live.run)
    env = {**mqtt_env(mosquitto), "CARBONLINE_SITE": site,
           "CARBONLINE_OPCUA_URL": opcua_server.url,
           "CARBONLINE_OPCUA_METERS": json.dumps(meters), "CARBONLINE_OPCUA_INTERVAL_MS": "100"}
    runner.start()  # before Node-RED takes a port: carbonline's HTTP app has its own
    try:
        wait_for(lambda: live.sources[0].subscribed.is_set() or not runner.is_alive(),
                 "carbonline subscribed")
        assert runner.is_alive(), "the run stopped at its start (see the log above)"
        with listening(mosquitto, f"carbonline/{site}/in/#") as heard, flow_red(env) as red:
            deploy_flow(red, "opcua-to-carbonline.json")
            # subscribed: each meter's current value comes first
            wait_for(lambda: {t for t, _ in heard} == {f"carbonline/{site}/in/filler-energy",
                                                       f"carbonline/{site}/in/line1-good"},
                     "the PLC's current values on carbonline's input topics", timeout=60)
            now = time.time_ns()
            t0 = now - now % (60 * NS_PER_S) + 60 * NS_PER_S  # the next minute
            for i in (1, 2):
                at = datetime.fromtimestamp((t0 + (i - 1) * 60 * NS_PER_S) / NS_PER_S,
                                            timezone.utc)
                opcua_server.write(energy, KWH[i], at)
                opcua_server.write(units, UNITS[i], at)
                # the flow samples every 100 ms and keeps a node's latest change (a counter
                # loses nothing): give each change its own sample
                time.sleep(0.5)
            wait_for(lambda: len(heard) >= 6, "every change published", timeout=20)
            time.sleep(0.5)  # carbonline takes them from the broker
    finally:
        live.stop()
        runner.join(30)
    assert not runner.is_alive()
    by_meter: dict[str, list[dict]] = {}
    for topic, payload in heard:
        by_meter.setdefault(topic.rsplit("/", 1)[1], []).append(payload)
    assert [p["value"] for p in by_meter["filler-energy"]] == KWH
    assert [p["value"] for p in by_meter["line1-good"]] == UNITS
    assert {p.get("unit") for p in by_meter["filler-energy"]} == {"kWh"}
    assert "unit" not in by_meter["line1-good"][0]
    stamps = [p["ts"] for p in by_meter["filler-energy"][1:]]  # the PLC's source timestamps
    assert stamps == [datetime.fromtimestamp(t0 / NS_PER_S + 60 * i, timezone.utc)
                      .strftime("%Y-%m-%dT%H:%M:%S.000Z") for i in (0, 1)]

    points = [parse_line(line) for line in output.read_text().splitlines()]
    minutes = [p for p in points if p["measurement"] == "carbon_intensity"
               and p["tags"]["window"] == "1m"]
    assert sum(p["fields"]["co2e_kg"] for p in minutes) == pytest.approx(
        (KWH[2] - KWH[0]) * 0.4)
    assert sum(p["fields"]["good_units"] for p in minutes) == pytest.approx(UNITS[2] - UNITS[0])
    engine = [p for p in points if p["measurement"] == "carbonline_health"
              and p["tags"]["component"] == "engine" and "line" not in p["tags"]][-1]
    assert engine["fields"]["accepted"] == 6 and engine["fields"]["rejected"] == 0

