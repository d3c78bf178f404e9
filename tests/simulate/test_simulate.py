"""The plant simulator: determinism, energy balance, scenario effects through the real engine,
and scenario files as data."""

from __future__ import annotations

import io
import json
import threading
import time
import tomllib
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
from carbonline.cli import main
from carbonline.config import ConfigError, parse_config
from carbonline.live import LiveRun
from carbonline.plant import build_plant
from carbonline.records import NS_PER_S, to_ns
from carbonline.replay import replay
from carbonline.simulate import files
from carbonline.simulate.model import (
    TICK_S,
    UNMETERED_KW,
    UNMETERED_SHARE,
    layout,
    simulate,
)
from carbonline.simulate.mqtt import publish
from carbonline.simulate.scenario import load_scenario, shipped
from click.testing import CliRunner
from line_protocol_parser import parse_line
from servers._common import free_ports

START = to_ns(datetime(2026, 3, 2, 6, tzinfo=timezone.utc))
QUARTER = 900 * NS_PER_S


def run(tmp_path: Path, scenario: str, seed: int = 1, hours: float = 8) -> dict:
    """Simulate, replay through the engine; kg CO₂e and good units per (line, quarter hour)."""
    out = tmp_path / f"{scenario}-{seed}.lp"
    result = CliRunner().invoke(main, [
        "simulate", "--scenario", scenario, "--seed", str(seed), "--duration", f"{hours}h",
        "--output", str(out), "--write-config", str(tmp_path / f"{scenario}.toml")])
    assert result.exit_code == 0, result.output
    config = parse_config(tomllib.loads((tmp_path / f"{scenario}.toml").read_text()))
    rows = tmp_path / f"{scenario}-{seed}.out.lp"
    summary = replay(build_plant(config), [str(out)], [str(rows)])
    assert not summary.stats.rejected, summary.stats.rejected
    totals: dict[tuple[str, int], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for line in rows.read_text().splitlines():
        point = parse_line(line)
        if point["measurement"] == "carbon_intensity" and point["tags"]["window"] == "15m":
            key = (point["tags"]["line"], (point["time"] - START) // QUARTER)
            totals[key][0] += point["fields"]["co2e_kg"]
            totals[key][1] += point["fields"]["good_units"]
    return totals


def intensity(totals: dict, line: str, quarters: range) -> float:
    """Σ kg CO₂e / Σ good units over the quarters (never an average of ratios)."""
    co2e = sum(totals[(line, q)][0] for q in quarters)
    return co2e / sum(totals[(line, q)][1] for q in quarters)


def test_same_seed_same_bytes_other_seed_other_bytes():
    plant = layout()
    scenario = load_scenario("valve-leak")

    def text(seed: int) -> str:
        out = io.StringIO()
        files.write_line_protocol(plant, simulate(plant, scenario, START, 3600, seed), out)
        return out.getvalue()

    assert text(7) == text(7)
    assert text(7) != text(8)


def test_main_meter_is_the_sub_meters_plus_the_modelled_unmetered_load():
    plant = layout(lines=4, machines=6)
    signals = simulate(plant, load_scenario("normal-week"), START, 4 * 3600, 3)
    power = sum(v for k, v in signals.values.items() if signals.kinds[k] == "power")
    counters = [k for k, kind in signals.kinds.items()
                if kind == "energy_counter" and k != "site-main"]
    sub_kwh = float(np.sum(power[1:]) * TICK_S / 3600) + sum(
        signals.values[k][-1] - signals.values[k][0] for k in counters)
    main_kwh = signals.values["site-main"][-1] - signals.values["site-main"][0]
    hours = 4.0
    expected = sub_kwh * (1 + UNMETERED_SHARE) + UNMETERED_KW * hours
    assert main_kwh == pytest.approx(expected, rel=2e-3)  # meter resolution and the rounding


def test_valve_leak_moves_only_its_line_by_the_intended_amount(tmp_path):
    normal = run(tmp_path, "normal-week")
    leak = run(tmp_path, "valve-leak")
    during = range(12, 15)  # 09:00-09:45, the 45 minutes of the leak
    before = range(4, 12)
    base = intensity(leak, "line2", before)
    assert 0.6 < base < 0.8  # ~0.68 kg CO2e/unit
    rise = intensity(leak, "line2", during) / intensity(normal, "line2", during)
    assert 1.2 < rise < 1.4  # ~0.68 → ~0.87
    for other in ("line1", "line3"):
        ratio = intensity(leak, other, during) / intensity(normal, other, during)
        assert ratio == pytest.approx(1.0, abs=0.03), other  # within the shared-chiller noise
    after = range(16, 24)
    assert intensity(leak, "line2", after) / intensity(normal, "line2", after) == \
        pytest.approx(1.0, abs=0.03)  # repaired


def test_chiller_fault_moves_every_line_it_serves(tmp_path):
    normal = run(tmp_path, "normal-week", hours=6)
    fault = run(tmp_path, "chiller-fault", hours=6)
    during = range(9, 19)
    for line in ("line1", "line2", "line3"):
        assert intensity(fault, line, during) > 1.03 * intensity(normal, line, during), line


def test_every_shipped_scenario_runs_through_the_engine_cleanly(tmp_path):
    for name in shipped():
        totals = run(tmp_path, name, hours=1)
        assert totals, name


def test_ground_truth_names_cause_machine_and_span(tmp_path):
    out = tmp_path / "v.lp"
    result = CliRunner().invoke(main, ["simulate", "--scenario", "valve-leak", "--output",
                                       str(out)])
    assert result.exit_code == 0, result.output
    truth = json.loads((tmp_path / "v.truth.json").read_text())
    (event,) = truth["events"]
    assert (event["cause"], event["line"], event["machine"]) == ("equipment", "line2",
                                                                  "compressor2")
    assert (event["start"], event["end"]) == ("2026-03-02T09:00:00Z", "2026-03-02T09:45:00Z")


def test_an_invalid_scenario_file_names_the_field(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\ndescription = "y"\n[[events]]\nkind = "air_leak"\n'
                   'start = "1h"\nsize = "big"\n')
    with pytest.raises(ConfigError, match=r"bad\.toml: events\[0\]\.size: .*number"):
        load_scenario(str(bad))
    bad.write_text('name = "x"\ndescription = "y"\n[[events]]\nkind = "air_leak"\n'
                   'start = "1h"\n')
    with pytest.raises(ConfigError, match=r"a air_leak event needs 'line'"):
        load_scenario(str(bad))
    with pytest.raises(ConfigError, match="no scenario 'nope'.*valve-leak"):
        load_scenario("nope")


def test_mqtt_output_run_live_gives_what_the_file_replay_gives(mosquitto, tmp_path):
    """The same simulated hour, once replayed from its line-protocol file and once published
    on a real Mosquitto into ``carbonline run`` (the config --write-config made): the same kg
    CO₂e and good units per line."""
    site = f"sim{np.random.default_rng().integers(1 << 30)}"
    out = tmp_path / "hour.lp"
    result = CliRunner().invoke(main, [
        "simulate", "--scenario", "valve-leak", "--duration", "1h", "--lines", "2",
        "--machines", "3", "--site", site, "--output", str(out), "--write-config",
        str(tmp_path / "plant.toml"), "--start", "2026-03-02T08:30:00Z"])
    assert result.exit_code == 0, result.output
    text = (tmp_path / "plant.toml").read_text()
    config = parse_config(tomllib.loads(text))
    replayed = tmp_path / "replayed.lp"
    replay(build_plant(config), [str(out)], [str(replayed)])

    (port,) = free_ports(1)
    live_text = text + f'\n[sources.mqtt]\nurl = "{mosquitto.url}"\n\n[http]\n' \
        f'listen = "127.0.0.1:{port}"\n'
    plant = build_plant(parse_config(tomllib.loads(live_text)))
    lived = tmp_path / "lived.lp"
    live = LiveRun(plant, outputs=[str(lived)])
    runner = threading.Thread(target=live.run)
    runner.start()
    try:
        assert live.sources[0].subscribed.wait(10)
        signals = simulate(layout(2, 3, site), load_scenario("valve-leak"),
                           to_ns(datetime(2026, 3, 2, 8, 30, tzinfo=timezone.utc)), 3600, 1)
        sent = publish(layout(2, 3, site), signals, mosquitto.url, speed=0)
        readings = sum(int(np.sum(~np.isnan(v))) for v in signals.values.values())
        assert sent == readings + len(signals.context)
        deadline = time.monotonic() + 30
        while live.sources[0].counters["messages"] < sent:
            assert time.monotonic() < deadline, live.sources[0].counters
            time.sleep(0.1)
    finally:
        live.stop()
        runner.join(60)

    def per_line(path: Path) -> dict[str, tuple[float, float]]:
        sums: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
        for line in path.read_text().splitlines():
            point = parse_line(line)
            if point["measurement"] == "carbon_intensity" and point["tags"]["window"] == "1m":
                sums[point["tags"]["line"]][0] += point["fields"]["co2e_kg"]
                sums[point["tags"]["line"]][1] += point["fields"]["good_units"]
        return {k: (pytest.approx(v[0], rel=1e-9), v[1]) for k, v in sums.items()}

    assert per_line(lived) == per_line(replayed)
    assert live.engine.stats.accepted == readings


def test_opcua_output_is_read_by_a_real_client_with_plant_timestamps(tmp_path):
    """The simulator as a PLC: carbonline's OPC UA source subscribes to the nodes the written
    plant.toml names and receives every reading with its plant time."""
    from carbonline.simulate.opcua import serve
    from carbonline.sources.opcua import OpcuaSource
    from running import Running

    (port,) = free_ports(1)
    plant_layout = layout(1, 3, "plc")
    signals = simulate(plant_layout, load_scenario("normal-week"), START, 600, 4)
    grid = tmp_path / "grid.csv"
    files.write_grid_csv(signals, grid)
    text = files.plant_toml(plant_layout, grid, opcua_url=f"opc.tcp://127.0.0.1:{port}/")
    plant = build_plant(parse_config(tomllib.loads(text)))
    ready, go = threading.Event(), threading.Event()
    result: list[int] = []
    server = threading.Thread(
        target=lambda: result.append(serve(plant_layout, signals, port, 0, ready, go)))
    server.start()
    assert ready.wait(30)
    running = Running(OpcuaSource(plant, plant.config.sources.opcua))
    go.set()
    server.join(120)
    # OPC UA reports changes: a counter that stands still for a tick sends nothing then
    expected = sum(1 + int(np.sum(np.diff(v) != 0)) for v in signals.values.values())
    running.wait(lambda: len(running.readings()) >= expected,
                 f"{expected} readings, got {len(running.readings())}", 30)
    running.stop()
    got = running.readings()
    assert len(got) == expected
    assert result[0] == signals.values["chiller-kw"].size * len(signals.values) + len(
        signals.context)
    assert sorted(set(got["time"].tolist())) == signals.times.tolist()  # plant time, all ticks
    meter = plant.meter_index["filler1-energy"]
    mine = got[got["meter"] == meter]
    counter = signals.values["filler1-energy"]
    changes = counter[np.concatenate([[True], np.diff(counter) != 0])]
    assert mine["value"][np.argsort(mine["time"])].tolist() == pytest.approx(changes.tolist())


def test_the_written_config_passes_check_config_at_every_size(tmp_path):
    for lines, machines in ((1, 3), (6, 12)):
        config = tmp_path / f"plant-{lines}.toml"
        made = CliRunner().invoke(main, [
            "simulate", "--duration", "10m", "--lines", str(lines), "--machines", str(machines),
            "--output", str(tmp_path / f"p{lines}.lp"), "--write-config", str(config)])
        assert made.exit_code == 0, made.output
        checked = CliRunner().invoke(main, ["check-config", str(config)])
        assert checked.exit_code == 0, checked.output
        assert f"{lines} lines, {lines * machines + 1 + lines // 3} machines" in checked.output


def test_sites_are_a_fleet_of_files_each_replayable(tmp_path):
    made = CliRunner().invoke(main, [
        "simulate", "--duration", "30m", "--sites", "2", "--output", str(tmp_path / "f.lp"),
        "--write-config", str(tmp_path / "plant.toml")])
    assert made.exit_code == 0, made.output
    texts = []
    for k in (1, 2):
        config = parse_config(tomllib.loads((tmp_path / f"plant-{k}.toml").read_text()))
        assert config.site.name == f"sim-plant-{k}"
        summary = replay(build_plant(config), [str(tmp_path / f"f-{k}.lp")],
                         [str(tmp_path / f"out-{k}.lp")])
        assert summary.stats.accepted > 0 and not summary.stats.rejected
        texts.append((tmp_path / f"f-{k}.lp").read_text().replace(f"sim-plant-{k}", "S"))
    assert texts[0] != texts[1]  # each site its own seed
    both = CliRunner().invoke(main, ["simulate", "--sites", "2", "--mqtt", "mqtt://x:1883"])
    assert both.exit_code == 2 and "--sites writes files" in both.output


def test_influx_output_is_what_a_historian_holds(influxdb, influx_db, tmp_path):
    """--influx writes the raw readings through carbonline's writer into a real InfluxDB 1.6;
    polling them back with InfluxQL gives the file's readings."""
    url = f"{influxdb.url}?db={influx_db}"
    made = CliRunner().invoke(main, ["simulate", "--duration", "20m", "--lines", "1",
                                     "--machines", "3", "--influx", url, "--output",
                                     str(tmp_path / "f.lp")])
    assert made.exit_code == 0, made.output
    lines = (tmp_path / "f.lp").read_text().splitlines()
    numeric = [line for line in lines if '"' not in line]
    body = influxdb.query('SELECT count("kw") FROM "power"', db=influx_db)
    assert body["results"][0]["series"][0]["values"][0][1] == sum(
        1 for line in numeric if line.startswith("power,"))
    energy = influxdb.query('SELECT last("kwh") FROM "energy" WHERE "machine" = \'filler1\'',
                            db=influx_db)
    last = [line for line in numeric if line.startswith("energy,site=sim-plant,machine=filler1")]
    assert energy["results"][0]["series"][0]["values"][0][1] == pytest.approx(
        float(last[-1].split("=")[-1].split()[0]))
    assert "points to" in made.output
