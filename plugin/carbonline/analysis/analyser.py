"""The analyser stage (design brief §1, §5): closed windows in; the same rows with their
baseline, deviation and threshold, plus ``carbon_alert`` rows, out.

It works on the 1-minute rows of each line × SKU (``carbon_intensity``) and of each machine in
it (``carbon_machine``, so ``[engine] machine_windows`` must hold ``1m``):

1. **Baselines** (:mod:`.baseline`): every machine of a line × SKU learns its energy signature
   E = P_idle·t + e·U from its first ``learn_windows`` normal windows (covered, producing, no
   alert open) and is refitted every ``refit_windows`` over the last ``history_windows``. A
   shared utility (allocated, such as the chiller) follows the weather, which the plant does
   not meter, so its baseline is refitted more often over fewer recent windows. A fit that
   does not hold (too little spread in the rate to tell idle power from energy per unit, R²
   too low) falls back to the plain ratio Σ kWh / Σ units.
2. **Expected intensity** of a window at today's factors: Σ_m F_m · (P_idle,m·t + e_m·U) / U
   (kg CO₂e/unit), written as ``baseline_co2e_per_unit_kg`` with ``deviation_pct``; per machine
   the expected kWh/unit as ``baseline_energy_per_unit_kwh``. Taking today's factors keeps the
   grid out of the plant's own deviation: the grid has its own rule (4).
3. **Detection** (:mod:`.detect`): threshold, deviation with hysteresis and CUSUM on that
   deviation; the CUSUM's allowance and alarm level grow with the row's own minute-to-minute
   noise (0.5 σ and 5 σ of the learning windows' relative residuals, at least the configured
   values), since a line with micro-stops is noisier than one without.
4. **Grid**: the window's grid factor against the median of the last two hours
   (:data:`GRID_WINDOWS`); more than ``grid_spike`` above for ``open_after_min`` is an alert of
   cause ``grid``, severity info, no machine blamed.
5. **Throughput**: good units per hour over the last producing windows (at least
   :data:`RATE_UNITS` units' worth) against the producing rate of the learning windows; more
   than ``throughput_drop`` below for ``open_after_min`` − 1 minutes (the rate is a sum over
   minutes already) is a ``throughput`` alert. It is judged before the line's own deviation,
   which a slower line explains; and on a slower line each machine is judged against what its
   baseline draws at the baseline's rate (a compressor's air demand follows running time).
6. **After a gap** (a window covered less than ``min_coverage_pct``) or a stop (no good
   units: a changeover) the next ``smooth_windows`` + 2 windows are not judged: the energy
   counters bridged across a gap land in them, power meters' does not, and the remainder of
   the site meter swells; after a stop, the line ramps up and compressors recharge the
   network. Windows after a gap are not learnt either; a stop's are (idle power).
7. **Probable cause** of a plant alert, fixed when it opens: the LMDI split (:mod:`.lmdi`) of
   the change from the baseline to the last ``CAUSE_WINDOWS`` windows, at the same factors,
   through the ``carbonline_root_cause`` hook (built in: the largest effect; a plant may
   register its own).

With ``[run] state_dir``, every scheduled fit is versioned in ``baselines.sqlite`` there (for
audit), and the analyser travels in the state store's checkpoint with the engine: a restart
goes on with its baselines, detectors and open alerts instead of learning again.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pluggy

from ..config import Analysis
from ..factors.providers import read_series
from ..plant import PlantModel
from ..records import AlertRow, IntensityRow, MachineRow, Row
from .baseline import Baseline, BaselineStore, fit, nominal
from .detect import Detector, Observation, Settings, Transition
from .lmdi import Effects, Machine, Period

HOUR_NS = 3_600 * 10**9
#: Windows whose median grid factor a spike is measured against: two hours move with the
#: grid's daily shape (solar noon, evening peak), a spike jumps away from them.
GRID_WINDOWS = 120
#: The site main meter's remainder, allocated like a machine (engine): never an equipment alert.
UNMETERED = "unmetered"
#: Good units the throughput rule judges a rate on, at least: a line making 2 or 3 units a
#: minute counts 1, 1, 1 now and then by chance, which over 3 minutes looks like half speed.
#: Measured on the minute rows of simulated normal weeks (seeds 1–3) and half-speed shifts
#: (seeds 1–10), opening after 2 minutes: 10 units with ``throughput_drop`` 0.35 gave no false
#: alert and found every slowdown within 5 minutes; 7 units gave 0.3 false alerts a week,
#: 6 units (about 3 minutes) 0.7.
RATE_UNITS = 10
#: Windows the probable cause compares with the baseline: long enough to average a
#: compressor's load/unload cycles, short enough to be about the fault.
CAUSE_WINDOWS = 10


def analyser_for(plant: PlantModel, pm: pluggy.PluginManager,
                 saved: Saved | None = None) -> Analyser | None:
    """The plant's analyser, or ``None`` when ``[analysis]`` is not enabled. With ``saved``
    (a checkpoint's :meth:`Analyser.saved`; the state store refuses one saved under another
    configuration), its baselines, detectors and open alerts carry on."""
    if not plant.config.analysis.enabled:
        return None
    analyser = Analyser(plant, plant.config.analysis, pm)
    if saved is not None:
        analyser.rows = saved
    return analyser


@dataclass
class _Window:
    """One closed 1-minute window of a line × SKU: hours, good units, units made (good +
    scrap, where the line counts scrap), the grid factor (kg CO₂e/kWh), per machine kWh and
    kg CO₂e. Machines draw energy for every unit they make, scrapped or not: their baselines
    are fitted and judged on units made, so a burst of scrap is not a machine using more
    energy; intensity stays per good unit, and fewer good units an hour is the throughput
    rule's."""

    hours: float
    units: float
    made: float
    grid: float
    kwh: dict[str, float]
    co2e: dict[str, float]
    expected_kg: float | None = None  # kg CO₂e the baselines expected, at its factors
    expected_kwh: dict[str, float] = field(default_factory=dict)  # per machine
    covered: bool = True  # coverage_pct at least min_coverage_pct: a window to judge by
    drivers: dict[str, float] = field(default_factory=dict)  # "<machine>/<driver>" → value

    def factor(self, machine: str, otherwise: float) -> float:
        """The machine's kg CO₂e/kWh in this window (``otherwise`` when it drew nothing)."""
        kwh = self.kwh.get(machine, 0.0)
        return self.co2e.get(machine, 0.0) / kwh if kwh > 0 else otherwise


