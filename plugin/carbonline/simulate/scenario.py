"""Scenarios are data: a TOML file per scenario, naming the faults and events to play and what
each is expected to do. New scenarios need no code; the shipped ones live in ``scenarios/``.

A scenario file::

    name = "valve-leak"
    description = "A pneumatic valve leaks; line2's compressor runs loaded far more."
    duration = "8h"              # default length of a run (``--duration`` overrides)

    [[events]]
    kind = "air_leak"            # what happens (see KINDS)
    line = "line2"
    start = "3h"                 # after the run's start
    duration = "45m"             # repaired then (absent: until the end)
    size = 0.9                   # the kind's parameter (see KINDS)
    expected = "line2 intensity +28 %"

Each event is also the ground truth: its cause (design brief §5: ``equipment`` with the
machine, ``recipe``, ``throughput``, ``grid``, ``data_quality``), machine, start, end and the
expected effect, exported as JSON beside the data.
"""

from __future__ import annotations

import tomllib
from importlib.resources import files
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..config import ConfigError, Seconds, describe_errors

#: Event kinds → (cause, what ``size`` means).
KINDS: dict[str, tuple[str, str]] = {
    "air_leak": ("equipment", "leak flow as a share of the line compressor's capacity"),
    "energy_per_unit": ("equipment", "factor on one machine's energy per unit"),
    "drift": ("equipment", "factor on one machine's energy per unit reached at the end "
              "(rises linearly from 1)"),
    "chiller_fault": ("equipment", "factor on the shared chiller's power"),
    "recipe": ("recipe", "index of the line's SKU to switch to (heavier variants are later)"),
    "throughput": ("throughput", "factor on the line's production rate"),
    "grid_spike": ("grid", "factor on the grid emission factor"),
    "meter_reset": ("data_quality", "the meter's counter restarts from this value"),
    "network_drop": ("data_quality", "unused: every reading in the span is lost"),
}


class Event(BaseModel):
    """One fault or change in a scenario, and the ground truth it leaves."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal[tuple(KINDS)]  # type: ignore[valid-type]
    line: str | None = None
    machine: str | None = None
    meter: str | None = None
    start: Seconds
    duration: Seconds | None = None
    size: float = 1.0
    expected: str = ""

    @model_validator(mode="after")
    def _targets(self) -> Event:
        needs = {"air_leak": "line", "energy_per_unit": "machine", "drift": "machine",
                 "recipe": "line", "throughput": "line", "meter_reset": "meter"}
        field = needs.get(self.kind)
        if field and getattr(self, field) is None:
            raise ValueError(f"a {self.kind} event needs '{field}'")
        return self

    @property
    def cause(self) -> str:
        return KINDS[self.kind][0]


class Scenario(BaseModel):
    """A scenario file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str
    duration: Seconds = 8 * 3600
    events: list[Event] = Field(default_factory=list)


def shipped() -> dict[str, Path]:
    """The scenarios that come with carbonline, by name."""
    folder = Path(str(files("carbonline.simulate").joinpath("scenarios")))
    return {p.stem: p for p in sorted(folder.glob("*.toml"))}


def load_scenario(name_or_path: str) -> Scenario:
    """A shipped scenario by name, or a scenario file; errors name the file and the field."""
    path = shipped().get(name_or_path) or Path(name_or_path)
    if not path.is_file():
        raise ConfigError(f"no scenario {name_or_path!r} (shipped: {', '.join(shipped())})")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe_errors(exc, str(path))) from None
