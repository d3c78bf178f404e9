"""Every window of a replayed simulated day recomputes from the ledger alone, and the ledger
holds real per-window meter deltas (they add up to the meters' own readings)."""

from __future__ import annotations

import math

import pytest

from carbonline.audit.explain import FIELDS, REL_TOLERANCE, recompute, same
from carbonline.audit.ledger import Ledger
from carbonline.audit.verify import verify
from carbonline.records import MachineRow
from carbonline.replay import run_through

from .conftest import HOURS, Collect, Replayed, Simulated


def _identity(kind, start, line, sku, order_id, revision) -> tuple:
    return kind, start, line, sku, order_id, revision


@pytest.fixture(scope="module")
def records(simulated_day: Replayed) -> list:
    ledger = Ledger(simulated_day.ledger, readonly=True)
    try:
        return list(ledger.records())
    finally:
        ledger.close()


def test_one_record_per_emitted_window_revision(simulated_day: Replayed, records):
    rows = {_identity(r.window.kind, r.window.start, r.line, r.sku, r.order_id, r.revision)
            for r in simulated_day.intensity}
    recorded = [_identity(r.kind, r.start, r.line, r.sku, r.order_id, r.revision)
                for r in records]
    assert len(recorded) == len(set(recorded)) == len(simulated_day.intensity)
    assert set(recorded) == rows
    kinds = {r.kind for r in records}
    assert {"1m", "15m", "shift", "day", "order"} <= kinds


def test_every_window_recomputes_from_the_ledger_alone(simulated_day: Replayed, records):
    by_id = {_identity(r.window.kind, r.window.start, r.line, r.sku, r.order_id, r.revision): r
             for r in simulated_day.intensity}
    checked = 0
    for record in records:
        row = by_id[(record.kind, record.start, record.line, record.sku, record.order_id,
                     record.revision)]
        again = recompute(record.body)  # the record's terms only: meters, factors, formula
        for field in FIELDS:
            assert same(again[field], getattr(row, field)), (record.where(), field,
                                                             again[field], getattr(row, field))
        assert again["segments_kwh"] == pytest.approx(row.electricity_kwh, rel=REL_TOLERANCE,
                                                      abs=1e-9)
        checked += 1
    assert checked == len(simulated_day.intensity) > 4000
    # and the numbers are not trivially zero: the day emitted real kilograms
    assert sum(r.co2e_kg for r in simulated_day.intensity if r.window.kind == "day") > 100


def test_stored_results_are_the_rows_exactly(simulated_day: Replayed, records):
    by_id = {(r.window.kind, r.window.start, r.line, r.sku, r.order_id, r.revision): r
             for r in simulated_day.intensity}
    for record in records[::37]:
        body = record.body
        row = by_id[(record.kind, record.start, record.line, record.sku, record.order_id,
                     record.revision)]
        assert body["result"]["co2e_kg"] == row.co2e_kg  # JSON keeps float64 exactly
        assert body["result"]["coverage_pct"] == row.coverage_pct
        assert body["window"]["end"] == row.window.end


def test_machine_rows_are_folded_into_their_window_record(simulated_day: Replayed, records):
    folded = {(r.kind, r.start, r.line, r.sku, m["machine"], m["revision"]): m["energy_kwh"]
              for r in records for m in r.body["machines"]}
    machines = [r for r in simulated_day.rows if isinstance(r, MachineRow)]
    assert machines
    for row in machines:
        key = (row.window.kind, row.window.start, row.line, row.sku, row.machine, row.revision)
        assert folded[key] == row.energy_kwh


def _counter_delta(simulated_day: Replayed, meter: str) -> float:
    """The meter's own readings, last minus first (the simulated counters never reset)."""
    values = []
    index = simulated_day.plant.meter_index[meter]
    for batch in simulated_day.batches:
        mine = batch.readings[batch.readings["meter"] == index]
        values.extend(mine["value"].tolist())
    return values[-1] - values[0]


