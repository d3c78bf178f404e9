"""Hand-worked examples: SKU rows, shifts across midnight and DST, day and order windows."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from carbonline.engine.accumulator import Engine
from carbonline.records import NS_PER_S, MachineRow

from .conftest import T0, batch, minute, pick, plant_of, run

CONSTANT_LINE = [
    {"id": "p", "role": "power", "machine": "m_l1", "unit": "kW"},
    {"id": "u", "role": "units_counter", "line": "l1"},
    {"id": "sku", "role": "sku", "line": "l1"},
    {"id": "order", "role": "order", "line": "l1"},
]


def constant_run(minutes: int, kw: float = 60.0, units_per_min: float = 60.0):
    """Power constant at ``kw`` and units at a steady rate, one reading a minute."""
    return [("p", m * 60, kw) for m in range(minutes + 1)] + [
        ("u", m * 60, m * units_per_min) for m in range(minutes + 1)]


def test_two_skus_in_one_window_give_two_rows():
    plant = plant_of(CONSTANT_LINE)
    # 60 kW → 1 kWh a minute, 60 units a minute; SKU A for minutes 0–5, B from minute 5 on
    rows, _ = run(plant, batch(plant, constant_run(15),
                               context=[("sku", 0, "A"), ("sku", 5 * 60, "B")]))
    a, b = pick(rows, "15m")
    assert (a.sku, a.electricity_kwh, a.good_units) == ("A", pytest.approx(5), pytest.approx(300))
    assert (b.sku, b.electricity_kwh, b.good_units) == ("B", pytest.approx(10), pytest.approx(600))
    assert a.window == b.window
    # Σ/Σ, per SKU: 5 kWh × 0.5 kg/kWh / 300 units
    assert a.co2e_per_unit_kg == pytest.approx(2.5 / 300)
    # both SKU rows are fully covered over their own part of the window
    assert a.coverage_pct == pytest.approx(100) and b.coverage_pct == pytest.approx(100)
    machines = pick(rows, "15m", MachineRow)
    assert [(m.sku, m.energy_kwh) for m in machines] == [("A", pytest.approx(5)),
                                                         ("B", pytest.approx(10))]


def test_changeover_snaps_to_the_nearest_minute():
    plant = plant_of(CONSTANT_LINE)
    # a change at 4:40 takes effect at 5:00 (nearest boundary), one at 10:20 at 10:00
    rows, _ = run(plant, batch(plant, constant_run(15), context=[
        ("sku", 0, "A"), ("sku", 4 * 60 + 40, "B"), ("sku", 10 * 60 + 20, "A")]))
    by_sku = {r.sku: r.electricity_kwh for r in pick(rows, "15m")}
    assert by_sku == {"A": pytest.approx(5 + 5), "B": pytest.approx(5)}


def test_zero_good_units_leave_intensity_empty():
    plant = plant_of(CONSTANT_LINE)
    rows, _ = run(plant, batch(plant, constant_run(3, units_per_min=0)))
    for row in pick(rows, "1m"):
        assert row.good_units == 0 and row.electricity_kwh == pytest.approx(1)
        assert row.co2e_per_unit_kg is None and row.carbon_efficiency_units_per_kg == pytest.approx(0)


def test_order_windows_span_the_order():
    plant = plant_of(CONSTANT_LINE)
    rows, _ = run(plant, batch(plant, constant_run(30), context=[
        ("order", 0, "PO-1"), ("sku", 0, "A"), ("order", 20 * 60, "PO-2")]))
    first, second = pick(rows, "order")
    assert (first.order_id, first.window.start, first.window.end) == ("PO-1", minute(0), minute(20))
    assert first.electricity_kwh == pytest.approx(20) and first.good_units == pytest.approx(1200)
    # PO-2 runs to the end of the input (minute 30)
    assert (second.order_id, second.window.start, second.window.end) == ("PO-2", minute(20),
                                                                         minute(30))


def _utc(*args) -> int:
    return int(datetime(*args, tzinfo=timezone.utc).timestamp()) * NS_PER_S


def test_night_shift_across_midnight_on_the_dst_night():
    # Europe/Berlin goes from CET (UTC+1) to CEST (UTC+2) at 02:00 local on Sun 29 March 2026.
    # The night shift 22:00–06:00 starting Sat 28 March runs 21:00Z → 04:00Z: 7 hours.
    plant = plant_of(
        CONSTANT_LINE,
        site={"name": "test", "timezone": "Europe/Berlin", "grid_zone": "DE"},
        shifts={"shifts": [{"name": "day", "start": "06:00", "end": "22:00"},
                           {"name": "night", "start": "22:00", "end": "06:00"}]},
    )
    start = _utc(2026, 3, 28, 20, 0)
    minutes = 10 * 60  # 20:00Z Saturday to 06:00Z Sunday
    offset = (start - T0) // NS_PER_S
    rows, _ = run(plant, batch(plant, [(m, s + offset, v) for m, s, v in constant_run(minutes)]))
    (night,) = pick(rows, "shift", shift="night")
    assert (night.window.start, night.window.end) == (_utc(2026, 3, 28, 21), _utc(2026, 3, 29, 4))
    assert night.electricity_kwh == pytest.approx(7 * 60)  # 60 kW for 7 h
    # fixed windows carry the shift they start in
    assert {r.shift for r in pick(rows, "15m") if r.window.start == _utc(2026, 3, 29, 3, 45)} == {
        "night"}
    assert {r.shift for r in pick(rows, "15m") if r.window.start == _utc(2026, 3, 29, 4)} == {"day"}
    # the local day of 29 March is 23 hours long: 23:00Z on the 28th to 22:00Z on the 29th
    days = {r.window.start: r.window.end for r in pick(rows, "day")}
    assert days[_utc(2026, 3, 28, 23)] == _utc(2026, 3, 29, 22)
    assert all(r.shift == "all" for r in pick(rows, "day"))
    # shift totals equal the fixed-window totals: both partition the same bins
    total = sum(r.electricity_kwh for r in pick(rows, "shift"))
    assert total == pytest.approx(sum(r.electricity_kwh for r in pick(rows, "15m")))


def test_days_off_are_off_shift():
    plant = plant_of(
        CONSTANT_LINE,
        shifts={"shifts": [{"name": "early", "start": "06:00", "end": "14:00"}],
                "days_off": ["mon"]},
    )
    rows, _ = run(plant, batch(plant, constant_run(8 * 60)))  # Monday 00:00–08:00 UTC
    assert {r.shift for r in pick(rows, "shift")} == {"off"}


def test_a_long_batch_is_closed_a_day_at_a_time():
    plant = plant_of(CONSTANT_LINE)
    three_days = batch(plant, constant_run(3 * 24 * 60))
    steps = [rows for rows in Engine(plant).ingest_steps(three_days)]
    assert len(steps) >= 3  # a day of event time per step, so memory stays bounded
    assert [r for rows in steps for r in rows] == Engine(plant).ingest(three_days)
    for rows in steps:
        starts = [r.window.start for r in rows if hasattr(r, "window")]
        assert not starts or max(starts) - min(starts) <= 2 * 24 * 3600 * NS_PER_S
