"""plant.toml is validated at the edge (home-assistant's habit): a good file loads with every
section, and each mistake an engineer makes is refused with the file, the key and the problem,
so the engine never sees a bad value."""

from __future__ import annotations

import copy
from datetime import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from carbonline.cli import main
from carbonline.config import ConfigError, PlantConfig, load_config, parse_config

REPO = Path(__file__).resolve().parents[1]

#: Every section of plant.toml, each with a non-default value where it has one.
COMPLETE = """\
[site]
name = "bottling-${CARBONLINE_TEST_SITE}"
timezone = "Europe/Berlin"
grid_zone = "DE"

[engine]
resolution = "1m"
windows = ["1m", "15m", "1h"]
machine_windows = ["15m", "1h"]
lateness = "30s"
revision_horizon = "2h"
meter_timeout = "10m"
max_future = "1h"

[factors]
grid_kg_per_kwh = 0.38
market_kg_per_kwh = 0.12
source = "UBA 2025"

[shifts]
shifts = [
  { name = "early", start = "06:00", end = "14:00" },
  { name = "night", start = "22:00", end = "06:00" },
]
days_off = ["sun"]
holidays = ["2026-12-25"]

[[lines]]
id = "line1"
unit = "bottles"
threshold_co2e_per_unit_kg = 0.05

[[lines]]
id = "line2"

[[machines]]
id = "filler1"
line = "line1"

[[machines]]
id = "oven2"
line = "line2"

[[machines]]
id = "chiller"

[[shared]]
machine = "chiller"
lines = ["line1", "line2"]
key = "fixed"
shares = { line1 = 0.6, line2 = 0.4 }

[main_meter]
meter = "site-main"
key = "runtime"

[fuels.natural_gas]
unit = "m3"
ncv_kwh_per_unit = 10.0
co2e_kg_per_unit = 2.0

[[meters]]
id = "site-main"
role = "energy_counter"
unit = "MWh"
opcua = { node = "ns=2;s=Site.Main.Energy" }

[[meters]]
id = "filler1-e"
role = "energy_counter"
machine = "filler1"
unit = "Wh"
rollover = 1000000
influx = { measurement = "energy", field = "wh", tags = { asset = "F1" } }

[[meters]]
id = "oven2-e"
role = "interval_energy"
machine = "oven2"
unit = "kWh"
interval = "15m"
label = "start"
csv = { column = "Oven2_kWh" }

[[meters]]
id = "oven2-gas"
role = "fuel_counter"
machine = "oven2"
fuel = "natural_gas"
unit = "m3"

[[meters]]
id = "chiller-kw"
role = "power"
machine = "chiller"
unit = "W"
max_gap = "2m"
mqtt = { topic = "plant/chiller/+", path = "power.w", time_path = "ts" }

[[meters]]
id = "line1-good"
role = "units_counter"
line = "line1"

[[meters]]
id = "line2-good"
role = "units_counter"
line = "line2"

[[meters]]
id = "line1-sku"
role = "sku"
line = "line1"
influx = { measurement = "mes", tag = "sku", tags = { line = "L1" } }

[csv]
time_column = "date"
time_format = "%d/%m/%Y %H:%M"
timezone = "UTC"
midnight_ends_day = true
"""

#: A small valid document to break one key at a time.
BASE: dict = {
    "site": {"name": "s", "timezone": "Europe/Berlin", "grid_zone": "DE"},
    "factors": {"grid_kg_per_kwh": 0.4},
    "lines": [{"id": "line1"}, {"id": "line2"}],
    "machines": [{"id": "filler1", "line": "line1"}, {"id": "filler2", "line": "line2"}],
    "meters": [
        {"id": "f1", "role": "power", "machine": "filler1", "unit": "kW"},
        {"id": "u1", "role": "units_counter", "line": "line1"},
    ],
}


def base() -> dict:
    return copy.deepcopy(BASE)


def error_of(doc: dict, origin: str = "plant.toml") -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(doc, origin)
    return str(info.value)


def write(tmp_path: Path, text: str | bytes, name: str = "plant.toml") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def site_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARBONLINE_TEST_SITE", "hamburg")


