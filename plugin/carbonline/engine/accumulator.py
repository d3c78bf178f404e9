"""The window accumulator: readings in, closed-window rows out, in event time.

Flow of one :meth:`Engine.ingest`:

1. **Check** each reading (unknown meter, NaN/inf, negative, too far in the future) and count
   what is refused, by reason, with the offending input logged.
2. **Hold** the rest until the *watermark* (latest reading time − ``engine.lateness``) passes
   them, then release them in time order, so readings that arrive out of order within the
   lateness give exactly the result they would have given in order.
3. **Turn** released readings into increments and share them over bins
   (:mod:`.increments`, :mod:`.bins`).
4. **Finalise** bins once the watermark has passed them *and* every live meter has reported
   past them (a counter's next reading covers the time before it, so closing earlier would cut
   energy off). A meter silent for longer than ``engine.meter_timeout`` stops holding bins.
5. **Compute** finalised bins (:mod:`.calculator`) and add them to windows (:mod:`.windows`),
   which are written once they close.

A reading landing in an already finalised bin within ``engine.revision_horizon`` revises the
windows it touches (same point, ``revision`` + 1); older ones are refused as ``late`` and logged
with their energy, never silently dropped.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pluggy

from ..plant import ROLE, PlantModel
from ..plugins import get_manager
from ..records import (
    NS_PER_S,
    ContextEvent,
    FactorRow,
    FactorSeries,
    Reason,
    ReadingBatch,
    Rejection,
    Row,
    empty_readings,
)
from .bins import Pieces, split_into_bins
from .calculator import BinResults, Calculator, Cells
from .context import ContextTimelines
from .increments import NO_TIME, MeterState, describe_reading, to_increments
from .windows import WindowBook

log = logging.getLogger(__name__)

_FAR_FUTURE = np.iinfo(np.int64).max // 2
_CONTEXT = (ROLE["sku"], ROLE["order"])
_STEP_NS = 86400 * NS_PER_S  # the largest watermark step one ingest takes at a time
_MAX_DENSE = 4_000_000  # bins × (machines + lines) per calculator call, bounds memory
_LOGGED_PER_REASON = 20
FACTOR_REFRESH_NS = 5 * 60 * NS_PER_S


class FactorError(Exception):
    """No factor provider answered for the site's grid zone."""


@dataclass
class EngineStats:
    """What the engine did with its input, for summaries and health."""

    accepted: int = 0
    rejected: Counter[Reason] = field(default_factory=Counter)
    examples: dict[Reason, list[Rejection]] = field(default_factory=dict)
    context_changes: int = 0

    def reject(self, rejection: Rejection) -> None:
        self.rejected[rejection.reason] += 1
        seen = self.examples.setdefault(rejection.reason, [])
        if len(seen) < _LOGGED_PER_REASON:
            seen.append(rejection)
            log.warning("rejected (%s): %s %s", rejection.reason.value, rejection.detail,
                        rejection.raw)