@dataclass
class _Signature:
    """A machine's fitted baseline and the factor (kg CO₂e/kWh) it ran on while learning."""

    baseline: Baseline
    factor: float


@dataclass
class _Row:
    """What the analyser keeps per line × SKU."""

    detector: Detector
    grid: Detector
    rate: Detector
    history: deque[_Window]
    recent: deque[_Window]
    signatures: dict[str, _Signature] = field(default_factory=dict)
    utilities: set[str] = field(default_factory=set)
    grids: deque[float] = field(default_factory=lambda: deque(maxlen=GRID_WINDOWS))
    machines: dict[str, Detector] = field(default_factory=dict)  # per machine: E / expected
    units_per_hour: float = 0.0  # good units per hour of the producing learning windows
    since_fit: int = 0
    since_utility_fit: int = 0
    settling: int = 0  # windows still to pass after one not covered (module docstring, 6)
    restarting: int = 0  # windows still to pass after a stop (module docstring, 6)
    #: "plant" | "grid" | "throughput" → its open alert (``None``: opened without a clear
    #: cause, so not raised; its resolution is not raised either)
    opened: dict[str, AlertRow | None] = field(default_factory=dict)
    line: str = ""
    sku: str = ""


#: A checkpoint's analyser state (:meth:`Analyser.saved`): its rows by (line, SKU).
Saved = dict[tuple[str, str], _Row]


