"""Bin results → windows: the ``1m``/``15m``/… fixed windows, ``shift``, ``day`` and ``order``.

Each window is a running sum of the bin results that fall in it, per line × SKU (and per
machine). Sums are added bin after bin in time order, so the same input gives bit-identical
totals however it was chunked. A window is written when it closes; if a late reading later
changes a closed window inside the revision horizon, the window is written again with the same
time and tags and ``revision`` + 1 (and only if a value actually changed).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from ..plant import ROLE, UNMETERED, PlantModel
from ..records import FactorRow, IntensityRow, MachineRow, Row, Window
from .calculator import LINE_COLUMNS, BinResults
from .calendar import OFF, Segments, SiteCalendar
from .context import ContextTimelines

ORDER = "order"
SHIFT = "shift"
DAY = "day"
ALL_SHIFTS = "all"
FACTOR_WINDOW = "15m"  # carbon_factor points are written per 15-minute window
_COVERED = LINE_COLUMNS.index("covered_ns")
_UNITS = LINE_COLUMNS.index("good_units")


@dataclass(slots=True)
class Aggregate:
    """A window's running sums for one line × SKU (``machine`` −1) or line × machine × SKU."""

    kind: str
    start: int
    end: int | None  # None: an order still running
    line: int
    sku: int
    machine: int
    shift: str
    values: np.ndarray
    revision: int = 0
    emitted: tuple[float, ...] | None = None


Key = tuple[str, int, int, int, int]  # kind, start ns, line, sku, machine


