"""Exporters are plugins: the built-ins answer ``carbonline_exporters`` like anyone else, and
a third-party exporter registered through the same hook is listed, gets its own
``[export.<name>]`` table and is run by ``carbonline export``."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from carbonline import hookimpl
from carbonline.export import cli as export_cli
from carbonline.export.base import ExportError, Prepared, exporters, read_inventory
from carbonline.plugins import make_manager

from export.conftest import END, START, Exported

PERIOD = ["--from", "2026-03-02T00:00:00Z", "--to", "2026-03-04T00:00:00Z"]


class CsvLake:
    """A third party's exporter: one CSV line per row, pushed nowhere but a list."""

    name = "csv-lake"
    description = "rows as CSV for a data lake"

    def __init__(self) -> None:
        self.pushed: list[bytes] = []
        self.settings: object = None

    def prepare(self, inventory, config) -> Prepared:
        self.settings = config.export.settings(self.name)
        lines = [f"{d.line},{d.day},{d.amounts.total_location_co2e_kg}" for d in inventory.days]
        return Prepared({"lake.csv": "\n".join(lines).encode()}, ("lake.csv",))

    def push(self, prepared: Prepared, config) -> list[str]:
        self.pushed.append(prepared.files["lake.csv"])
        return ["lake.csv: stored"]


class Plugin:
    def __init__(self, exporter: CsvLake) -> None:
        self.exporter = exporter
        self.asked: list = []  # the config each call was given

    @hookimpl
    def carbonline_exporters(self, config) -> list:
        self.asked.append(config)
        return [self.exporter]


@pytest.fixture
def lake(monkeypatch: pytest.MonkeyPatch) -> Plugin:
    plugin = Plugin(CsvLake())
    pm = make_manager(load_entry_points=False)
    pm.register(plugin, name="csv-lake-plugin")
    monkeypatch.setattr(export_cli, "get_manager", lambda: pm)
    return plugin


def test_builtins_are_exporters_of_the_hook() -> None:
    found = exporters(make_manager(load_entry_points=False))
    assert set(found) == {"salesforce", "webhook"}


def test_a_third_party_exporter_is_listed_and_run(lake: Plugin, exported: Exported,
                                                  tmp_path: Path) -> None:
    runner = CliRunner()
    listed = runner.invoke(export_cli.export_command, ["--list"])
    assert listed.exit_code == 0, listed.output
    assert "csv-lake\trows as CSV for a data lake" in listed.output.splitlines()
    assert lake.asked == [None]
    config = tmp_path / "plant.toml"
    config.write_text(exported.config_path.read_text()
                      + '\n[export.csv-lake]\nbucket = "s3://lake/carbon"\n')
    dry = runner.invoke(export_cli.export_command, ["csv-lake", "--config", str(config),
                                                    *PERIOD, "--dry-run", "--out",
                                                    str(tmp_path / "out")])
    assert dry.exit_code == 0, dry.output
    assert lake.asked[-1].site.name == "sim-plant"
    assert lake.exporter.settings == {"bucket": "s3://lake/carbon"}
    written = (tmp_path / "out" / "lake.csv").read_bytes()
    days = read_inventory(exported.config, START, END).days
    assert written.decode().splitlines() == [
        f"{d.line},{d.day},{d.amounts.total_location_co2e_kg}" for d in days]
    assert lake.exporter.pushed == []
    pushed = runner.invoke(export_cli.export_command, ["csv-lake", "--config", str(config),
                                                       *PERIOD])
    assert pushed.exit_code == 0, pushed.output
    assert lake.exporter.pushed == [written] and "lake.csv: stored" in pushed.output


def test_an_unknown_exporter_lists_the_known_ones(lake: Plugin, exported: Exported) -> None:
    result = CliRunner().invoke(export_cli.export_command, [
        "sap", "--config", str(exported.config_path), *PERIOD])
    assert result.exit_code != 0
    assert "no exporter 'sap' (have: csv-lake, salesforce, webhook)" in result.output


def test_two_exporters_with_one_name_are_an_error() -> None:
    pm = make_manager(load_entry_points=False)
    pm.register(Plugin(CsvLake()), name="a")
    pm.register(Plugin(CsvLake()), name="b")
    with pytest.raises(ExportError, match="two exporters are called 'csv-lake'"):
        exporters(pm)



@pytest.mark.parametrize(("args", "message"), [
    (["--from", "2026-03-04T00:00:00Z", "--to", "2026-03-02T00:00:00Z"],
     "--to must be after --from"),
    (["--from", "2026-03-02", "--to", "2026-03-04T00:00:00Z"], "has no UTC offset"),
    ([*PERIOD, "--out", "x"], "--out goes with --dry-run"),
])
def test_bad_arguments_are_named(exported: Exported, args: list[str], message: str) -> None:
    result = CliRunner().invoke(export_cli.export_command, [
        "webhook", "--config", str(exported.config_path), *args])
    assert result.exit_code == 2 and message in result.output, result.output


def test_progress_is_shown_while_days_are_read(exported: Exported, tmp_path: Path) -> None:
    result = CliRunner().invoke(export_cli.export_command, [
        "webhook", "--config", str(exported.config_path), *PERIOD, "--dry-run", "--out",
        str(tmp_path), "--progress"])
    assert result.exit_code == 0, result.output
    assert "reading days" in result.output
