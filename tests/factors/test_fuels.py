"""Scope 1 fuels (IPCC 2006 defaults) and the AR5/AR6 GWP100 sets.

The expected numbers are the ones printed in the cited tables, and the combustion results are
worked out by hand below, so a wrong factor, unit or GWP shows as a wrong number."""

from __future__ import annotations

import numpy as np
import pytest

from carbonline.factors.fuels import combust, fuel, fuels, unit_factors
from carbonline.factors.gwp import gwp_set, gwp_sets
from carbonline.factors.tables import read_data_csv


def test_every_shipped_fuel_and_gwp_value_cites_document_table_and_page():
    fuel_rows = read_data_csv("fuels_ipcc2006.csv")
    gwp_rows = read_data_csv("gwp100.csv")
    assert len(fuel_rows) == 4 * 6 and len(gwp_rows) == 8
    for row in fuel_rows + gwp_rows:
        assert row["document"] and row["table"] and row["page"], row
    for f in fuels().values():
        assert set(f.citations) == {"name", "co2", "ch4", "n2o", "ncv", "density"}


# IPCC 2006 Vol. 2 Ch. 2 Table 2.3 (kg/TJ, NCV) and Ch. 1 Table 1.2 (TJ/Gg)
@pytest.mark.parametrize("fid, name, co2, ch4, n2o, ncv", [
    ("natural_gas", "Natural Gas", 56_100, 1, 0.1, 48.0),
    ("gas_diesel_oil", "Gas/Diesel Oil", 74_100, 3, 0.6, 43.0),
    ("lpg", "Liquefied Petroleum Gases", 63_100, 1, 0.1, 47.3),
    ("residual_fuel_oil", "Residual Fuel Oil", 77_400, 3, 0.6, 40.4),
])
def test_fuel_factors_match_the_cited_ipcc_tables(fid, name, co2, ch4, n2o, ncv):
    f = fuel(fid)
    assert (f.ipcc_name, f.co2_kg_per_tj, f.ch4_kg_per_tj, f.n2o_kg_per_tj, f.ncv_mj_per_kg) == \
        (name, co2, ch4, n2o, ncv)
    for gas in ("co2", "ch4", "n2o"):
        c = f.citations[gas]
        assert "Vol. 2 Energy, Ch. 2 Stationary Combustion" in c.document
        assert c.table.startswith("Table 2.3 ") and "manufacturing industries" in c.table
        assert c.page == "2.18-2.19"
    c = f.citations["ncv"]
    assert ("Ch. 1 Introduction" in c.document, c.table.startswith("Table 1.2 "), c.page) == \
        (True, True, "1.18-1.19")
    assert "Statistical Review of World Energy" in f.citations["density"].document


def test_densities_are_the_cited_conversion_factors():
    # kilolitres → tonnes: gas oil/diesel 0.843, LPG 0.541, residual fuel oil 0.991;
    # 1 billion m³ natural gas = 0.735 million tonnes
    assert {k: f.density_kg_per_m3 for k, f in fuels().items()} == {
        "natural_gas": 0.735, "gas_diesel_oil": 843, "lpg": 541, "residual_fuel_oil": 991}


def test_gwp_sets_match_ar5_table_8_7_and_ar6_table_7_15():
    ar5, ar6 = gwp_set("AR5"), gwp_set("ar6")
    assert (ar5["CO2"], ar5["CH4_non_fossil"], ar5["CH4_fossil"], ar5["N2O"]) == (1, 28, 30, 265)
    assert (ar6["CO2"], ar6["CH4_non_fossil"], ar6["CH4_fossil"], ar6["N2O"]) == (1, 27.0, 29.8, 273)
    assert (ar5.citations["N2O"].table, ar5.citations["N2O"].page) == ("Table 8.7", "714")
    assert "AR5" in ar5.citations["CH4_non_fossil"].document and "Ch. 8" in ar5.citations["N2O"].document
    assert (ar6.citations["CH4_fossil"].table, ar6.citations["CH4_fossil"].page) == ("Table 7.15", "1017")
    assert "AR6" in ar6.citations["N2O"].document and "Ch. 7" in ar6.citations["N2O"].document
    assert sorted(gwp_sets()) == ["AR5", "AR6"]
    assert ar6.ch4() == 27.0 and ar6.ch4("fossil") == 29.8
    with pytest.raises(ValueError, match="unknown GWP set 'AR4'"):
        gwp_set("AR4")
    with pytest.raises(ValueError, match="CH4 origin"):
        ar6.ch4("biogenic")


