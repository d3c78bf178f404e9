"""Scale-out: workers own disjoint lines; every window is written by exactly one of them."""

from __future__ import annotations

import json
import threading
import time
import uuid

import paho.mqtt.client as mqtt
import pytest
from line_protocol_parser import parse_line

from carbonline.config import ConfigError, parse_config
from carbonline.live import LiveRun
from carbonline.partition import own_lines, owner, partition
from carbonline.plant import build_plant
from servers._common import free_ports

LINES = ("l1", "l2", "l3")
MINUTE = 60 * 10**9


def doc(site: str, broker: str | None = None, **run) -> dict:
    (port,) = free_ports(1)
    return {
        "site": {"name": site, "timezone": "UTC", "grid_zone": "DE"},
        "factors": {"grid_kg_per_kwh": 0.5},
        "engine": {"lateness": "1s"},
        "run": {"idle_timeout": "0.5s", "health_interval": "1s", **run},
        "http": {"listen": f"127.0.0.1:{port}"},
        **({"sources": {"mqtt": {"url": broker}}} if broker else {}),
        "lines": [{"id": line} for line in LINES],
        "machines": [{"id": f"m{line}", "line": line} for line in LINES]
        + [{"id": "chiller"}],
        "shared": [{"machine": "chiller", "lines": ["l2", "l3"]}],
        "main_meter": {"meter": "main"},
        "meters": [m for line in LINES for m in (
            {"id": f"e{line}", "role": "energy_counter", "machine": f"m{line}", "unit": "kWh"},
            {"id": f"u{line}", "role": "units_counter", "line": line})]
        + [{"id": "chiller-e", "role": "energy_counter", "machine": "chiller", "unit": "kWh"},
           {"id": "main", "role": "energy_counter", "unit": "kWh"}],
    }


def test_a_worker_keeps_its_lines_machines_meters_and_whole_shared_utilities():
    part = partition(parse_config(doc("s", lines=["l2", "l3"])))
    assert [line.id for line in part.lines] == ["l2", "l3"]
    assert {m.id for m in part.meters} == {"el2", "ul2", "el3", "ul3", "chiller-e"}
    assert part.main_meter is None  # it needs every sub-meter
    build_plant(part)  # a valid plant on its own
    alone = partition(parse_config(doc("s", lines=["l1"])))
    assert [m.id for m in alone.meters] == ["el1", "ul1"] and not alone.shared
    with pytest.raises(ConfigError, match="'chiller' serves lines l2, l3: give them all"):
        partition(parse_config(doc("s", lines=["l1", "l2"])))
    whole = parse_config(doc("s"))
    assert partition(whole) is whole and own_lines(whole) is None


def test_hashing_gives_every_line_to_exactly_one_worker():
    workers = ["w1", "w2", "w3"]
    lines = [f"line{i}" for i in range(40)]
    mine = {w: {line for line in lines if owner(line, workers) == w} for w in workers}
    assert set().union(*mine.values()) == set(lines)
    assert sum(len(v) for v in mine.values()) == len(lines) and all(mine.values())
    # a fourth worker takes lines only from the others, moving nothing else
    grown = {line: owner(line, [*workers, "w4"]) for line in lines}
    assert all(grown[line] in (owner(line, workers), "w4") for line in lines)
    with pytest.raises(ConfigError, match="'w9' is not one of the workers"):
        parse_config(doc("s", workers=workers, worker="w9"))


def test_two_workers_splitting_three_lines_write_every_window_once(mosquitto, tmp_path):
    site = f"s{uuid.uuid4().hex[:8]}"
    runs, threads, outputs = [], [], []
    for name, lines in (("a", ["l1"]), ("b", ["l2", "l3"])):
        plant = build_plant(partition(parse_config(doc(site, mosquitto.url, lines=lines))))
        output = tmp_path / f"{name}.lp"
        live = LiveRun(plant, outputs=[str(output)])
        thread = threading.Thread(target=live.run)
        thread.start()
        runs.append(live)
        threads.append(thread)
        outputs.append(output)
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    pub.connect("127.0.0.1", mosquitto.port)
    pub.loop_start()
    now = time.time_ns()
    t0 = now - now % MINUTE - 20 * MINUTE
    try:
        for live in runs:
            assert live.sources[0].subscribed.wait(10)
        for i in range(4):
            readings = [("chiller-e", 50.0 + i), ("main", 900.0 + 10 * i)] + [
                pair for k, line in enumerate(LINES)
                for pair in ((f"e{line}", 100.0 + i * (k + 1)), (f"u{line}", 10 * i))]
            for meter, value in readings:
                pub.publish(f"carbonline/{site}/in/{meter}", json.dumps(
                    {"ts": t0 + i * MINUTE, "value": value}), qos=1).wait_for_publish(5)
        deadline = time.monotonic() + 20
        while sum(live.engine.newest_reading is not None for live in runs) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        time.sleep(3)
    finally:
        pub.loop_stop()
        for live in runs:
            live.stop()
        for thread in threads:
            thread.join(60)
    written = []
    for output in outputs:
        written.append({(p["tags"]["line"], p["time"]): p["fields"]["co2e_kg"]
                        for p in map(parse_line, output.read_text().splitlines())
                        if p["measurement"] == "carbon_intensity"
                        and p["tags"]["window"] == "1m"})
    assert not set(written[0]) & set(written[1])  # no window written twice
    assert {line for line, _ in written[0]} == {"l1"}
    assert {line for line, _ in written[1]} == {"l2", "l3"}
    assert {time for _, time in written[0] | written[1]} == {t0 + i * MINUTE for i in range(3)}
    for (line, start), co2e in (written[0] | written[1]).items():
        k = LINES.index(line)
        own = (k + 1) * 0.5  # kWh per minute × 0.5 kg/kWh
        chiller = 0.5 * 0.5 if line in ("l2", "l3") else 0.0  # 1 kWh/min shared by units
        assert co2e == pytest.approx(own + chiller), (line, start)
    for live in runs:  # each worker hears only its own meters: nothing refused, nothing lost
        assert not live.engine.stats.rejected
        assert live.sources[0].counters["dead_lettered"] == 0