@pytest.mark.parametrize("meter, line", [("filler1-energy", "line1"), ("oven3-gas", "line3")])
def test_per_window_meter_deltas_add_up_to_the_meters_readings(simulated_day: Replayed, records,
                                                              meter, line):
    deltas = [m["amount"] for r in records if r.kind == "1m" and r.line == line
              for m in r.body["meters"] if m["meter"] == meter]
    assert len(deltas) > HOURS * 60 * 0.9  # one term per minute the meter ran in
    assert math.fsum(deltas) == pytest.approx(_counter_delta(simulated_day, meter), rel=1e-9)


def test_a_shared_utility_is_split_without_loss(records):
    """The chiller's kWh in each 15-minute window: each line's records hold all of it, and
    the lines' parts add up to that whole; each record says the key it was split by."""
    parts: dict[int, list[float]] = {}
    whole: dict[tuple[int, str], float] = {}
    for r in records:
        if r.kind != "15m":
            continue
        for m in r.body["meters"]:
            if m["meter"] == "chiller-kw":
                assert m["allocation"]["key"] == "units"
                parts.setdefault(r.start, []).append(m["attributed"])
                # a window split at a changeover holds the chiller once per SKU row
                whole[(r.start, r.line)] = whole.get((r.start, r.line), 0.0) + m["amount"]
    assert len(parts) > 80
    for start, attributed in parts.items():
        totals = [v for (s, _), v in whole.items() if s == start]
        assert len(totals) == 3 and max(totals) == pytest.approx(min(totals), rel=1e-9)
        assert math.fsum(attributed) == pytest.approx(totals[0], rel=1e-9)
        assert 0 < min(attributed)


def test_the_ledger_of_a_replay_verifies(simulated_day: Replayed, records):
    verdict = verify(simulated_day.ledger)
    assert verdict.ok, verdict.problems
    assert verdict.records == len(records)
    assert verdict.head_hash == records[-1].hash


def test_a_replay_into_the_same_ledger_records_nothing_twice(simulated_day, records, tmp_path):
    """A restarted run replays its batch log: identical window revisions are not recorded
    again."""
    from carbonline.audit.ledger import Ledger as Book

    entries = [{k: v for k, v in r.body.items() if k not in ("seq", "recorded_at")}
               for r in records[:50]]
    copy = tmp_path / "ledger.sqlite"
    book = Book(copy)
    try:
        assert book.append(entries) == 50
        assert book.append(entries) == 0
        assert len(list(book.records())) == 50
    finally:
        book.close()
    assert verify(copy).ok


def test_the_ledger_changes_no_row(simulated_day: Replayed):
    """The same batches without a ledger give the very same rows (the trail only watches)."""
    sink = Collect()
    run_through(simulated_day.plant, [Simulated(simulated_day.batches)], [sink])
    assert list(sink) == simulated_day.rows


def test_the_trail_forgets_windows_past_the_revision_horizon(simulated_day: Replayed):
    """A long run keeps only about an hour of windows' detail, not every window it wrote."""
    from carbonline.audit.trail import AuditTrail
    from carbonline.engine.accumulator import Engine

    engine = Engine(simulated_day.plant)
    engine.observer = trail = AuditTrail(engine)
    made = held = 0
    for batch in simulated_day.batches:
        engine.ingest(batch)
        made += len(trail.drain())
        held = max(held, len(trail.windows))
    assert made > 4000 and held < made / 5


def test_a_state_dir_puts_the_ledger_beside_the_checkpoint(simulated_day: Replayed, tmp_path):
    from carbonline.audit.sink import ledger_path
    from carbonline.plant import build_plant

    config = simulated_day.plant.config
    assert ledger_path(simulated_day.plant) is None
    assert ledger_path(simulated_day.plant, tmp_path / "x.sqlite") == tmp_path / "x.sqlite"
    stateful = build_plant(config.model_copy(
        update={"run": config.run.model_copy(update={"state_dir": str(tmp_path)})}))
    assert ledger_path(stateful) == tmp_path / "ledger.sqlite"
