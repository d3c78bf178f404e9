"""The shipped grid factor tables, zone validation and a plant's own table directory.

Expected values are worked out by hand from the numbers the sources print (g/kWh, lb/MWh), so a
slip in a unit conversion, a mapped country code or the newer-year rule shows as a wrong number.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from carbonline.factors.tables import (
    SHIPPED_TABLES,
    FactorTableError,
    GridFactorTable,
    check_zone,
    data_file,
    is_valid_zone,
    iso_alpha3_to_alpha2,
    read_data_csv,
    read_table,
)

OWID = "OWID energy data via CodeCarbon global_energy_mix, 2022 edition"
EGRID = "EPA eGRID2016 via CodeCarbon usa_emissions"
NORDIC = "CodeCarbon nordic_emissions, updated 2026-01-24"

HEADER = "zone,kg_per_kwh,year,dataset,source,licence,basis,type,gases,flags\n"


@pytest.fixture(scope="module")
def shipped() -> GridFactorTable:
    return GridFactorTable.shipped()


# --- what ships ------------------------------------------------------------------------------


def test_every_shipped_row_cites_dataset_source_and_licence(shipped):
    rows = list(shipped)
    assert len(rows) == 213 + 52 + 10  # OWID countries, eGRID states + DC + US, Nordic zones
    for row in rows:
        assert row.dataset and row.source and row.licence and row.gases, row.origin
        assert row.basis == "location", row.origin
        assert row.type in ("direct", "lifecycle", "unknown"), row.origin
        assert is_valid_zone(row.zone), row.origin
        assert row.source_value and row.source_unit, row.origin
        assert 0 <= row.kg_per_kwh < 2, row.origin


def test_each_dataset_carries_its_licence_type_and_gases(shipped):
    by_dataset = {}
    for row in shipped:
        by_dataset.setdefault(row.dataset, set()).add((row.licence, row.type, row.gases))
    assert by_dataset == {
        OWID: {("CC BY 4.0 (attribution: Our World in Data, Ember)", "lifecycle", "CO2e")},
        EGRID: {("Public domain (US Government work, EPA)", "direct", "CO2 only")},
        NORDIC: {("MIT (CodeCarbon); derivation from ENTSO-E data not documented", "unknown", "CO2e")},
    }


def test_germany_from_owid_grams_to_kilograms(shipped):
    de = shipped.factor("DE")
    # OWID prints DEU 380.95 g CO2e/kWh for 2023: 380.95 / 1000 = 0.38095 kg/kWh
    assert de.kg_per_kwh == 0.38095
    assert (de.year, de.dataset, de.source_value, de.source_unit) == (2023, OWID, "380.95", "g CO2e/kWh")
    assert de.name == "Germany"
    assert de.flags == ("year 2023, newer than the 2022 edition year",)


def test_owid_years_other_than_2022_are_flagged(shipped):
    owid = [r for r in shipped if r.dataset == OWID]
    for row in owid:
        year_flagged = any(f.startswith(("old:", "year ")) for f in row.flags)
        assert year_flagged == (row.year != 2022), row.zone
    eh = shipped.factor("EH")  # Western Sahara: OWID has only 2009, 666.667 g/kWh
    assert (eh.year, eh.kg_per_kwh) == (2009, 0.666667)
    assert eh.flags[0] == "old: 2009, before the 2022 edition year"
    cf = shipped.factor("CF")  # 0.0 g/kWh cannot be a lifecycle intensity
    assert cf.kg_per_kwh == 0 and cf.flags[0].startswith("suspect:")


def test_owid_alpha3_codes_map_to_alpha2(shipped):
    iso = iso_alpha3_to_alpha2()
    assert len(iso) == 249
    assert (iso["DEU"], iso["ESH"], iso["PSE"], iso["KOR"], iso["PRK"], iso["GBR"]) == \
        ("DE", "EH", "PS", "KR", "KP", "GB")
    names = {r.zone: r.name for r in shipped if r.dataset == OWID}
    assert (names["KR"], names["KP"], names["CD"], names["CG"]) == \
        ("South Korea", "North Korea", "Democratic Republic of Congo", "Congo")


def test_egrid_state_from_pounds_per_mwh(shipped):
    vt = shipped.factor("US-VT")
    # eGRID2016 Vermont 56.89 lb CO2/MWh × 0.45359237 kg/lb = 25.8048699293 kg/MWh
    assert vt.kg_per_kwh == pytest.approx(0.0258048699293, rel=1e-12)
    assert (vt.year, vt.type, vt.gases, vt.flags) == (2016, "direct", "CO2 only", ("old: 2016, CO2 only",))
    tx = shipped.factor("US-TX")
    # 1049.527 lb/MWh × 0.45359237 = 453.59237 + 22.46506930899 = 476.05743930899 kg/MWh
    assert tx.kg_per_kwh == pytest.approx(0.47605743930899, rel=1e-12)
    assert shipped.factor("US-DC").name == "District of Columbia"
    assert len([r for r in shipped if r.dataset == EGRID and r.zone.startswith("US-")]) == 51


def test_nordic_zones_and_their_coarseness(shipped):
    se3 = shipped.factor("SE-SE3")
    assert (se3.kg_per_kwh, se3.year, se3.type) == (0.018, 2024, "unknown")  # 18.0 g/kWh
    assert se3.flags[0] == "coarse: all SE zones carry one value (18 g/kWh)"
    assert shipped.factor("NO-NO4").flags[0] == "coarse: all NO zones carry one value (18 g/kWh)"
    assert [z for z in shipped.zones() if z[:3] in ("SE-", "NO-")] == \
        ["NO-NO1", "NO-NO2", "NO-NO3", "NO-NO4", "NO-NO5", "SE-SE1", "SE-SE2", "SE-SE3", "SE-SE4"]


def test_where_two_datasets_cover_a_zone_the_newer_year_answers(shipped):
    # Finland: Nordic 72.0 g/kWh (2025) and OWID 79.158 g/kWh (2023)
    assert [(r.dataset, r.kg_per_kwh) for r in shipped.candidates("FI")] == \
        [(NORDIC, 0.072), (OWID, 0.079158)]
    # United States: OWID 369.473 g/kWh (2023) before eGRID 998.443 lb/MWh (2016)
    us = shipped.candidates("US")
    assert [(r.dataset, r.year) for r in us] == [(OWID, 2023), (EGRID, 2016)]
    assert shipped.factor("US", dataset=EGRID).kg_per_kwh == pytest.approx(998.443 * 0.45359237 / 1000)
    assert len(shipped.zones()) == 213 + 52 + 10 - 2
    assert shipped.factor("XK") is None  # Kosovo: no ISO code, no table


def test_a_row_gives_provenance_and_a_series(shipped):
    row = shipped.factor("US-CA")
    p = row.provenance()
    assert (p.provider, p.dataset, p.basis, p.type, p.year, p.licence, p.estimated) == \
        ("table", EGRID, "location", "direct", 2016, "Public domain (US Government work, EPA)", False)
    series = row.series(start=1_700_000_000_000_000_000)
    assert series.zone == "US-CA"
    assert series.at(np.array([1_800_000_000_000_000_000]))[0] == row.kg_per_kwh


def test_shipped_files_are_package_data():
    for name in (*SHIPPED_TABLES, "iso3166_1.csv", "fuels_ipcc2006.csv", "gwp100.csv", "README.md"):
        assert data_file(name).is_file(), name
    assert read_data_csv("iso3166_1.csv")[0] == {"alpha2": "AD", "alpha3": "AND"}


# --- zones -----------------------------------------------------------------------------------


@pytest.mark.parametrize("zone", ["DE", "FI", "US", "US-TX", "US-DC", "US-PR", "SE-SE3", "NO-NO1", "DK-DK2"])
def test_valid_zones(zone):
    assert is_valid_zone(zone)
    assert check_zone(zone) == zone


@pytest.mark.parametrize("zone, why", [
    ("de", "must be upper case: 'DE'"),
    ("DEU", "write 'DE'"),
    ("XX", "not an assigned ISO 3166-1 alpha-2"),
    ("US-XX", "not a US state"),
    ("SE3", "SE-SE3"),
    ("SE-SE5", "is not a zone"),
    ("DE-BY", "is not a zone"),
    (" DE", "surrounding spaces"),
    ("", "non-empty"),
    (None, "non-empty"),
])
def test_invalid_zones_say_why(zone, why):
    assert not is_valid_zone(zone)
    with pytest.raises(ValueError, match=why.replace("(", r"\(")):
        check_zone(zone)


# --- a plant's own tables --------------------------------------------------------------------


def _row(zone, value, year, dataset="Plant table v1", flags=""):
    return f"{zone},{value},{year},\"{dataset}\",utility letter 2025-03,CC0,location,direct,CO2e,{flags}\n"


def test_user_directory_newer_year_of_the_same_dataset_wins(tmp_path, shipped):
    (tmp_path / "owid_update.csv").write_text(
        HEADER + _row("DE", "0.364", 2024, OWID) + _row("FR", "0.030", 2021, OWID), encoding="utf-8")
    table = shipped.with_directory(tmp_path)
    de = table.factor("DE")
    assert (de.kg_per_kwh, de.year, de.user) == (0.364, 2024, True)  # 2024 beats shipped 2023
    assert de.origin == f"{tmp_path / 'owid_update.csv'}:2"
    fr = table.factor("FR")  # 2021 is older than the shipped 2023 row: the shipped row stays
    assert (fr.kg_per_kwh, fr.year, fr.user) == (0.056039, 2023, False)
    assert len(table) == len(shipped)  # replaced, not added
    assert shipped.factor("DE").kg_per_kwh == 0.38095  # the shipped table is unchanged


def test_user_directory_adds_datasets_that_answer_first(tmp_path):
    (tmp_path / "a.csv").write_text(HEADER + _row("DE", "0.41", 2022) + _row("US-TX", "0.39", 2022),
                                    encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not a table")
    table = GridFactorTable.load(tmp_path)
    # the plant's own table comes first even though OWID's DE row is a year newer
    assert [(r.dataset, r.year) for r in table.candidates("DE")] == [("Plant table v1", 2022), (OWID, 2023)]
    assert table.factor("US-TX").kg_per_kwh == 0.39
    assert table.datasets()[-1] == "Plant table v1"


def test_same_year_user_row_corrects_a_shipped_row(tmp_path, shipped):
    (tmp_path / "fix.csv").write_text(HEADER + _row("SE-SE3", "0.027", 2024, NORDIC), encoding="utf-8")
    row = shipped.with_directory(tmp_path).factor("SE-SE3")
    assert (row.kg_per_kwh, row.user) == (0.027, True)


def test_two_user_files_disagreeing_on_one_year_is_an_error(tmp_path, shipped):
    (tmp_path / "a.csv").write_text(HEADER + _row("DE", "0.41", 2022), encoding="utf-8")
    (tmp_path / "b.csv").write_text(HEADER + _row("PL", "0.7", 2022) + _row("DE", "0.42", 2022),
                                    encoding="utf-8")
    with pytest.raises(FactorTableError) as e:
        shipped.with_directory(tmp_path)
    assert (e.value.path, e.value.line) == (str(tmp_path / "b.csv"), 3)
    assert "given twice with different values" in str(e.value)


def test_malformed_user_file_names_file_line_and_column(tmp_path, shipped):
    path = tmp_path / "grid.csv"
    path.write_text(HEADER + _row("DE", "0.41", 2022) + _row("AT", "0.12x", 2022), encoding="utf-8")
    with pytest.raises(FactorTableError) as e:
        shipped.with_directory(tmp_path)
    assert (e.value.path, e.value.line, e.value.column) == (str(path), 3, "kg_per_kwh")
    assert str(e.value) == f"{path}, line 3, column 'kg_per_kwh': '0.12x' is not a number"


@pytest.mark.parametrize("text, line, column, message", [
    (HEADER + _row("DE", "abc", 2022), 2, "kg_per_kwh", "'abc' is not a number"),
    (HEADER + _row("DE", "380.95", 2022), 2, "kg_per_kwh", "is the value in g/kWh or lb/MWh?"),
    (HEADER + _row("DE", "-0.1", 2022), 2, "kg_per_kwh", "not a finite number ≥ 0"),
    (HEADER + _row("DE", "nan", 2022), 2, "kg_per_kwh", "not a finite number ≥ 0"),
    (HEADER + _row("DEU", "0.4", 2022), 2, "zone", "write 'DE'"),
    (HEADER + _row("DE", "0.4", 2022) + _row("SE3", "0.02", 2022), 3, "zone", "SE-SE3"),
    (HEADER + _row("DE", "0.4", "22"), 2, "year", "'22' is not a year"),
    (HEADER + _row("DE", "0.4", 2022, dataset=""), 2, "dataset", "every factor must cite"),
    (HEADER + _row("DE", "0.4", 2022).replace(",location,", ",Location,"), 2, "basis", "'Location'"),
    (HEADER + _row("DE", "0.4", 2022).replace(",direct,", ",marginal,"), 2, "type", "never used for Scope 2"),
    (HEADER + _row("DE", "0.4", 2022).replace(",direct,", ",average,"), 2, "type", "'average' is not one of"),
    (HEADER + _row("DE", "0.4", 2022) + _row("DE", "0.4", 2022), 3, "zone", "already given on line 2"),
    (HEADER + "DE,0.4,2022\n", 2, None, "expected 10 fields, found 3"),
    (HEADER.replace(",licence", ",license"), 1, "license", "unknown column"),
    (HEADER.replace(",flags", ""), 1, "flags", "required column missing"),
    ("", 1, None, "empty file"),
])
def test_malformed_tables(tmp_path, text, line, column, message):
    path = tmp_path / "plant.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(FactorTableError) as e:
        GridFactorTable().with_directory(tmp_path)
    err = e.value
    assert (err.path, err.line, err.column) == (str(path), line, column)
    assert message in str(err)
    assert str(err).startswith(f"{path}, line {line}")


def test_optional_columns_bom_and_blank_lines_are_accepted(tmp_path):
    text = ("\ufeffzone,kg_per_kwh,year,dataset,source,licence,basis,type,gases,flags,name\n"
            "\n"
            "PL,0.662,2023,Plant,bill,CC0,market,direct,CO2e, a ; b ;,Poland\n")
    (tmp_path / "t.csv").write_text(text, encoding="utf-8")
    row = GridFactorTable().with_directory(tmp_path).factor("PL")
    assert (row.kg_per_kwh, row.basis, row.flags, row.name, row.origin.rsplit(":", 1)[1]) == \
        (0.662, "market", ("a", "b"), "Poland", "3")


def test_missing_directory_is_an_error(tmp_path):
    with pytest.raises(FactorTableError, match="factor table directory not found"):
        GridFactorTable.load(tmp_path / "nope")


# --- the converter that built the shipped tables ---------------------------------------------


def _converter():
    path = Path(__file__).resolve().parents[2] / "scripts" / "build_factor_tables.py"
    spec = importlib.util.spec_from_file_location("build_factor_tables", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_converter_on_a_small_sample(tmp_path):
    build = _converter()
    (tmp_path / build.OWID_FILE).write_text(json.dumps({
        "DEU": {"carbon_intensity": 380.95, "country_name": "Germany", "year": 2023, "total_TWh": 506.0},
        "MSR": {"carbon_intensity": 1000.0, "country_name": "Montserrat", "year": 2022, "total_TWh": 0.02},
    }))
    (tmp_path / build.EGRID_FILE).write_text(json.dumps({
        "texas": {"emissions": 1049.527, "regionCode": "TX"},
        "usa": {"emissions": 998.443, "regionCode": "usa"},
        "_unit": {"emissions": "lbs/MWh", "regionCode": "2 digit state/region code"},
    }))
    (tmp_path / build.NORDIC_FILE).write_text(json.dumps({"data": {
        "SE1": {"emission_factor": 18.0, "unit": "gCO2eq/kWh", "description": "SE1", "year": 2024},
        "SE2": {"emission_factor": 18.0, "unit": "gCO2eq/kWh", "description": "SE2", "year": 2024},
        "NO1": {"emission_factor": 18.0, "unit": "gCO2eq/kWh", "description": "NO1", "year": 2024},
        "NO2": {"emission_factor": 25.8, "unit": "gCO2eq/kWh", "description": "NO2", "year": 2025},
    }}))
    files, skipped = build.build(tmp_path, read_data_csv("iso3166_1.csv"))
    assert skipped == []
    out = tmp_path / "out"
    out.mkdir()
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8")
    table = GridFactorTable().with_rows(
        r for name in files if name.startswith("grid_") for r in read_table(out / name))
    assert table.factor("DE").kg_per_kwh == 0.38095
    assert "coarse: small grid (0.02 TWh/yr)" in table.factor("MS").flags[0]
    assert table.factor("US-TX").kg_per_kwh == 0.47605743930899  # exact decimal, see above
    assert table.factor("US").kg_per_kwh == 0.45288612667991  # 998.443 × 0.45359237 / 1000
    assert table.factor("SE-SE1").flags[0] == "coarse: all SE zones carry one value (18 g/kWh)"
    assert not any(f.startswith("coarse") for f in table.factor("NO-NO1").flags)  # NO values differ
    assert table.factor("NO-NO2").kg_per_kwh == 0.0258
