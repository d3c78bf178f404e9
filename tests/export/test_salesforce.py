"""Salesforce Net Zero Cloud: the dry run's records against the vendored field reference (API
67.0), their numbers against InfluxDB, the CSV against the JSON, and a push against a local
stand-in replaying Salesforce's documented answers (see ``stubs``)."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from carbonline.export.base import ExportError
from carbonline.export.cli import export_command
from carbonline.export.base import read_inventory
from carbonline.report.model import Amounts, DayLine, FuelGases
from carbonline.export.salesforce import OBJECT, REFERENCE_FILE, SalesforceExporter, validate
from carbonline.config import PlantConfig
from carbonline.factors.gwp import gwp_set

from export.conftest import (ASSET_A, ASSET_B, CERTIFICATE_KWH, ELECTRICITY_SET, END,
                             GAS_SET, START, Exported)
from export.stubs import SOBJECTS_PATH, TOKEN

VENDORED = json.loads(REFERENCE_FILE.read_text())


def dry_run(exported: Exported, out: Path) -> dict[str, bytes]:
    result = CliRunner().invoke(export_command, [
        "salesforce", "--config", str(exported.config_path), "--from", "2026-03-02T00:00:00Z",
        "--to", "2026-03-04T00:00:00Z", "--dry-run", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


def with_salesforce(config: PlantConfig, **changes) -> PlantConfig:
    """``config`` with some ``[export.salesforce]`` settings changed."""
    settings = config.export.salesforce.model_copy(update=changes)
    return config.model_copy(update={"export": config.export.model_copy(
        update={"salesforce": settings})})


def records_of(files: dict[str, bytes]) -> list[dict]:
    return [r for name, body in files.items() if name.endswith(".json")
            for r in json.loads(body)["records"]]


def test_the_reference_is_pinned_and_cited() -> None:
    assert VENDORED["object"] == OBJECT and VENDORED["api_version"] == "67.0"
    assert VENDORED["source"].startswith("Salesforce") and "developer.salesforce.com" in VENDORED["source"]
    for name in ("FuelType", "FuelConsumptionUnit", "DataGapFillingMethodName"):
        assert "developer.salesforce.com" in VENDORED["fields"][name]["values_source"]


def test_dry_run_records_fit_the_field_reference(exported: Exported, tmp_path: Path) -> None:
    files = dry_run(exported, tmp_path)
    assert set(files) == {f"{OBJECT}-001.json", f"{OBJECT}.csv"}
    body = json.loads(files[f"{OBJECT}-001.json"])
    assert body["allOrNone"] is True
    recs = body["records"]
    assert recs and len(recs) <= 200
    fields = VENDORED["fields"]
    for rec in recs:
        assert rec["attributes"] == {"type": OBJECT}
        assert all(rec.get(name) not in (None, "") for name in VENDORED["required"]), rec
        for name, value in rec.items():
            if name == "attributes":
                continue
            field = fields[name]  # KeyError: a field the object does not have
            if field["type"] == "double":
                assert isinstance(value, float) and round(value, field["scale"]) == value
                assert abs(value) < 10 ** (field["precision"] - field["scale"])
            elif field["type"] == "picklist":
                assert value in field["values"], (name, value)
            elif field["type"] == "reference":
                assert len(value) in (15, 18) and value.isalnum()
            elif field["type"] == "date":
                assert len(value) == 10 and value[4] == value[7] == "-"
            else:
                assert field["type"] == "string" and len(value) <= field["length"]
        assert rec["StartDate"] == rec["EndDate"]  # date-granular
        assert validate(rec) == []


def test_records_are_per_asset_day_and_fuel_with_the_target_ids(exported: Exported,
                                                                 tmp_path: Path) -> None:
    recs = records_of(dry_run(exported, tmp_path))
    keys = [(r["StnryAssetEnvrSrcId"], r["StartDate"], r["FuelType"]) for r in recs]
    assert len(keys) == len(set(keys))
    assert {k[0] for k in keys} == {ASSET_A, ASSET_B}
    gas = [r for r in recs if r["FuelType"] == "NaturalGas"]
    elec = [r for r in recs if r["FuelType"] == "Electricity"]
    assert {r["StnryAssetEnvrSrcId"] for r in gas} == {ASSET_B}
    assert all(r["OtherEmssnFctrId"] == GAS_SET and r["FuelConsumptionUnit"] == "m3" for r in gas)
    assert all(r["ElectricityEmissionFactorsId"] == ELECTRICITY_SET
               and r["FuelConsumptionUnit"] == "kWh" for r in elec)
    assert {r["Name"] for r in elec if r["StnryAssetEnvrSrcId"] == ASSET_A} == {
        "sim-plant line1+line2 Electricity 2026-03-02", "sim-plant line1+line2 Electricity 2026-03-03"}
    assert "DataGapFillingMethodName" not in {k for r in recs for k in r}  # none configured


def test_numbers_equal_the_series_in_influxdb(exported: Exported, tmp_path: Path) -> None:
    recs = records_of(dry_run(exported, tmp_path))
    sums = exported.influx_sums()
    elec = [r for r in recs if r["FuelType"] == "Electricity"]
    gas = [r for r in recs if r["FuelType"] == "NaturalGas"]
    rounding = 0.005 * len(recs)  # FuelConsumption has scale 2
    assert sum(r["FuelConsumption"] for r in elec) == pytest.approx(sums["electricity_kwh"],
                                                                     abs=rounding)
    ncv = exported.config.fuels["natural_gas"].ncv_kwh_per_unit  # kWh per m³
    assert sum(r["FuelConsumption"] for r in gas) * ncv == pytest.approx(sums["fuel_kwh"],
                                                                         abs=rounding * ncv)
    g = gwp_set(exported.config.factors.gwp)
    co2e = sum(g.co2e(r["Co2EmissionsInKg"], r["Ch4EmissionsInKg"], r["N2oEmissionsInKg"])
               for r in gas)
    assert co2e == pytest.approx(sums["scope1_co2e_kg"], abs=1e-6 * 300 * len(gas))
    assert sum(r["AllocatedRenewableEnergyInKwh"] for r in elec) == pytest.approx(
        CERTIFICATE_KWH, abs=rounding)


def test_the_csv_holds_the_json_records(exported: Exported, tmp_path: Path) -> None:
    files = dry_run(exported, tmp_path)
    recs = records_of(files)
    rows = list(csv.DictReader(io.StringIO(files[f"{OBJECT}.csv"].decode())))
    assert len(rows) == len(recs)
    assert list(rows[0])[:len(VENDORED["required"])] == VENDORED["required"]
    for rec, row in zip(recs, rows):
        for name, value in row.items():
            if name not in rec:
                assert value == ""
            elif isinstance(rec[name], float):
                assert float(value) == rec[name]
            else:
                assert value == rec[name]


@pytest.mark.parametrize(("change", "problem"), [
    ({"FuelTyp": "Electricity"}, "FuelTyp: not a field of StnryAssetEnrgyUse"),
    ({"FuelType": "Natural Gas"}, "FuelType: 'Natural Gas' is not a picklist value"),
    ({"FuelConsumption": 1.005}, "FuelConsumption: 1.005 has more than 2 decimal places"),
    ({"FuelConsumption": 1e16}, "more than 16 integer digits"),
    ({"FuelConsumption": "12"}, "FuelConsumption: expected a finite number"),
    ({"StartDate": "2026-02-30"}, "StartDate: '2026-02-30' is not a calendar date"),
    ({"StnryAssetEnvrSrcId": "line1"}, "StnryAssetEnvrSrcId: expected a 15- or 18-character"),
    ({"Name": "x" * 256}, "Name: longer than 255 characters"),
    ({"EndDate": None}, "EndDate: required field missing"),
])
def test_validation_names_what_breaks_the_reference(change: dict, problem: str) -> None:
    good = {"attributes": {"type": OBJECT}, "Name": "n", "StnryAssetEnvrSrcId": ASSET_A,
            "StartDate": "2026-03-02", "EndDate": "2026-03-02", "FuelType": "NaturalGas",
            "FuelConsumption": 12.5, "FuelConsumptionUnit": "m3", "Co2EmissionsInKg": 1.234567}
    assert validate(good) == []
    problems = validate({**good, **change})
    assert len(problems) == 1 and problem in problems[0], problems


def test_a_line_without_an_asset_is_named(exported: Exported) -> None:
    config = with_salesforce(exported.config, asset=None)
    with pytest.raises(ExportError, match=r"line 'line1' has no asset"):
        SalesforceExporter().prepare(read_inventory(config, START, END), config)


def day_line(line: str, fuels: list[FuelGases] = (), kwh: float = 1.0) -> DayLine:
    amounts = Amounts(electricity_kwh=kwh, scope2_location_co2e_kg=0.4 * kwh,
                      scope2_market_co2e_kg=0.4 * kwh)
    return DayLine(date(2026, 3, 2), "sim-plant", line, amounts, list(fuels))


def test_a_line_whose_fuel_is_not_known_is_refused(exported: Exported) -> None:
    """Two fuels on one line: the series hold their sum, so no fuel type can be given."""
    inv = read_inventory(exported.config, START, END)
    mixed = FuelGases("sim-plant", "line3", "mixed: diesel, natural_gas", 10.0, 2.5, None, None,
                      None, "AR6", "recorded CO2e only; gas split not determinable: the line "
                      "burns more than one fuel and the series hold their sum")
    inv.days[:] = [day_line("line3", [mixed])]
    with pytest.raises(ExportError, match=r"line 'line3' on 2026-03-02: fuel 'mixed: diesel, "
                       r"natural_gas' .* burns more than one fuel"):
        SalesforceExporter().prepare(inv, exported.config)


def test_push_sends_exactly_the_dry_run_payload(exported: Exported, tmp_path: Path) -> None:
    files = dry_run(exported, tmp_path / "dry")
    stub = exported.salesforce.recorder
    stub.requests.clear()
    result = CliRunner().invoke(export_command, [
        "salesforce", "--config", str(exported.config_path), "--from", "2026-03-02T00:00:00Z",
        "--to", "2026-03-04T00:00:00Z"])
    assert result.exit_code == 0, result.output
    assert [r.path for r in stub.requests] == [SOBJECTS_PATH]
    assert stub.requests[0].body == files[f"{OBJECT}-001.json"]
    assert stub.requests[0].headers["Authorization"] == f"Bearer {TOKEN}"
    n = len(records_of(files))
    assert f"{OBJECT}-001.json: {n} {OBJECT} record(s) created" in result.output


def test_push_reports_an_expired_session(exported: Exported) -> None:
    config = with_salesforce(exported.config, access_token="expired")
    exporter = SalesforceExporter()
    prepared = exporter.prepare(read_inventory(config, START, END), config)
    with pytest.raises(ExportError, match=r"HTTP 401 INVALID_SESSION_ID: Session expired"):
        exporter.push(prepared, config)


def test_push_names_the_record_salesforce_refused(exported: Exported) -> None:
    exporter = SalesforceExporter()
    prepared = exporter.prepare(read_inventory(exported.config, START, END), exported.config)
    exported.salesforce.recorder.refuse_name = "NaturalGas 2026-03-03"
    try:
        with pytest.raises(ExportError) as caught:
            exporter.push(prepared, exported.config)
    finally:
        exported.salesforce.recorder.refuse_name = None
    message = str(caught.value)
    assert "ALL_OR_NONE_OPERATION_ROLLED_BACK" not in message  # the others were fine
    assert "refused 1 record(s), so none of the batch's " in message
    assert ("sim-plant line3 NaturalGas 2026-03-03: FIELD_CUSTOM_VALIDATION_EXCEPTION: Fuel "
            "consumption exceeds the asset's plausible range (FuelConsumption)") in message


def test_batches_hold_at_most_200_records(exported: Exported) -> None:
    inv = read_inventory(exported.config, START, END)
    inv.days[:] = [day_line(f"l{i}") for i in range(450)]
    config = with_salesforce(exported.config,
                             assets={f"l{i}": f"0ZsRM{i:010d}AAA" for i in range(450)})
    prepared = SalesforceExporter().prepare(inv, config)
    sizes = [len(json.loads(prepared.files[name])["records"]) for name in prepared.bodies]
    assert sizes == [200, 200, 50]
    assert prepared.bodies == (f"{OBJECT}-001.json", f"{OBJECT}-002.json", f"{OBJECT}-003.json")


def test_gap_filling_method_marks_only_incomplete_lines(exported: Exported) -> None:
    config = with_salesforce(exported.config, gap_filling_method="DAILY_AVERAGE_CURRENT_YEAR")
    inv = read_inventory(config, START, END)
    assert all(q.min_coverage_pct == 100 for q in inv.quality)  # the simulator misses nothing
    [line3] = [q for q in inv.quality if q.line == "line3"]
    line3.min_coverage_pct = 97.5
    recs = records_of(SalesforceExporter().prepare(inv, config).files)
    marked = {r["StnryAssetEnvrSrcId"] for r in recs if "DataGapFillingMethodName" in r}
    assert marked == {ASSET_B}
    assert all(validate(r) == [] for r in recs)
