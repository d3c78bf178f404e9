"""Salesforce Net Zero Cloud: ``StnryAssetEnrgyUse`` (Stationary Asset Energy Use) records.

One record per asset, site-local day and fuel type, from the ``carbonline report`` inventory
(:mod:`carbonline.report`): the fuel consumption in its unit, CO₂, CH₄ and N₂O kg of a fuel
(the inventory's IPCC split of the recorded Scope 1), the electricity factor set
(location-based) or the fuel's other-emissions factor set, renewable electricity allocated,
and, when configured, a gap-filling method on the records of a line the inventory's data
quality shows incomplete (coverage is kept per line over the period, not per day).
Net Zero Cloud computes the Scope 1/2 tCO₂e fields itself from these inputs and the factor
sets, so those are not sent; the market-based factor set is a field of the asset
(``StnryAssetEnvrSrc``), not of this object.

Every record is checked against ONE pinned field reference, vendored beside this module:
``stnryassetenrgyuse.v67.json`` — Salesforce Field Reference, ``StnryAssetEnrgyUse``, API
version 67.0 (Summer '26), with the picklist values from the Net Zero Cloud Developer Guide
of the same release (each list names its page). A field the reference does not have, a value
of the wrong type, more digits than its precision and scale, a string over its length or a
picklist value not in the list is an error before anything is written or sent.

A dry run writes the sObject Collections request bodies (``StnryAssetEnrgyUse-001.json`` …,
at most 200 records each) and the same records as a Data Loader CSV. A push POSTs the JSON
bodies, byte for byte, to ``/services/data/v67.0/composite/sobjects`` with the OAuth access
token ("Create Records Using sObject Collections", REST API Developer Guide:
https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_composite_sobjects_collections_create.htm).
``allOrNone`` is true, so a batch with one refused record creates none of its records.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

import httpx

from ..config import SALESFORCE_ID, PlantConfig, SalesforceExport
from ..factors.fuels import fuel as ipcc_fuel
from ..plugins import hookimpl
from ..report.model import Inventory
from .base import ExportError, Prepared

OBJECT = "StnryAssetEnrgyUse"
REFERENCE_FILE = Path(__file__).with_name("stnryassetenrgyuse.v67.json")
#: sObject Collections take at most 200 records per request.
BATCH = 200

ELECTRICITY = "electricity"
#: IPCC fuel id (:mod:`carbonline.factors.fuels`) → Net Zero Cloud FuelType picklist value.
FUEL_TYPES = {"natural_gas": "NaturalGas", "gas_diesel_oil": "Diesel",
              "residual_fuel_oil": "FuelOil"}
#: carbonline fuel unit → FuelConsumptionUnit picklist value (kg is offered for refrigerants
#: only, so a fuel metered in kg is sent as kWh on its net calorific value).
UNITS = {"kWh": "kWh", "m3": "m3", "L": "Liter"}
_ID = re.compile(SALESFORCE_ID)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: The statusCode of a record that was fine but rolled back with its batch (allOrNone).
ROLLED_BACK = "ALL_OR_NONE_OPERATION_ROLLED_BACK"


@cache
def reference() -> dict:
    """The vendored field reference (``api_version``, ``source``, ``required``, ``fields``)."""
    return json.loads(REFERENCE_FILE.read_text(encoding="utf-8"))


def api_version() -> str:
    """The pinned REST API version, the one the field reference is of."""
    return reference()["api_version"]


def validate(record: dict) -> list[str]:
    """What is wrong with one record against the field reference (empty when nothing)."""
    ref = reference()
    problems = [f"{name}: required field missing" for name in ref["required"]
                if record.get(name) in (None, "")]
    for name, value in record.items():
        if name == "attributes":
            if value != {"type": OBJECT}:
                problems.append(f"attributes: expected {{'type': {OBJECT!r}}}, got {value!r}")
            continue
        field = ref["fields"].get(name)
        if field is None:
            problems.append(f"{name}: not a field of {OBJECT} (API {ref['api_version']})")
            continue
        problem = None if value is None else _check(field, value)  # null: the field is empty
        if problem:
            problems.append(f"{name}: {problem}")
    return problems


def _check(field: dict, value: object) -> str | None:
    kind = field["type"]
    if kind == "double":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return f"expected a finite number, got {value!r}"
        scale, precision = field.get("scale", 0), field.get("precision", 18)
        if round(value, scale) != value:
            return f"{value!r} has more than {scale} decimal places"
        if abs(value) >= 10 ** (precision - scale):
            return f"{value!r} has more than {precision - scale} integer digits"
    elif kind == "date":
        if not isinstance(value, str) or not _DATE.match(value):
            return f"expected YYYY-MM-DD, got {value!r}"
        try:
            date.fromisoformat(value)
        except ValueError:
            return f"{value!r} is not a calendar date"
    elif kind in ("reference", "id"):
        if not isinstance(value, str) or not _ID.match(value):
            return f"expected a 15- or 18-character record id, got {value!r}"
    elif kind in ("string", "picklist"):
        if not isinstance(value, str):
            return f"expected text, got {value!r}"
        if len(value) > field.get("length", 255):
            return f"longer than {field['length']} characters"
        if kind == "picklist" and "values" in field and value not in field["values"]:
            return f"{value!r} is not a picklist value ({', '.join(field['values'])})"
    elif kind == "boolean":
        if not isinstance(value, bool):
            return f"expected true or false, got {value!r}"
    else:
        return f"carbonline does not send {kind} fields"
    return None


@dataclass(frozen=True)
class Use:
    """One line's use of one energy carrier on one site-local day, as a record takes it:
    ``amount`` in ``unit`` (kWh for electricity; the fuel's metered unit, or kWh on its net
    calorific value when Net Zero Cloud has no such unit), gases kg, renewable kWh."""

    line: str
    day: date
    carrier: str  # ELECTRICITY or a [fuels] key
    amount: float
    unit: str
    co2_kg: float | None = None
    ch4_kg: float | None = None
    n2o_kg: float | None = None
    renewable_kwh: float | None = None


def renewable_kwh(config: PlantConfig, electricity_kwh: float,
                  market_co2e_kg: float) -> float | None:
    """Electricity covered by zero-emission certificates (kWh): none without instruments; with
    only zero-factor instruments and a constant residual factor (``[factors]
    market_kg_per_kwh``), what the market-based kg CO₂e leave uncovered; otherwise it cannot be
    told from the series (``None``: the field is not sent)."""
    f = config.factors
    if not f.instruments:
        return 0.0
    if f.market_kg_per_kwh and all(i.kg_per_kwh == 0 for i in f.instruments):
        return max(0.0, electricity_kwh - market_co2e_kg / f.market_kg_per_kwh)
    return None


def uses(inventory: Inventory, config: PlantConfig) -> list[Use]:
    """The inventory's days as carrier uses. A line whose fuel the inventory could not name
    (none configured, or two fuels summed in one series) is an error naming it."""
    out = []
    for d in inventory.days:
        a = d.amounts
        if a.electricity_kwh or a.scope2_location_co2e_kg:
            out.append(Use(d.line, d.day, ELECTRICITY, a.electricity_kwh, "kWh",
                           renewable_kwh=renewable_kwh(config, a.electricity_kwh,
                                                       a.scope2_market_co2e_kg)))
        for f in d.fuels:
            if f.fuel not in config.fuels:
                raise ExportError(f"line {d.line!r} on {d.day}: fuel {f.fuel!r} cannot be a "
                                  f"{OBJECT} fuel type: {f.method}")
            metered = f.amount is not None and f.amount_unit in UNITS
            out.append(Use(d.line, d.day, f.fuel, f.amount if metered else f.fuel_kwh,
                           f.amount_unit if metered else "kWh", f.co2_kg, f.ch4_kg, f.n2o_kg))
    return out


def fuel_type(carrier: str, settings: SalesforceExport) -> str:
    """The FuelType picklist value of a carrier: configured, else the built-in mapping."""
    if carrier == ELECTRICITY:
        return "Electricity"
    if carrier in settings.fuel_types:
        return settings.fuel_types[carrier]
    try:
        known = FUEL_TYPES.get(ipcc_fuel(carrier).id)
    except ValueError:
        known = None
    if known is None:
        raise ExportError(f"plant.toml: [export.salesforce] fuel_types: give the FuelType of "
                          f"fuel {carrier!r}, e.g. fuel_types = {{ {carrier} = \"Propane\" }}")
    return known


def _asset(line: str, settings: SalesforceExport) -> str:
    asset = settings.assets.get(line, settings.asset)
    if asset is None:
        raise ExportError(f"plant.toml: [export.salesforce]: line {line!r} has no asset; give "
                          f"assets = {{ {line} = \"<StnryAssetEnvrSrc id>\" }} or asset = …")
    return asset


def _scaled(value: float, field: str) -> float:
    return round(value, reference()["fields"][field]["scale"]) + 0.0  # no -0.0


def records(inventory: Inventory, config: PlantConfig, settings: SalesforceExport) -> list[dict]:
    """The inventory as StnryAssetEnrgyUse records: lines sharing an asset are summed per day
    and fuel type; in asset, day, fuel type order."""
    groups: dict[tuple[str, date, str], list[Use]] = defaultdict(list)
    for use in uses(inventory, config):
        groups[(_asset(use.line, settings), use.day, fuel_type(use.carrier, settings))].append(use)
    incomplete = {q.line for q in inventory.quality
                  if q.min_coverage_pct is not None and q.min_coverage_pct < 100}
    out = []
    for (asset, day, kind), group in sorted(groups.items()):
        carrier, unit = group[0].carrier, group[0].unit
        lines = sorted({u.line for u in group})
        record: dict = {
            "attributes": {"type": OBJECT},
            "Name": f"{config.site.name} {'+'.join(lines)} {kind} {day.isoformat()}"[:255],
            "StnryAssetEnvrSrcId": asset,
            "StartDate": day.isoformat(),
            "EndDate": day.isoformat(),
            "FuelType": kind,
            "FuelConsumption": _scaled(math.fsum(u.amount for u in group), "FuelConsumption"),
            "FuelConsumptionUnit": UNITS[unit],
        }
        if carrier == ELECTRICITY:
            if settings.electricity_factor_set:
                record["ElectricityEmissionFactorsId"] = settings.electricity_factor_set
            if all(u.renewable_kwh is not None for u in group):
                record["AllocatedRenewableEnergyInKwh"] = _scaled(
                    math.fsum(u.renewable_kwh for u in group), "AllocatedRenewableEnergyInKwh")
        else:
            if carrier in settings.fuel_factor_sets:
                record["OtherEmssnFctrId"] = settings.fuel_factor_sets[carrier]
            for gas, field in (("co2_kg", "Co2EmissionsInKg"), ("ch4_kg", "Ch4EmissionsInKg"),
                               ("n2o_kg", "N2oEmissionsInKg")):
                if all(getattr(u, gas) is not None for u in group):
                    record[field] = _scaled(math.fsum(getattr(u, gas) for u in group), field)
        if settings.gap_filling_method and incomplete.intersection(lines):
            record["DataGapFillingMethodName"] = settings.gap_filling_method
        out.append(record)
    return out


def data_loader_csv(recs: list[dict]) -> bytes:
    """The records as a Data Loader CSV: one column per field API name (required ones first),
    numbers at their field's scale, empty where a record has no value."""
    required = reference()["required"]
    names = required + sorted({k for r in recs for k in r} - {"attributes", *required})
    fields = reference()["fields"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(names)
    for r in recs:
        writer.writerow(["" if n not in r else
                         f"{r[n]:.{fields[n]['scale']}f}" if fields[n]["type"] == "double"
                         else r[n] for n in names])
    return buffer.getvalue().encode("utf-8")


class SalesforceExporter:
    """``carbonline export salesforce``: see the module docstring."""

    name = "salesforce"
    description = (f"Salesforce Net Zero Cloud {OBJECT} records (sObject Collections JSON + "
                   f"Data Loader CSV), checked against the API {api_version()} field reference")

    def prepare(self, inventory: Inventory, config: PlantConfig) -> Prepared:
        settings = config.export.salesforce
        if settings is None:
            raise ExportError("plant.toml: [export.salesforce] is missing (instance_url and "
                              "the asset ids at least)")
        recs = records(inventory, config, settings)
        problems = [f"{r['Name']}: {p}" for r in recs for p in validate(r)]
        if problems:
            raise ExportError(f"{len(problems)} field(s) fail the {OBJECT} field reference "
                              f"(API {api_version()}):\n" + "\n".join(problems))
        files: dict[str, bytes] = {}
        for i in range(0, max(len(recs), 1), BATCH):
            body = {"allOrNone": True, "records": recs[i:i + BATCH]}
            files[f"{OBJECT}-{i // BATCH + 1:03d}.json"] = (
                json.dumps(body, indent=1, ensure_ascii=False) + "\n").encode("utf-8")
        bodies = tuple(files) if recs else ()
        files[f"{OBJECT}.csv"] = data_loader_csv(recs)
        return Prepared(files, bodies)

    def push(self, prepared: Prepared, config: PlantConfig) -> list[str]:
        settings = config.export.salesforce
        if settings is None or not settings.access_token:
            raise ExportError("plant.toml: [export.salesforce] access_token is needed for a "
                              "push: write access_token = \"${SALESFORCE_ACCESS_TOKEN}\"")
        url = (f"{settings.instance_url.rstrip('/')}/services/data/v{api_version()}"
               "/composite/sobjects")
        headers = {"Authorization": f"Bearer {settings.access_token}",
                   "Content-Type": "application/json"}
        done: list[str] = []
        with httpx.Client(timeout=settings.timeout) as http:
            for name in prepared.bodies:
                body = prepared.files[name]
                try:
                    response = http.post(url, content=body, headers=headers)
                except httpx.HTTPError as exc:
                    raise ExportError(f"{url}: {exc}" + _so_far(done)) from None
                results = _results(name, response, done)
                failed = [(rec, res) for rec, res in zip(json.loads(body)["records"], results)
                          if not res.get("success")]
                refused = [f"{rec['Name']}: " + "; ".join(
                    f"{e.get('statusCode')}: {e.get('message')}"
                    + (f" ({', '.join(e['fields'])})" if e.get("fields") else "")
                    for e in res.get("errors", [])) for rec, res in failed
                    if any(e.get("statusCode") != ROLLED_BACK for e in res.get("errors", []))]
                if failed:
                    raise ExportError(
                        f"{name}: Salesforce refused {len(refused)} record(s), so none of the "
                        f"batch's {len(results)} was created (allOrNone):\n"
                        + "\n".join(refused) + _so_far(done))
                done.append(f"{name}: {len(results)} {OBJECT} record(s) created")
        return done


def _results(name: str, response: httpx.Response, done: list[str]) -> list[dict]:
    """The SaveResults of a 200 answer; any other status (an expired token, a malformed
    request) raises with Salesforce's errorCode and message."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code != 200 or not isinstance(body, list):
        words = "; ".join(f"{e.get('errorCode')}: {e.get('message')}" for e in body
                          if isinstance(e, dict)) if isinstance(body, list) else response.text
        raise ExportError(f"{name}: HTTP {response.status_code} {words}" + _so_far(done))
    return body


def _so_far(done: list[str]) -> str:
    return ("\nalready created before this:\n" + "\n".join(done)) if done else ""


@hookimpl
def carbonline_exporters(config: PlantConfig | None) -> list:
    return [SalesforceExporter()]
