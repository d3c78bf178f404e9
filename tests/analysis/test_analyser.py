"""The analyser stage on simulated plants: a leak is named with its compressor and resolves after
the repair, a grid spike blames the grid and no machine, two faults on two lines give two right
alerts; and the alerts' series."""

from __future__ import annotations

import json
import threading
import time
import tomllib
import uuid
from datetime import datetime, timezone

import paho.mqtt.client as mqtt
import pytest
from carbonline.analysis.baseline import BaselineStore
from carbonline.analysis.evaluate import run_scenario
from carbonline.cli import main
from carbonline.live import LiveRun
from carbonline.plant import build_plant
from carbonline.config import ConfigError, parse_config
from carbonline.analysis.lmdi import Effects
from carbonline.plugins import get_manager, hookimpl, make_manager
from carbonline.records import AlertRow, to_ns
from carbonline.replay import replay
from carbonline.series import as_json, fields_of, measurement_of, tag_values
from click.testing import CliRunner
from line_protocol_parser import parse_line
from servers._common import free_ports

MINUTE = 60 * 10**9


def at(hhmm: str) -> int:
    hour, minute = map(int, hhmm.split(":"))
    return to_ns(datetime(2026, 3, 2, hour, minute, tzinfo=timezone.utc))


def firing(alerts: list[AlertRow]) -> list[AlertRow]:
    return [a for a in alerts if a.state == "firing"]


def simulated(tmp_path, scenario: str, duration: str, analysis: str, *args: str) -> str:
    """``carbonline simulate`` of ``scenario`` into ``tmp_path`` (readings ``plant.lp``, its
    plant.toml) and that plant.toml's text with 1-minute machine rows and ``analysis`` (TOML
    after ``[analysis]\nenabled = true``) added."""
    result = CliRunner().invoke(main, [
        "simulate", "--scenario", scenario, "--duration", duration, *args,
        "--output", str(tmp_path / "plant.lp"), "--write-config", str(tmp_path / "sim.toml")])
    assert result.exit_code == 0, result.output
    text = (tmp_path / "sim.toml").read_text().replace(
        "[engine]\n", '[engine]\nmachine_windows = ["1m", "15m"]\n', 1)
    return text + f"\n[analysis]\nenabled = true\n{analysis}"


def test_a_valve_leak_names_the_line_compressor_and_resolves_after_the_repair():
    run = run_scenario("valve-leak", 1, get_manager())  # line2, 09:00–09:45
    during = [a for a in firing(run.alerts) if at("09:00") <= a.time < at("09:45")]
    (alert,) = during
    assert (alert.line, alert.cause, alert.machine) == ("line2", "equipment", "compressor2")
    assert alert.time + MINUTE - at("09:00") <= 5 * MINUTE  # known within 5 minutes
    assert "compressor2" in alert.message and alert.severity == "warning"
    (resolved,) = [a for a in run.alerts if a.alert_id == alert.alert_id and
                   a.state == "resolved"]
    assert at("09:45") <= resolved.time <= at("10:00")
    assert (resolved.cause, resolved.machine) == ("equipment", "compressor2")


def test_a_grid_spike_blames_the_grid_and_no_machine():
    run = run_scenario("grid-spike", 1, get_manager())  # every line, 11:00–12:00, ×1.6
    during = [a for a in firing(run.alerts) if at("11:00") <= a.time < at("12:00")]
    assert {a.line for a in during} == {"line1", "line2", "line3"}
    assert all((a.cause, a.machine, a.severity) == ("grid", "", "info") for a in during)


def test_a_half_speed_shift_is_throughput_and_no_machine_is_blamed():
    # line2 at half speed 14:00–22:00: its compressor draws what it draws at full speed (air
    # demand follows running time), so per unit it "uses" twice as much — the slower rate's
    # doing, not the compressor's
    run = run_scenario("low-throughput-shift", 2, get_manager())
    during = [a for a in firing(run.alerts) if a.line == "line2" and a.time >= at("14:00")]
    assert during and during[0].cause == "throughput" and during[0].machine == ""
    assert during[0].time + MINUTE - at("14:00") <= 5 * MINUTE
    assert not [a for a in during if a.cause == "equipment"]


def test_a_burst_of_scrap_is_not_a_machine_using_more_energy(tmp_path):
    # machines draw energy for every unit they make: judged per good unit, a few scrapped
    # units in a row made a filler "use" 40 % more. This day (seed 3) has such a burst on
    # line3, which raised a filler3 alert while baselines counted good units only
    scenario = tmp_path / "day.toml"
    scenario.write_text('name = "day"\ndescription = "an ordinary day"\nduration = "1d"\n'
                        'events = []\n')
    run = run_scenario(str(scenario), 3, get_manager())
    assert firing(run.alerts) == []


