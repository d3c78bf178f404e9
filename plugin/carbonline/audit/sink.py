"""The ledger as a sink of a run: fed after every engine step, it records what the engine's
audit trail made of the rows just emitted.

``replay``/``backfill`` and ``carbonline run`` add it beside their sinks when a ledger is
configured (``[run] state_dir``, or a path given explicitly). Rows themselves are not needed:
the trail saw them inside the engine, before the analyser, with their per-window detail.
"""

from __future__ import annotations

from pathlib import Path

from ..plant import PlantModel
from .ledger import FILE_NAME, Ledger
from .trail import AuditTrail


def ledger_path(plant: PlantModel, explicit: str | Path | None = None) -> Path | None:
    """Where a run keeps its ledger: ``explicit``, else ``<[run] state_dir>/ledger.sqlite``,
    else nowhere (``None``)."""
    if explicit is not None:
        return Path(explicit)
    state_dir = plant.config.run.state_dir
    return Path(state_dir) / FILE_NAME if state_dir else None


class LedgerSink:
    """Drains an engine's :class:`AuditTrail` into a :class:`Ledger` on every write."""

    def __init__(self, engine, path: str | Path) -> None:
        if engine.observer is None:  # a restored checkpoint brings its own trail along
            engine.observer = AuditTrail(engine)
        self.trail = engine.observer
        self.ledger = Ledger(path)
        self.name = f"audit ledger {path}"
        self.counters = {"records": 0}

    def write(self, rows: list) -> None:
        """Record the trail's new entries (``rows`` are the ones they describe)."""
        self.counters["records"] += self.ledger.append(self.trail.drain())

    def close(self) -> None:
        self.ledger.close()
