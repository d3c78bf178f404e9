"""Scale-out: several ``carbonline run`` workers, each owning a disjoint set of lines.

A meter's readings must all reach one worker — a counter split across two engines would lose
the deltas between them — so the split is by line, never by message (plain MQTT shared
subscriptions hand messages out round robin and would break counters). A worker keeps only its
lines, their machines and meters, and subscribes only to those meters' topics and nodes.

Lines are given to workers statically (``[run] lines``) or by rendezvous hashing over
``[run] workers`` (every worker computes the same answer; adding a worker moves only the lines
it wins). A shared utility must have all the lines it serves on one worker, since its energy is
allocated by their units or run time; the site main meter, which needs every sub-meter, stays
with a worker only if that worker has every line.
"""

from __future__ import annotations

import hashlib

from .config import ConfigError, PlantConfig


def owner(line: str, workers: list[str]) -> str:
    """The worker a line belongs to (highest hash of worker + line wins)."""
    return max(workers, key=lambda w: hashlib.sha256(f"{w}\0{line}".encode()).digest())


def own_lines(config: PlantConfig) -> list[str] | None:
    """This worker's lines; ``None`` when the run is not partitioned."""
    run = config.run
    if run.lines is not None:
        return run.lines
    if run.worker is not None:
        return [line.id for line in config.lines if owner(line.id, run.workers) == run.worker]
    return None


def partition(config: PlantConfig) -> PlantConfig:
    """The part of the plant this worker runs (the whole plant when not partitioned)."""
    lines = own_lines(config)
    if lines is None:
        return config
    known = {line.id for line in config.lines}
    unknown = sorted(set(lines) - known)
    if unknown:
        raise ConfigError(f"run.lines: {', '.join(unknown)} are not lines (known: "
                          f"{', '.join(sorted(known))})")
    mine = set(lines)
    shared = []
    for alloc in config.shared:
        served = set(alloc.lines)
        if served & mine and not served <= mine:
            raise ConfigError(f"shared machine {alloc.machine!r} serves lines "
                              f"{', '.join(sorted(served))}: give them all to one worker")
        if served <= mine:
            shared.append(alloc)
    shared_machines = {a.machine for a in shared}
    machines = [m for m in config.machines
                if m.line in mine or (m.line is None and m.id in shared_machines)]
    machine_ids = {m.id for m in machines}
    main = config.main_meter if mine == known else None
    meters = [m for m in config.meters
              if (m.machine in machine_ids) or (m.line in mine and m.machine is None)
              or (main is not None and m.id == main.meter)]
    return config.model_copy(update={
        "lines": [line for line in config.lines if line.id in mine],
        "machines": machines, "shared": shared, "main_meter": main, "meters": meters})
