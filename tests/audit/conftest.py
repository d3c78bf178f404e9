"""A simulated plant run through replay's ``run_through`` with the audit ledger attached.

The simulator's plant has what the ledger must retrace: own machines' power meters, a gas
burner (Scope 1), a chiller shared by good units, a site main meter whose unmetered remainder
is allocated, scrap counters, SKU changeovers, orders and shifts, and a grid factor series.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pytest

from carbonline.config import parse_config
from carbonline.plant import PlantModel, build_plant
from carbonline.records import IntensityRow, Row, to_ns
from carbonline.replay import run_through
from carbonline.simulate import files
from carbonline.simulate.batches import batches
from carbonline.simulate.model import Signals, layout, simulate
from carbonline.simulate.scenario import load_scenario

START = to_ns(datetime(2026, 3, 2, 6, 0, tzinfo=timezone.utc))
#: A day of plant time at 3 lines (a week takes minutes on this machine for no extra cover).
HOURS = 24.0


class Collect(list):
    """A sink keeping every row written."""

    name = "collect"

    def write(self, rows: list[Row]) -> None:
        self.extend(rows)

    def close(self) -> None:
        """Nothing to close: the rows stay in the list."""


class Simulated:
    """Simulator batches as a source (``batches`` may be edited before the run)."""

    name = "simulator"

    def __init__(self, batches: list) -> None:
        self.batches = batches

    def read(self):
        return iter(self.batches)


@dataclass
class Replayed:
    plant: PlantModel
    batches: list
    rows: list[Row]
    ledger: Path

    @property
    def intensity(self) -> list[IntensityRow]:
        return [r for r in self.rows if isinstance(r, IntensityRow)]


def simulated_plant(folder: Path, hours: float, seed: int = 3) -> tuple[PlantModel, Signals]:
    site = layout(3, 5)
    signals = simulate(site, load_scenario("valve-leak"), START, hours * 3600, seed)
    grid = folder / "grid.csv"
    files.write_grid_csv(signals, grid)
    doc = tomllib.loads(files.plant_toml(site, grid))
    return build_plant(parse_config(doc)), signals


def replay_with_ledger(plant: PlantModel, batch_list: list, ledger: Path) -> Replayed:
    sink = Collect()
    run_through(plant, [Simulated(batch_list)], [sink], ledger=ledger)
    return Replayed(plant, batch_list, list(sink), ledger)


@pytest.fixture(scope="session")
def simulated_day(tmp_path_factory) -> Replayed:
    """A simulated day replayed once for the session; tests must not change its ledger."""
    folder = tmp_path_factory.mktemp("audit-day")
    plant, signals = simulated_plant(folder, HOURS)
    return replay_with_ledger(plant, list(batches(plant, signals)), folder / "ledger.sqlite")