class Engine:
    """One plant's accumulator; feed it batches, collect the rows it returns."""

    #: Sees every bin result (with its :class:`~.calculator.BinDetail`), every emitted row and
    #: every prune: the audit ledger's trail (:class:`carbonline.audit.trail.AuditTrail`).
    #: ``None`` (the default) keeps the hot path free of that detail.
    observer = None

    def __init__(
        self,
        plant: PlantModel,
        manager: pluggy.PluginManager | None = None,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.plant = plant
        self.pm = manager or get_manager()
        self.clock = clock
        eng = plant.config.engine
        self.res = int(eng.resolution) * NS_PER_S
        self.lateness = int(eng.lateness * NS_PER_S)
        self.horizon_bins = int(eng.revision_horizon * NS_PER_S) // self.res
        self.max_future = int(eng.max_future * NS_PER_S)
        self.timeout = np.maximum(
            int(eng.meter_timeout * NS_PER_S), plant.interval_ns + self.lateness
        )
        self.covers_ahead = np.where(plant.label_end, 0, plant.interval_ns)
        self.is_context = np.isin(plant.role, _CONTEXT)
        self.stats = EngineStats()
        self.state = MeterState.new(len(plant.meters))
        self.timelines = ContextTimelines(len(plant.lines))
        self.calculator = Calculator(plant)
        self.book = WindowBook(plant, self.timelines, self.res, self._factor_at,
                               self._factor_rows, self.calculator.coverage_meters_per_line)
        self._buffer = empty_readings()
        self._context: list[ContextEvent] = []
        self._open: list[Pieces] = []
        self._cells: list[Cells] = []
        self._max_time = NO_TIME
        self._watermark = NO_TIME
        self._final_bin = NO_TIME  # bins below this are finalised
        self._factors: dict[str, FactorSeries] = {}
        self._factor_span = (0, 0)
        self._factors_asked = self.clock()

    def __getstate__(self) -> dict:
        """For the state store's checkpoint: everything but the plugin manager, which the
        restoring process supplies."""
        return {**self.__dict__, "pm": None}

    # --- input -----------------------------------------------------------------------------

    def ingest(self, batch: ReadingBatch) -> list[Row]:
        """Take a batch; return the rows of every window that closed or was revised."""
        return [row for rows in self.ingest_steps(batch) for row in rows]

    def ingest_steps(self, batch: ReadingBatch) -> Iterator[list[Row]]:
        """Take a batch; yield the rows it closes a day of event time at a time.

        A batch spanning months (a file replay) advances a day at a time, so only about a day
        of windows is open and only a day of rows is held at once; the rows are the same as for
        the same readings arriving day by day.
        """
        for rejection in batch.rejections:
            self.stats.reject(rejection)
        readings = self._check(batch.readings)
        self._buffer = np.concatenate([self._buffer, readings])
        self._context.extend(self._check_context(batch.context))
        if len(readings):
            self._max_time = max(self._max_time, int(readings["time"].max()))
        if self._max_time == NO_TIME:
            return
        target = self._max_time - self.lateness
        step = self._watermark if self._watermark != NO_TIME else int(self._buffer["time"].min())
        while step + _STEP_NS < target:
            step += _STEP_NS
            yield self._advance(step)
        yield self._advance(target)

    @property
    def newest_reading(self) -> int | None:
        """Event time of the newest reading taken (ns), ``None`` before the first."""
        return None if self._max_time == NO_TIME else self._max_time

    def advance(self, watermark: int) -> list[Row]:
        """Move the watermark to ``watermark`` (ns) without a reading: a live run's wall-clock
        idle timeout, so windows close when a plant goes quiet. Meters stay silent, so a bin
        still waits for them until ``meter_timeout``; a reading that arrives later is late or a
        revision, as any reading behind the watermark."""
        if self._watermark == NO_TIME or watermark <= self._watermark:
            return []
        return self._advance(watermark)

    def flush(self) -> list[Row]:
        """End of input: release everything held and close every window."""
        return self._advance(_FAR_FUTURE, everything=True)

    def _check(self, readings: np.ndarray) -> np.ndarray:
        plant = self.plant
        n = len(plant.meters)
        known = (readings["meter"] >= 0) & (readings["meter"] < n)
        meter = np.where(known, readings["meter"], 0)
        finite = np.isfinite(readings["value"])
        text_meter = self.is_context[meter]
        negative = readings["value"] < 0
        future = readings["time"] > self.clock() + self.max_future
        reasons = [
            (~known, Reason.UNKNOWN_METER, "meter index out of range"),
            (known & text_meter, Reason.MALFORMED, "a number for a text (SKU/order) meter"),
            (known & ~text_meter & ~finite, Reason.NOT_A_NUMBER, "not a finite number"),
            (known & ~text_meter & finite & negative, Reason.NEGATIVE, "negative value"),
        ]
        bad = np.zeros(len(readings), bool)
        for mask, reason, text in reasons:
            mask = mask & ~bad
            for i in np.flatnonzero(mask):
                self.stats.reject(Rejection(reason, f"{text}: {self._describe(readings[i])}"))
            bad |= mask
        late_future = future & ~bad
        for i in np.flatnonzero(late_future):
            self.stats.reject(Rejection(
                Reason.FUTURE, f"more than {self.max_future // NS_PER_S} s ahead of the clock: "
                f"{self._describe(readings[i])}"))
        bad |= late_future
        return readings[~bad]

    def _check_context(self, events: list[ContextEvent]) -> list[ContextEvent]:
        ok = []
        limit = self.clock() + self.max_future
        for event in events:
            if not (0 <= event.meter < len(self.plant.meters)) or not self.is_context[event.meter]:
                self.stats.reject(Rejection(Reason.UNKNOWN_METER, f"text for meter #{event.meter}",
                                            event.text))
            elif event.time > limit:
                self.stats.reject(Rejection(Reason.FUTURE, f"context at {event.time} ns", event.text))
            else:
                ok.append(event)
        return ok

    def _describe(self, reading: np.void) -> str:
        return describe_reading(self.plant, reading["meter"], reading["time"], reading["value"])

    # --- event time ------------------------------------------------------------------------

    def _advance(self, watermark: int, everything: bool = False) -> list[Row]:
        self._watermark = max(self._watermark, watermark)
        released = self._release(watermark)
        self._apply_context(watermark)
        increments, rejections = to_increments(released, self.plant, self.state)
        for rejection in rejections:
            self.stats.reject(rejection)
        self.stats.accepted += len(released) - len(rejections)
        pieces = split_into_bins(increments, self.res)
        if self._final_bin != NO_TIME:
            pieces = self._revise(pieces)
        self._open.append(pieces)
        if everything:
            newest = max((int(p.bin.max()) + 1 for p in self._open if len(p)),
                         default=self._final_bin)
            final_bin = max(self._final_bin, newest)
        else:
            final_bin = self._frontier(watermark) // self.res
        if final_bin > self._final_bin:
            self._finalise(final_bin)
        rows = self.book.close(self._final_bin * self.res, everything=everything)
        if self.observer is not None:
            self.observer.closed(rows)
        self._prune()
        return rows

    def _release(self, watermark: int) -> np.ndarray:
        """Readings the watermark has passed, in arrival order (increments sort them by meter
        and time, keeping arrival order among equals)."""
        buffer = self._buffer
        ready = buffer["time"] <= watermark
        if ready.all():
            self._buffer = empty_readings()
            return buffer
        self._buffer = buffer[~ready]
        return buffer[ready]

    def _apply_context(self, watermark: int) -> None:
        ready = sorted((e for e in self._context if e.time <= watermark), key=lambda e: e.time)
        self._context = [e for e in self._context if e.time > watermark]
        half = self.res // 2
        for event in ready:
            boundary = (event.time + half) // self.res  # nearest bin boundary
            if self._final_bin != NO_TIME and boundary < self._final_bin:
                self.stats.reject(Rejection(
                    Reason.CONTEXT_LATE,
                    f"{self.plant.meters[event.meter].id} changed at {event.time} ns, after its "
                    "window closed; not applied", event.text))
                continue
            line = int(self.plant.line[event.meter])
            if self.plant.role[event.meter] == ROLE["sku"]:
                self.timelines.change(line, boundary, sku=event.text)
            else:
                self.timelines.change(line, boundary, order=event.text)
            self.stats.context_changes += 1

    def _frontier(self, watermark: int) -> int:
        """Time up to which every live meter has reported (never past the watermark)."""
        last = self.state.last_time
        covered = last + self.covers_ahead
        live = (last != NO_TIME) & ~self.is_context & (watermark - covered <= self.timeout)
        if not live.any():
            return watermark
        return int(min(watermark, covered[live].min()))

    # --- bins ------------------------------------------------------------------------------

    def _finalise(self, final_bin: int) -> None:
        pending = Pieces.concat(self._open)
        done = pending.bin < final_bin
        self._open = [pending.select(~done)]
        cells = _aggregate(pending.select(done), len(self.plant.meters))
        self._final_bin = final_bin
        if len(cells.bin) == 0:
            return
        self._cells.append(cells)
        for part in self._slices(cells):
            self._add(self._compute(part))

    def _revise(self, pieces: Pieces) -> Pieces:
        """Apply pieces landing in finalised bins as revisions; refuse those past the horizon."""
        old = pieces.bin < self._final_bin
        if not old.any():
            return pieces
        too_old = pieces.bin < self._final_bin - self.horizon_bins
        for meter in np.unique(pieces.meter[too_old]):
            mask = too_old & (pieces.meter == meter)
            self.stats.reject(Rejection(
                Reason.LATE,
                f"meter {self.plant.meters[meter].id}: {pieces.amount[mask].sum():.6g} "
                f"(meter units) over {int(mask.sum())} bins before the revision horizon"))
        late = _aggregate(pieces.select(old & ~too_old), len(self.plant.meters))
        if len(late.bin):
            before = self._stored_cells(np.unique(late.bin))
            if len(before.bin):
                self._add(self._compute(before), sign=-1.0)
            self._cells.append(late)
            self._add(self._compute(self._stored_cells(np.unique(late.bin))))
        return pieces.select(~old)

    def _stored_cells(self, bins: np.ndarray) -> Cells:
        parts = [c for c in self._cells if np.isin(c.bin, bins).any()]
        if not parts:
            return _aggregate(Pieces.empty(), len(self.plant.meters))
        merged = Pieces.concat([Pieces(c.bin, c.meter, c.amount, c.covered_ns) for c in parts])
        return _aggregate(merged.select(np.isin(merged.bin, bins)), len(self.plant.meters))

    def _slices(self, cells: Cells) -> list[Cells]:
        width = len(self.plant.machines) + len(self.plant.lines) + 1
        per_call = max(1, _MAX_DENSE // width)
        bins = np.unique(cells.bin)
        if len(bins) <= per_call:
            return [cells]
        edges = bins[::per_call][1:]
        cuts = np.searchsorted(cells.bin, edges)
        return [Cells(b, m, a, c) for b, m, a, c in zip(
            np.split(cells.bin, cuts), np.split(cells.meter, cuts),
            np.split(cells.amount, cuts), np.split(cells.covered_ns, cuts))]

    def _compute(self, cells: Cells) -> BinResults:
        bins = np.unique(cells.bin)
        times = bins * self.res
        location = self._series("location", int(times[0]), int(times[-1]))
        market = self._series("market", int(times[0]), int(times[-1]))
        return self.calculator.compute(cells, location.at(times), market.at(times),
                                       detail=self.observer is not None)

    def _add(self, results: BinResults, sign: float = 1.0) -> None:
        self.book.add(results, sign)
        if self.observer is not None:
            self.observer.added(results, sign)

    def _prune(self) -> None:
        if self._final_bin == NO_TIME:
            return
        horizon = self._final_bin - self.horizon_bins
        self._cells = [c for c in self._cells if len(c.bin) and c.bin[-1] >= horizon]
        self.book.prune(horizon * self.res)
        if self.observer is not None:
            self.observer.pruned(horizon * self.res)
        if self.state.interval_seen:  # only plants with interval meters keep these
            cutoff = horizon * self.res
            self.state.interval_seen = {k for k in self.state.interval_seen if k[1] >= cutoff}

    # --- factors ---------------------------------------------------------------------------

    def _series(self, basis: str, start: int, end: int) -> FactorSeries:
        """The factor series for the site's zone, asked per week and cached; asked again after
        FACTOR_REFRESH_NS of wall-clock time, so a live run sees a provider's new values (a
        grid series growing in the historian)."""
        lo, hi = self._factor_span
        stale = self.clock() - self._factors_asked > FACTOR_REFRESH_NS
        if stale or not (lo <= start and end < hi and basis in self._factors):
            week = 7 * 86400 * NS_PER_S
            lo = start - start % (86400 * NS_PER_S)
            hi = max(end + 1, lo + week)
            zone = self.plant.config.site.grid_zone
            for b in ("location", "market"):
                series = self.pm.hook.carbonline_emission_factors(
                    plant=self.plant, zone=zone, start=lo, end=hi, basis=b)
                if series is None:
                    raise FactorError(f"no emission factor provider answered for zone {zone!r} "
                                      f"({b}-based)")
                self._factors[b] = series
            self._factor_span = (lo, hi)
            self._factors_asked = self.clock()
        return self._factors[basis]

    def _factor_at(self, t: int) -> float:
        return float(self._series("location", t, t).at(np.array([t]))[0])

    def _factor_rows(self, t: int) -> list[FactorRow]:
        """The location- and market-based factors in force at ``t``, with their provenance."""
        rows = []
        for basis in ("location", "market"):
            series = self._series(basis, t, t)
            rows.append(FactorRow(series.zone, t, float(series.at(np.array([t]))[0]),
                                  series.provenance))
        return rows


def _aggregate(pieces: Pieces, n_meters: int) -> Cells:
    """Sum pieces per (bin, meter), in arrival order, sorted by bin then meter."""
    if len(pieces) == 0:
        return Cells(np.zeros(0, np.int64), np.zeros(0, np.int32), np.zeros(0),
                     np.zeros(0, np.int64))
    first = int(pieces.bin.min())
    key = (pieces.bin - first) * n_meters + pieces.meter
    span = int(key.max()) + 1
    if span <= 4 * len(key):  # dense enough: count straight into every possible cell
        amount = np.bincount(key, weights=pieces.amount, minlength=span)
        covered = np.bincount(key, weights=pieces.covered_ns, minlength=span)
        present = np.bincount(key, minlength=span) > 0
        unique = np.flatnonzero(present)
        amount, covered = amount[present], covered[present]
    else:
        unique, inverse = np.unique(key, return_inverse=True)
        amount = np.bincount(inverse, weights=pieces.amount, minlength=len(unique))
        covered = np.bincount(inverse, weights=pieces.covered_ns, minlength=len(unique))
    return Cells(unique // n_meters + first, (unique % n_meters).astype(np.int32), amount,
                 covered.astype(np.int64))
