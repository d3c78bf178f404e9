"""Hand-worked examples: how each meter role becomes kWh in the right windows."""

from __future__ import annotations

import pytest

from carbonline.records import MachineRow
from carbonline.series import fields_of

from .conftest import minute, pick, plant_of, run, batch


def test_counter_rollover_is_bridged(counter_plant):
    # counter wraps at 1000 kWh: 990 → 998 (+8), 998 → 4 (+6: 1000 − 998 + 4), 4 → 10 (+6)
    rows, engine = run(counter_plant, batch(counter_plant, [
        ("e", 0, 990), ("e", 60, 998), ("e", 120, 4), ("e", 180, 10),
        ("u", 0, 0), ("u", 60, 10), ("u", 120, 20), ("u", 180, 30),
    ]))
    one_minute = pick(rows, "1m")
    assert [r.electricity_kwh for r in one_minute] == [8, 6, 6]
    assert [r.window.start for r in one_minute] == [minute(0), minute(1), minute(2)]
    # 0.5 kg CO₂e/kWh: 8 kWh → 4 kg over 10 units = 0.4 kg/unit
    assert one_minute[0].co2e_kg == 4.0
    assert one_minute[0].co2e_per_unit_kg == pytest.approx(0.4)
    assert engine.state.rollovers == 1 and engine.state.resets == 0
    (window,) = pick(rows, "15m")
    assert window.electricity_kwh == 20 and window.good_units == 30


def test_meter_replaced_mid_window_is_not_invented(counter_plant):
    # 400 → 405 (+5); replaced: 405 → 2 is a drop that no rollover explains (1000 − 405 + 2 =
    # 597 is over half the range), so 2 becomes the new baseline and minute 1 has no energy;
    # then 2 → 6 (+4)
    rows, engine = run(counter_plant, batch(counter_plant, [
        ("e", 0, 400), ("e", 60, 405), ("e", 120, 2), ("e", 180, 6),
        ("u", 0, 0), ("u", 180, 30),
    ]))
    assert [r.electricity_kwh for r in pick(rows, "1m")] == [5, 0, 4]
    (window,) = pick(rows, "15m")
    assert window.electricity_kwh == 9
    # one meter, 15 min window, readings cover minutes 0 and 2 only: 120 s / 900 s
    assert window.coverage_pct == pytest.approx(100 * 120 / 900)
    assert engine.state.resets == 1


def test_power_is_integrated_and_gaps_lower_coverage():
    plant = plant_of([{"id": "p", "role": "power", "machine": "m_l1", "unit": "kW",
                       "max_gap": "2m"}])
    # trapezoids: [0,60 s) 10 kW → 10/60 kWh; [60,120) (10+20)/2 = 15 kW → 15/60 kWh;
    # 120 → 420 s is a 300 s gap > max_gap 120 s: not bridged; [420,480) 20 kW → 20/60 kWh
    rows, _ = run(plant, batch(plant, [
        ("p", 0, 10), ("p", 60, 10), ("p", 120, 20), ("p", 420, 20), ("p", 480, 20),
    ]))
    (window,) = pick(rows, "15m")
    assert window.electricity_kwh == pytest.approx((10 + 15 + 20) / 60)
    # 180 s of the 900 s window covered by readings
    assert window.coverage_pct == pytest.approx(20.0)
    assert [r.window.start for r in pick(rows, "1m")] == [minute(0), minute(1), minute(7)]


def test_power_in_watts_is_converted():
    plant = plant_of([{"id": "p", "role": "power", "machine": "m_l1", "unit": "W"}])
    rows, _ = run(plant, batch(plant, [("p", 0, 6000), ("p", 60, 6000)]))
    (one,) = pick(rows, "1m")
    assert one.electricity_kwh == pytest.approx(6 / 60)  # 6 kW for one minute


@pytest.mark.parametrize("label, stamp", [("end", 15), ("start", 0)])
def test_interval_energy_lands_in_the_interval_it_is_labelled_with(label, stamp):
    plant = plant_of([{"id": "i", "role": "interval_energy", "machine": "m_l1", "unit": "kWh",
                       "interval": "15m", "label": label}])
    # 3 kWh for 00:00–00:15, 6 kWh for 00:15–00:30; end-labelled readings are stamped 00:15 and
    # 00:30, start-labelled ones 00:00 and 00:15
    rows, _ = run(plant, batch(plant, [("i", stamp * 60, 3), ("i", (stamp + 15) * 60, 6)]))
    windows = pick(rows, "15m")
    assert [(w.window.start, w.electricity_kwh) for w in windows] == [
        (minute(0), pytest.approx(3)), (minute(15), pytest.approx(6))]
    # each minute of the first interval carries 1/15 of it
    first_minutes = pick(rows, "1m")[:15]
    assert all(m.electricity_kwh == pytest.approx(3 / 15) for m in first_minutes)
    assert sum(m.electricity_kwh for m in pick(rows, "1m")) == pytest.approx(9)


