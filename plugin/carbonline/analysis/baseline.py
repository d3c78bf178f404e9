"""What a machine used to need: its energy signature, fitted robustly (design brief §5).

For one line × SKU × machine, the energy of a window of ``t`` hours that made ``U`` good units is
modelled, in the spirit of ISO 50006 energy baselines, as::

    E = P_idle·t + e·U + Σ_j c_j·d_j·t        (kWh)

with P_idle the idle power (kW), e the energy per good unit (kWh/unit) and, optionally, configured
drivers d_j (say outdoor temperature in °C for HVAC) whose coefficients c_j (kW per unit of d_j)
modulate the power. P_idle and e are the numbers :mod:`.lmdi` decomposes intensity with.

The fit is linear in the parameters, made robust because plant history holds windows no model
should follow: a meter glitch, a cleaning cycle, a stuck counter. It is an M-estimate with Huber's
ψ (tuning constant 1.345, 95 % efficient when the residuals are normal), computed by iteratively
reweighted least squares with the scale re-estimated each step as the MAD of the residuals about
zero / 0.6745 (as statsmodels' RLM does). A window with a residual beyond 1.345 scales gets weight
``1.345·scale / |residual|``: a gross outlier still counts, but only linearly, not squared.

Physics says P_idle ≥ 0 and e ≥ 0, so every weighted least-squares step is solved under those
bounds: the best of the solutions with each subset of the two held at zero (which is the exact
bounded optimum). A baseline that needed it names them in :attr:`Baseline.held_at_zero`.

A baseline is not always usable: too little history, a model that explains too little of the
energy, or windows that cannot tell idle power from energy per unit (a line that always ran at the
same rate). Such a baseline is kept, with ``valid=False`` and a plain-language ``reason``, and
:meth:`Baseline.expected_kwh` refuses it, so nothing compares a window against it silently.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

#: Huber's tuning constant, in scale units: 95 % efficiency at the normal distribution.
HUBER = 1.345
#: MAD / 0.6745 estimates the standard deviation of normal residuals (0.6745 = Φ⁻¹(0.75)).
MAD_TO_SIGMA = 0.6745
#: Windows a fit needs before it is trusted (an hour of 1-minute windows).
MIN_WINDOWS = 60
#: R² (of energy, in kWh) below which a fit is not trusted.
MIN_R2 = 0.6
#: How far beyond its fitted range, as a share of that range's width, a window may still be judged.
TOLERANCE = 0.1
#: IRLS stops when no fitted energy moves by more than this share of the largest energy.
_CONVERGED = 1e-12
_MAX_STEPS = 200
#: The parameters the bounds apply to, in the order of the design matrix's first columns.
_BOUNDED = ("idle_kw", "kwh_per_unit")


@dataclass(frozen=True)
class Baseline:
    """One machine's energy signature for one line and SKU, and whether it may be used.

    Numbers a fit could not produce (too few windows, or windows that cannot tell the parameters
    apart) are NaN, and such a baseline is never valid.
    """

    idle_kw: float  #: P_idle, power drawn whatever the output, kW
    kwh_per_unit: float  #: e, energy per good unit, kWh/unit
    drivers: dict[str, float]  #: c_j per driver name, kW per unit of the driver
    r2: float | None  #: Huber-weighted R² of the fitted energy (kWh); None when nothing was fitted
    n: int  #: windows the fit used
    rejected: int  #: windows dropped: a non-finite value or a length ≤ 0 h
    units_per_hour: tuple[float, float] | None  #: (min, max) good units/h of the windows used
    driver_ranges: dict[str, tuple[float, float]]  #: (min, max) of each driver over those windows
    fitted_at: int | None  #: when it was fitted, ns since the epoch (given by the caller)
    valid: bool  #: whether windows may be compared with it
    reason: str | None  #: why it is invalid, or where a valid one without a fit came from
    held_at_zero: tuple[str, ...] = ()  #: bounded parameters whose free estimate was negative

    def expected_kwh(self, hours: ArrayLike, units: ArrayLike,
                     drivers: Mapping[str, ArrayLike] | None = None) -> np.ndarray:
        """Energy the signature expects, kWh, for windows of ``hours`` h making ``units`` units.

        Elementwise (numpy broadcasting); ``drivers`` gives each driver's value per window and
        must name every driver the baseline has (others are ignored). An invalid baseline raises
        :class:`ValueError` with its reason rather than return a number nobody should trust.
        """
        if not self.valid:
            raise ValueError(f"baseline is not usable: {self.reason}")
        power = np.asarray(self.idle_kw, dtype=float)
        given = drivers or {}
        for name, coefficient in self.drivers.items():
            if name not in given:
                raise ValueError(f"driver {name!r} has no value")
            power = power + coefficient * np.asarray(given[name], dtype=float)
        return power * np.asarray(hours, dtype=float) + self.kwh_per_unit * np.asarray(
            units, dtype=float)

    def check(self, hours: float, units: float, drivers: Mapping[str, float] | None = None, *,
              tolerance: float = TOLERANCE) -> str | None:
        """Why one window cannot be judged against this baseline, or None when it can.

        A straight line fitted over some throughputs says little about others, so a window whose
        units per hour, or whose driver value, lies outside the fitted range extended by
        ``tolerance`` × the range's width at each end is refused. The width, not the value, sets
        the margin because drivers such as °C have no natural zero. An invalid baseline gives its
        own reason; a nominal one (no ranges) accepts every window.
        """
        if not self.valid:
            return self.reason
        if self.units_per_hour is not None:
            if hours <= 0:
                return f"the window lasts {hours:g} h: units per hour are undefined"
            reason = _outside(units / hours, self.units_per_hour, tolerance, "units/h")
            if reason:
                return reason
        given = drivers or {}
        for name, fitted in self.driver_ranges.items():
            if name not in given:
                return f"driver {name!r} has no value"
            reason = _outside(given[name], fitted, tolerance, name)
            if reason:
                return reason
        return None


def _outside(value: float, fitted: tuple[float, float], tolerance: float, what: str) -> str | None:
    """The reason ``value`` lies outside ``fitted`` widened by ``tolerance``, else None."""
    low, high = fitted
    margin = tolerance * (high - low)
    if low - margin <= value <= high + margin:
        return None
    return f"{what} {value:.4g} is outside the fitted range {low:.4g} to {high:.4g}"


def nominal(kwh_per_unit: float, idle_kw: float = 0.0) -> Baseline:
    """A baseline from configured values, for a plant that has no history yet (cold start).

    It is valid and has no ranges, so :meth:`Baseline.check` accepts any window: the plant vouched
    for the numbers, the data did not.
    """
    if not (kwh_per_unit >= 0 and idle_kw >= 0):
        raise ValueError("a nominal baseline needs kwh_per_unit ≥ 0 and idle_kw ≥ 0")
    return Baseline(idle_kw=float(idle_kw), kwh_per_unit=float(kwh_per_unit), drivers={}, r2=None,
                    n=0, rejected=0, units_per_hour=None, driver_ranges={}, fitted_at=None,
                    valid=True, reason="nominal (from config)")


def fit(hours: ArrayLike, units: ArrayLike, kwh: ArrayLike,
        drivers: Mapping[str, ArrayLike] | None = None, *, min_windows: int = MIN_WINDOWS,
        min_r2: float = MIN_R2, fitted_at: int | None = None) -> Baseline:
    """Fit ``E = P_idle·t + e·U + Σ_j c_j·d_j·t`` to historical windows, robustly.

    ``hours`` (h), ``units`` (good units) and ``kwh`` (energy) hold one value per window, as does
    each array of ``drivers`` (name → values in the driver's own unit). Windows with a non-finite
    value or a length ≤ 0 h are dropped and counted in ``rejected``. The result is invalid, with
    the first reason that applies, when fewer than ``min_windows`` windows remain, when they
    cannot tell the parameters apart, or when the fit's R² is below ``min_r2``; it still carries
    whatever could be fitted, for display. ``fitted_at`` (ns since the epoch) is stored as given.

    R² is weighted by the final Huber weights, so the outliers the fit discounted do not fail it
    either; with energy constant over every window (nothing to explain) it is 1 for an exact fit
    and 0 otherwise.
    """
    names = list(drivers or {})
    columns = [np.asarray(a, dtype=float) for a in
               (hours, units, kwh, *((drivers or {})[name] for name in names))]
    if any(c.shape != columns[0].shape or c.ndim != 1 for c in columns):
        raise ValueError("hours, units, kwh and every driver need one value per window")
    keep = np.logical_and.reduce([np.isfinite(c) for c in columns]) & (columns[0] > 0)
    t, u, energy, *d = (c[keep] for c in columns)
    n, rejected = int(keep.sum()), int(keep.size - keep.sum())
    learning = f"learning: {n} of {min_windows} windows" if n < min_windows else None
    unfitted = Baseline(idle_kw=math.nan, kwh_per_unit=math.nan,
                        drivers=dict.fromkeys(names, math.nan), r2=None, n=n, rejected=rejected,
                        units_per_hour=None, driver_ranges={}, fitted_at=fitted_at, valid=False,
                        reason=learning or "no windows")
    if n == 0:
        return unfitted
    rate = u / t
    units_per_hour = (float(rate.min()), float(rate.max()))
    driver_ranges = {name: (float(v.min()), float(v.max())) for name, v in zip(names, d)}
    x = np.column_stack([t, u, *(v * t for v in d)])
    x_scale = np.linalg.norm(x, axis=0)
    if np.linalg.matrix_rank(x / np.where(x_scale > 0, x_scale, 1.0)) < x.shape[1]:
        return replace(unfitted, units_per_hour=units_per_hour, driver_ranges=driver_ranges,
                       reason=learning or _unidentifiable(units_per_hour, driver_ranges))
    beta, weights, held = _huber(x, energy)
    residual = energy - x @ beta
    mean = np.average(energy, weights=weights)
    ssr = float(weights @ residual**2)
    sst = float(weights @ (energy - mean) ** 2)
    r2 = 1.0 - ssr / sst if sst > 0 else float(ssr == 0)  # same energy every window: exact or not
    reason = learning or (f"R² {r2:.2f} below {min_r2:g}" if r2 < min_r2 else None)
    return Baseline(idle_kw=float(beta[0]), kwh_per_unit=float(beta[1]),
                    drivers={name: float(c) for name, c in zip(names, beta[2:])}, r2=r2, n=n,
                    rejected=rejected, units_per_hour=units_per_hour,
                    driver_ranges=driver_ranges, fitted_at=fitted_at, valid=reason is None,
                    reason=reason, held_at_zero=tuple(_BOUNDED[i] for i in held))


def _unidentifiable(units_per_hour: tuple[float, float],
                    driver_ranges: Mapping[str, tuple[float, float]]) -> str:
    """Why the design matrix has dependent columns, in the plant's terms."""
    low, high = units_per_hour
    if low == high:
        return (f"units per hour never varied ({low:.4g}): idle power and energy per unit cannot "
                "be told apart")
    for name, (low, high) in driver_ranges.items():
        if low == high:
            return f"driver {name!r} never varied: its effect cannot be told from idle power"
    return "the windows cannot tell idle power, energy per unit and the drivers apart"


def _huber(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    """Huber M-estimate by IRLS: parameters, the final weights and the bounds held at zero.

    Starts from (bounded) least squares. When more than half the windows fit exactly, the MAD
    scale is 0 and nothing is left to reweight: that fit is returned.
    """
    weights = np.ones_like(y)
    beta, held = _bounded_lstsq(x, y, weights)
    size = float(np.max(np.abs(y)))
    for _ in range(_MAX_STEPS):
        residual = np.abs(y - x @ beta)
        scale = float(np.median(residual)) / MAD_TO_SIGMA
        if scale == 0:
            break
        limit = HUBER * scale
        weights = np.where(residual <= limit, 1.0, limit / np.maximum(residual, limit))
        new, held = _bounded_lstsq(x, y, weights)
        moved = float(np.max(np.abs(x @ (new - beta))))
        beta = new
        if moved <= _CONVERGED * size:
            break
    return beta, weights, held


def _bounded_lstsq(x: np.ndarray, y: np.ndarray,
                   weights: np.ndarray) -> tuple[np.ndarray, tuple[int, ...]]:
    """Weighted least squares with the first two parameters ≥ 0, and which are held at 0.

    The bounded optimum is the free solution of one subset of the bounds held at zero, so the
    best feasible one of the four subsets is exact; the free fit, when feasible, needs no other.
    Columns are scaled to unit norm first so a driver's size does not cost precision.
    """
    root = np.sqrt(weights)
    a, b = x * root[:, None], y * root
    best: tuple[float, np.ndarray, tuple[int, ...]] | None = None
    for held in ((), (0,), (1,), (0, 1)):
        free = [j for j in range(x.shape[1]) if j not in held]
        beta = np.zeros(x.shape[1])
        if free:
            scale = np.linalg.norm(a[:, free], axis=0)
            beta[free] = np.linalg.lstsq(a[:, free] / scale, b, rcond=None)[0] / scale
        if beta[0] < 0 or beta[1] < 0:
            continue
        loss = float(np.sum((a @ beta - b) ** 2))
        if best is None or loss < best[0]:
            best = (loss, beta, held)
        if not held:
            break
    assert best is not None  # both held at zero is always feasible
    return best[1], best[2]


SCHEMA = """
CREATE TABLE IF NOT EXISTS baseline (
    line TEXT NOT NULL, sku TEXT NOT NULL, machine TEXT NOT NULL, version INTEGER NOT NULL,
    baseline TEXT NOT NULL,
    PRIMARY KEY (line, sku, machine, version)
);
"""


class BaselineStore:
    """Every baseline ever saved, per line × SKU × machine, numbered 1, 2, … (kept for audit).

    One SQLite file (e.g. ``<[run] state_dir>/baselines.sqlite``); each baseline is one JSON text
    (no pickle, so any tool can read it), with NaN written as null. Floats survive the round
    trip exactly (JSON keeps their shortest repr).
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)

    def save(self, line: str, sku: str, machine: str, baseline: Baseline) -> int:
        """Store ``baseline`` as the key's next version and return that version (1 first)."""
        key = (line, sku, machine)
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")  # two writers must not both take the same number
            (version,) = self._db.execute(
                "SELECT COALESCE(MAX(version), 0) + 1 FROM baseline "
                "WHERE line = ? AND sku = ? AND machine = ?", key).fetchone()
            self._db.execute("INSERT INTO baseline VALUES (?, ?, ?, ?, ?)",
                             (*key, version, _to_json(baseline)))
        return int(version)

    def latest(self, line: str, sku: str, machine: str) -> tuple[int, Baseline] | None:
        """The key's newest version and baseline, or None when none was saved."""
        versions = self._select(line, sku, machine, "ORDER BY version DESC LIMIT 1")
        return versions[0] if versions else None

    def history(self, line: str, sku: str, machine: str) -> list[tuple[int, Baseline]]:
        """Every version of the key, oldest first."""
        return self._select(line, sku, machine, "ORDER BY version")

    def _select(self, line: str, sku: str, machine: str,
                order: str) -> list[tuple[int, Baseline]]:
        rows = self._db.execute("SELECT version, baseline FROM baseline "
                                f"WHERE line = ? AND sku = ? AND machine = ? {order}",
                                (line, sku, machine)).fetchall()
        return [(version, _from_json(text)) for version, text in rows]

    def close(self) -> None:
        self._db.close()


def _to_json(baseline: Baseline) -> str:
    """``baseline`` as strict JSON: tuples become lists, NaN becomes null."""
    def number(value: float) -> float | None:
        return None if math.isnan(value) else value

    return json.dumps({
        "idle_kw": number(baseline.idle_kw), "kwh_per_unit": number(baseline.kwh_per_unit),
        "drivers": {name: number(c) for name, c in baseline.drivers.items()},
        "r2": baseline.r2, "n": baseline.n, "rejected": baseline.rejected,
        "units_per_hour": baseline.units_per_hour, "driver_ranges": baseline.driver_ranges,
        "fitted_at": baseline.fitted_at, "valid": baseline.valid, "reason": baseline.reason,
        "held_at_zero": baseline.held_at_zero}, allow_nan=False, ensure_ascii=False)


def _from_json(text: str) -> Baseline:
    """The inverse of :func:`_to_json`."""
    def number(value: float | None) -> float:
        return math.nan if value is None else value

    data = json.loads(text)
    return Baseline(
        idle_kw=number(data["idle_kw"]), kwh_per_unit=number(data["kwh_per_unit"]),
        drivers={name: number(c) for name, c in data["drivers"].items()}, r2=data["r2"],
        n=data["n"], rejected=data["rejected"],
        units_per_hour=None if data["units_per_hour"] is None else tuple(data["units_per_hour"]),
        driver_ranges={name: tuple(r) for name, r in data["driver_ranges"].items()},
        fitted_at=data["fitted_at"], valid=data["valid"], reason=data["reason"],
        held_at_zero=tuple(data["held_at_zero"]))
