"""Hand-worked examples: a shared compressor and a site main meter's unmetered remainder."""

from __future__ import annotations

import numpy as np
import pytest

from carbonline.engine.allocation import allocation_weights
from carbonline.records import MachineRow

from .conftest import batch, pick, plant_of, run

TWO_LINES = dict(
    lines=("l1", "l2"),
    machines=[{"id": "m_l1", "line": "l1"}, {"id": "m_l2", "line": "l2"}, {"id": "compressor"}],
)


def test_weights_by_key():
    units = np.array([[100.0, 300.0], [0.0, 0.0], [5.0, 0.0]])
    assert allocation_weights("units", units, None).tolist() == [[0.25, 0.75], [0.5, 0.5],
                                                                [1.0, 0.0]]
    assert allocation_weights("runtime", units, None).tolist() == [[0.5, 0.5], [0.5, 0.5],
                                                                  [1.0, 0.0]]
    shares = np.array([0.6, 0.4])
    assert allocation_weights("fixed", units, shares).tolist() == [[0.6, 0.4]] * 3
    # nothing produced in the bin: configured shares are the fallback
    assert allocation_weights("units", units, shares)[1].tolist() == [0.6, 0.4]


def test_shared_compressor_allocated_by_units():
    plant = plant_of(
        [{"id": "c", "role": "power", "machine": "compressor", "unit": "kW"},
         {"id": "u1", "role": "units_counter", "line": "l1"},
         {"id": "u2", "role": "units_counter", "line": "l2"}],
        shared=[{"machine": "compressor", "lines": ["l1", "l2"], "key": "units"}],
        **TWO_LINES,
    )
    # 30 kW for one minute = 0.5 kWh; line1 made 100 units, line2 300 → 1/4 and 3/4
    rows, _ = run(plant, batch(plant, [("c", 0, 30), ("c", 60, 30), ("u1", 0, 0), ("u1", 60, 100),
                                       ("u2", 0, 0), ("u2", 60, 300)]))
    l1, l2 = pick(rows, "1m")
    assert l1.electricity_kwh == pytest.approx(0.125) and l2.electricity_kwh == pytest.approx(0.375)
    # both lines then carry the same kg per unit: 0.125 × 0.5 / 100 = 0.375 × 0.5 / 300
    assert l1.co2e_per_unit_kg == pytest.approx(l2.co2e_per_unit_kg) == pytest.approx(0.000625)
    shares = {m.line: m.allocated_share for m in pick(rows, "15m", MachineRow)}
    assert shares == {"l1": pytest.approx(0.25), "l2": pytest.approx(0.75)}
    # a line without own meters is covered by the shared meter serving it
    assert l1.coverage_pct == pytest.approx(100)


def test_main_meter_remainder_is_unmetered_and_allocated():
    plant = plant_of(
        [{"id": "main", "role": "energy_counter", "unit": "kWh"},
         {"id": "e1", "role": "energy_counter", "machine": "m_l1", "unit": "kWh"},
         {"id": "e2", "role": "energy_counter", "machine": "m_l2", "unit": "kWh"},
         {"id": "u1", "role": "units_counter", "line": "l1"},
         {"id": "u2", "role": "units_counter", "line": "l2"}],
        lines=("l1", "l2"),
        main_meter={"meter": "main", "key": "units"},
    )
    # sub-meters: 4 + 6 = 10 kWh; the main meter saw 10.5 kWh: 0.5 kWh (5 %) unmetered,
    # allocated by units 20:80 → 0.1 kWh to line1, 0.4 kWh to line2
    rows, _ = run(plant, batch(plant, [
        ("main", 0, 1000), ("main", 60, 1010.5), ("e1", 0, 0), ("e1", 60, 4),
        ("e2", 0, 0), ("e2", 60, 6), ("u1", 0, 0), ("u1", 60, 20), ("u2", 0, 0), ("u2", 60, 80)]))
    l1, l2 = pick(rows, "1m")
    assert l1.electricity_kwh == pytest.approx(4.1) and l2.electricity_kwh == pytest.approx(6.4)
    unmetered = {m.line: m.energy_kwh for m in pick(rows, "15m", MachineRow, machine="unmetered")}
    assert unmetered == {"l1": pytest.approx(0.1), "l2": pytest.approx(0.4)}
    assert l1.electricity_kwh + l2.electricity_kwh == pytest.approx(10.5)  # the main meter's total
