"""The simulator straight into the engine, with no file or server between: signals as the
:class:`~carbonline.records.ReadingBatch` values a source would yield (the demo, evaluations)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ..plant import PlantModel
from ..records import NS_PER_S, READING, ContextEvent, ReadingBatch
from .model import Signals


def batches(plant: PlantModel, signals: Signals, minutes: int = 5) -> Iterator[ReadingBatch]:
    """A batch per ``minutes`` of plant time, meters mapped by id as the written plant.toml
    names them (readings lost to a network drop are simply absent)."""
    names = list(signals.values)
    meters = np.array([plant.meter_index[name] for name in names], dtype=np.int32)
    table = np.vstack([signals.values[name] for name in names])  # meter × tick
    events = [ContextEvent(plant.meter_index[f"{line}-{what}"], t, text)
              for t, line, what, text in signals.context]
    span = minutes * 60 * NS_PER_S
    times = signals.times
    first = int(times[0])
    starts = np.arange(first, int(times[-1]) + 1, span, dtype=np.int64)
    edges = np.append(np.searchsorted(times, starts), len(times)).tolist()
    for lo, hi in zip(edges[:-1], edges[1:]):
        block = table[:, lo:hi]
        keep = ~np.isnan(block)
        out = np.zeros(int(keep.sum()), READING)
        out["meter"] = np.broadcast_to(meters[:, None], block.shape)[keep]
        out["time"] = np.broadcast_to(times[lo:hi][None, :], block.shape)[keep]
        out["value"] = block[keep]
        start, end = int(times[lo]), int(times[hi - 1])
        yield ReadingBatch(out, [e for e in events if start <= e.time <= end])
