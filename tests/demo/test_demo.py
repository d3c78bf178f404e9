"""`carbonline demo`: the simulated plant runs through the real engine and the table shows it."""

from __future__ import annotations

import re

from click.testing import CliRunner

from carbonline.cli import main


def plant_intensity(output: str) -> float:
    """kg CO₂e per unit of the table's plant row."""
    row = [line for line in output.splitlines() if "plant" in line and "all" in line][-1]
    return float(re.findall(r"[\d.]+", row.replace(",", ""))[-1])


def test_demo_command_prints_the_intensity_table():
    result = CliRunner().invoke(main, ["demo", "--hours", "2", "--pace", "0"])
    assert result.exit_code == 0, result.output
    assert 0.5 < plant_intensity(result.output) < 1.0  # the simulator sits near 0.7
    for line in ("line1", "line2", "line3"):
        assert line in result.output
    # the factor in force and where it comes from (the simulated grid series)
    assert "location-based grid factor" in result.output and "series:" in result.output
    assert "scenario valve-leak" in result.output
    assert "rejected" not in result.output  # the simulated plant's own data is all good


def test_demo_plays_the_scenario_asked_for():
    normal = CliRunner().invoke(main, ["demo", "--hours", "4", "--pace", "0", "--scenario",
                                       "normal-week"])
    spike = CliRunner().invoke(main, ["demo", "--hours", "4", "--pace", "0", "--scenario",
                                      "grid-spike"])
    assert normal.exit_code == 0 and spike.exit_code == 0, normal.output + spike.output
    # the grid spike starts after 5 h: four hours see none of it
    assert plant_intensity(spike.output) == plant_intensity(normal.output)
    longer = CliRunner().invoke(main, ["demo", "--hours", "6", "--pace", "0", "--scenario",
                                       "grid-spike"])
    calm = CliRunner().invoke(main, ["demo", "--hours", "6", "--pace", "0", "--scenario",
                                     "normal-week"])
    assert plant_intensity(longer.output) > 1.05 * plant_intensity(calm.output)
    bad = CliRunner().invoke(main, ["demo", "--scenario", "nope"])
    assert bad.exit_code == 1 and "no scenario 'nope'" in bad.output