def test_two_faults_on_two_lines_at_once_give_two_right_alerts(tmp_path):
    scenario = tmp_path / "two.toml"
    scenario.write_text('name = "two"\ndescription = "a leak on line1, a burner on line3"\n'
                        'duration = "6h"\n'
                        '[[events]]\nkind = "air_leak"\nline = "line1"\nstart = "3h"\n'
                        'duration = "45m"\nsize = 0.9\n'
                        '[[events]]\nkind = "energy_per_unit"\nline = "line3"\n'
                        'machine = "oven3"\nstart = "3h"\nduration = "45m"\nsize = 1.4\n')
    run = run_scenario(str(scenario), 2, get_manager())
    during = [a for a in firing(run.alerts) if at("09:00") <= a.time < at("09:45")]
    assert {(a.line, a.cause, a.machine) for a in during} == {
        ("line1", "equipment", "compressor1"), ("line3", "equipment", "oven3")}


def test_an_alert_is_a_carbon_alert_point_with_the_brief_s_tags_and_fields():
    alert = AlertRow("s", "line2", "cola", at("09:03"), "id-1", "firing", "warning",
                     "equipment", "compressor2", "deviation", 0.87, 0.68, None, 81.0,
                     "line2 0.87 kg CO₂e/unit")
    assert measurement_of(alert) == "carbon_alert"
    assert tag_values(alert) == ("s", "line2", "warning", "equipment")
    fields = fields_of(alert)
    assert fields["alert_id"] == "id-1" and fields["state"] == "firing"
    assert fields["threshold_co2e_per_unit_kg"] is None  # left out, not written as 0
    assert as_json(alert)["time"] == "2026-03-02T09:03:00Z"


def test_analysis_needs_one_minute_machine_rows():
    doc = {"site": {"name": "s", "timezone": "UTC", "grid_zone": "DE"},
           "factors": {"grid_kg_per_kwh": 0.5}, "lines": [{"id": "l1"}],
           "machines": [{"id": "m", "line": "l1"}],
           "meters": [{"id": "e", "role": "energy_counter", "machine": "m", "unit": "kWh"}],
           "analysis": {"enabled": True}}
    with pytest.raises(ConfigError, match=r'add "1m" to \[engine\] machine_windows'):
        parse_config(doc)
    doc["engine"] = {"machine_windows": ["1m", "15m"]}
    assert parse_config(doc).analysis.enabled


def test_a_plant_s_own_cause_analyser_answers_before_the_built_in():
    class Recipes:
        """A plant that knows better: every line-level rise is its product mix."""

        @hookimpl
        def carbonline_root_cause(self, baseline, now):
            return Effects(grid=0.0, throughput=0.0, recipe=1.0, machines={})

    pm = make_manager(load_entry_points=False)
    pm.register(Recipes())
    run = run_scenario("valve-leak", 1, pm)
    line_alerts = [a for a in firing(run.alerts) if a.line == "line2"
                   and at("09:00") <= a.time < at("09:45") and a.detector != "threshold"]
    assert line_alerts and all(a.cause in ("recipe", "equipment") for a in line_alerts)
    assert any(a.cause == "recipe" for a in line_alerts), [a.message for a in line_alerts]


def test_in_carbonline_run_alerts_reach_influxdb_and_mqtt(mosquitto, influxdb, influx_db,
                                                          tmp_path):
    """The valve-leak shift read by ``carbonline run`` (the file as an extra input) with the
    plant's InfluxDB and broker as sinks: the leak's alert is a carbon_alert point and an MQTT
    message on line2's alert topic, firing then resolved."""
    site = f"s{uuid.uuid4().hex[:8]}"
    (port,) = free_ports(1)
    text = simulated(tmp_path, "valve-leak", "5h",
                     f'\n[run]\nidle_timeout = "0.2s"\n\n[http]\n'
                     f'listen = "127.0.0.1:{port}"\n\n[sinks.influx]\nurl = "{influxdb.url}"\n'
                     f'database = "{influx_db}"\napi = "v1"\n\n[sinks.mqtt]\n'
                     f'url = "{mosquitto.url}"\n', "--site", site)
    heard: list[dict] = []
    listener = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    listener.on_message = lambda c, u, m: heard.append(json.loads(m.payload))
    listener.connect("127.0.0.1", mosquitto.port)
    listener.subscribe(f"carbonline/{site}/line2/alert", qos=1)
    listener.loop_start()
    live = LiveRun(build_plant(parse_config(tomllib.loads(text))),
                   inputs=[str(tmp_path / "plant.lp")])
    runner = threading.Thread(target=live.run)
    runner.start()
    try:
        deadline = time.monotonic() + 60
        while {m.get("state") for m in heard} != {"firing", "resolved"}:
            assert time.monotonic() < deadline, heard
            time.sleep(0.2)
    finally:
        live.stop()
        runner.join(60)
        listener.loop_stop()
    firing_message = next(m for m in heard if m["state"] == "firing")
    assert (firing_message["cause"], firing_message["machine"]) == ("equipment", "compressor2")
    body = influxdb.query('SELECT "state", "machine", "alert_id" FROM "carbon_alert" WHERE '
                          """"line" = 'line2'""", db=influx_db)
    rows = body["results"][0]["series"][0]["values"]
    assert {r[1] for r in rows} >= {"firing", "resolved"}
    assert firing_message["alert_id"] in {r[3] for r in rows}


