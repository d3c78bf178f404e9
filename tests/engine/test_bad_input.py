"""Bad input is counted by reason and logged, never crashes the run, never loses good data;
late data inside the revision horizon re-emits exactly the affected windows."""

from __future__ import annotations

import numpy as np
import pytest

from carbonline.engine.accumulator import Engine
from carbonline.records import READING, FactorRow, MachineRow, Reason, ReadingBatch

from .conftest import T0, batch, minute, pick, plant_of, run

INTERVAL = [{"id": "i", "role": "interval_energy", "machine": "m_l1", "unit": "kWh",
             "interval": "1m", "label": "end"},
            {"id": "sku", "role": "sku", "line": "l1"},
            {"id": "u", "role": "units_counter", "line": "l1"}]


def minutes_of_energy(values: dict[int, float]) -> list[tuple[str, float, float]]:
    """End-labelled 1-minute readings: ``{m: kWh}`` is the energy of minute m − 1."""
    return [("i", m * 60, v) for m, v in values.items()]


def test_each_bad_reading_is_counted_by_reason_and_the_rest_kept(caplog):
    plant = plant_of(INTERVAL)
    good = minutes_of_energy({1: 1.0, 2: 1.0, 3: 1.0})
    arr = batch(plant, good + [("i", 4 * 60, float("nan")), ("i", 5 * 60, float("inf")),
                               ("i", 6 * 60, -2.0), ("i", 2 * 60, 1.0)]).readings
    unknown = np.array([(99, T0, 1.0)], READING)
    text_meter = batch(plant, [("sku", 60, 3.0)]).readings
    rows, engine = run(plant, ReadingBatch(np.concatenate([arr, unknown, text_meter])))
    assert engine.stats.rejected == {
        Reason.NOT_A_NUMBER: 2, Reason.NEGATIVE: 1, Reason.DUPLICATE: 1,
        Reason.UNKNOWN_METER: 1, Reason.MALFORMED: 1,
    }
    assert engine.stats.accepted == 3
    assert sum(r.electricity_kwh for r in pick(rows, "1m")) == pytest.approx(3.0)
    assert "rejected (not_a_number)" in caplog.text and "meter i" in caplog.text


def test_future_timestamps_are_refused():
    plant = plant_of(INTERVAL)
    engine = Engine(plant, clock=lambda: minute(10))  # the wall clock reads T0 + 10 min
    engine.ingest(batch(plant, minutes_of_energy({1: 1.0, 2 * 60: 5.0})))  # 2 h ahead
    assert engine.stats.rejected == {Reason.FUTURE: 1}
    rows = engine.flush()
    assert sum(r.electricity_kwh for r in pick(rows, "1m")) == pytest.approx(1.0)


def test_counter_reading_older_than_the_last_is_out_of_order():
    plant = plant_of([{"id": "e", "role": "energy_counter", "machine": "m_l1", "unit": "kWh"}])
    engine = Engine(plant)
    rows = engine.ingest(batch(plant, [("e", 0, 0), ("e", 600, 10), ("e", 900, 15)]))
    # the watermark (900 s − 120 s lateness) has released 0 and 600: 300 is already covered
    rows += engine.ingest(batch(plant, [("e", 300, 5)]))
    rows += engine.flush()
    assert engine.stats.rejected == {Reason.OUT_OF_ORDER: 1}
    assert sum(r.electricity_kwh for r in pick(rows, "1m")) == pytest.approx(15)


def test_late_reading_inside_the_horizon_revises_exactly_its_windows():
    plant = plant_of(INTERVAL)
    engine = Engine(plant)
    first = engine.ingest(batch(plant, minutes_of_energy(
        {m: 1.0 for m in range(1, 31) if m != 5})))
    assert [r.window.start for r in pick(first, "15m")] == [minute(0)]
    # minute 4's energy (stamped 5:00) arrives after the 15-minute window closed
    late = engine.ingest(batch(plant, minutes_of_energy({5: 2.0})))
    revised = {(type(r).__name__, r.window.kind, r.window.start, r.revision) for r in late}
    assert revised == {
        ("IntensityRow", "1m", minute(4), 1),  # the minute had no row before
        ("IntensityRow", "15m", minute(0), 2),  # same point, next revision
        ("MachineRow", "15m", minute(0), 2),
    }
    (window,) = pick(late, "15m")
    assert window.electricity_kwh == pytest.approx(14 + 2)
    assert engine.stats.rejected == {}


def test_reading_past_the_horizon_is_refused_as_late_with_its_energy():
    plant = plant_of(INTERVAL, engine={"revision_horizon": "10m"})
    engine = Engine(plant)
    engine.ingest(batch(plant, minutes_of_energy({m: 1.0 for m in range(1, 61) if m != 5})))
    rows = engine.ingest(batch(plant, minutes_of_energy({5: 2.0})))
    assert rows == []
    assert engine.stats.rejected == {Reason.LATE: 1}
    assert "2 (meter units)" in engine.stats.examples[Reason.LATE][0].detail


def test_context_after_its_window_closed_is_late_and_not_applied():
    plant = plant_of(INTERVAL)
    engine = Engine(plant)
    engine.ingest(batch(plant, minutes_of_energy({m: 1.0 for m in range(1, 31)})))
    engine.ingest(batch(plant, context=[("sku", 60, "B")]))
    rows = engine.flush()
    assert engine.stats.rejected == {Reason.CONTEXT_LATE: 1}
    assert all(r.sku == "unknown" for r in rows if not isinstance(r, FactorRow))


def test_duplicates_change_nothing():
    plant = plant_of(INTERVAL)
    readings = minutes_of_energy({m: 1.0 for m in range(1, 16)})
    clean, _ = run(plant, batch(plant, readings))
    doubled, engine = run(plant, batch(plant, readings), batch(plant, readings[5:]))
    assert doubled == clean
    assert engine.stats.rejected == {Reason.DUPLICATE: 10}


def test_bad_batches_never_stop_the_run():
    plant = plant_of(INTERVAL)
    engine = Engine(plant)
    engine.ingest(ReadingBatch(np.zeros(0, READING)))
    engine.ingest(batch(plant, [("i", 60, float("nan"))]))
    engine.ingest(batch(plant, minutes_of_energy({1: 1.0, 2: 1.0})))
    rows = engine.flush()
    assert sum(r.energy_kwh for r in pick(rows, "15m", MachineRow)) == pytest.approx(2.0)
    assert engine.stats.rejected[Reason.NOT_A_NUMBER] == 1
