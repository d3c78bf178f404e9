"""Increments → base intervals ("bins", ``engine.resolution`` long, 1 min by default).

An increment spanning several bins is shared pro rata to time, so a 15-minute interval reading
puts 1/15 of its kWh in each minute and a counter delta across a gap is spread over the gap.
Every window (1m, 15m, shift, day, order) is a sum of whole bins, which is why totals do not
depend on the window size: the split happens once, here, and every window adds the same pieces.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .increments import Increments


@dataclass
class Pieces:
    """Per-bin shares of increments, in arrival order.

    ``bin`` is the bin index (start ns // resolution ns), ``amount`` the share of the
    increment's amount, ``covered_ns`` how much of the bin the increment covered.
    """

    bin: np.ndarray
    meter: np.ndarray
    amount: np.ndarray
    covered_ns: np.ndarray

    @classmethod
    def empty(cls) -> Pieces:
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int32), np.zeros(0), np.zeros(0, np.int64))

    @classmethod
    def concat(cls, parts: list[Pieces]) -> Pieces:
        if not parts:
            return cls.empty()
        return cls(
            np.concatenate([p.bin for p in parts]),
            np.concatenate([p.meter for p in parts]),
            np.concatenate([p.amount for p in parts]),
            np.concatenate([p.covered_ns for p in parts]),
        )

    def select(self, mask: np.ndarray) -> Pieces:
        return Pieces(self.bin[mask], self.meter[mask], self.amount[mask], self.covered_ns[mask])

    def __len__(self) -> int:
        return len(self.bin)


def split_into_bins(inc: Increments, resolution_ns: int) -> Pieces:
    """Share each increment over the bins it spans, pro rata to the time in each bin."""
    if len(inc) == 0:
        return Pieces.empty()
    first = inc.start // resolution_ns
    last = (inc.end - 1) // resolution_ns
    count = last - first + 1
    source = np.repeat(np.arange(len(inc)), count)
    # k-th bin of each increment: running index within each repeated group
    offsets = np.arange(len(source)) - np.repeat(np.cumsum(count) - count, count)
    bins = first[source] + offsets
    begin = np.maximum(inc.start[source], bins * resolution_ns)
    finish = np.minimum(inc.end[source], (bins + 1) * resolution_ns)
    covered = finish - begin
    span = (inc.end - inc.start)[source]
    share = np.where(count[source] == 1, 1.0, covered / span)
    return Pieces(bins, inc.meter[source], inc.amount[source] * share, covered)
