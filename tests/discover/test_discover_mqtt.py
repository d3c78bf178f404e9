"""Discovery on a real broker, and the plant.toml drafted from it passing check-config."""

from __future__ import annotations

import json
import threading
import time
import uuid

import paho.mqtt.client as mqtt

from carbonline.config import MqttBroker, parse_config
from carbonline.discover.draft import draft_config, guess
from carbonline.discover.found import Found
from carbonline.discover.mqtt import sniff_mqtt

import tomllib


def test_sniff_lists_topics_and_json_leaves_and_the_draft_is_a_valid_plant(mosquitto):
    prefix = f"plant{uuid.uuid4().hex[:6]}"
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    pub.connect("127.0.0.1", mosquitto.port)
    pub.loop_start()
    retained = {
        f"{prefix}/line1/filler": {"ts": 1772431200, "energy": {"value": 1200.5, "unit": "kWh"},
                                   "state": "running"},
        f"{prefix}/line1/sku": "cola-0.5l",
    }
    for topic, payload in retained.items():
        text = payload if isinstance(payload, str) else json.dumps(payload)
        pub.publish(topic, text, qos=1, retain=True).wait_for_publish(5)

    def count_up() -> None:  # a units counter publishing while discovery listens
        for n in range(8):
            pub.publish(f"{prefix}/line1/good_count", str(100 + n * 7), qos=1)
            pub.publish(f"{prefix}/line1/press_power", f"{40 + n % 3}", qos=1)
            time.sleep(0.15)

    talker = threading.Thread(target=count_up)
    talker.start()
    found = sniff_mqtt(MqttBroker(url=mosquitto.url), seconds=1.5, topic=f"{prefix}/#")
    talker.join()
    pub.loop_stop()
    by_name = {f.name: f for f in found}
    energy = by_name[f"{prefix}/line1/filler/energy.value"]
    assert energy.mapping == {"mqtt": {"topic": f"{prefix}/line1/filler", "path": "energy.value",
                                       "time_path": "ts"}}
    assert energy.unit == "kWh" and energy.samples == [1200.5]
    assert by_name[f"{prefix}/line1/sku"].samples == ["cola-0.5l"]
    count = by_name[f"{prefix}/line1/good_count"]
    assert count.samples == sorted(count.samples) and len(count.samples) >= 3
    assert {guess(f).role for f in found} >= {"energy_counter", "sku", "units_counter", "power"}

    text = draft_config(found, "bremen", "Europe/Berlin", "DE",
                        {"mqtt": {"url": mosquitto.url}})
    config = parse_config(tomllib.loads(text))  # valid as drafted: check-config passes
    roles = {m.id: m.role for m in config.meters}
    assert roles[f"{prefix}_line1_filler_energy_value"] == "energy_counter"
    assert roles[f"{prefix}_line1_good_count"] == "units_counter"
    assert roles[f"{prefix}_line1_press_power"] == "power"
    assert roles[f"{prefix}_line1_sku"] == "sku"
    assert config.sources.mqtt.url == mosquitto.url
    assert text.count("# CONFIRM") >= len(config.meters)  # every guess marked


def test_guess_reads_unit_then_name_then_samples():
    assert guess(Found("m1", {}, [1.0, 2.0], unit="kWh")).role == "energy_counter"
    assert guess(Found("m1", {}, [5.0, 2.0], unit="kWh")).role == "interval_energy"
    assert guess(Found("hall/compressor/power", {}, [3.0, 2.0])).role == "power"
    assert guess(Found("l1/scrap", {}, [1.0, 2.0])).role == "scrap_counter"
    assert guess(Found("l1/current_order", {}, ["A-17"])).role == "order"
    assert guess(Found("x17", {}, ["blue"])).role == "sku"
    assert guess(Found("x17", {}, [10.0, 12.0, 19.0])).role == "units_counter"
    assert guess(Found("x17", {}, [10.5, 12.25])).role == "energy_counter"
    unknown = guess(Found("x17", {}, [3.0, 1.0]))
    assert unknown.role is None and "no telling name" in unknown.why


def test_a_signal_without_a_guess_is_kept_commented_out():
    found = [Found("a/b", {"mqtt": {"topic": "a/b"}}, [3.0, 1.0], where="a/b"),
             Found("a/kwh", {"mqtt": {"topic": "a/kwh"}}, [1.0, 2.0], unit="kWh")]
    text = draft_config(found, "s", "UTC", "DE", {"mqtt": {"url": "mqtt://b:1883"}})
    config = parse_config(tomllib.loads(text))
    assert [m.id for m in config.meters] == ["a_kwh"]
    assert '# id = "a_b"' in text and '# mqtt = { topic = "a/b" }' in text


def test_discover_command_writes_a_draft_that_check_config_accepts(mosquitto, tmp_path):
    from click.testing import CliRunner

    from carbonline.cli import main

    prefix = f"plant{uuid.uuid4().hex[:6]}"
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    pub.connect("127.0.0.1", mosquitto.port)
    pub.loop_start()
    pub.publish(f"{prefix}/oven/gas_m3", json.dumps({"value": 17.5, "unit": "m3"}), qos=1,
                retain=True).wait_for_publish(5)
    pub.loop_stop()
    draft = tmp_path / "plant.toml"
    runner = CliRunner()
    result = runner.invoke(main, ["discover", "--mqtt", mosquitto.url, "--topic", f"{prefix}/#",
                                  "--seconds", "0.5", "--site", "bremen", "--write", str(draft)])
    assert result.exit_code == 0, result.output
    assert "1 signals found" in result.output
    checked = runner.invoke(main, ["check-config", str(draft)])
    assert checked.exit_code == 0, checked.output
    assert "site bremen" in checked.output and "1 meters" in checked.output
    assert 'role = "fuel_counter"' in draft.read_text()
    missing = runner.invoke(main, ["discover"])
    assert missing.exit_code == 2 and "give one of --influx" in missing.output