# --- a complete, valid file -------------------------------------------------------------------


def test_complete_config_loads_every_section(tmp_path: Path, site_env: None) -> None:
    cfg = load_config(write(tmp_path, COMPLETE))
    assert isinstance(cfg, PlantConfig)
    assert cfg.site.name == "bottling-hamburg"  # ${CARBONLINE_TEST_SITE} expanded
    assert (cfg.site.timezone, cfg.site.grid_zone) == ("Europe/Berlin", "DE")
    # durations are seconds: 1m = 60, 2h = 7200, 10m = 600
    assert cfg.engine.resolution == 60
    assert (cfg.engine.lateness, cfg.engine.revision_horizon) == (30, 7200)
    assert (cfg.engine.meter_timeout, cfg.engine.max_future) == (600, 3600)
    assert cfg.window_sizes == {"1m": 60, "15m": 900, "1h": 3600}
    assert (cfg.factors.grid_kg_per_kwh, cfg.factors.market_kg_per_kwh) == (0.38, 0.12)
    assert [(s.name, s.start, s.end) for s in cfg.shifts.shifts] == [
        ("early", time(6), time(14)), ("night", time(22), time(6))
    ]
    assert cfg.shifts.days_off == ["sun"] and cfg.shifts.holidays == ["2026-12-25"]
    assert [(line.id, line.unit) for line in cfg.lines] == [("line1", "bottles"),
                                                           ("line2", "pieces")]
    assert cfg.shared[0].shares == {"line1": 0.6, "line2": 0.4}
    assert cfg.main_meter is not None and cfg.main_meter.key == "runtime"
    assert cfg.fuels["natural_gas"].ncv_kwh_per_unit == 10.0
    meters = {m.id: m for m in cfg.meters}
    # unit scales to kWh / kW: MWh ×1000, Wh ×0.001, W ×0.001
    assert meters["site-main"].scale == 1000.0
    assert meters["filler1-e"].scale == 0.001 and meters["chiller-kw"].scale == 0.001
    assert meters["oven2-e"].interval == 900 and meters["oven2-e"].label == "start"
    assert meters["chiller-kw"].max_gap == 120
    assert meters["filler1-e"].influx.tags == {"asset": "F1"}
    assert meters["chiller-kw"].mqtt.path == "power.w"
    assert meters["site-main"].opcua.node == "ns=2;s=Site.Main.Energy"
    assert meters["oven2-e"].csv.column == "Oven2_kWh"
    assert meters["line1-sku"].influx.tag == "sku"
    assert cfg.csv.time_column == "date" and cfg.csv.midnight_ends_day is True


def test_minimal_config_gets_the_documented_defaults() -> None:
    cfg = parse_config(base())
    assert cfg.engine.resolution == 60
    assert cfg.window_sizes == {"1m": 60, "15m": 900}
    assert cfg.lines[0].unit == "pieces"
    assert cfg.meters[1].unit == "" and cfg.meters[1].scale == 1.0  # units counter: units


# --- each mistake, named ---------------------------------------------------------------------


def test_misspelt_key_is_unknown(tmp_path: Path, site_env: None) -> None:
    text = COMPLETE.replace('unit = "bottles"', 'untis = "bottles"')
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"{path}: lines[0].untis: unknown key (misspelt?)"


def test_missing_required_key() -> None:
    doc = base()
    del doc["site"]["grid_zone"]
    assert error_of(doc) == "plant.toml: site.grid_zone: required key is missing"


def test_missing_required_section() -> None:
    doc = base()
    del doc["meters"]
    assert error_of(doc) == "plant.toml: meters: required key is missing"


@pytest.mark.parametrize("zone", ["Europe/Berln", "CET+1", "../../etc/passwd", ""])
def test_bad_time_zone(zone: str) -> None:
    doc = base()
    doc["site"]["timezone"] = zone
    assert error_of(doc) == (
        f"plant.toml: site.timezone: {zone!r} is not an IANA time zone such as 'Europe/Berlin'"
    )


