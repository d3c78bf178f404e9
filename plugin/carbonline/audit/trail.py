"""The engine's audit observer: per-window meter detail in, one ledger entry per emitted row out.

Attached as :attr:`Engine.observer <carbonline.engine.accumulator.Engine.observer>`, it sees
each bin result with its detail and sums the terms (:mod:`.shares`) into the same windows the
engine sums its results into (the engine's own placement, ``WindowBook.place``), revisions
included (a revision takes the old bins away and adds the new, as the engine does). When the
engine emits a ``carbon_intensity`` (or ``carbon_order``) row, the trail turns that window's
detail into a ledger entry: per meter its amount and the line's part of it, the electricity
per factor segment, the factors' provenance, the allocation keys, the calculation version and
the row's result. The trail holds no file: :class:`carbonline.audit.sink.LedgerSink` drains it.

It travels with the engine in a state store checkpoint, so open windows keep their detail
across a restart.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np

from .. import __version__
from ..engine.calculator import CALC_VERSION, BinResults
from ..plant import ROLE_CODES, UNMETERED
from ..records import NS_PER_S, IntensityRow, MachineRow, Row
from .shares import meter_shares

#: Row attributes that are not the engine's result (tags, or set later by the analyser).
_NOT_RESULT = {"site", "line", "sku", "shift", "window", "order_id", "revision",
               "baseline_co2e_per_unit_kg", "deviation_pct", "threshold_co2e_per_unit_kg"}
#: Derived results kept with the stored ones, so a reader needs no carbonline to see them.
_DERIVED = ("energy_kwh", "co2e_kg", "co2e_per_unit_kg")

WindowKey = tuple[str, int, int, int]  # kind, start ns, line index, SKU code


@dataclass
class WindowDetail:
    """One line × SKU window's terms: per meter [amount, attributed, covered ns], and per
    (location, market) factor pair [kWh, first bin, last bin]."""

    end: int  # ns; −1 for an order still running (until its row is written)
    meters: dict[int, np.ndarray] = field(default_factory=dict)
    segments: dict[tuple[float, float], list[float]] = field(default_factory=dict)


def utc(ns: int) -> str:
    """ns since the epoch as RFC 3339 UTC, to the second."""
    return datetime.fromtimestamp(ns // NS_PER_S, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class AuditTrail:
    """Observer of one engine; ``drain()`` hands over the ledger entries made since."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.windows: dict[WindowKey, WindowDetail] = {}
        self.pending: list[dict] = []

    # --- the observer protocol (called by the engine) ----------------------------------------

    def added(self, results: BinResults, sign: float) -> None:
        """Sum a bin result's terms into its windows (``sign`` −1 takes a revision's old
        bins away)."""
        engine = self.engine
        shares = meter_shares(engine.calculator, results.detail)
        if not len(shares):
            return
        book = engine.book
        electric = engine.calculator.electric[shares.meter]
        columns = np.stack([shares.amount, shares.attributed, shares.covered_ns], axis=1) * sign
        for kind, mask, starts, ends, skus, _ in book.place(
                shares.bin, shares.line, book.kinds, book.calendar_for(shares.bin)):
            rows = np.arange(len(shares))[mask]
            keys = np.stack([starts[rows], shares.line[rows], skus[rows], shares.meter[rows]], 1)
            self._sum_meters(kind, keys, ends[rows], columns[rows])
            el = rows[electric[rows]]
            if len(el):
                self._sum_segments(kind, starts[el], ends[el], shares.line[el], skus[el],
                                   shares.ef_location[el], shares.ef_market[el],
                                   shares.attributed[el] * sign, shares.bin[el])

    def closed(self, rows: list[Row]) -> None:
        """Make a ledger entry for every intensity/order row the engine emitted."""
        machines: dict[tuple, list[dict]] = {}
        for row in rows:
            if isinstance(row, MachineRow):
                machines.setdefault((row.window.kind, row.window.start, row.line, row.sku),
                                    []).append(_machine_result(row))
        line_ix = {name: i for i, name in enumerate(self.engine.plant.lines)}
        sku_ix = {name: i for i, name in enumerate(self.engine.timelines.sku_names)}
        for row in rows:
            if not isinstance(row, IntensityRow):
                continue
            key = (row.window.kind, row.window.start, line_ix[row.line], sku_ix[row.sku])
            detail = self.windows.get(key)
            if detail is None:  # a window with no metered term (nothing but coverage gaps)
                detail = self.windows[key] = WindowDetail(row.window.end)
            detail.end = row.window.end  # an order's end is known once it is written
            tags = (row.window.kind, row.window.start, row.line, row.sku)
            self.pending.append(self._entry(row, detail, machines.get(tags, [])))

    def pruned(self, before: int) -> None:
        """Forget windows that ended before ``before`` ns, as the engine does (also those it
        never wrote: a shared utility's zero share in a minute the line had no row)."""
        gone = [k for k, d in self.windows.items() if 0 <= d.end < before]
        for key in gone:
            del self.windows[key]

    def drain(self) -> list[dict]:
        """The entries made since the last call, in emission order."""
        out, self.pending = self.pending, []
        return out

    # --- sums ---------------------------------------------------------------------------------

    def _sum_meters(self, kind: str, keys: np.ndarray, ends: np.ndarray,
                    columns: np.ndarray) -> None:
        if not len(keys):
            return
        unique, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
        sums = np.zeros((len(unique), columns.shape[1]))
        np.add.at(sums, inverse.ravel(), columns)
        for (start, line, sku, meter), end, total in zip(unique.tolist(), ends[first].tolist(),
                                                        sums):
            detail = self._window((kind, start, line, sku), end)
            held = detail.meters.get(meter)
            detail.meters[meter] = total if held is None else held + total

    def _sum_segments(self, kind: str, starts, ends, lines, skus, ef_loc, ef_mkt, kwh,
                      bins) -> None:
        keys = np.stack([starts, lines, skus, ef_loc.view(np.int64), ef_mkt.view(np.int64)], 1)
        unique, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
        inverse = inverse.ravel()
        sums = np.bincount(inverse, weights=kwh, minlength=len(unique))
        low = np.full(len(unique), np.iinfo(np.int64).max)
        high = np.full(len(unique), np.iinfo(np.int64).min)
        np.minimum.at(low, inverse, bins)
        np.maximum.at(high, inverse, bins)
        for i, (start, line, sku, _, _) in enumerate(unique.tolist()):
            detail = self._window((kind, start, line, sku), int(ends[first[i]]))
            pair = (float(ef_loc[first[i]]), float(ef_mkt[first[i]]))
            held = detail.segments.get(pair)
            if held is None:
                detail.segments[pair] = [float(sums[i]), int(low[i]), int(high[i])]
            else:
                held[0] += float(sums[i])
                held[1], held[2] = min(held[1], int(low[i])), max(held[2], int(high[i]))

    def _window(self, key: WindowKey, end: int) -> WindowDetail:
        detail = self.windows.get(key)
        if detail is None:
            detail = self.windows[key] = WindowDetail(end)
        return detail

    # --- entries ------------------------------------------------------------------------------

    def _entry(self, row: IntensityRow, detail: WindowDetail, machines: list[dict]) -> dict:
        engine = self.engine
        plant = engine.plant
        cfg = plant.config
        res = engine.res
        window = row.window
        result = {f.name: getattr(row, f.name) for f in dataclasses.fields(row)
                  if f.name not in _NOT_RESULT}
        result.update({k: getattr(row, k) for k in _DERIVED})
        segments = [
            {"from": lo * res, "to": (hi + 1) * res, "kwh": kwh,
             "location_kg_per_kwh": loc, "market_kg_per_kwh": mkt}
            for (loc, mkt), (kwh, lo, hi) in sorted(detail.segments.items(),
                                                    key=lambda item: item[1][1])
        ]
        return {
            "site": row.site, "line": row.line, "sku": row.sku, "shift": row.shift,
            "order_id": row.order_id, "revision": row.revision,
            "window": {"kind": window.kind, "start": window.start, "end": window.end,
                       "start_utc": utc(window.start), "end_utc": utc(window.end)},
            "calculation": {"carbonline": __version__, "calc_version": CALC_VERSION,
                            "resolution_s": res // NS_PER_S, "gwp": cfg.factors.gwp},
            "meters": [self._meter(m, v) for m, v in sorted(detail.meters.items())],
            "factors": {
                "zone": cfg.site.grid_zone,
                **{f.provenance.basis: dataclasses.asdict(f.provenance)
                   for f in engine.book.factor_rows(window.start)},
                "instruments": [
                    {"name": i.name, "valid_from": i.valid_from.isoformat(),
                     "valid_to": i.valid_to.isoformat(), "mwh": i.mwh,
                     "kg_per_kwh": i.kg_per_kwh}
                    for i in cfg.factors.instruments
                    if i.valid_from.timestamp() * NS_PER_S < window.end
                    and i.valid_to.timestamp() * NS_PER_S > window.start],
                "segments": segments,
            },
            "result": result,
            "machines": machines,
        }

    def _meter(self, index: int, values: np.ndarray) -> dict:
        """A meter's terms in a window, with what the recomputation needs to use them."""
        plant = self.engine.plant
        calc = self.engine.calculator
        cfg = plant.config
        meter = plant.meters[index]
        amount, attributed, covered = (float(v) for v in values)
        machine = int(plant.machine[index])
        entry: dict = {
            "meter": meter.id, "role": ROLE_CODES[plant.role[index]],
            "machine": plant.machines[machine] if machine >= 0 else "",
            "amount": amount, "attributed": attributed, "covered_s": covered / NS_PER_S,
        }
        if index == plant.main_meter:
            entry.update(machine=UNMETERED, term="unmetered_remainder", unit="kWh",
                         allocation={"key": cfg.main_meter.key, "shares": cfg.main_meter.shares})
        elif calc.electric[index]:
            entry.update(term="electricity", unit="kWh")
        elif calc.fuel[index]:
            fuel = cfg.fuels[meter.fuel]
            configured = fuel.ncv_kwh_per_unit is not None and fuel.co2e_kg_per_unit is not None
            entry.update(term="fuel", unit=fuel.unit, fuel=meter.fuel,
                         ncv_kwh_per_unit=float(plant.fuel_ncv[index]),
                         co2e_kg_per_unit=float(plant.fuel_co2e[index]),
                         factor_source=f"plant.toml [fuels.{meter.fuel}]" if configured else
                         f"IPCC 2006 Vol. 2 defaults (Ch. 2 Table 2.3, Ch. 1 Table 1.2), "
                         f"GWP {cfg.factors.gwp}")
        else:
            entry.update(term="units", unit="units", sign=float(calc.unit_sign[index]),
                         scrap=bool(calc.scrap[index]))
        shared = [a for a in cfg.shared if a.machine == entry["machine"]]
        if shared:
            entry["allocation"] = {"key": shared[0].key, "shares": shared[0].shares,
                                   "lines": shared[0].lines}
        return entry


def _machine_result(row: MachineRow) -> dict:
    return {"machine": row.machine, "energy_kwh": row.energy_kwh, "co2e_kg": row.co2e_kg,
            "allocated_share": row.allocated_share, "revision": row.revision}
