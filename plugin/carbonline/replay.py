"""Replay: files in, CO₂e-per-unit series out, with the same engine a live run uses.

``replay`` wires sources (from the ``carbonline_sources`` hook) through one
:class:`~carbonline.engine.accumulator.Engine` into sinks (from ``carbonline_sinks``). Inputs
are read one after another in the order given; a reading older than the watermark in a later
file is treated exactly as a late reading would be live.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pluggy

from .analysis.analyser import analyser_for
from .audit.sink import LedgerSink, ledger_path
from .engine.accumulator import Engine, EngineStats
from .plant import PlantModel
from .plugins import get_manager


class UnclaimedError(Exception):
    """An input or output that no plugin can handle."""


@dataclass
class ReplaySummary:
    """What a replay did: the engine's counts and how many rows were written."""

    stats: EngineStats
    rows_written: int


#: Called after every batch with (bytes read so far, total bytes or None when unknown).
Progress = Callable[[int, int | None], None]


def open_sources(plant: PlantModel, inputs: Sequence[str], pm: pluggy.PluginManager) -> list:
    sources = [s for answer in pm.hook.carbonline_sources(plant=plant, inputs=inputs)
               for s in answer or []]
    claimed = {s.name for s in sources}
    absent = [i for i in inputs if i not in claimed and i != "-" and "://" not in i
              and not os.path.exists(i)]
    if absent:
        raise UnclaimedError(f"no such file: {', '.join(absent)}")
    missing = [i for i in inputs if i not in claimed]
    if missing:
        raise UnclaimedError(f"no source plugin can read: {', '.join(missing)} "
                             "(line protocol: .lp/.txt/.line or '-'; CSV: .csv; mqtt://, "
                             "mqtts://, opc.tcp://, or the [sources.influx] url)")
    order = {name: i for i, name in enumerate(inputs)}
    return sorted(sources, key=lambda s: order[s.name])


def open_sinks(plant: PlantModel, outputs: Sequence[str], pm: pluggy.PluginManager) -> list:
    sinks = [s for answer in pm.hook.carbonline_sinks(plant=plant, outputs=outputs)
             for s in answer or []]
    if len(sinks) < len(outputs):
        raise UnclaimedError(f"no sink plugin can write all of: {', '.join(outputs)}")
    return sinks


def replay(
    plant: PlantModel,
    inputs: Sequence[str],
    outputs: Sequence[str],
    progress: Progress | None = None,
    pm: pluggy.PluginManager | None = None,
    ledger: str | Path | None = None,
) -> ReplaySummary:
    """Run every input through the engine and write all rows to every output (and the audit
    ledger, see :func:`run_through`)."""
    pm = pm or get_manager()
    sources = open_sources(plant, inputs, pm)
    return run_through(plant, sources, open_sinks(plant, outputs, pm), progress, pm, ledger)


def run_through(plant: PlantModel, sources: Sequence, sinks: Sequence,
                progress: Progress | None = None,
                pm: pluggy.PluginManager | None = None,
                ledger: str | Path | None = None) -> ReplaySummary:
    """Sources one after another through one engine (and, with ``[analysis]`` enabled, the
    analyser) into every sink; closes the sinks. Every window revision is recorded in the
    audit ledger at ``ledger``, or at ``<[run] state_dir>/ledger.sqlite`` when that is set."""
    pm = pm or get_manager()
    engine = Engine(plant, pm)
    path = ledger_path(plant, ledger)
    if path is not None:
        sinks = [*sinks, LedgerSink(engine, path)]
    analyser = analyser_for(plant, pm)
    total = sum(getattr(s, "size_bytes", None) or 0 for s in sources) or None
    done = 0
    written = 0

    def emit(rows: list) -> None:
        nonlocal written
        if analyser is not None:
            rows = analyser.process(rows)
        for sink in sinks:
            sink.write(rows)
        written += len(rows)

    try:
        for source in sources:
            for batch in source.read():
                for rows in engine.ingest_steps(batch):  # a day of rows at a time
                    emit(rows)
                if progress is not None:
                    progress(done + getattr(source, "bytes_read", 0), total)
            done += getattr(source, "size_bytes", None) or 0
        emit(engine.flush())
    finally:
        for sink in sinks:
            sink.close()
    return ReplaySummary(engine.stats, written)
