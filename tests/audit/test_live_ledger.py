"""``carbonline run`` with a state store keeps the ledger beside it: a stop and restart (the
engine checkpointed with its windows open) loses no record, doubles none, and the windows
spanning the restart still recompute from the ledger alone."""

from __future__ import annotations

import threading
import time

from carbonline.audit.explain import FIELDS, recompute, same
from carbonline.audit.ledger import Ledger
from carbonline.audit.verify import verify
from carbonline.config import parse_config
from carbonline.live import LiveRun
from carbonline.plant import build_plant
from carbonline.plugins import hookimpl, make_manager
from carbonline.simulate.batches import batches
from servers._common import free_ports

from .conftest import replay_with_ledger, simulated_plant


class Feed:
    """A source handing over given batches, then waiting to be closed (a quiet plant)."""

    name = "sim://plant"

    def __init__(self, items: list) -> None:
        self.items = items
        self.closed = threading.Event()

    def read(self):
        yield from self.items
        self.closed.wait()

    def close(self) -> None:
        self.closed.set()


class FeedPlugin:
    def __init__(self, items: list) -> None:
        self.items = items

    @hookimpl
    def carbonline_sources(self, plant, inputs):
        return [Feed(self.items)] if "sim://plant" in inputs else []


def _live(plant, items: list, output) -> None:
    """One run of the plant until it has taken ``items``; then a clean stop (checkpoint)."""
    pm = make_manager(load_entry_points=False)
    pm.register(FeedPlugin(items))
    live = LiveRun(plant, inputs=["sim://plant"], outputs=[str(output)], pm=pm)
    runner = threading.Thread(target=live.run)
    runner.start()
    try:
        last = int(items[-1].readings["time"].max())
        deadline = time.monotonic() + 60
        while live.engine.newest_reading != last:
            assert runner.is_alive() and time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        live.stop()
        runner.join(60)


def test_a_restarted_run_continues_its_ledger(tmp_path):
    plant, signals = simulated_plant(tmp_path, 3.0)
    doc = plant.config.model_dump(exclude_none=True)
    (port,) = free_ports(1)
    doc["run"].update(state_dir=str(tmp_path / "state"), checkpoint_interval=3600)
    doc["http"] = {"listen": f"127.0.0.1:{port}"}
    live_plant = build_plant(parse_config(doc))
    items = list(batches(live_plant, signals))
    half = len(items) // 2
    path = tmp_path / "state" / "ledger.sqlite"
    _live(live_plant, items[:half], tmp_path / "a.lp")
    book = Ledger(path, readonly=True)
    first_run, _ = book.head()
    book.close()
    _live(live_plant, items[half:], tmp_path / "b.lp")

    assert verify(path).ok
    book = Ledger(path, readonly=True)
    try:
        records = list(book.records())
    finally:
        book.close()
    ids = [(r.kind, r.start, r.line, r.sku, r.order_id, r.revision) for r in records]
    assert len(ids) == len(set(ids)) > 300
    # the same windows as a replay of the same batches, closed ones alike (a run stopped with a
    # state store leaves its last windows open; the replay closes them at the end)
    replayed = replay_with_ledger(plant, items, tmp_path / "replay.sqlite")
    rows = {(r.window.kind, r.window.start, r.line, r.sku, r.order_id, r.revision): r
            for r in replayed.intensity}
    restart = int(items[half].readings["time"].min())
    spanning = 0
    for record in records:
        row = rows[(record.kind, record.start, record.line, record.sku, record.order_id,
                    record.revision)]
        again = recompute(record.body)
        assert all(same(again[f], getattr(row, f)) for f in FIELDS), record.where()
        # windows with readings from both runs: open at the stop, closed after the restart
        spanning += record.seq > first_run and record.start < restart
    assert spanning >= 3 and first_run > 100
