"""The README is documentation users copy from: its config example must be valid as written."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from carbonline.config import parse_config
from carbonline.plant import build_plant

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_config_reference_is_a_valid_plant_toml():
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"```toml\n(.*?)```", text, flags=re.S)
    (reference,) = [b for b in blocks if "[site]" in b]
    plant = build_plant(parse_config(tomllib.loads(reference), "README.md"))
    roles = {m.role for m in plant.meters}
    assert {"energy_counter", "power", "fuel_counter", "units_counter", "sku"} <= roles
    assert plant.config.main_meter is not None and plant.config.shared


def test_readme_names_the_two_fresh_machine_commands():
    text = README.read_text(encoding="utf-8")
    assert "bash scripts/demo.sh" in text and "bash scripts/test.sh" in text
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert "bash scripts/test.sh" in ci


def test_readme_live_sections_are_valid_with_the_reference_plant(monkeypatch):
    for name in ("MQTT_PASSWORD", "OPCUA_PASSWORD", "INFLUX_READ_TOKEN", "INFLUX_PASSWORD"):
        monkeypatch.setenv(name, "secret")
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"```toml\n(.*?)```", text, flags=re.S)
    (reference,) = [b for b in blocks if "[site]" in b]
    (live,) = [b for b in blocks if "[sources.mqtt]" in b]
    config = parse_config(tomllib.loads(reference + live), "README.md")
    assert config.sources.mqtt.password == "secret"  # from the environment, never literal
    assert config.sources.opcua.security_policy == "Basic256Sha256"
    assert config.sinks.influx.api == "auto" and config.sinks.mqtt.windows == ["1m"]
