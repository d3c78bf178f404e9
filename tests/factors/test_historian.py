"""A grid-intensity series read straight from a real InfluxDB 1.6 ([factors.historian])."""

from __future__ import annotations

import numpy as np
import pytest

from carbonline.config import parse_config
from carbonline.engine.accumulator import Engine
from carbonline.plant import build_plant
from carbonline.records import NS_PER_S, READING, FactorRow, IntensityRow, ReadingBatch

T0 = 1_772_431_200 * NS_PER_S  # 2026-03-02T06:00:00Z
MINUTE = 60 * NS_PER_S


def plant_reading(influxdb, database: str, **historian):
    return build_plant(parse_config({
        "site": {"name": "s", "timezone": "UTC", "grid_zone": "DE"},
        "factors": {"grid_kg_per_kwh": 0.9, "series_max_gap": "10m",
                    "historian": {"url": influxdb.url, "database": database,
                                  "measurement": "grid_intensity", "tags": {"zone": "DE"},
                                  **historian}},
        "lines": [{"id": "l1"}],
        "machines": [{"id": "m", "line": "l1"}],
        "meters": [{"id": "e", "role": "energy_counter", "machine": "m", "unit": "kWh"}],
    }))


def test_scope2_follows_the_historian_series_and_its_gaps_fall_back(influxdb, influx_db):
    # 0.30 from 06:00, 0.50 from 06:02; nothing after 06:12 (max gap 10 min) → 0.9 configured
    influxdb.write(influx_db, "\n".join([
        f"grid_intensity,zone=DE kg_per_kwh=0.30 {T0}",
        f"grid_intensity,zone=DE kg_per_kwh=0.50 {T0 + 2 * MINUTE}",
        f"grid_intensity,zone=FR kg_per_kwh=0.05 {T0}",  # another zone: not asked for
    ]))
    plant = plant_reading(influxdb, influx_db)
    minutes = list(range(0, 16))
    readings = np.array([(0, T0 + m * MINUTE, 100.0 + 2 * m) for m in minutes], dtype=READING)
    engine = Engine(plant)
    rows = engine.ingest(ReadingBatch(readings)) + engine.flush()
    by_minute = {(r.window.start - T0) // MINUTE: r for r in rows
                 if isinstance(r, IntensityRow) and r.window.kind == "1m"}
    expected = {0: 0.30, 1: 0.30, 2: 0.50, 11: 0.50, 12: 0.9, 14: 0.9}
    for minute, factor in expected.items():
        assert by_minute[minute].scope2_location_co2e_kg == pytest.approx(2.0 * factor)
    (first,) = [r for r in rows if isinstance(r, FactorRow) and r.start == T0
                and r.provenance.basis == "location"]
    assert first.provenance.provider == "historian"
    assert f"{influx_db}.grid_intensity{{zone=DE}}.kg_per_kwh" in first.provenance.dataset
    assert "filled from constant" in first.provenance.dataset and first.provenance.estimated


def test_an_unreadable_historian_is_a_gap_filled_and_named(influxdb, caplog):
    """A historian outage must not stop a live run: the rest of the chain answers, marked
    estimated, and the provenance says why."""
    plant = plant_reading(influxdb, "no_such_database")
    engine = Engine(plant)
    batch = ReadingBatch(np.array([(0, T0, 1.0), (0, T0 + 5 * MINUTE, 2.0)], dtype=READING))
    rows = engine.ingest(batch) + engine.flush()
    scope2 = sum(r.scope2_location_co2e_kg for r in rows
                 if isinstance(r, IntensityRow) and r.window.kind == "1m")
    assert scope2 == pytest.approx(1.0 * 0.9)
    factor = next(r for r in rows if isinstance(r, FactorRow))
    assert "unreadable" in factor.provenance.dataset and "database not found" in caplog.text
    assert factor.provenance.estimated