class WindowBook:
    """All open windows and the closed ones still inside the revision horizon."""

    def __init__(
        self,
        plant: PlantModel,
        timelines: ContextTimelines,
        resolution_ns: int,
        factor_at: Callable[[int], float],
        factor_rows: Callable[[int], list[FactorRow]],
        n_coverage_meters: np.ndarray,
    ) -> None:
        self.plant = plant
        self.timelines = timelines
        self.res = resolution_ns
        self.factor_at = factor_at
        self.factor_rows = factor_rows
        self.n_cov = n_coverage_meters
        self._scrap_lines = {int(li) for li in plant.line[plant.role == ROLE["scrap_counter"]]}
        self.calendar = SiteCalendar(plant.config.shifts, plant.config.site.timezone)
        self.fixed = {name: s * 1_000_000_000 for name, s in plant.config.window_sizes.items()}
        # shift windows exist when the plant has a shift calendar
        shifts = [SHIFT] if plant.config.shifts.shifts else []
        self.kinds = [*self.fixed, *shifts, DAY, ORDER]
        machine_fixed = set(plant.config.engine.machine_windows)
        self.machine_kinds = [k for k in self.kinds if k not in self.fixed or k in machine_fixed]
        self.open: dict[Key, Aggregate] = {}
        self.closed: dict[Key, Aggregate] = {}
        self._ends: list[tuple[int, Key]] = []  # heap of (end, key) of open, ended windows
        self._closed_ends: list[tuple[int, Key]] = []  # heap of (end, key) of closed windows
        self._dirty: set[Key] = set()
        self._open_orders: set[Key] = set()
        self._windows: dict[tuple[str, int], Window] = {}

    # --- adding results ------------------------------------------------------------------

    def add(self, results: BinResults, sign: float = 1.0) -> None:
        """Add (or, with ``sign=-1``, take away) bin results from every window they fall in."""
        every_bin = np.concatenate([results.line_keys[:, 0], results.machine_keys[:, 0]])
        if not len(every_bin):
            return
        calendar = self.calendar_for(every_bin)
        if len(results.line_keys):
            lk = results.line_keys
            self._add_rows(lk[:, 0], lk[:, 1], np.full(len(lk), -1), sign * results.line_values,
                           self.kinds, calendar)
        if len(results.machine_keys):
            mk = results.machine_keys
            self._add_rows(mk[:, 0], mk[:, 1], mk[:, 2], sign * results.machine_values,
                           self.machine_kinds, calendar)

    def calendar_for(self, bins: np.ndarray) -> tuple[Segments, Segments]:
        """The shift and day segments spanning ``bins`` (bin indices)."""
        first, last = int(bins.min()) * self.res, int(bins.max()) * self.res + self.res
        return self._shift_segments(first, last), self.calendar.days(first, last)

    def _add_rows(self, bins: np.ndarray, lines: np.ndarray, machines: np.ndarray,
                  values: np.ndarray, kinds: list[str],
                  calendar: tuple[Segments, Segments]) -> None:
        for kind, mask, starts, ends, skus, names in self.place(bins, lines, kinds, calendar):
            self._accumulate(kind, starts[mask], ends[mask], lines[mask], skus[mask],
                             machines[mask], names[mask], values[mask])

    def place(self, bins: np.ndarray, lines: np.ndarray, kinds: list[str],
              calendar: tuple[Segments, Segments]) -> Iterator[tuple]:
        """The window of each kind every (bin, line) falls in: per kind, ``(kind, mask,
        starts, ends, skus, names)`` — rows outside ``mask`` have none (bins outside an
        order); ``ends`` is −1 for an order still running, ``names`` the shift tag. Shared by
        the windows' sums and the audit ledger's per-meter detail, so both place alike."""
        sku = np.zeros(len(bins), np.int64)
        order = np.zeros(len(bins), np.int64)
        run = np.zeros(len(bins), np.int64)
        for line in np.unique(lines):
            mask = lines == line
            sku[mask] = self.timelines.sku_at(int(line), bins[mask])
            order[mask], run[mask] = self.timelines.order_run_at(int(line), bins[mask])
        times = bins * self.res
        shifts, days = calendar
        shift_names = np.asarray(shifts.names, dtype=object)
        for kind in kinds:
            mask: slice | np.ndarray = slice(None)  # every row, except for orders
            if kind in self.fixed:  # tagged with the shift the window starts in
                size = self.fixed[kind]
                starts = times - times % size
                ends = starts + size
                names = shift_names[shifts.index(starts)]
            elif kind == SHIFT:
                ix = shifts.index(times)
                starts, ends = shifts.starts[ix], shifts.starts[ix + 1]
                names = shift_names[ix]
            elif kind == DAY:
                ix = days.index(times)
                starts, ends = days.starts[ix], days.starts[ix + 1]
                names = np.full(len(bins), ALL_SHIFTS, dtype=object)
            else:
                mask = order != 0
                starts = run * self.res
                ends = np.full(len(bins), -1, np.int64)
                names = np.full(len(bins), "", dtype=object)
            yield kind, mask, starts, ends, sku, names

    def _shift_segments(self, start: int, end: int) -> Segments:
        if SHIFT not in self.kinds:  # no calendar: one endless "off" stretch
            return Segments(np.array([start, end + 1], np.int64), (OFF, OFF))
        return self.calendar.shifts(start, end)

    def _accumulate(self, kind: str, starts, ends, lines, skus, machines, names, values) -> None:
        if len(starts) == 0:
            return
        # one integer per (start, line, sku, machine): a 1-d unique is far faster than axis=0
        offset = starts // self.res - starts.min() // self.res
        n_line, n_sku, n_machine = int(lines.max()) + 1, int(skus.max()) + 1, int(machines.max()) + 2
        code = ((offset * n_line + lines) * n_sku + skus) * n_machine + machines + 1
        _, first, inverse = np.unique(code, return_index=True, return_inverse=True)
        sums = np.zeros((len(first), values.shape[1]))
        aggs: list[Aggregate] = []
        for i, (start, line, sku, machine) in enumerate(zip(
                starts[first].tolist(), lines[first].tolist(), skus[first].tolist(),
                machines[first].tolist())):
            key = (kind, start, line, sku, machine)
            agg = self.open.get(key) or self.closed.get(key)
            if agg is None:
                end = int(ends[first[i]])
                agg = Aggregate(kind, start, None if end < 0 else end, line, sku, machine,
                                str(names[first[i]]), np.zeros(values.shape[1]))
                self.open[key] = agg
                if agg.end is not None:
                    heapq.heappush(self._ends, (agg.end, key))
                else:
                    self._open_orders.add(key)
            elif key in self.closed:
                self._dirty.add(key)
            sums[i] = agg.values
            aggs.append(agg)
        np.add.at(sums, inverse, values)  # sequential: prior sum first, then bins in order
        for agg, total in zip(aggs, sums):
            agg.values = total

    # --- closing ---------------------------------------------------------------------------

    def close(self, boundary: int, everything: bool = False) -> list[Row]:
        """Rows for windows ending at or before ``boundary`` ns (all, at end of input), plus new
        revisions of closed windows that changed."""
        closing: list[Key] = []
        while self._ends and (everything or self._ends[0][0] <= boundary):
            _, key = heapq.heappop(self._ends)
            if key in self.open:
                closing.append(key)
        for key in sorted(self._open_orders):
            agg = self.open[key]
            end_bin = self.timelines.order_run_end(agg.line, agg.start // self.res)
            if end_bin is not None and end_bin * self.res <= boundary:
                agg.end = end_bin * self.res
            elif everything:
                agg.end = boundary
            else:
                continue
            self._open_orders.discard(key)
            closing.append(key)
        for key in closing:
            agg = self.closed[key] = self.open.pop(key)
            heapq.heappush(self._closed_ends, (int(agg.end), key))
        emit = set(closing) | self._dirty
        self._dirty.clear()
        rank = {kind: i for i, kind in enumerate(self.kinds)}
        rows: list[tuple[tuple, Row]] = []
        for key in emit:
            agg = self.closed[key]
            values = agg.values.tolist()
            state = tuple(values)
            if state == agg.emitted:
                continue
            agg.emitted = state
            agg.revision += 1
            order_key = (agg.end, rank[agg.kind], agg.start, agg.machine >= 0, agg.line, agg.sku,
                         agg.machine)
            rows.append((order_key, self._row(agg, values)))
        # the grid factor of every newly closed 15-minute window, after that window's rows
        for start, end in sorted({(agg.start, agg.end) for agg in map(self.closed.get, closing)
                                  if agg.kind == FACTOR_WINDOW}):
            for i, row in enumerate(self.factor_rows(start)):
                rows.append(((end, rank[FACTOR_WINDOW], start, 2, i, 0, 0), row))
        rows.sort(key=lambda pair: pair[0])
        return [row for _, row in rows]

    def prune(self, before: int) -> None:
        """Forget closed windows that ended before ``before`` ns (past the revision horizon)."""
        while self._closed_ends and self._closed_ends[0][0] < before:
            _, key = heapq.heappop(self._closed_ends)
            self.closed.pop(key, None)
            self._windows.pop(key[:2], None)

    # --- rows ------------------------------------------------------------------------------

    def _row(self, agg: Aggregate, values: list[float]) -> Row:
        plant = self.plant
        window = self._windows.get((agg.kind, agg.start))
        if window is None or window.end != agg.end:  # one Window object per window, shared
            window = self._windows[(agg.kind, agg.start)] = Window(agg.kind, agg.start,
                                                                   int(agg.end))
        sku = self.timelines.sku_names[agg.sku]
        line = plant.lines[agg.line]
        if agg.machine >= 0:
            energy, co2e, machine_energy = values
            line_agg = self.closed.get((agg.kind, agg.start, agg.line, agg.sku, -1))
            units = float(line_agg.values[_UNITS]) if line_agg is not None else 0.0
            name = plant.machines[agg.machine] if agg.machine < len(plant.machines) else UNMETERED
            return MachineRow(
                site=plant.site, line=line, machine=name, sku=sku, window=window,
                energy_kwh=energy, co2e_kg=co2e, good_units=units,
                allocated_share=energy / machine_energy if machine_energy else 1.0,
                revision=agg.revision,
            )
        elec, fuel, s1, s2l, s2m, units, scrap, covered = values
        order_id = self.timelines.order_names[self._order_code(agg)] if agg.kind == ORDER else ""
        return IntensityRow(
            site=plant.site, line=line, sku=sku, shift=agg.shift, window=window,
            electricity_kwh=elec, fuel_kwh=fuel, scope1_co2e_kg=s1,
            scope2_location_co2e_kg=s2l, scope2_market_co2e_kg=s2m, good_units=units,
            scrap_units=scrap if agg.line in self._scrap_lines else None,
            grid_factor_kg_per_kwh=s2l / elec if elec > 0 else self.factor_at(agg.start),
            coverage_pct=self._coverage(agg, covered), order_id=order_id, revision=agg.revision,
        )

    def _order_code(self, agg: Aggregate) -> int:
        order, _ = self.timelines.order_run_at(agg.line, np.array([agg.start // self.res]))
        return int(order[0])

    def _coverage(self, agg: Aggregate, covered_ns: float) -> float:
        """Share of the window (for this SKU) covered by the line's meters, in %."""
        meters = int(self.n_cov[agg.line])
        if meters == 0:
            return 0.0
        sku_bins = self.timelines.sku_bins(agg.line, agg.start // self.res,
                                           int(agg.end) // self.res, agg.sku)
        if sku_bins == 0:
            return 0.0
        return min(100.0, 100.0 * covered_ns / (meters * sku_bins * self.res))
