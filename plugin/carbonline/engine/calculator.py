"""Finalised bins → per line and per machine energy and CO₂e.

For each bin (base interval) the calculator turns the metered amounts into:

- electricity kWh × the grid factor in force (location-based and market-based, kg CO₂e/kWh),
  multiplied per bin, i.e. at the finer of reading and factor resolution down to the base
  resolution, then summed by the windows;
- fuel in its unit × net calorific value (kWh) and × its emission factor (kg CO₂e, Scope 1);
- good units (a good-unit counter, or a total counter minus a scrap counter) and scrap units
  (a scrap counter: the quality rate);
- shared utilities and the site meter's unmetered remainder allocated to lines by their key.

The result is two small tables per batch of bins, one row per (bin, line) and one per (bin,
line, machine); windows are sums of these rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..plant import ROLE, PlantModel
from ..records import NS_PER_S, to_ns
from .allocation import allocation_weights

#: Columns of a line result: energies kWh, emissions kg CO₂e, good and scrap units, coverage ns.
LINE_COLUMNS = (
    "electricity_kwh",
    "fuel_kwh",
    "scope1_co2e_kg",
    "scope2_location_co2e_kg",
    "scope2_market_co2e_kg",
    "good_units",
    "scrap_units",
    "covered_ns",
)
#: Columns of a machine result: energy kWh, kg CO₂e, and the machine's whole energy in the bin
#: (for a shared machine, before allocation), so a window's allocated share is a ratio of sums.
MACHINE_COLUMNS = ("energy_kwh", "co2e_kg", "machine_energy_kwh")

_ELECTRIC = (ROLE["energy_counter"], ROLE["interval_energy"], ROLE["power"])
_UNIT_SIGN = {ROLE["units_counter"]: 1.0, ROLE["total_counter"]: 1.0, ROLE["scrap_counter"]: -1.0}

#: The calculation's version, recorded with every audit ledger entry: bump it whenever a
#: formula here or in the windows changes what a window's numbers would be.
CALC_VERSION = "1"


@dataclass
class Cells:
    """Metered amounts per (bin, meter), aggregated; see :class:`carbonline.engine.bins.Pieces`."""

    bin: np.ndarray
    meter: np.ndarray
    amount: np.ndarray
    covered_ns: np.ndarray


@dataclass
class BinDetail:
    """What went into a batch of bin results, kept only when asked (the audit ledger retraces
    every window to its meters from it): the cells, the factors per bin (kg CO₂e/kWh; market
    after certificates and contracts) and each allocation's weights per bin × served line."""

    cells: Cells
    bins: np.ndarray  # unique bins, ascending; ``ef_*`` and weights are per these
    ef_location: np.ndarray
    ef_market: np.ndarray
    weights: list[tuple[_Allocation, np.ndarray]]  # shared machines, then the site meter's
    remainder: np.ndarray | None  # site meter kWh minus sub-meters per bin (0: no main reading)


@dataclass
class BinResults:
    """Per (bin, line) and per (bin, line, machine) results; ``machine == n_machines`` is the
    site meter's unmetered remainder."""

    line_keys: np.ndarray  # (n, 2) i8: bin, line
    line_values: np.ndarray  # (n, len(LINE_COLUMNS)) f8
    machine_keys: np.ndarray  # (m, 3) i8: bin, line, machine
    machine_values: np.ndarray  # (m, len(MACHINE_COLUMNS)) f8
    detail: BinDetail | None = None


@dataclass(frozen=True)
class _Allocation:
    machine: int
    lines: np.ndarray
    key: str
    shares: np.ndarray | None


