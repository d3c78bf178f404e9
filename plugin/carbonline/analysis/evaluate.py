"""``carbonline evaluate``: simulator scenarios through the engine and the analyser, scored
against their ground truth (the scenario's events).

Per scenario and seed, the simulated plant (3 lines × 5 machines) is fed straight into the
engine (:func:`carbonline.simulate.batches.batches`) with ``[analysis]`` on, and its
``carbon_alert`` transitions are compared with the events:

- an event whose cause should alert (``equipment``, ``throughput``, ``grid``) is **detected**
  when an alert opens on its line (on every line, for a plant-wide event such as the shared
  chiller or the grid) between its start and its end; **delay** = the first such alert's
  window end − the event start, in simulated minutes (the slowest line's, plant-wide);
  **right** when those first alerts name the event's cause (and machine, for equipment);
- every other alert is **false**, counted per simulated week (an alert opening within
  ``AFTER_S`` of an event's end, on its line, still belongs to it: the windows closing then
  carry the fault).
"""

from __future__ import annotations

import tempfile
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pluggy

from ..config import parse_config
from ..plant import PlantModel, build_plant
from ..records import NS_PER_S, AlertRow, ReadingBatch, to_ns
from ..replay import run_through
from ..simulate import files
from ..simulate.batches import batches
from ..simulate.model import Signals, layout, simulate
from ..simulate.scenario import load_scenario

START = to_ns(datetime(2026, 3, 2, 6, tzinfo=timezone.utc))
ALERTING = ("equipment", "throughput", "grid")
LINES = 3
AFTER_S = 15 * 60
WEEK_S = 7 * 86400


@dataclass
class Run:
    """One scenario × seed: what was expected and what the analyser said."""

    scenario: str
    seed: int
    hours: float
    events: list[dict]
    alerts: list[AlertRow]
    delays: list[float | None] = field(default_factory=list)  # per alerting event, minutes
    right: list[bool] = field(default_factory=list)
    false_alerts: int = 0


def run_scenario(name: str, seed: int, pm: pluggy.PluginManager) -> Run:
    """Simulate ``name`` with ``seed``, feed it through engine and analyser, score it."""
    scenario = load_scenario(name)
    plant = layout(LINES, 5)
    signals = simulate(plant, scenario, START, scenario.duration, seed)
    with tempfile.TemporaryDirectory(prefix="carbonline-evaluate-") as tmp:
        grid = Path(tmp) / "grid.csv"
        files.write_grid_csv(signals, grid)
        doc = tomllib.loads(files.plant_toml(plant, grid))
        doc.setdefault("engine", {})["machine_windows"] = ["1m", "15m"]
        doc["analysis"] = {"enabled": True}
        model = build_plant(parse_config(doc))
        alerts = _Alerts()
        run_through(model, [_Simulated(model, signals)], [alerts], pm=pm)
    truth = files.ground_truth(scenario, seed, START, scenario.duration)
    return score(Run(name, seed, scenario.duration / 3600, truth["events"], alerts))


class _Simulated:
    """The simulator as a source of :func:`carbonline.replay.run_through` (no file between)."""

    name = "simulator"

    def __init__(self, model: PlantModel, signals: Signals) -> None:
        self.model, self.signals = model, signals

    def read(self) -> Iterator[ReadingBatch]:
        return batches(self.model, self.signals)


class _Alerts(list):
    """A sink keeping the alert transitions."""

    def write(self, rows: list) -> None:
        self.extend(r for r in rows if isinstance(r, AlertRow))

    def close(self) -> None:
        """Nothing to close: the alerts stay in the list."""


def score(run: Run) -> Run:
    """Fill in delays, right causes and false alerts (module docstring)."""
    firing = [a for a in run.alerts if a.state == "firing"]
    claimed: set[str] = set()
    lines = sorted({a.line for a in run.alerts} | {f"line{i}" for i in range(1, LINES + 1)})
    for event in run.events:
        if event["cause"] not in ALERTING:
            continue
        start, end = _ns(event["start"]), _ns(event["end"])
        touched = [event["line"]] if event["line"] else lines  # plant-wide: every line
        for a in firing:  # the fault's own alerts, and their tail
            if a.line in touched and start <= a.time < end + AFTER_S * NS_PER_S:
                claimed.add(a.alert_id)
        firsts = [min((a for a in firing if a.line == line and start <= a.time < end),
                      key=lambda a: a.time, default=None) for line in touched]
        if any(f is None for f in firsts):
            run.delays.append(None)
            run.right.append(False)
            continue
        run.delays.append(max(f.time + 60 * NS_PER_S - start for f in firsts) / (60 * NS_PER_S))
        machine = event["machine"] if event["cause"] == "equipment" else ""
        run.right.append(all(f.cause == event["cause"] and f.machine == machine
                             for f in firsts))
    run.false_alerts = sum(1 for a in firing if a.alert_id not in claimed)
    return run


def _ns(stamp: str) -> int:
    return to_ns(datetime.fromisoformat(stamp.replace("Z", "+00:00")))


@dataclass
class Summary:
    """A scenario over its seeds: the evaluation table's row."""

    scenario: str
    runs: list[Run]

    @property
    def detected(self) -> int:
        return sum(all(d is not None for d in r.delays) for r in self.runs)

    @property
    def right(self) -> int:
        return sum(all(r.right) for r in self.runs)

    @property
    def max_delay(self) -> float | None:
        delays = [d for r in self.runs for d in r.delays if d is not None]
        return max(delays) if delays else None

    @property
    def false_per_week(self) -> float:
        hours = sum(r.hours for r in self.runs)
        return sum(r.false_alerts for r in self.runs) / (hours * 3600 / WEEK_S)

    @property
    def alerting(self) -> bool:
        return any(e["cause"] in ALERTING for e in self.runs[0].events)

    def top(self) -> str:
        """The first alert's cause and machine in the first seed, for the table."""
        firing = [a for a in self.runs[0].alerts if a.state == "firing"]
        if not firing:
            return "—"
        first = min(firing, key=lambda a: a.time)
        return f"{first.cause}" + (f" {first.machine}" if first.machine else "")
