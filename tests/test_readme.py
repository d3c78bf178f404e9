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