class Calculator:
    """Pure computation over finalised bins; holds only what the plant model implies."""

    def __init__(self, plant: PlantModel) -> None:
        self.plant = plant
        cfg = plant.config
        self.n_lines = len(plant.lines)
        self.resolution_ns = int(cfg.engine.resolution) * NS_PER_S
        self.instruments = [
            (to_ns(i.valid_from), to_ns(i.valid_to),
             i.mwh * 1000 / (to_ns(i.valid_to) - to_ns(i.valid_from)), i.kg_per_kwh)
            for i in cfg.factors.instruments
        ]
        self.n_machines = len(plant.machines)
        line_ix = {name: i for i, name in enumerate(plant.lines)}
        machine_ix = {name: i for i, name in enumerate(plant.machines)}
        self.allocations = [
            _Allocation(
                machine_ix[a.machine],
                np.array([line_ix[n] for n in a.lines]),
                a.key,
                None if a.shares is None else np.array([a.shares.get(n, 0.0) for n in a.lines]),
            )
            for a in cfg.shared
        ]
        self.main = None
        if cfg.main_meter is not None:
            mm = cfg.main_meter
            self.main = _Allocation(
                self.n_machines,
                np.arange(self.n_lines),
                mm.key,
                None if mm.shares is None else np.array([mm.shares.get(n, 0.0) for n in plant.lines]),
            )
        # per meter: what it measures (the hot path indexes these instead of testing roles)
        self.electric = np.isin(plant.role, _ELECTRIC)
        self.fuel = plant.role == ROLE["fuel_counter"]
        self.unit_sign = np.zeros(len(plant.meters))  # good units: +1 good/total, -1 scrap
        for code, sign in _UNIT_SIGN.items():
            self.unit_sign[plant.role == code] = sign
        # a line with a good-unit counter has its scrap taken off already: its scrap counter
        # only tells the quality rate (subtracting it again undercounts every scrapped unit)
        self.scrap = plant.role == ROLE["scrap_counter"]
        counted = np.unique(plant.line[(plant.role == ROLE["units_counter"]) & (plant.line >= 0)])
        self.unit_sign[self.scrap & np.isin(plant.line, counted)] = 0.0
        # per machine: 1 in its own line's column (shared machines have none)
        self.own = plant.machine_line >= 0
        self.own_line = np.zeros((self.n_machines, self.n_lines))
        self.own_line[np.flatnonzero(self.own), plant.machine_line[self.own]] = 1.0
        # which meters' coverage counts for which line: its own electricity and fuel meters,
        # or, for a line without any, the shared meters serving it
        metered = (self.electric | self.fuel) & (plant.machine >= 0)
        own = [np.flatnonzero(metered & (plant.line == li)) for li in range(self.n_lines)]
        pairs: list[tuple[int, int]] = []
        for li in range(self.n_lines):
            meters = own[li]
            if len(meters) == 0:
                served_by = [a.machine for a in self.allocations if li in a.lines]
                meters = np.flatnonzero(metered & np.isin(plant.machine, served_by))
            pairs.extend((int(m), li) for m in meters)
        cover_meter = np.array([p[0] for p in pairs], dtype=np.int64)
        cover_line = np.array([p[1] for p in pairs], dtype=np.int64)
        self.coverage_meters_per_line = np.bincount(cover_line, minlength=self.n_lines)
        self.counts_for_line = np.zeros((len(plant.meters), self.n_lines), bool)  # meter × line
        self.counts_for_line[cover_meter, cover_line] = True

    def compute(self, cells: Cells, ef_location: np.ndarray, ef_market: np.ndarray,
                detail: bool = False) -> BinResults:
        """Results for the bins present in ``cells``; ``ef_*`` are kg CO₂e/kWh per unique bin.
        With ``detail``, the results carry what went into them (:class:`BinDetail`)."""
        plant = self.plant
        bins, pos = np.unique(cells.bin, return_inverse=True)
        nb = len(bins)
        machine = plant.machine[cells.meter]
        electric = self.electric[cells.meter]
        fuel = self.fuel[cells.meter]
        is_main = cells.meter == plant.main_meter

        def dense(mask: np.ndarray, cols: np.ndarray, width: int, values: np.ndarray) -> np.ndarray:
            out = np.zeros((nb, width))
            np.add.at(out, (pos[mask], cols[mask]), values[mask])
            return out

        # per bin × machine: electricity kWh, fuel kWh (NCV) and Scope 1 kg CO₂e
        sub = (electric | fuel) & ~is_main
        elec = dense(sub & electric, machine, self.n_machines, cells.amount)
        fuel_kwh = dense(sub & fuel, machine, self.n_machines, cells.amount * plant.fuel_ncv[cells.meter])
        scope1 = dense(sub & fuel, machine, self.n_machines, cells.amount * plant.fuel_co2e[cells.meter])
        sign = self.unit_sign[cells.meter]
        units = dense(sign != 0, plant.line[cells.meter], self.n_lines, cells.amount * sign)
        scrap = dense(self.scrap[cells.meter], plant.line[cells.meter], self.n_lines,
                      cells.amount)
        covered = np.zeros((nb, self.n_lines))
        for li in range(self.n_lines):
            mask = self.counts_for_line[cells.meter, li]
            np.add.at(covered[:, li], pos[mask], cells.covered_ns[mask].astype(float))

        # own machines belong to their line with share 1; shared ones and the unmetered
        # remainder are allocated per bin by their key
        line_elec = elec @ self.own_line
        line_fuel = fuel_kwh @ self.own_line
        line_s1 = scope1 @ self.own_line
        blocks = [self._own_machine_rows(bins, elec, fuel_kwh, scope1, ef_location, self.own)]
        allocated = [(a, elec[:, a.machine], fuel_kwh[:, a.machine], scope1[:, a.machine])
                     for a in self.allocations]
        remainder = None
        if self.main is not None:
            main = dense(is_main, np.zeros(len(cells.meter), np.int64), 1, cells.amount)[:, 0]
            has_main = np.zeros(nb, bool)
            has_main[pos[is_main]] = True
            remainder = np.where(has_main, main - elec.sum(axis=1), 0.0)
            allocated.append((self.main, remainder, np.zeros(nb), np.zeros(nb)))
        used = []
        for alloc, e, f, s1 in allocated:
            weights = allocation_weights(alloc.key, units[:, alloc.lines], alloc.shares)
            used.append((alloc, weights))
            line_elec[:, alloc.lines] += e[:, None] * weights
            line_fuel[:, alloc.lines] += f[:, None] * weights
            line_s1[:, alloc.lines] += s1[:, None] * weights
            blocks.append(self._allocated_rows(bins, alloc, weights, e, f, s1, ef_location))

        ef_market = self._with_instruments(bins, line_elec.sum(axis=1), ef_market)
        line_values = np.stack(
            [
                line_elec,
                line_fuel,
                line_s1,
                line_elec * ef_location[:, None],
                line_elec * ef_market[:, None],
                units,
                scrap,
                covered,
            ],
            axis=2,
        )  # bins × lines × columns
        present = (line_elec != 0) | (line_fuel != 0) | (line_s1 != 0) | (units != 0) | (covered > 0)
        b_ix, l_ix = np.nonzero(present)
        keys = np.concatenate([b[0] for b in blocks])
        values = np.concatenate([b[1] for b in blocks])
        order = np.lexsort((keys[:, 2], keys[:, 1], keys[:, 0]))
        return BinResults(
            np.stack([bins[b_ix], l_ix], axis=1).astype(np.int64),
            line_values[b_ix, l_ix],
            keys[order],
            values[order],
            BinDetail(cells, bins, ef_location, ef_market, used, remainder) if detail else None,
        )

    def _with_instruments(self, bins: np.ndarray, site_kwh: np.ndarray,
                          ef_market: np.ndarray) -> np.ndarray:
        """The market-based factor per bin once certificates and contracts have covered what
        their volume allows (spread evenly over their validity, in the order configured); the
        rest of the bin's electricity keeps the supplier, residual-mix or grid factor."""
        if not self.instruments:
            return ef_market
        start = bins * self.resolution_ns
        remaining = np.clip(site_kwh, 0.0, None)
        kg = np.zeros(len(bins))
        for begin, end, kwh_per_ns, factor in self.instruments:
            overlap = np.clip(np.minimum(start + self.resolution_ns, end) - np.maximum(start, begin),
                              0, None)
            covered = np.minimum(remaining, kwh_per_ns * overlap)
            kg += covered * factor
            remaining -= covered
        kg += remaining * ef_market
        total = np.clip(site_kwh, 0.0, None)
        return np.where(total > 0, kg / np.where(total > 0, total, 1.0), ef_market)

    def _own_machine_rows(
        self, bins: np.ndarray, elec: np.ndarray, fuel_kwh: np.ndarray, scope1: np.ndarray,
        ef_location: np.ndarray, own: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(bin, line, machine) rows for machines that belong to one line."""
        b_ix, m_ix = np.nonzero(((elec != 0) | (fuel_kwh != 0) | (scope1 != 0)) & own[None, :])
        energy = elec[b_ix, m_ix] + fuel_kwh[b_ix, m_ix]
        co2e = scope1[b_ix, m_ix] + elec[b_ix, m_ix] * ef_location[b_ix]
        keys = np.stack([bins[b_ix], self.plant.machine_line[m_ix], m_ix], axis=1).astype(np.int64)
        return keys, np.stack([energy, co2e, energy], axis=1)

    def _allocated_rows(
        self, bins: np.ndarray, alloc: _Allocation, weights: np.ndarray, e: np.ndarray,
        f: np.ndarray, s1: np.ndarray, ef_location: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(bin, line, machine) rows for a shared machine or the unmetered remainder."""
        b_ix, k_ix = np.nonzero(((e != 0) | (f != 0) | (s1 != 0))[:, None] & (weights > 0))
        w = weights[b_ix, k_ix]
        total = e[b_ix] + f[b_ix]
        co2e = (s1[b_ix] + e[b_ix] * ef_location[b_ix]) * w
        keys = np.stack(
            [bins[b_ix], alloc.lines[k_ix], np.full(len(b_ix), alloc.machine)], axis=1
        ).astype(np.int64)
        return keys, np.stack([total * w, co2e, total], axis=1)
