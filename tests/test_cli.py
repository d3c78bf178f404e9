"""The command line: replay end to end with a rejection summary, --version, --help."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from line_protocol_parser import parse_line

from carbonline import __version__
from carbonline.cli import main

PLANT = """
[site]
name = "cli"
grid_zone = "DE"

[factors]
grid_kg_per_kwh = 0.5

[[lines]]
id = "l1"

[[machines]]
id = "m1"
line = "l1"

[[meters]]
id = "e"
role = "energy_counter"
machine = "m1"
unit = "kWh"
influx = { measurement = "energy", field = "kwh" }

[[meters]]
id = "u"
role = "units_counter"
line = "l1"
influx = { measurement = "units", field = "good" }
"""
S = 1_000_000_000
T0 = 1_772_409_600 * S  # 2026-03-02 00:00 UTC


def test_replay_writes_series_and_summarises_rejections(tmp_path: Path):
    (tmp_path / "plant.toml").write_text(PLANT)
    lines = [f"energy kwh={m * 2.0} {T0 + m * 60 * S}" for m in range(16)]
    lines += [f"units good={m * 10} {T0 + m * 60 * S}" for m in range(16)]
    lines += ["garbage", f"energy kwh=nan {T0}", f"vibration mm=3 {T0}"]
    (tmp_path / "in.lp").write_text("\n".join(lines))
    result = CliRunner().invoke(main, [
        "replay", "--config", str(tmp_path / "plant.toml"), "--input", str(tmp_path / "in.lp"),
        "--output", str(tmp_path / "out.lp")])
    assert result.exit_code == 0, result.output
    # the summary names each reason with its count
    assert "malformed" in result.output and "not_a_number" in result.output
    assert "unknown_meter" in result.output and "32 readings accepted" in result.output
    points = [parse_line(x) for x in (tmp_path / "out.lp").read_text().splitlines()]
    (quarter,) = [p for p in points if p["measurement"] == "carbon_intensity"
                  and p["tags"]["window"] == "15m"]
    # 15 minutes × 2 kWh = 30 kWh × 0.5 kg/kWh = 15 kg over 150 units = 0.1 kg/unit
    assert quarter["fields"]["co2e_kg"] == 15.0 and quarter["fields"]["co2e_per_unit_kg"] == 0.1


def test_replay_of_an_unknown_format_fails_with_the_reason(tmp_path: Path):
    (tmp_path / "plant.toml").write_text(PLANT)
    (tmp_path / "data.parquet").write_bytes(b"PAR1")
    result = CliRunner().invoke(main, ["replay", "--config", str(tmp_path / "plant.toml"),
                                       "--input", str(tmp_path / "data.parquet"), "--output", "-"])
    assert result.exit_code != 0 and "no source plugin can read:" in result.output
    result = CliRunner().invoke(main, ["replay", "--config", str(tmp_path / "plant.toml"),
                                       "--input", "dta.lp", "--output", "-"])
    assert result.exit_code != 0 and "no such file: dta.lp" in result.output


def test_broken_config_exits_non_zero_with_the_reason(tmp_path: Path):
    (tmp_path / "plant.toml").write_text(PLANT.replace('line = "l1"\n\n[[meters]]\nid = "e"',
                                                       'line = "l9"\n\n[[meters]]\nid = "e"'))
    result = CliRunner().invoke(main, ["replay", "--config", str(tmp_path / "plant.toml"),
                                       "--input", "x.lp", "--output", "-"])
    assert result.exit_code != 0 and "machines[0].line: 'l9' is not a line" in result.output


def test_version_and_help():
    runner = CliRunner()
    assert __version__ in runner.invoke(main, ["--version"]).output
    for command in ([], ["replay"], ["demo"], ["check-config"]):
        result = runner.invoke(main, [*command, "--help"])
        assert result.exit_code == 0 and "Usage:" in result.output


def test_factors_shows_value_and_provenance():
    from carbonline.factors.tables import GridFactorTable

    row = GridFactorTable.shipped().factor("DE")
    result = CliRunner().invoke(main, ["factors", "--zone", "DE", "--at", "2026-06-01T12:00Z"])
    assert result.exit_code == 0, result.output
    assert f"{row.kg_per_kwh} kg CO₂e/kWh" in result.output
    assert row.dataset in result.output and "CC BY 4.0" in result.output
    assert "older than asked: estimated" in result.output  # a 2023 value asked for 2026
    market = CliRunner().invoke(main, ["factors", "--zone", "DE", "--basis", "market"])
    assert "grid average stands in" in market.output
    listing = CliRunner().invoke(main, ["factors", "--list"])
    assert "SE-SE3" in listing.output and "US-TX" in listing.output
    bad = CliRunner().invoke(main, ["factors", "--zone", "DEU"])
    assert bad.exit_code != 0 and "write 'DE'" in bad.output
