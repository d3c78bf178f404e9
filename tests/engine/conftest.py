"""Helpers for engine tests: a plant from a few dicts, readings from (meter, seconds, value)."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest

from carbonline.config import parse_config
from carbonline.engine.accumulator import Engine
from carbonline.plant import PlantModel, build_plant
from carbonline.records import NS_PER_S, READING, ContextEvent, IntensityRow, ReadingBatch

#: Monday 2 March 2026, 00:00 UTC: every test's t = 0.
T0 = int(datetime(2026, 3, 2, tzinfo=timezone.utc).timestamp()) * NS_PER_S


def plant_of(meters: list[dict], lines=("l1",), machines=None, **sections) -> PlantModel:
    """A plant with a 0.5 kg CO₂e/kWh grid, the given meters, and one machine per line
    (``m_<line>``) unless ``machines`` is given."""
    doc = {
        "site": {"name": "test", "timezone": "UTC", "grid_zone": "DE"},
        "factors": {"grid_kg_per_kwh": 0.5},
        "lines": [{"id": line} for line in lines],
        "machines": machines or [{"id": f"m_{line}", "line": line} for line in lines],
        "meters": meters,
    }
    doc.update(sections)
    return build_plant(parse_config(doc))


def readings(plant: PlantModel, rows: list[tuple[str, float, float]]) -> np.ndarray:
    """READING array from (meter id, seconds after T0, value)."""
    out = np.zeros(len(rows), READING)
    for i, (meter, seconds, value) in enumerate(rows):
        out[i] = (plant.meter_index[meter], T0 + int(seconds * NS_PER_S), value)
    return out


def batch(plant: PlantModel, rows=(), context=()) -> ReadingBatch:
    events = [ContextEvent(plant.meter_index[m], T0 + int(s * NS_PER_S), text)
              for m, s, text in context]
    return ReadingBatch(readings(plant, list(rows)), events)


def run(plant: PlantModel, *batches: ReadingBatch) -> tuple[list, Engine]:
    engine = Engine(plant)
    rows = []
    for b in batches:
        rows += engine.ingest(b)
    rows += engine.flush()
    return rows, engine


def pick(rows, kind: str, cls=IntensityRow, **tags) -> list:
    """Rows of one window kind (and class), filtered by attribute values, in time order."""
    found = [r for r in rows if isinstance(r, cls) and r.window.kind == kind
             and all(getattr(r, k) == v for k, v in tags.items())]
    return sorted(found, key=lambda r: (r.window.start, r.line, r.sku))


def minute(m: float) -> int:
    """ns timestamp m minutes after T0."""
    return T0 + int(m * 60 * NS_PER_S)


@pytest.fixture
def counter_plant() -> PlantModel:
    return plant_of([
        {"id": "e", "role": "energy_counter", "machine": "m_l1", "unit": "kWh", "rollover": 1000},
        {"id": "u", "role": "units_counter", "line": "l1"},
    ])