def test_with_a_state_dir_every_fit_is_a_versioned_baseline(tmp_path):
    text = simulated(tmp_path, "valve-leak", "2h",
                     f'\n[run]\nstate_dir = "{tmp_path / "state"}"\n')
    replay(build_plant(parse_config(tomllib.loads(text))), [str(tmp_path / "plant.lp")],
           [str(tmp_path / "out.lp")])
    sku = next(parse_line(line)["tags"]["sku"] for line in
               (tmp_path / "out.lp").read_text().splitlines()
               if line.startswith("carbon_intensity,") and "line=line2" in line)
    store = BaselineStore(tmp_path / "state" / "baselines.sqlite")
    (version, baseline), = store.history("line2", sku, "compressor2")  # one fit in 2 hours
    assert version == 1 and baseline.valid and baseline.kwh_per_unit > 0


def test_a_restarted_run_goes_on_with_its_baselines(tmp_path):
    # two hours of a simulated plant into a run with a state store, stopped; a second run on
    # the same state dir starts with the first one's fitted baselines, not learning again
    text = simulated(tmp_path, "normal-week", "2h",
                     f'\n[run]\nstate_dir = "{tmp_path / "state"}"\n')
    plant = build_plant(parse_config(tomllib.loads(text)))
    first = LiveRun(plant, inputs=["-"], outputs=[str(tmp_path / "out.lp")])
    (source,) = first.sources
    first.feed(source, source.parse((tmp_path / "plant.lp").read_text()))
    first.close()
    learnt = {key: {m: s.baseline for m, s in row.signatures.items()}
              for key, row in first.analyser.rows.items() if row.signatures}
    assert learnt  # an hour of running is enough to fit
    second = LiveRun(plant, inputs=["-"], outputs=[str(tmp_path / "again.lp")])
    assert second.analyser is not first.analyser
    assert {key: {m: s.baseline for m, s in row.signatures.items()}
            for key, row in second.analyser.rows.items() if row.signatures} == learnt
    assert second.analyser.pm is not None
    second.close()


def test_a_configured_driver_enters_the_machine_s_baseline(tmp_path):
    # the shared chiller follows the outdoor temperature, which the simulator writes beside
    # its readings (.weather.csv); configured as the chiller's driver, its baselines carry a
    # coefficient in kW per °C next to idle power and energy per unit
    weather = tmp_path / "plant.weather.csv"
    text = simulated(tmp_path, "normal-week", "8h",
                     f'drivers = {{ chiller = {{ outdoor_c = "{weather}" }} }}\n')
    assert weather.read_text().startswith("time,outdoor_c\n")
    plant = build_plant(parse_config(tomllib.loads(text)))
    run = LiveRun(plant, inputs=["-"], outputs=[str(tmp_path / "out.lp")])
    (source,) = run.sources
    run.feed(source, source.parse((tmp_path / "plant.lp").read_text()))
    run.close()
    fits = [row.signatures["chiller"].baseline for row in run.analyser.rows.values()
            if "chiller" in row.signatures]
    assert fits and all(set(b.drivers) <= {"outdoor_c"} for b in fits)
    assert any(b.drivers.get("outdoor_c", 0) > 0 for b in fits)


def test_a_driver_of_an_unknown_machine_or_a_missing_file_is_a_config_error(tmp_path):
    doc = {"site": {"name": "s", "timezone": "UTC", "grid_zone": "DE"},
           "factors": {"grid_kg_per_kwh": 0.5}, "lines": [{"id": "l1"}],
           "machines": [{"id": "m", "line": "l1"}],
           "meters": [{"id": "e", "role": "energy_counter", "machine": "m", "unit": "kWh"}],
           "engine": {"machine_windows": ["1m", "15m"]},
           "analysis": {"enabled": True, "drivers": {"hvac": {"outdoor_c": "nowhere.csv"}}}}
    with pytest.raises(ConfigError) as error:
        parse_config(doc)
    assert "no machine 'hvac'" in str(error.value)
    assert "analysis.drivers.hvac.outdoor_c: no such file 'nowhere.csv'" in str(error.value)
