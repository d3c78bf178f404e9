"""carbon_factor: the factor in force at each closed 15-minute window, per basis, with
provenance, and the sink writing it."""

from __future__ import annotations

import pytest
from line_protocol_parser import parse_line

from carbonline.records import FactorRow
from carbonline.sinks.lineprotocol import to_line_protocol

from .conftest import batch, minute, plant_of, run

POWER = [{"id": "p", "role": "power", "machine": "m_l1", "unit": "kW"}]


def test_one_row_per_basis_per_closed_window_with_provenance():
    plant = plant_of(POWER, factors={"grid_kg_per_kwh": 0.42, "market_kg_per_kwh": 0.1,
                                     "source": "supplier sheet 2026"})
    rows, _ = run(plant, batch(plant, [("p", m * 60, 30) for m in range(31)]))  # 30 minutes
    factors = [r for r in rows if isinstance(r, FactorRow)]
    assert [(f.start, f.provenance.basis, f.kg_per_kwh) for f in factors] == [
        (minute(0), "location", 0.42), (minute(0), "market", 0.1),
        (minute(15), "location", 0.42), (minute(15), "market", 0.1),
    ]
    assert {f.provenance.dataset for f in factors} == {"supplier sheet 2026"}
    assert all(f.zone == "DE" for f in factors)


def test_profile_values_follow_the_hour():
    profile = [0.3] * 24
    profile[1] = 0.5  # 01:00–02:00 UTC (the test site is in UTC)
    plant = plant_of(POWER, factors={"profile": profile})
    readings = [("p", 45 * 60 + m * 60, 10) for m in range(31)]  # 00:45 → 01:15
    rows, _ = run(plant, batch(plant, readings))
    location = {f.start: f.kg_per_kwh for f in rows
                if isinstance(f, FactorRow) and f.provenance.basis == "location"}
    assert location == {minute(45): 0.3, minute(60): 0.5}
    # the market basis falls back to the grid average, and says it is estimated
    market = [f for f in rows if isinstance(f, FactorRow) and f.provenance.basis == "market"]
    assert all(f.provenance.estimated for f in market)


def test_sink_writes_carbon_factor():
    plant = plant_of(POWER, factors={"grid_kg_per_kwh": 0.42, "source": 'sheet "A"'})
    rows, _ = run(plant, batch(plant, [("p", 0, 1), ("p", 60, 1)]))
    first = next(r for r in rows if isinstance(r, FactorRow))
    point = parse_line(to_line_protocol(first))
    assert point["measurement"] == "carbon_factor"
    assert point["tags"] == {"zone": "DE", "provider": "constant", "basis": "location",
                             "type": "direct"}
    assert point["fields"] == {"kg_per_kwh": pytest.approx(0.42), "dataset": 'sheet "A"',
                               "estimated": False}
    assert point["time"] == minute(0)
