"""Production context per line: which SKU and order ran in which bin.

A SKU or order change takes effect at the nearest bin boundary (``engine.resolution``, 1 min by
default; set a finer resolution for finer changeovers), so every bin belongs to exactly one SKU
and one order per line, and a window that spans a changeover is split into one row per SKU.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

import numpy as np

UNKNOWN_SKU = "unknown"
NO_ORDER = ""


@dataclass
class Timeline:
    """One line's context changes, in bin order. Entry 0 holds from the beginning of time."""

    change_bin: list[int] = field(default_factory=lambda: [np.iinfo(np.int64).min])
    sku: list[int] = field(default_factory=lambda: [0])
    order: list[int] = field(default_factory=lambda: [0])
    run_start: list[int] = field(default_factory=lambda: [np.iinfo(np.int64).min])

    def at(self, bins: np.ndarray) -> np.ndarray:
        """Index of the entry in force at each bin."""
        return np.searchsorted(np.asarray(self.change_bin), bins, side="right") - 1


class ContextTimelines:
    """Timelines for every line plus the interned SKU and order names."""

    def __init__(self, n_lines: int) -> None:
        self.lines = [Timeline() for _ in range(n_lines)]
        self.sku_names: list[str] = [UNKNOWN_SKU]
        self.order_names: list[str] = [NO_ORDER]
        self._sku_code = {UNKNOWN_SKU: 0}
        self._order_code = {NO_ORDER: 0}

    def _code(self, names: list[str], codes: dict[str, int], text: str) -> int:
        if text not in codes:
            codes[text] = len(names)
            names.append(text)
        return codes[text]

    def change(self, line: int, bin_: int, sku: str | None = None, order: str | None = None) -> None:
        """Record that from ``bin_`` on, ``line`` runs ``sku`` and/or ``order`` (bins ascending)."""
        tl = self.lines[line]
        new_sku = tl.sku[-1] if sku is None else self._code(self.sku_names, self._sku_code, sku)
        new_order = (
            tl.order[-1] if order is None else self._code(self.order_names, self._order_code, order)
        )
        if new_sku == tl.sku[-1] and new_order == tl.order[-1]:
            return
        if tl.change_bin[-1] == bin_:  # two changes snapped to the same boundary: last wins
            tl.change_bin.pop()
            tl.sku.pop()
            tl.order.pop()
            tl.run_start.pop()
            if new_sku == tl.sku[-1] and new_order == tl.order[-1]:
                return
        same_run = len(tl.order) > 0 and tl.order[-1] == new_order
        tl.change_bin.append(bin_)
        tl.sku.append(new_sku)
        tl.order.append(new_order)
        tl.run_start.append(tl.run_start[-1] if same_run else bin_)

    def sku_bins(self, line: int, start_bin: int, end_bin: int, sku: int) -> int:
        """How many bins of ``[start_bin, end_bin)`` ran ``sku`` on ``line``."""
        tl = self.lines[line]
        first = bisect.bisect_right(tl.change_bin, start_bin) - 1
        count = 0
        for i in range(first, len(tl.change_bin)):
            lo = max(start_bin, tl.change_bin[i])
            if lo >= end_bin:
                break
            hi = tl.change_bin[i + 1] if i + 1 < len(tl.change_bin) else end_bin
            if tl.sku[i] == sku:
                count += max(0, min(hi, end_bin) - lo)
        return count

    def sku_at(self, line: int, bins: np.ndarray) -> np.ndarray:
        tl = self.lines[line]
        return np.asarray(tl.sku)[tl.at(bins)]

    def order_run_at(self, line: int, bins: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Order code and the bin its contiguous run started, for each bin."""
        tl = self.lines[line]
        ix = tl.at(bins)
        return np.asarray(tl.order)[ix], np.asarray(tl.run_start)[ix]

    def order_run_end(self, line: int, run_start: int) -> int | None:
        """First bin after an order run, or ``None`` while it is still running."""
        tl = self.lines[line]
        for b, start in zip(tl.change_bin, tl.run_start):
            if b > run_start and start != run_start:
                return b
        return None