def test_meter_on_unknown_machine_lists_the_machines() -> None:
    doc = base()
    doc["meters"][0]["machine"] = "filler9"
    assert error_of(doc) == (
        "plant.toml: meters[0].machine: 'filler9' is not a machine (known: filler1, filler2)"
    )


def test_machine_on_unknown_line_lists_the_lines() -> None:
    doc = base()
    doc["machines"][1]["line"] = "line9"
    assert error_of(doc) == (
        "plant.toml: machines[1].line: 'line9' is not a line (known: line1, line2)"
    )


def test_every_cross_reference_error_is_reported_at_once() -> None:
    """An engineer fixing a file wants all of its mistakes, not one per run."""
    doc = base()
    doc["meters"][0]["machine"] = "filler9"
    doc["meters"][1]["line"] = "line7"
    assert error_of(doc).splitlines() == [
        "plant.toml: meters[0].machine: 'filler9' is not a machine (known: filler1, filler2)",
        "plant.toml: meters[1].line: 'line7' is not a line (known: line1, line2)",
    ]


@pytest.mark.parametrize(
    ("role", "unit", "allowed"),
    [
        ("power", "kWh", "MW, W, kW"),  # a power meter reads kW, not energy
        ("energy_counter", "kW", "MWh, Wh, kWh"),  # and an energy counter not power
        ("interval_energy", "W", "MWh, Wh, kWh"),
    ],
)
def test_unit_that_does_not_fit_the_role(role: str, unit: str, allowed: str) -> None:
    doc = base()
    doc["meters"][0].update(role=role, unit=unit, interval="15m")
    assert error_of(doc) == (
        f"plant.toml: meters[0]: unit {unit!r} does not fit role {role} (use one of {allowed})"
    )


def test_units_counter_in_kg_is_refused() -> None:
    doc = base()
    doc["meters"][1]["unit"] = "kg"
    assert error_of(doc) == (
        "plant.toml: meters[1]: unit 'kg' does not fit role units_counter (use one of units)"
    )


@pytest.mark.parametrize(
    ("section", "entry", "index"),
    [
        ("lines", {"id": "line1"}, 2),
        ("machines", {"id": "filler1", "line": "line2"}, 2),
        ("meters", {"id": "f1", "role": "power", "machine": "filler2", "unit": "kW"}, 2),
    ],
)
def test_duplicate_id(section: str, entry: dict, index: int) -> None:
    doc = base()
    doc[section].append(entry)
    assert f"plant.toml: {section}[{index}].id: {entry['id']!r} is defined twice" in (
        error_of(doc).splitlines()
    )


def test_interval_energy_needs_its_interval() -> None:
    doc = base()
    doc["meters"][0].update(role="interval_energy", unit="kWh")
    assert error_of(doc) == (
        "plant.toml: meters[0]: an interval_energy meter needs 'interval', e.g. '15m'"
    )


def test_fixed_allocation_needs_shares() -> None:
    doc = base()
    doc["machines"].append({"id": "chiller"})
    doc["shared"] = [{"machine": "chiller", "lines": ["line1", "line2"], "key": "fixed"}]
    assert error_of(doc) == (
        "plant.toml: shared[0]: key 'fixed' needs 'shares', e.g. {line1 = 0.6, line2 = 0.4}"
    )


def test_window_not_a_multiple_of_the_resolution() -> None:
    doc = base()
    doc["engine"] = {"resolution": "1m", "windows": ["90s"]}
    assert error_of(doc) == "plant.toml: engine: window '90s' is not a multiple of the resolution"


def test_no_window_that_loads_is_finer_than_the_resolution() -> None:
    """``window_sizes`` always adds 1m and 15m; at a 5-minute resolution a 1m window would
    hold five minutes of energy, so such a config must be refused (or not get a 1m window)."""
    doc = base()
    doc["engine"] = {"resolution": "5m", "windows": ["15m"]}
    try:
        cfg = parse_config(doc)
    except ConfigError as exc:
        assert "'1m'" in str(exc) and "resolution" in str(exc)
        return
    resolution = int(cfg.engine.resolution)
    assert {name: size % resolution for name, size in cfg.window_sizes.items()} == {
        name: 0 for name in cfg.window_sizes
    }