class Analyser:
    """Rows in, rows out (:meth:`process`); holds the baselines and detectors of a plant."""

    def __init__(self, plant: PlantModel, settings: Analysis, pm: pluggy.PluginManager) -> None:
        self.site = plant.site
        self.settings = settings
        self.pm = pm
        self.fuel_machines = {m.machine for m in plant.config.meters
                              if m.fuel is not None and m.machine is not None}
        #: machine → driver → (times ns, values) of its configured series
        self.drivers = {machine: {name: read_series(path, plant.config.site.timezone, name)
                                  for name, path in drivers.items()}
                        for machine, drivers in settings.drivers.items()}
        self.detect = Settings(
            min_coverage_pct=settings.min_coverage_pct, deviation_open=settings.deviation_open,
            deviation_close=settings.deviation_close, open_after_min=settings.open_after_min,
            close_after_min=settings.close_after_min, cusum_k=settings.cusum_k,
            cusum_h=settings.cusum_h)
        self.detect_grid = replace(self.detect, deviation_open=settings.grid_spike,
                                   deviation_close=settings.grid_spike / 2, cusum_h=1e12)
        drop = 1 / (1 - settings.throughput_drop) - 1  # baseline rate / rate − 1
        self.detect_rate = replace(  # a rate is a sum over minutes already: one less to wait
            self.detect, deviation_open=drop, deviation_close=drop / 2, cusum_h=1e12,
            open_after_min=max(settings.open_after_min - 1, 1))
        self.rows: dict[tuple[str, str], _Row] = {}
        state_dir = plant.config.run.state_dir
        self.store = BaselineStore(Path(state_dir) / "baselines.sqlite") if state_dir else None

    def saved(self) -> Saved:
        """What the state store's checkpoint keeps: per line × SKU, baselines, detectors and
        open alerts (:func:`analyser_for` takes them back). What comes from configuration
        (driver series, the baseline store) is read anew at start."""
        return self.rows

    def process(self, rows: list[Row]) -> list[Row]:
        """The rows, 1-minute ones enriched, followed by the alert transitions they caused."""
        machines: dict[tuple[str, str, int], list[MachineRow]] = {}
        for row in rows:
            if isinstance(row, MachineRow) and row.window.kind == "1m" and row.revision == 1:
                machines.setdefault((row.line, row.sku, row.window.start), []).append(row)
        windows = sorted((r for r in rows if isinstance(r, IntensityRow)
                          and r.window.kind == "1m" and r.revision == 1),
                         key=lambda r: r.window.start)
        alerts: list[Row] = []
        for row in windows:
            alerts += self._window(row, machines.get((row.line, row.sku, row.window.start), []))
        return rows + alerts

    # --- one window ---------------------------------------------------------------------------

    def _window(self, row: IntensityRow, machine_rows: list[MachineRow]) -> list[AlertRow]:
        state = self._state(row.line, row.sku)
        hours = (row.window.end - row.window.start) / HOUR_NS
        window = _Window(hours, row.good_units, row.good_units + (row.scrap_units or 0.0),
                         row.grid_factor_kg_per_kwh,
                         {m.machine: m.energy_kwh for m in machine_rows},
                         {m.machine: m.co2e_kg for m in machine_rows},
                         covered=row.coverage_pct >= self.settings.min_coverage_pct,
                         drivers=self._drivers_at(row.window.start))
        state.utilities.update(m.machine for m in machine_rows if m.allocated_share < 1)
        state.recent.append(window)
        settle = self.settings.smooth_windows + 2
        state.settling = settle if not window.covered else max(state.settling - 1, 0)
        state.restarting = settle if window.units <= 0 else max(state.restarting - 1, 0)
        coverage = row.coverage_pct if not state.settling else 0.0  # what may be learnt
        judged = coverage if not state.restarting else 0.0  # what may alert
        expected = self._expected(state, window, machine_rows)
        threshold = self.settings.thresholds.get(row.sku)
        row.threshold_co2e_per_unit_kg = threshold
        actual = row.co2e_per_unit_kg
        if expected is not None and actual is not None:
            row.baseline_co2e_per_unit_kg = expected
            row.deviation_pct = (actual / expected - 1) * 100
        smoothed, smoothed_expected = self._smoothed(state)
        alerts = []
        rate = self._rate(state) if state.signatures and actual is not None else None
        if rate:  # the baseline's rate over today's: above 1 when the line runs slower;
            # judged first, so a rise it explains is not raised as the line's own as well
            alerts += [self._plant_alert(row, state, t, "throughput")
                       for t in state.rate.feed(Observation(
                           row.window.start, hours * 60, state.units_per_hour, rate, None,
                           judged))]
        alerts += [self._plant_alert(row, state, t) for t in state.detector.feed(Observation(
            row.window.start, hours * 60, smoothed if actual is not None else None,
            smoothed_expected, threshold, judged))]
        reference = float(np.median(state.grids)) if state.grids else None
        state.grids.append(window.grid)
        if state.signatures and actual is not None:
            alerts += [self._grid_alert(row, state, t, reference)
                       for t in state.grid.feed(Observation(
                           row.window.start, hours * 60, window.grid, reference, None,
                           judged))]
            alerts += self._machine_alerts(row, state, hours, judged)
        if state.detector.label != "high" and not state.detector.firing \
                and coverage >= self.settings.min_coverage_pct:  # stops included:
            # minutes without units are what tells idle power from energy per unit
            self._learn(state, window)
        return [a for a in alerts if a is not None]

    def _drivers_at(self, time: int) -> dict[str, float]:
        """Each configured driver's value in force at ``time`` (the last one at or before it;
        the first one before the series starts), by ``"<machine>/<driver>"``."""
        out = {}
        for machine, drivers in self.drivers.items():
            for name, (times, values) in drivers.items():
                at = max(int(np.searchsorted(times, time, side="right")) - 1, 0)
                out[f"{machine}/{name}"] = float(values[at])
        return out

    def _driven(self, name: str, windows: list[_Window], block: int = 1) -> dict[str, np.ndarray]:
        """Machine ``name``'s driver values over ``windows`` (time-weighted means of ``block``
        consecutive windows), by driver name; empty for a machine without drivers."""
        hours = _blocks([w.hours for w in windows], block)
        return {d: _blocks([w.drivers[f"{name}/{d}"] * w.hours for w in windows], block) / hours
                for d in self.drivers.get(name, {})}

    def _driver_values(self, name: str, window: _Window) -> dict[str, float]:
        """Machine ``name``'s driver values in ``window``, by driver name."""
        return {d: window.drivers[f"{name}/{d}"] for d in self.drivers.get(name, {})}

    def _smoothed(self, state: _Row) -> tuple[float | None, float | None]:
        """The detector's view: expected kg CO₂e/unit of the last window and the actual that
        is Σ kg CO₂e / Σ expected kg over the last :meth:`_span` producing windows on it. A
        compressor's load cycles and a minute that counts 1 unit instead of 3 move single
        minutes by tens of per cent; a fault moves every minute, and the sum lets it
        through."""
        last = state.recent[-1]
        if last.expected_kg is None or last.units <= 0:
            return None, None
        used = [w for w in state.recent if w.expected_kg and w.units > 0 and w.covered]
        used = used[-self._span(state):]
        if not used:
            return None, None
        expected = last.expected_kg / last.units
        ratio = sum(sum(w.co2e.values()) for w in used) / sum(w.expected_kg for w in used)
        return expected * ratio, expected

    def _rate(self, state: _Row) -> float | None:
        """Good units per hour over the :meth:`_producing` windows. A stopped line (a
        changeover) makes no units and has no intensity to judge: the rule is about a line
        running slower, not about its planned stops."""
        kept = self._producing(state)
        hours = sum(w.hours for w in kept)
        return sum(w.units for w in kept) / hours if hours > 0 else None

    def _producing(self, state: _Row) -> list[_Window]:
        """The last :meth:`_span` covered windows that made good units: what throughput and
        machines are judged on."""
        return [w for w in state.recent if w.covered and w.units > 0][-self._span(state):]

    def _span(self, state: _Row) -> int:
        """Producing windows a rate or a machine is judged over: at least ``smooth_windows``,
        and enough for :data:`RATE_UNITS` units at the baseline's rate (1-minute windows). A minute that
        counts 1 unit where 2 or 3 are usual makes its kWh per unit look 60 % high; summed
        over more units, the count's steps even out."""
        per_window = state.units_per_hour / 60
        need = int(np.ceil(RATE_UNITS / per_window)) if per_window > 0 else 0
        return max(self.settings.smooth_windows, min(need, CAUSE_WINDOWS))

    def _state(self, line: str, sku: str) -> _Row:
        key = (line, sku)
        if key not in self.rows:
            name = f"{self.site}/{line}/{sku}"
            self.rows[key] = _Row(Detector(name, self.detect),
                                  Detector(f"{name}/grid", self.detect_grid),
                                  Detector(f"{name}/throughput", self.detect_rate),
                                  deque(maxlen=self.settings.history_windows),
                                  deque(maxlen=CAUSE_WINDOWS), line=line, sku=sku)
        return self.rows[key]

    # --- baselines ----------------------------------------------------------------------------

    def _learn(self, state: _Row, window: _Window) -> None:
        """Keep a normal window; fit when enough are kept, refit on the schedules."""
        state.history.append(window)
        state.since_fit += 1
        state.since_utility_fit += 1
        s = self.settings
        history = list(state.history)
        if not state.signatures:
            if len(history) >= s.learn_windows:
                state.signatures = self._fit(history, set(), s.learn_windows)
                self._keep(state, state.signatures)
                producing = [w for w in history if w.units > 0]  # as :meth:`_rate`
                state.units_per_hour = sum(w.units for w in producing) / sum(
                    w.hours for w in producing)
                state.since_fit = state.since_utility_fit = 0
                self._tune_cusum(state)
            return
        if state.since_fit >= s.refit_windows:
            refitted = self._fit(history, state.utilities, s.learn_windows, ratio=False)
            state.signatures.update(refitted)
            self._keep(state, refitted)
            state.since_fit = 0
            self._tune_cusum(state)
        if state.utilities and state.since_utility_fit >= s.utility_refit_windows:
            recent = history[-s.utility_history_windows:]
            state.signatures.update(self._fit(recent, None, min(len(recent), s.learn_windows),
                                              only=state.utilities))
            state.since_utility_fit = 0

    def _keep(self, state: _Row, signatures: dict[str, _Signature]) -> None:
        """Version the scheduled fits in ``<state_dir>/baselines.sqlite`` for audit (the
        utilities' refits every few minutes are not kept: they follow the weather)."""
        if self.store is not None:
            for name, signature in signatures.items():
                self.store.save(state.line, state.sku, name, signature.baseline)

    def _fit(self, history: list[_Window], skip: set[str] | None, min_windows: int,
             only: set[str] | None = None, ratio: bool = True) -> dict[str, _Signature]:
        """Signatures of the machines in ``history`` (or ``only`` those), ``skip`` aside;
        fitted on sums of ``fit_block_windows`` consecutive windows. A fit that does not hold
        becomes the plain ratio Σ kWh / Σ units with ``ratio``, else is left out: a scheduled
        refit over steady running (no stop since the last changeover) cannot tell idle power
        from energy per unit, and a compressor judged on a ratio then "uses" 150 % more
        whenever a minute counts one unit instead of two — the last fit that could tell them
        apart stays."""
        block = self.settings.fit_block_windows
        hours = _blocks([w.hours for w in history], block)
        units = _blocks([w.made for w in history], block)
        names = sorted({m for w in history for m in w.kwh} if only is None else only)
        out = {}
        for name in names:
            if skip and name in skip:
                continue
            kwh = _blocks([w.kwh.get(name, 0.0) for w in history], block)
            co2e = sum(w.co2e.get(name, 0.0) for w in history)
            baseline = fit(hours, units, kwh, self._driven(name, history, block),
                           min_windows=max(min_windows // block, 3),
                           min_r2=self.settings.min_r2)
            if not baseline.valid and not (ratio and units.sum() > 0):
                continue
            if not baseline.valid:  # the rate too steady: a ratio
                baseline = nominal(kwh_per_unit=float(kwh.sum() / units.sum()))
            out[name] = _Signature(baseline, co2e / kwh.sum() if kwh.sum() > 0 else 0.0)
        return out

    def _tune_cusum(self, state: _Row) -> None:
        """CUSUM allowance and alarm level from the row's own noise (module docstring, 3)."""
        history = list(state.history)
        expected = [self._expected_kg(state, w, self._expected_kwh(state, w)) or 0.0
                    for w in history]
        actual = [sum(w.co2e.values()) for w in history]
        producing = [w for w in history if w.units > 0]  # as the detectors see them
        span = self._span(state)
        kept = [(a, e) for a, e, w in zip(actual, expected, history) if w.units > 0 and e]
        residuals = [sum(a for a, _ in kept[i:i + span]) / sum(e for _, e in kept[i:i + span])
                     - 1 for i in range(len(kept) - span + 1)]  # the residual they see
        for name in state.signatures:
            kwh = np.array([w.kwh.get(name, 0.0) for w in producing])
            expected_m = np.array([self._expected_machine(state, w, name) for w in producing])
            sums = [(kwh[i:i + span].sum(), expected_m[i:i + span].sum())
                    for i in range(len(producing) - span + 1)]
            spread = [k / e - 1 for k, e in sums if e > 0]
            if name == UNMETERED:
                continue  # the rest of the site: no machine to send anyone to
            sigma_m = float(np.std(spread)) if len(spread) > 2 else 0.0
            # a shared utility's share of a line also moves with the other lines' units
            floor = self.settings.machine_deviation * (2 if name in state.utilities else 1)
            open_m = max(floor, (self.settings.noise_sigmas + 1) * sigma_m)
            state.machines[name] = Detector(  # steps only: a slow drift is the line CUSUM's;
                f"{state.detector.key}/{name}",  # a sum over minutes already: one less to wait
                replace(self.detect, deviation_open=open_m, deviation_close=open_m / 2,
                        cusum_h=1e12, open_after_min=self.detect_rate.open_after_min))
        sigma = float(np.std(residuals)) if len(residuals) > 2 else 0.0
        s, z = self.detect, self.settings.noise_sigmas
        state.detector.settings = replace(
            s, deviation_open=max(s.deviation_open, z * sigma),
            deviation_close=max(s.deviation_close, z * sigma / 2),
            cusum_k=max(s.cusum_k, 0.5 * sigma), cusum_h=max(s.cusum_h, 5 * sigma))

    def _expected_machine(self, state: _Row, window: _Window, name: str) -> float:
        """kWh machine ``name``'s baseline expects for ``window``."""
        return float(state.signatures[name].baseline.expected_kwh(
            window.hours, window.made, self._driver_values(name, window))[()])

    def _judged_machine(self, state: _Row, window: _Window, name: str) -> float:
        """kWh a machine of a line running slow (the throughput rule's rate is high) is judged
        against: its baseline at the window's units, or at the baseline's rate if that is
        more. A compressor's air demand follows the line's running time, not its units: at
        half speed it draws what it draws at full speed, which is the slow rate's doing, not
        the compressor's. (Not on a line at its normal rate: half its minutes make fewer
        units than the average by chance, and judging those at the average would hide a
        fault.)"""
        at_rate = state.units_per_hour * window.hours
        expected = self._expected_machine(state, window, name)
        if window.made >= at_rate:
            return expected
        return max(expected, float(state.signatures[name].baseline.expected_kwh(
            window.hours, at_rate, self._driver_values(name, window))[()]))

    def _expected_kwh(self, state: _Row, window: _Window) -> dict[str, float] | None:
        """kWh each machine's baseline expects for ``window``; ``None`` while learning."""
        if not state.signatures or window.units <= 0 \
                or not set(window.kwh) <= set(state.signatures):
            return None
        return {name: self._expected_machine(state, window, name) for name in window.kwh}

    def _expected_kg(self, state: _Row, window: _Window,
                     kwh: dict[str, float] | None) -> float | None:
        """kg CO₂e the baselines expect for ``window`` (``kwh`` per machine, from
        :meth:`_expected_kwh`) at its own factors."""
        if kwh is None:
            return None
        return sum(window.factor(name, state.signatures[name].factor) * e
                   for name, e in kwh.items())

    def _expected(self, state: _Row, window: _Window,
                  machine_rows: list[MachineRow]) -> float | None:
        """Expected kg CO₂e/unit at today's factors (``None`` while learning); sets the
        machine rows' baseline fields."""
        kwh = self._expected_kwh(state, window)
        total = window.expected_kg = self._expected_kg(state, window, kwh)
        if total is None or total <= 0:
            window.expected_kg = None
            return None
        window.expected_kwh = kwh
        for m in machine_rows:
            m.baseline_energy_per_unit_kwh = kwh[m.machine] / window.units
            if kwh[m.machine] > 0:
                m.deviation_pct = (m.energy_kwh / kwh[m.machine] - 1) * 100
        return total / window.units

    # --- alerts -------------------------------------------------------------------------------

    def _plant_alert(self, row: IntensityRow, state: _Row, t: Transition,
                     kind: str = "plant") -> AlertRow | None:
        """An alert of the plant's own making: its efficiency (``plant``), or its rate
        (``throughput``, whose transitions carry rates: the row's intensities are written)."""
        if t.state == "resolved":
            return self._resolved(row, state, kind, t.time, t.alert_id)
        if kind == "throughput":
            t = replace(t, actual=row.co2e_per_unit_kg or 0.0,
                        expected=row.baseline_co2e_per_unit_kg)
        cause, machine, share = self._cause(state, row.sku)
        if kind == "throughput":
            cause, machine = "throughput", ""
        elif t.detector != "threshold" and (
                (share is not None and share < self.settings.min_cause_share * 100)
                or cause == "throughput" or state.rate.label == "high"
                or machine in state.utilities
                or state.opened.get(f"machine {machine}") is not None):
            # diffuse (the unit count, not a fault: config doc); or the throughput rule's to
            # raise (a slower line: its machines' per-unit energy rises with it); or a shared
            # utility, whose share of one line moves with the other lines' units — its own
            # detector judges its energy, and a real fault shows on every line it serves; or
            # that machine's own alert is open already
            state.opened[kind] = None
            return None
        alert = AlertRow(self.site, row.line, row.sku, t.time, t.alert_id, "firing", "warning",
                         cause, machine, t.detector, t.actual, t.expected, t.threshold, share,
                         _message(row.line, t, cause, machine, share))
        state.opened[kind] = alert
        return alert

    def _grid_alert(self, row: IntensityRow, state: _Row, t: Transition,
                    reference: float | None) -> AlertRow | None:
        if t.state == "resolved":
            return self._resolved(row, state, "grid", t.time, t.alert_id)
        reference = reference or t.actual
        actual = row.co2e_per_unit_kg or 0.0
        alert = AlertRow(
            self.site, row.line, row.sku, t.time, t.alert_id, "firing", "info", "grid", "",
            t.detector, actual, row.baseline_co2e_per_unit_kg, row.threshold_co2e_per_unit_kg,
            None, f"{row.line} {actual:.2f} kg CO₂e/unit; the grid factor is {t.actual:.2f} "
            f"kg/kWh, {(t.actual / reference - 1) * 100:+.0f} % on the last two hours' "
            f"{reference:.2f}: the grid, not the line")
        state.opened["grid"] = alert
        return alert

    def _machine_alerts(self, row: IntensityRow, state: _Row, hours: float,
                        coverage: float) -> list:
        """Each machine's energy against its baseline, Σ E / Σ E_expected over the last
        :meth:`_span` producing windows: a burner using 40 % more gas moves its line's
        intensity by 3 % — lost in the line's noise, plain in the oven's."""
        recent = self._producing(state)
        slow = state.rate.label == "high" or state.rate.firing
        ratios = {}
        for name in state.recent[-1].expected_kwh:
            if name not in state.machines:
                continue
            used = [(w.kwh.get(name, 0.0),
                     self._judged_machine(state, w, name) if slow else w.expected_kwh[name])
                    for w in recent if w.expected_kwh.get(name)]
            expected = sum(e for _, e in used)
            if expected > 0:
                ratios[name] = sum(k for k, _ in used) / expected
        own = [n for n in ratios if n not in state.utilities]
        high = [n for n in own if ratios[n] - 1 > state.machines[n].settings.deviation_open]
        # several machines high at once: the units counted (a count at a tick edge, scrap),
        # not the machines: nobody to send, so those windows do not count for them
        if len(high) >= 2 and len(high) >= len(own) / 3:
            coverage = 0.0
        out = []
        for name, ratio in ratios.items():
            for t in state.machines[name].feed(Observation(
                    row.window.start, hours * 60, ratio, 1.0, None, coverage)):
                out.append(self._equipment_alert(row, state, t, name))
        return out

    def _equipment_alert(self, row: IntensityRow, state: _Row, t: Transition,
                         machine: str) -> AlertRow | None:
        kind = f"machine {machine}"
        if t.state == "resolved":
            return self._resolved(row, state, kind, t.time, t.alert_id)
        plant = state.opened.get("plant")
        if plant is not None and plant.machine == machine:  # already raised for the line
            state.opened[kind] = None
            return None
        _, _, shares = self._cause(state, row.sku, machine)
        actual = row.co2e_per_unit_kg or 0.0
        alert = AlertRow(
            self.site, row.line, row.sku, t.time, t.alert_id, "firing", "warning", "equipment",
            machine, t.detector, actual, row.baseline_co2e_per_unit_kg,
            row.threshold_co2e_per_unit_kg, shares,
            f"{row.line} {actual:.2f} kg CO₂e/unit"
            + (f", {row.deviation_pct:+.0f} % vs baseline {row.baseline_co2e_per_unit_kg:.2f}"
               if row.deviation_pct is not None else "")
            + f"; {machine} uses {(t.actual - 1) * 100:.0f} % more energy than its baseline "
              "for these units"
            + (f" ({shares:.0f} % of the rise)" if shares is not None and shares > 0 else ""))
        state.opened[kind] = alert
        return alert

    def _resolved(self, row: IntensityRow, state: _Row, kind: str, time: int,
                  alert_id: str) -> AlertRow | None:
        opened = state.opened.pop(kind)
        if opened is None:
            return None
        actual = row.co2e_per_unit_kg or 0.0
        return replace(opened, time=time, alert_id=alert_id, state="resolved",
                       co2e_per_unit_kg=actual,
                       baseline_co2e_per_unit_kg=row.baseline_co2e_per_unit_kg,
                       message=f"{row.line} back to {actual:.2f} kg CO₂e/unit; the alert on "
                               f"{_what(opened.cause, opened.machine)} is resolved")

    def _cause(self, state: _Row, sku: str,
               machine: str | None = None) -> tuple[str, str, float | None]:
        """(cause, machine or "", share of the change in %) for the windows now open; with
        ``machine``, that machine's share."""
        if not state.signatures:
            return "threshold", "", None  # no baseline to compare with: the limit alone
        baseline, now = self._periods(state, sku)
        effects: Effects = self.pm.hook.carbonline_root_cause(baseline=baseline, now=now)
        if machine is not None:
            own = effects.machines.get(machine, 0.0)
            return "equipment", machine, own / effects.total * 100 if effects.total else None
        cause, machine = effects.largest()
        value = {"grid": effects.grid, "throughput": effects.throughput,
                 "recipe": effects.recipe}.get(cause)
        if value is None:
            value = effects.machines[machine]
        share = value / effects.total * 100 if effects.total else None
        return cause, machine or "", share

    def _periods(self, state: _Row, sku: str) -> tuple[Period, Period]:
        """The baseline (over the learning history) and the last windows, as the intensity
        identity's inputs (design brief §5), both at the last windows' factors."""
        history, recent = list(state.history), list(state.recent)
        base_hours = sum(w.hours for w in history)
        base_units = sum(w.units for w in history)
        hours = sum(w.hours for w in recent)
        units = sum(w.units for w in recent) or 1e-9
        # the signatures count units made; the identity counts good units (the baseline's
        # scrap share is part of its energy per good unit)
        per_good = sum(w.made for w in history) / base_units if base_units > 0 else 1.0
        base, now = {}, {}
        for name, sig in sorted(state.signatures.items()):
            idle = max(sig.baseline.idle_kw, 0.0)
            electric = name not in self.fuel_machines
            kwh = sum(w.kwh.get(name, 0.0) for w in recent)
            co2e = sum(w.co2e.get(name, 0.0) for w in recent)
            factor = co2e / kwh if kwh > 0 else sig.factor
            base[name] = Machine(factor, idle, {sku: sig.baseline.kwh_per_unit * per_good},
                                 electric)
            now[name] = Machine(factor, idle, {sku: max((kwh - idle * hours) / units, 0.0)},
                                electric)
        return (Period(base_hours, base_units, {sku: 1.0}, base),
                Period(hours, units, {sku: 1.0}, now))


def _blocks(values: list[float], size: int) -> np.ndarray:
    """Sums of ``size`` consecutive values (a short tail is left out)."""
    whole = len(values) // size * size
    return np.asarray(values[:whole], dtype=float).reshape(-1, size).sum(axis=1)


def _what(cause: str, machine: str) -> str:
    return {"equipment": f"{machine} energy per unit", "grid": "the grid emission factor",
            "throughput": "lower throughput (idle energy over fewer units)",
            "recipe": "the product mix", "threshold": "the SKU's threshold"}[cause]


def _message(line: str, transition: Transition, cause: str, machine: str,
             share: float | None) -> str:
    """The sentence an operator reads, e.g. "line2 0.87 kg CO₂e/unit, +28 % vs baseline
    0.68; 81 % of the rise is compressor2 energy per unit"."""
    text = f"{line} {transition.actual:.2f} kg CO₂e/unit"
    if transition.expected:
        text += (f", {(transition.actual / transition.expected - 1) * 100:+.0f} % vs baseline "
                 f"{transition.expected:.2f}")
    if transition.threshold is not None and transition.actual > transition.threshold:
        text += f" (threshold {transition.threshold:.2f})"
    if share is not None:
        text += f"; {share:.0f} % of the rise is {_what(cause, machine)}"
    return text
