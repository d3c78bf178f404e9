"""A late reading makes revision 2 of exactly the windows it lands in — in the rows and in the
ledger, where revision 1 is kept beside it."""

from __future__ import annotations

import numpy as np
import pytest

from carbonline.audit.explain import FIELDS, recompute, same
from carbonline.audit.ledger import Ledger
from carbonline.audit.verify import verify
from carbonline.records import NS_PER_S, IntensityRow, ReadingBatch
from carbonline.simulate.batches import batches

from .conftest import START, replay_with_ledger, simulated_plant

MINUTE = 60 * NS_PER_S
LATE_METER = "capper1-kw"
HELD_FROM, HELD_TO = START + 60 * MINUTE, START + 80 * MINUTE  # its readings arrive at 80 min


def _hold_back(plant, batch_list: list[ReadingBatch]) -> tuple[list[ReadingBatch], int, int]:
    """The meter's readings in [HELD_FROM, HELD_TO) taken out and delivered with the first
    batch at or after HELD_TO (inside the 1 h revision horizon). Returns the batches, the
    meter's last reading before the gap and the end of the delivering batch (ns)."""
    index = plant.meter_index[LATE_METER]
    held, out, before, delivered_until = [], [], 0, 0
    for batch in batch_list:
        r = batch.readings
        mine = r["meter"] == index
        take = mine & (r["time"] >= HELD_FROM) & (r["time"] < HELD_TO)
        if (mine & (r["time"] < HELD_FROM)).any():
            before = max(before, int(r["time"][mine & (r["time"] < HELD_FROM)].max()))
        held.append(r[take])
        r = r[~take]
        if held and len(r) and int(r["time"].min()) >= HELD_TO and not delivered_until:
            r = np.concatenate([*held, r])
            held = []
            delivered_until = int(r["time"].max()) + 1
        out.append(ReadingBatch(r, batch.context, batch.rejections))
    return out, before, delivered_until


@pytest.fixture(scope="module")
def late_and_on_time(tmp_path_factory):
    folder = tmp_path_factory.mktemp("audit-late")
    plant, signals = simulated_plant(folder, 3.0)
    on_time = list(batches(plant, signals))
    late, before, until = _hold_back(plant, on_time)
    assert START + 55 * MINUTE < before < HELD_FROM and HELD_TO < until <= HELD_TO + 6 * MINUTE
    return (replay_with_ledger(plant, late, folder / "late.sqlite"),
            replay_with_ledger(plant, on_time, folder / "on-time.sqlite"), before, until)


def _overlaps(row, lo: int, hi: int) -> bool:
    return row.window.start < hi and row.window.end > lo


def test_revision_2_of_exactly_the_windows_the_late_readings_land_in(late_and_on_time):
    late, _, before, until = late_and_on_time
    revised = [r for r in late.rows if getattr(r, "revision", 1) > 1]
    assert revised and all(r.revision == 2 for r in revised)
    # nothing outside the late readings' span is revised …
    assert all(_overlaps(r, before, until) for r in revised)
    # … and every closed minute of the meter's line inside it is
    again = {r.window.start for r in revised if isinstance(r, IntensityRow)
             and r.window.kind == "1m" and r.line == "line1"}
    inside = set(range(HELD_FROM + MINUTE, HELD_FROM + 10 * MINUTE, MINUTE))
    assert inside <= again
    # closed windows were revised, each once; the shift, day and order still open took the
    # late readings into their first revision
    assert {r.window.kind for r in revised} == {"1m", "15m"}
    assert all(r.revision == 1 for r in late.intensity if r.window.kind in ("shift", "day"))
    ids = [(type(r).__name__, r.window.kind, r.window.start, r.line, r.sku,
            getattr(r, "machine", "")) for r in revised]
    assert len(ids) == len(set(ids))


def test_the_current_revision_equals_the_windows_had_the_readings_been_on_time(late_and_on_time):
    late, on_time, _, _ = late_and_on_time

    def current(replayed):
        out = {}
        for r in replayed.intensity:  # in emission order: the newest revision wins
            out[(r.window.kind, r.window.start, r.line, r.sku, r.order_id)] = r
        return out

    a, b = current(late), current(on_time)
    assert a.keys() == b.keys()
    for key, row in a.items():
        for field in FIELDS:
            assert same(getattr(row, field), getattr(b[key], field)), (key, field)


def test_the_ledger_keeps_revision_1_and_records_revision_2(late_and_on_time):
    late, _, _, _ = late_and_on_time
    book = Ledger(late.ledger, readonly=True)
    try:
        records = list(book.records())
    finally:
        book.close()
    by_id = {(r.kind, r.start, r.line, r.sku, r.order_id, r.revision): r for r in records}
    rows2 = [r for r in late.intensity if r.revision == 2]
    assert sum(1 for r in records if r.revision == 2) == len(rows2)
    for row in rows2:
        key = (row.window.kind, row.window.start, row.line, row.sku, row.order_id)
        second, first = by_id[(*key, 2)], by_id[(*key, 1)]
        assert first.seq < second.seq
        again = recompute(second.body)
        assert all(same(again[f], getattr(row, f)) for f in FIELDS), key
        if row.window.kind == "1m" and row.line == "line1" and \
                HELD_FROM + MINUTE <= row.window.start < HELD_FROM + 10 * MINUTE:
            def capper(record):
                return sum(m["attributed"] for m in record.body["meters"]
                           if m["meter"] == LATE_METER)
            assert capper(first) == 0 < capper(second)
            assert second.body["result"]["co2e_kg"] > first.body["result"]["co2e_kg"]
    assert verify(late.ledger).ok
