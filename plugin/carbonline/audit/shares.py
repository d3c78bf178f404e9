"""Bin detail → who got what of each metered amount: one row per (bin, meter, line).

The calculator sums meters into lines; the audit ledger needs the sum's terms. Each row says
how much a meter measured in a bin (``amount``: kWh for electricity, the fuel's unit for fuel,
units for counters) and how much of it went to a line (``attributed``: all of it for a line's
own machines and counters, the allocation key's weight of it for a shared utility and for the
site meter's unmetered remainder). The same weights as the calculator's are used (it hands them
over in :class:`~carbonline.engine.calculator.BinDetail`), so the terms add up to its results.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..engine.calculator import BinDetail, Calculator


@dataclass
class MeterShares:
    """Per (bin, meter, line): the meter's amount, the line's part of it, the coverage it
    counts for the line (ns) and the factors of the bin (kg CO₂e/kWh)."""

    bin: np.ndarray  # i8
    meter: np.ndarray  # i8; the site meter's index for its unmetered remainder
    line: np.ndarray  # i8
    amount: np.ndarray  # f8, meter unit (kWh, fuel unit, units)
    attributed: np.ndarray  # f8, same unit
    covered_ns: np.ndarray  # f8
    ef_location: np.ndarray  # f8
    ef_market: np.ndarray  # f8

    def __len__(self) -> int:
        return len(self.bin)


def meter_shares(calc: Calculator, detail: BinDetail) -> MeterShares:
    """Split every cell of ``detail`` over the lines it counts for."""
    plant = calc.plant
    cells = detail.cells
    pos = np.searchsorted(detail.bins, cells.bin)
    meter = cells.meter.astype(np.int64)
    machine = plant.machine[meter]
    metered = (calc.electric[meter] | calc.fuel[meter]) & (meter != plant.main_meter)
    own = metered & (machine >= 0) & calc.own[np.maximum(machine, 0)]
    counters = (calc.unit_sign[meter] != 0) | calc.scrap[meter]
    direct = own | counters
    parts = [(np.flatnonzero(direct), np.where(own, plant.machine_line[np.maximum(machine, 0)],
                                               plant.line[meter])[direct], None)]
    for alloc, weights in detail.weights:
        if alloc.machine == calc.n_machines:  # the site meter's remainder, below
            continue
        ix = np.flatnonzero(metered & (machine == alloc.machine))
        for k, line in enumerate(alloc.lines):
            parts.append((ix, np.full(len(ix), line), weights[pos[ix], k]))
    shares = [_rows(detail, pos, meter, cells.amount, cells.covered_ns, ix, lines, w, calc)
              for ix, lines, w in parts]
    if detail.remainder is not None:
        shares.append(_remainder(calc, detail))
    return MeterShares(*(np.concatenate([getattr(s, f) for s in shares])
                         for f in MeterShares.__dataclass_fields__))


def _rows(detail: BinDetail, pos: np.ndarray, meter: np.ndarray, amount: np.ndarray,
          covered: np.ndarray, ix: np.ndarray, lines: np.ndarray, weight: np.ndarray | None,
          calc: Calculator) -> MeterShares:
    m = meter[ix]
    p = pos[ix]
    counts = calc.counts_for_line[m, lines]
    return MeterShares(
        detail.cells.bin[ix].astype(np.int64), m, lines.astype(np.int64), amount[ix],
        amount[ix] if weight is None else amount[ix] * weight,
        np.where(counts, covered[ix], 0).astype(float),
        detail.ef_location[p], detail.ef_market[p])


def _remainder(calc: Calculator, detail: BinDetail) -> MeterShares:
    """The site meter's unmetered remainder (its kWh minus the sub-meters') per bin and line,
    by the main meter's key."""
    (weights,) = [w for a, w in detail.weights if a.machine == calc.n_machines]
    lines = calc.main.lines
    nb, nl = len(detail.bins), len(lines)
    b = np.repeat(np.arange(nb), nl)
    k = np.tile(np.arange(nl), nb)
    amount = detail.remainder[b]
    keep = amount != 0
    b, k, amount = b[keep], k[keep], amount[keep]
    return MeterShares(
        detail.bins[b].astype(np.int64), np.full(len(b), calc.plant.main_meter, np.int64),
        lines[k].astype(np.int64), amount, amount * weights[b, k], np.zeros(len(b)),
        detail.ef_location[b], detail.ef_market[b])
