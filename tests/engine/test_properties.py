"""Properties that must hold for any input (hypothesis):

- total CO₂e is the same whatever the window size;
- splitting the input into chunks gives identical output, row for row, bit for bit;
- energy is conserved through allocation (lines receive exactly what the meters measured);
- reordering the input within the lateness bound changes nothing.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carbonline.records import MachineRow, ReadingBatch

from .conftest import T0, batch, pick, plant_of, readings, run

PLANT = plant_of(
    [
        {"id": "p1", "role": "power", "machine": "m_l1", "unit": "kW"},
        {"id": "e2", "role": "energy_counter", "machine": "m_l2", "unit": "kWh"},
        {"id": "chiller", "role": "power", "machine": "chiller", "unit": "kW"},
        {"id": "u1", "role": "units_counter", "line": "l1"},
        {"id": "u2", "role": "units_counter", "line": "l2"},
        {"id": "sku1", "role": "sku", "line": "l1"},
    ],
    lines=("l1", "l2"),
    machines=[{"id": "m_l1", "line": "l1"}, {"id": "m_l2", "line": "l2"}, {"id": "chiller"}],
    shared=[{"machine": "chiller", "lines": ["l1", "l2"], "key": "units"}],
    engine={"windows": ["1m", "2m", "5m", "15m", "1h"]},
)
LATENESS_S = 120  # the default engine.lateness
PROPERTY = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@st.composite
def plant_input(draw) -> tuple[list[tuple[str, float, float]], list[tuple[str, float, str]]]:
    """An hour or so of readings: gaps of 1–90 s per meter, power 1–100 kW, counters rising."""
    rows: list[tuple[str, float, float]] = []
    for meter in ("p1", "e2", "chiller", "u1", "u2"):
        gaps = draw(st.lists(st.integers(1, 90), min_size=2, max_size=60))
        times = np.cumsum([draw(st.integers(0, 30))] + gaps)
        if meter in ("p1", "chiller"):
            values = [draw(st.floats(1, 100)) for _ in times]
        else:
            steps = [draw(st.floats(0, 50)) for _ in times]
            values = list(np.cumsum(steps))
        rows += [(meter, float(t), float(v)) for t, v in zip(times, values)]
    rows.sort(key=lambda r: r[1])
    changes = draw(st.lists(st.integers(0, 3000), max_size=4))
    context = [("sku1", float(t), f"sku-{i % 2}") for i, t in enumerate(sorted(changes))]
    return rows, context


def batches(rows, context, cuts: list[int]) -> list[ReadingBatch]:
    """The same input split at the given reading indices. Context changes all come first: the
    engine holds them, like readings, until the watermark passes their time."""
    parts = np.split(readings(PLANT, rows), sorted(set(cuts)))
    first = batch(PLANT, (), context)
    return [ReadingBatch(parts[0], first.context), *(ReadingBatch(p) for p in parts[1:])]


def trapezoid_kwh(rows, meter: str) -> float:
    series = [(t, v) for m, t, v in rows if m == meter]
    return sum((v0 + v1) / 2 * (t1 - t0) / 3600 for (t0, v0), (t1, v1) in zip(series, series[1:]))


@PROPERTY
@given(plant_input())
def test_total_co2e_does_not_depend_on_window_size(data):
    rows, context = data
    out, _ = run(PLANT, *batches(rows, context, []))
    totals = {kind: sum(r.co2e_kg for r in pick(out, kind))
              for kind in ("1m", "2m", "5m", "15m", "1h", "day")}
    reference = totals["1m"]
    assert reference > 0
    for kind, total in totals.items():
        assert total == pytest.approx(reference, rel=1e-9), kind


@PROPERTY
@given(plant_input(), st.lists(st.integers(0, 400), max_size=6))
def test_chunking_gives_identical_output(data, cuts):
    rows, context = data
    cuts = [c for c in cuts if c < len(rows)]
    whole, _ = run(PLANT, *batches(rows, context, []))
    chunked, _ = run(PLANT, *batches(rows, context, cuts))
    assert chunked == whole


@PROPERTY
@given(plant_input())
def test_energy_is_conserved_through_allocation(data):
    rows, context = data
    out, _ = run(PLANT, *batches(rows, context, []))
    # independent of the engine: trapezoids of the power meters (all gaps ≤ 90 s are bridged)
    # plus the counter's rise
    expected = trapezoid_kwh(rows, "p1") + trapezoid_kwh(rows, "chiller")
    counter = [v for m, _, v in rows if m == "e2"]
    expected += counter[-1] - counter[0]
    lines = sum(r.electricity_kwh for r in pick(out, "1m"))
    machines = sum(r.energy_kwh for r in pick(out, "15m", MachineRow))
    assert lines == pytest.approx(expected, rel=1e-9, abs=1e-9)
    assert machines == pytest.approx(expected, rel=1e-9, abs=1e-9)
    chiller_alone = trapezoid_kwh(rows, "chiller")
    allocated = sum(r.energy_kwh for r in pick(out, "15m", MachineRow, machine="chiller"))
    assert allocated == pytest.approx(chiller_alone, rel=1e-9, abs=1e-9)


@PROPERTY
@given(plant_input(), st.randoms(use_true_random=False))
def test_reordering_within_lateness_changes_nothing(data, rnd):
    rows, context = data
    in_order, _ = run(PLANT, *batches(rows, context, []))
    # each reading arrives up to half the lateness after its own time, in that arrival order:
    # no reading is ever more than the lateness behind the newest one already seen
    shuffled = sorted(rows, key=lambda r: r[1] + rnd.uniform(0, LATENESS_S / 2))
    arr = readings(PLANT, shuffled)
    assert arr["time"].min() >= T0
    cuts = sorted(rnd.sample(range(len(arr)), k=min(5, len(arr))))
    parts = np.split(arr, cuts)
    events = batch(PLANT, (), context).context
    reordered, _ = run(PLANT, ReadingBatch(parts[0], events), *(ReadingBatch(p) for p in parts[1:]))
    assert reordered == in_order