def test_fixed_main_meter_needs_valid_shares() -> None:
    """The main meter's unmetered remainder is allocated like a shared machine's energy, so its
    ``shares`` must name real lines: ``lnie1`` would silently give line1 nothing."""
    doc = base()
    doc["meters"].append({"id": "site", "role": "energy_counter", "unit": "kWh"})
    doc["main_meter"] = {"meter": "site", "key": "fixed", "shares": {"lnie1": 1.0}}
    message = error_of(doc)
    assert message.startswith("plant.toml: main_meter")
    assert "lnie1" in message


def test_env_expansion(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARBONLINE_TEST_BUCKET", "energy_raw")
    doc = base()
    doc["meters"][0]["influx"] = {"measurement": "${CARBONLINE_TEST_BUCKET}", "field": "kw"}
    doc["site"]["name"] = "a-${CARBONLINE_TEST_BUCKET}-b"
    cfg = parse_config(doc)
    assert cfg.meters[0].influx.measurement == "energy_raw"
    assert cfg.site.name == "a-energy_raw-b"


def test_missing_env_var_names_file_key_and_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same shape as every other error: ``<file>: <key path>: <problem>``."""
    monkeypatch.delenv("CARBONLINE_TEST_SITE", raising=False)
    path = write(tmp_path, COMPLETE)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == (
        f"{path}: site.name: environment variable CARBONLINE_TEST_SITE is not set"
    )


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[site]\nname = "unterminated\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: not valid TOML: ")
    assert "line 2" in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"{path}: cannot read: No such file or directory"


def test_directory_instead_of_a_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    assert str(info.value) == f"{tmp_path}: cannot read: Is a directory"


def test_file_not_in_utf8_is_a_config_error(tmp_path: Path) -> None:
    """A plant.toml saved in Windows-1252 ("Kühlhaus") must be a ConfigError naming the file,
    not a UnicodeDecodeError traceback."""
    path = write(tmp_path, b'[site]\nname = "K\xfchlhaus"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: ")


# --- carbonline check-config -----------------------------------------------------------------


def test_check_config_summarises_a_valid_file(tmp_path: Path, site_env: None) -> None:
    path = write(tmp_path, COMPLETE)
    result = CliRunner().invoke(main, ["check-config", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"{path}: OK — site bottling-hamburg (Europe/Berlin, grid zone DE), 2 lines, "
        "3 machines, 8 meters, windows 1m, 15m, 1h, shift, day, order\n"
    )
    assert result.stderr == ""


def test_check_config_refuses_a_broken_file_on_stderr(tmp_path: Path) -> None:
    path = write(tmp_path, COMPLETE.replace('machine = "oven2"\nfuel', 'machine = "oven9"\nfuel'))
    result = CliRunner(env={"CARBONLINE_TEST_SITE": "x"}).invoke(main, ["check-config", str(path)])
    assert result.exit_code != 0
    assert result.stdout == ""
    assert "invalid configuration" in result.stderr
    assert (f"{path}: meters[3].machine: 'oven9' is not a machine "
            "(known: chiller, filler1, oven2)") in result.stderr


def test_check_config_on_a_missing_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["check-config", str(tmp_path / "nope.toml")])
    assert result.exit_code != 0
    assert "cannot read" in result.stderr and "nope.toml" in result.stderr


@pytest.mark.parametrize("shipped", ["examples/steel-plant/plant.toml"])
def test_shipped_configs_pass_check_config(shipped: str) -> None:
    path = REPO / shipped
    result = CliRunner().invoke(main, ["check-config", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"{path}: OK — site ")


def test_a_fuel_without_factors_must_be_an_ipcc_fuel() -> None:
    doc = base()
    doc["fuels"] = {"wood_chips": {"unit": "kg"}}
    message = error_of(doc)
    assert message.startswith("plant.toml: fuels.wood_chips: give ncv_kwh_per_unit and "
                              "co2e_kg_per_unit, or name an IPCC fuel: unknown fuel 'wood_chips'")
