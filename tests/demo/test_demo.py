"""`carbonline demo`: the sample plant runs through the real engine and the table shows it."""

from __future__ import annotations

import re

from click.testing import CliRunner

from carbonline.cli import main
from carbonline.config import load_config
from carbonline.demo.sample import PLANT_TOML, sample_batches
from carbonline.engine.accumulator import Engine
from carbonline.plant import build_plant
from carbonline.records import NS_PER_S, IntensityRow

START = 1_772_427_600 * NS_PER_S  # 2026-03-02 05:00 UTC


def test_sample_plant_is_deterministic_and_clean():
    plant = build_plant(load_config(PLANT_TOML))
    assert len(plant.lines) == 3 and 12 <= len(plant.machines) <= 16
    first = [b.readings.tobytes() for b in sample_batches(plant, START, 1, seed=7)]
    again = [b.readings.tobytes() for b in sample_batches(plant, START, 1, seed=7)]
    other = [b.readings.tobytes() for b in sample_batches(plant, START, 1, seed=8)]
    assert first == again and first != other
    engine = Engine(plant)
    rows = []
    for batch in sample_batches(plant, START, 2, seed=7):
        rows += engine.ingest(batch)
    rows += engine.flush()
    assert not engine.stats.rejected  # the sample plant's own data is all good
    fifteen = [r for r in rows if isinstance(r, IntensityRow) and r.window.kind == "15m"]
    assert {r.line for r in fifteen} == {"line1", "line2", "line3"}
    # the site meter sees 5 % more than the sub-meters: the unmetered remainder is allocated
    assert any(getattr(r, "machine", "") == "unmetered" and r.energy_kwh > 0 for r in rows)
    # line3's oven burns gas: Scope 1 shows up on line3 only
    assert all((r.scope1_co2e_kg > 0) == (r.line == "line3") for r in fifteen if r.energy_kwh > 1)


def test_demo_command_prints_the_intensity_table():
    result = CliRunner().invoke(main, ["demo", "--hours", "2", "--pace", "0"])
    assert result.exit_code == 0, result.output
    plant_row = [line for line in result.output.splitlines() if "plant" in line and "all" in line]
    assert plant_row, result.output
    per_unit = float(re.findall(r"[\d.]+", plant_row[-1].replace(",", ""))[-1])
    assert 0.005 < per_unit < 0.2  # kg CO₂e per unit: plausible for bottles, cans and trays
    for line in ("line1", "line2", "line3"):
        assert line in result.output
    # the factor in force and where it comes from (the demo's illustrative profile)
    assert "location-based grid factor" in result.output and "profile:" in result.output
