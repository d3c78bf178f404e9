#!/usr/bin/env python3
"""Convert the reference grid-factor files into the CSV tables carbonline ships.

Run once when a source file changes, and commit the output; nothing reads the source files at
run or test time. Kept so the conversion can be repeated and checked:

    .venv/bin/python scripts/build_factor_tables.py SOURCE_DIR            # write the tables
    .venv/bin/python scripts/build_factor_tables.py SOURCE_DIR --check    # compare, exit 1 if stale

SOURCE_DIR holds ``owid_global_energy_mix_2022.json``, ``us_states_egrid_2016.json`` and
``nordic_bidding_zones.json`` (the ``grid-factors`` reference files, as redistributed by
CodeCarbon). ``--iso-codes`` regenerates the ISO 3166-1 code table from Debian's iso-codes
``iso_3166-1.json``; without it the shipped ``iso3166_1.csv`` is used for the alpha-3 → alpha-2
mapping.

Conversions are exact decimal arithmetic; the only change to a source number is the unit:

* OWID g CO₂e/kWh → kg/kWh: ÷ 1000;
* eGRID lb CO₂/MWh → kg/kWh: × 0.45359237 (kg per lb, exact by definition) ÷ 1000;
* Nordic g CO₂e/kWh → kg/kWh: ÷ 1000.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from decimal import Decimal
from pathlib import Path

from carbonline.factors.tables import COLUMNS, is_valid_zone, parse_table

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE.parent / "plugin" / "carbonline" / "factors" / "data"

OWID_FILE = "owid_global_energy_mix_2022.json"
EGRID_FILE = "us_states_egrid_2016.json"
NORDIC_FILE = "nordic_bidding_zones.json"

KG_PER_LB = Decimal("0.45359237")  # international avoirdupois pound, exact
THOUSAND = Decimal(1000)

CODECARBON = "CodeCarbon (https://github.com/mlco2/codecarbon, MIT licence)"

OWID = {
    "dataset": "OWID energy data via CodeCarbon global_energy_mix, 2022 edition",
    "source": ("Our World in Data energy dataset (https://github.com/owid/energy-data), "
               "derived from Ember and the Energy Institute Statistical Review of World Energy; "
               "carbon intensity of electricity (OWID column carbon_intensity_elec, "
               f"'carbon_intensity' in the file) as redistributed in {CODECARBON}, "
               "codecarbon/data/private_infra/global_energy_mix.json"),
    "licence": "CC BY 4.0 (attribution: Our World in Data, Ember)",
    "basis": "location",
    "type": "lifecycle",
    "gases": "CO2e",
    "source_unit": "g CO2e/kWh",
}
OWID_EDITION_YEAR = 2022

EGRID = {
    "dataset": "EPA eGRID2016 via CodeCarbon usa_emissions",
    "source": ("US EPA Emissions & Generation Resource Integrated Database (eGRID) 2016, state "
               "annual CO2 total output emission rate (https://www.epa.gov/egrid); as "
               f"redistributed in {CODECARBON}, data/private_infra/2016/usa_emissions.json"),
    "licence": "Public domain (US Government work, EPA)",
    "basis": "location",
    "type": "direct",
    "gases": "CO2 only",
    "source_unit": "lb CO2/MWh",
}

NORDIC = {
    "dataset": "CodeCarbon nordic_emissions, updated 2026-01-24",
    "source": (f"{CODECARBON}, codecarbon/data/private_infra/nordic_emissions.json: static "
               "factors 'based on historical averages from ENTSO-E data' (method not given)"),
    "licence": "MIT (CodeCarbon); derivation from ENTSO-E data not documented",
    "basis": "location",
    "type": "unknown",
    "gases": "CO2e",
    "source_unit": "g CO2e/kWh",
}


def decimal_text(d: Decimal) -> str:
    """A decimal written out in full (no exponent, no trailing zeros)."""
    text = format(d, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def load_json(path: Path):
    # Decimal keeps every number exactly as the file writes it.
    return json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)


# ---------------------------------------------------------------------------------------------
# ISO 3166-1 codes


def iso_rows_from_iso_codes(path: Path) -> list[dict[str, str]]:
    """alpha-2/alpha-3 pairs from Debian iso-codes ``iso_3166-1.json`` (codes only, no names)."""
    data = json.loads(path.read_text(encoding="utf-8"))["3166-1"]
    return sorted(({"alpha2": c["alpha_2"], "alpha3": c["alpha_3"]} for c in data),
                  key=lambda r: r["alpha2"])


def iso_rows_from_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


# ---------------------------------------------------------------------------------------------
# converters: source dict → list of table rows (dicts keyed by COLUMNS)


def convert_owid(data: dict, alpha2: dict[str, str]) -> tuple[list[dict], list[str]]:
    """OWID countries keyed by ISO alpha-3 → rows keyed by alpha-2; also the skipped codes."""
    rows, skipped = [], []
    for code, rec in sorted(data.items()):
        zone = alpha2.get(code)
        if zone is None:
            skipped.append(f"{code} ({rec.get('country_name', '?')}): no ISO 3166-1 alpha-2 code")
            continue
        value = rec["carbon_intensity"]
        year = int(rec["year"])
        flags = []
        if year < OWID_EDITION_YEAR:
            flags.append(f"old: {year}, before the {OWID_EDITION_YEAR} edition year")
        elif year > OWID_EDITION_YEAR:
            flags.append(f"year {year}, newer than the {OWID_EDITION_YEAR} edition year")
        if value == 0:
            flags.append("suspect: 0 g/kWh in the source, no lifecycle intensity can be zero")
        total = rec.get("total_TWh")
        if total is not None and total < 1:
            flags.append(f"coarse: small grid ({decimal_text(total)} TWh/yr), intensity from "
                         f"generation rounded to 0.01 TWh")
        rows.append({
            **OWID, "zone": zone, "kg_per_kwh": decimal_text(value / THOUSAND), "year": str(year),
            "flags": "; ".join(flags), "name": rec.get("country_name", ""),
            "source_value": str(value),
        })
    return sorted(rows, key=lambda r: r["zone"]), skipped


def convert_egrid(data: dict) -> tuple[list[dict], list[str]]:
    """eGRID states (and the US average) in lb CO₂/MWh → rows in kg/kWh."""
    rows, skipped = [], []
    for name, rec in sorted(data.items()):
        if name.startswith("_"):
            continue  # the "_unit" metadata entry
        code = str(rec["regionCode"])
        zone = "US" if code.lower() in ("usa", "u.s.") else f"US-{code}"
        if not is_valid_zone(zone):
            skipped.append(f"{name} ({code}): not a US state code")
            continue
        value = rec["emissions"]
        flags = ["old: 2016, CO2 only"]
        if zone == "US":
            flags.append("national average of the US grid")
        rows.append({
            **EGRID, "zone": zone, "kg_per_kwh": decimal_text(value * KG_PER_LB / THOUSAND),
            "year": "2016", "flags": "; ".join(flags), "name": "United States" if zone == "US" else name.title().replace(" Of ", " of "),
            "source_value": str(value),
        })
    return sorted(rows, key=lambda r: r["zone"]), skipped


def convert_nordic(data: dict) -> tuple[list[dict], list[str]]:
    """Nordic bidding zones (SE1…, NO1…, FI) → rows under SE-SE1, NO-NO1, FI."""
    rows, skipped = [], []
    entries = data["data"]
    for code, rec in sorted(entries.items()):
        zone = code if len(code) == 2 else f"{code[:2]}-{code}"
        if not is_valid_zone(zone):
            skipped.append(f"{code}: not a known bidding zone")
            continue
        if rec.get("unit") != "gCO2eq/kWh":
            raise SystemExit(f"{NORDIC_FILE}: {code} has unit {rec.get('unit')!r}, expected gCO2eq/kWh")
        value = rec["emission_factor"]
        flags = ["type unknown: source says 'historical averages from ENTSO-E data', method not given"]
        country = code[:2]
        if len(code) > 2:
            siblings = {str(r["emission_factor"]) for c, r in entries.items() if c[:2] == country}
            if len(siblings) == 1:
                flags.insert(0, f"coarse: all {country} zones carry one value "
                                f"({decimal_text(value)} g/kWh)")
        rows.append({
            **NORDIC, "zone": zone, "kg_per_kwh": decimal_text(value / THOUSAND),
            "year": str(int(rec["year"])), "flags": "; ".join(flags),
            "name": rec.get("description", ""), "source_value": str(value),
        })
    return rows, skipped


# ---------------------------------------------------------------------------------------------


def to_csv(rows: list[dict], columns=COLUMNS) -> str:
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: row.get(c, "") for c in columns})
    return out.getvalue()


def build(source: Path, iso_rows: list[dict[str, str]]) -> tuple[dict[str, str], list[str]]:
    """The text of every output file, and the skipped source entries (with reasons)."""
    alpha2 = {r["alpha3"]: r["alpha2"] for r in iso_rows}
    owid, s1 = convert_owid(load_json(source / OWID_FILE), alpha2)
    egrid, s2 = convert_egrid(load_json(source / EGRID_FILE))
    nordic, s3 = convert_nordic(load_json(source / NORDIC_FILE))
    files = {
        "iso3166_1.csv": to_csv(iso_rows, ("alpha2", "alpha3")),
        "grid_owid_ember.csv": to_csv(owid),
        "grid_egrid2016.csv": to_csv(egrid),
        "grid_nordic_codecarbon.csv": to_csv(nordic),
    }
    for name, text in files.items():
        if name.startswith("grid_"):
            parse_table(text, origin=name, user=False)  # the loader must accept what we write
    skipped = [f"{OWID_FILE}: {s}" for s in s1] + [f"{EGRID_FILE}: {s}" for s in s2] + \
              [f"{NORDIC_FILE}: {s}" for s in s3]
    return files, skipped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="directory holding the three grid-factor files")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory")
    parser.add_argument("--iso-codes", type=Path, help="Debian iso-codes iso_3166-1.json")
    parser.add_argument("--check", action="store_true", help="compare with --out, write nothing")
    args = parser.parse_args(argv)

    iso_file = args.out / "iso3166_1.csv"
    if args.iso_codes:
        iso_rows = iso_rows_from_iso_codes(args.iso_codes)
        if not args.check and not iso_file.exists():
            # zone checks read this file from the package: it must be there before converting
            iso_file.write_text(to_csv(iso_rows, ("alpha2", "alpha3")), encoding="utf-8")
    else:
        iso_rows = iso_rows_from_csv(iso_file)
    files, skipped = build(args.source, iso_rows)
    stale = []
    for name, text in files.items():
        path = args.out / name
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        stale.append(name)
        if not args.check:
            path.write_text(text, encoding="utf-8")
    for name in files:
        rows = files[name].count("\n") - 1
        state = ("stale" if args.check else "written") if name in stale else "unchanged"
        print(f"{name}: {rows} rows, {state}")
    print("skipped:", "none" if not skipped else "")
    for s in skipped:
        print(f"  {s}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
