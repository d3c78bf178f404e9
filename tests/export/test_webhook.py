"""The generic webhook: the payload follows its published JSON Schema, its totals are the
series in InfluxDB, and a push delivers the dry run's bytes with the configured headers."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from carbonline.export.base import ExportError
from carbonline.export.cli import export_command
from carbonline.export.base import read_inventory
from carbonline.export.webhook import PAYLOAD, SCHEMA_FILE, WebhookExporter

from export.conftest import END, START, Exported

PERIOD = ["--from", "2026-03-02T00:00:00Z", "--to", "2026-03-04T00:00:00Z"]


def test_payload_follows_the_schema_and_sums_to_influxdb(exported: Exported,
                                                         tmp_path: Path) -> None:
    result = CliRunner().invoke(export_command, [
        "webhook", "--config", str(exported.config_path), *PERIOD, "--dry-run",
        "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / PAYLOAD).read_text())
    schema = json.loads(SCHEMA_FILE.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(doc, schema, format_checker=jsonschema.FormatChecker())
    assert doc["period"] == {"from": "2026-03-02T00:00:00Z", "to": "2026-03-04T00:00:00Z",
                             "timezone": "UTC"}
    sums = exported.influx_sums()
    [total] = [s for s in doc["sites"] if s["site"] == "(all)"]
    for name in ("electricity_kwh", "fuel_kwh", "scope1_co2e_kg", "scope2_location_co2e_kg",
                 "scope2_market_co2e_kg"):
        assert total[name] == pytest.approx(sums[name], rel=1e-9), name
        assert sum(d[name] for d in doc["days"]) == pytest.approx(sums[name], rel=1e-9), name
    assert total["energy_kwh"] == pytest.approx(sums["electricity_kwh"] + sums["fuel_kwh"],
                                                rel=1e-9)
    [gas] = doc["scope1_by_fuel"]
    assert (gas["line"], gas["fuel"], gas["amount_unit"]) == ("line3", "natural_gas", "m3")
    assert gas["co2e_kg"] == pytest.approx(sums["scope1_co2e_kg"], rel=1e-9)
    assert {d["day"] for d in doc["days"]} == {"2026-03-02", "2026-03-03"}


def test_schema_refuses_a_day_missing_its_scope2(exported: Exported) -> None:
    inv = read_inventory(exported.config, START, END)
    doc = json.loads(WebhookExporter().prepare(inv, exported.config).files[PAYLOAD])
    schema = json.loads(SCHEMA_FILE.read_text())
    jsonschema.validate(doc, schema)
    del doc["days"][0]["scope2_market_co2e_kg"]
    with pytest.raises(jsonschema.ValidationError, match="scope2_market_co2e_kg"):
        jsonschema.validate(doc, schema)


def test_push_delivers_the_dry_run_bytes_with_the_headers(exported: Exported,
                                                           tmp_path: Path) -> None:
    runner = CliRunner()
    dry = runner.invoke(export_command, ["webhook", "--config", str(exported.config_path),
                                         *PERIOD, "--dry-run", "--out", str(tmp_path)])
    assert dry.exit_code == 0, dry.output
    receiver = exported.webhook.recorder
    receiver.requests.clear()
    pushed = runner.invoke(export_command, ["webhook", "--config", str(exported.config_path),
                                            *PERIOD])
    assert pushed.exit_code == 0, pushed.output
    [request] = receiver.requests
    assert request.path == "/hooks/carbon"
    assert request.body == (tmp_path / PAYLOAD).read_bytes()
    assert request.headers["Authorization"] == "Bearer hook-secret"
    assert request.headers["Content-Type"] == "application/json"
    assert "delivered" in pushed.output


def test_a_refusing_receiver_is_an_error_with_its_words(exported: Exported) -> None:
    exporter = WebhookExporter()
    prepared = exporter.prepare(read_inventory(exported.config, START, END), exported.config)
    exported.webhook.recorder.status = 500
    try:
        with pytest.raises(ExportError, match=r"HTTP 500 .*receiver says no"):
            exporter.push(prepared, exported.config)
    finally:
        exported.webhook.recorder.status = 204