def test_fuel_counter_gives_scope1_on_net_calorific_value():
    plant = plant_of(
        [{"id": "gas", "role": "fuel_counter", "machine": "m_l1", "fuel": "gas", "unit": "m3"},
         {"id": "u", "role": "units_counter", "line": "l1"}],
        fuels={"gas": {"unit": "m3", "ncv_kwh_per_unit": 10.0, "co2e_kg_per_unit": 2.0}},
    )
    # 1.5 m³ → 15 kWh (NCV 10 kWh/m³) and 3 kg CO₂e (2 kg/m³), over 6 units
    rows, _ = run(plant, batch(plant, [("gas", 0, 100), ("gas", 60, 101.5),
                                       ("u", 0, 0), ("u", 60, 6)]))
    (one,) = pick(rows, "1m")
    assert one.fuel_kwh == pytest.approx(15) and one.electricity_kwh == 0
    assert one.scope1_co2e_kg == pytest.approx(3) and one.co2e_kg == pytest.approx(3)
    assert one.scope2_location_co2e_kg == 0
    assert one.co2e_per_unit_kg == pytest.approx(0.5)
    (machine,) = pick(rows, "15m", MachineRow)
    assert machine.energy_kwh == pytest.approx(15) and machine.co2e_kg == pytest.approx(3)


@pytest.mark.parametrize("role, counted", [
    ("total_counter", 110),  # units made, scrap included: good = 110 − 10 scrapped
    # good units already: the scrap counter is only the quality rate's (100 / 110), not to
    # be subtracted a second time
    ("units_counter", 100),
])
def test_good_units_with_a_scrap_counter_beside_a_total_or_a_good_counter(role, counted):
    plant = plant_of([
        {"id": "p", "role": "power", "machine": "m_l1", "unit": "kW"},
        {"id": "count", "role": role, "line": "l1"},
        {"id": "scrap", "role": "scrap_counter", "line": "l1"},
    ])
    rows, _ = run(plant, batch(plant, [("p", 0, 60), ("p", 60, 60), ("count", 0, 0),
                                       ("count", 60, counted), ("scrap", 0, 0),
                                       ("scrap", 60, 10)]))
    (one,) = pick(rows, "1m")
    assert (one.good_units, one.scrap_units) == (100, 10)
    assert fields_of(one)["scrap_units"] == 10.0
    assert one.co2e_per_unit_kg == pytest.approx(1 * 0.5 / 100)  # 1 kWh × 0.5 / 100 units


def test_a_line_without_a_scrap_counter_writes_no_scrap_field(counter_plant):
    rows, _ = run(counter_plant, batch(counter_plant, [("e", 0, 1), ("e", 60, 2), ("u", 0, 0),
                                                       ("u", 60, 10)]))
    (one,) = pick(rows, "1m")
    assert one.scrap_units is None and fields_of(one)["scrap_units"] is None


@pytest.mark.parametrize("gwp, kg_co2e", [
    # IPCC 2006 defaults for natural gas: 0.735 kg/m³ (density), 48.0 MJ/kg NCV → 1,000 m³ is
    # 735 kg = 35.28 GJ = 9,800 kWh; CO₂ 56,100 kg/TJ × 0.03528 TJ = 1,979.208 kg,
    # CH₄ 1 kg/TJ → 0.03528 kg, N₂O 0.1 kg/TJ → 0.003528 kg.
    # AR6: + 0.03528 × 27.0 + 0.003528 × 273 = 1,981.123704 kg
    # AR5: + 0.03528 × 28 + 0.003528 × 265 = 1,981.13076 kg
    ("AR6", 1981.123704), ("AR5", 1981.13076),
])
def test_natural_gas_in_m3_from_ipcc_defaults(gwp, kg_co2e):
    plant = plant_of(
        [{"id": "gas", "role": "fuel_counter", "machine": "m_l1", "fuel": "natural_gas",
          "unit": "m3"}],
        fuels={"natural_gas": {"unit": "m3"}},
        factors={"grid_kg_per_kwh": 0.5, "gwp": gwp},
    )
    rows, _ = run(plant, batch(plant, [("gas", 0, 5000), ("gas", 60, 6000)]))
    (one,) = pick(rows, "1m")
    assert one.fuel_kwh == pytest.approx(9800)
    assert one.scope1_co2e_kg == pytest.approx(kg_co2e, rel=1e-12)