def test_natural_gas_1000_m3_under_ar5_and_ar6():
    # 1 000 m³ × 0.735 kg/m³ = 735 kg; × 48.0 MJ/kg = 35 280 MJ = 0.03528 TJ = 9 800 kWh (÷ 3.6)
    # CO2 = 0.03528 TJ × 56 100 kg/TJ = 1 979.208 kg
    # CH4 = 0.03528 × 1   = 0.03528 kg
    # N2O = 0.03528 × 0.1 = 0.003528 kg
    ar5 = combust("natural_gas", 1000, "m3", "AR5")
    ar6 = combust("natural_gas", 1000, "m³", "AR6")
    for c in (ar5, ar6):
        assert c.mass_kg == pytest.approx(735)
        assert c.energy_kwh == pytest.approx(9800)
        assert c.energy_tj == pytest.approx(0.03528)
        assert c.co2_kg == pytest.approx(1979.208)
        assert c.ch4_kg == pytest.approx(0.03528)
        assert c.n2o_kg == pytest.approx(0.003528)
        assert c.density_kg_per_m3 == 0.735 and c.ncv_mj_per_kg == 48.0
    # AR5: 1 979.208 + 0.03528 × 28 (0.98784) + 0.003528 × 265 (0.93492) = 1 981.13076
    assert ar5.co2e_kg == pytest.approx(1981.13076, abs=1e-9)
    # AR6: 1 979.208 + 0.03528 × 27.0 (0.95256) + 0.003528 × 273 (0.963144) = 1 981.123704
    assert ar6.co2e_kg == pytest.approx(1981.123704, abs=1e-9)
    assert (ar5.gwp_set, ar6.gwp_set, ar6.ch4_origin) == ("AR5", "AR6", "non_fossil")
    # with the fossil-methane GWP (not for combustion): + 0.03528 × 29.8 (1.051344) instead
    fossil = combust("natural_gas", 1000, "m3", "AR6", ch4_origin="fossil")
    assert fossil.co2e_kg == pytest.approx(1981.222488, abs=1e-9)


def test_diesel_in_litres_and_the_units_agree():
    # 1 000 L × 0.843 kg/L = 843 kg; × 43.0 MJ/kg = 36 249 MJ = 0.036249 TJ = 10 069.1666… kWh
    # CO2 = 0.036249 × 74 100 = 2 686.0509 kg; CH4 = 0.036249 × 3 = 0.108747; N2O × 0.6 = 0.0217494
    # AR6: 2 686.0509 + 0.108747 × 27 (2.936169) + 0.0217494 × 273 (5.9375862) = 2 694.9246552
    c = combust("diesel", 1000, "L")
    assert (c.fuel, c.unit, c.gwp_set) == ("gas_diesel_oil", "L", "AR6")
    assert c.mass_kg == pytest.approx(843)
    assert c.energy_kwh == pytest.approx(36_249 / 3.6)
    assert c.co2_kg == pytest.approx(2686.0509)
    assert c.co2e_kg == pytest.approx(2694.9246552)
    assert combust("diesel", 1, "m3").co2e_kg == pytest.approx(c.co2e_kg)
    assert combust("gas_diesel_oil", 843, "kg").co2e_kg == pytest.approx(c.co2e_kg)
    assert combust("diesel", c.energy_kwh, "kWh").co2e_kg == pytest.approx(c.co2e_kg)
    assert combust("diesel", c.energy_kwh, "kWh").mass_kg == pytest.approx(843)


def test_kwh_on_ncv_needs_no_density():
    # 1 000 kWh = 3 600 MJ = 0.0036 TJ; LPG CO2 = 0.0036 × 63 100 = 227.16 kg
    c = combust("lpg", 1000, "kWh", "AR5")
    assert c.co2_kg == pytest.approx(227.16)
    assert c.co2e_kg == pytest.approx(227.16 + 0.0036 * 28 + 0.00036 * 265)
    assert c.density_kg_per_m3 is None
    assert c.mass_kg == pytest.approx(3600 / 47.3)


def test_supplier_density_and_calorific_value_replace_the_defaults():
    # 100 m³ at 0.80 kg/m³ = 80 kg; at 47.0 MJ/kg = 3 760 MJ = 1 044.44… kWh
    c = combust("natural_gas", 100, "m3", density_kg_per_m3=0.80, ncv_mj_per_kg=47.0)
    assert c.energy_kwh == pytest.approx(3760 / 3.6)
    assert c.co2_kg == pytest.approx(0.00376 * 56_100)
    assert (c.density_kg_per_m3, c.ncv_mj_per_kg) == (0.80, 47.0)


def test_unit_factors_fill_a_plant_toml_fuel_entry():
    f = unit_factors("fuel_oil", "L", "AR5")
    # 1 L × 0.991 kg/L × 40.4 MJ/kg = 40.0364 MJ = 11.12122… kWh; 40.0364e-6 TJ
    tj = 0.991 * 40.4 / 1e6
    assert f.energy_kwh == pytest.approx(0.991 * 40.4 / 3.6)
    assert f.co2e_kg == pytest.approx(tj * (77_400 + 3 * 28 + 0.6 * 265))


def test_arrays_of_amounts():
    c = combust("natural_gas", np.array([0.0, 1000.0, 2000.0]), "m3", "AR5")
    assert c.co2e_kg == pytest.approx([0.0, 1981.13076, 2 * 1981.13076])


@pytest.mark.parametrize("args, message", [
    (("coal", 1, "kg"), "unknown fuel 'coal'"),
    (("natural_gas", 1, "Nm3"), "unit 'Nm3' is not one of"),
    (("natural_gas", -1, "m3"), "finite and ≥ 0"),
    (("natural_gas", float("nan"), "m3"), "finite and ≥ 0"),
    (("natural_gas", 1, "m3", "SAR"), "unknown GWP set"),
])
def test_bad_requests(args, message):
    with pytest.raises(ValueError, match=message):
        combust(*args)
    with pytest.raises(ValueError, match="must be > 0"):
        combust("lpg", 1, "L", density_kg_per_m3=0)
