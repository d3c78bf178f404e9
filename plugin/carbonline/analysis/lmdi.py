"""Why intensity moved: additive LMDI-I decomposition (design brief §5).

LMDI-I, the logarithmic mean Divisia index method I (B. W. Ang, "The LMDI approach to
decomposition analysis: a practical guide", Energy Policy 33 (2005) 867–871), splits the change of
an aggregate ``V = Σ_i V_i`` with ``V_i = Π_k x_{k,i}`` between a period 0 and a period T into one
effect per factor k::

    ΔV_{x_k} = Σ_i L(V_i^T, V_i^0) · ln(x_{k,i}^T / x_{k,i}^0),   L(a, b) = (a − b) / (ln a − ln b)

The effects add up to ``V^T − V^0`` with no residual, which is why the design brief chose it: every
kilogram of a change is assigned to exactly one cause. :func:`additive` is the general method
(checked against published figures in ``tests/analysis/test_lmdi.py``); :func:`decompose` applies
it to a line's CO₂e intensity and names the probable cause.

Zero values. A logarithm of zero is undefined, so, as Ang (2005) and Ang, Zhang & Choi (1998,
Energy 23, 489–495) recommend, every zero is replaced by a small positive number δ, between 10⁻¹⁰
and 10⁻²⁰; we take :data:`SMALL` = 10⁻²⁰, and any value below it counts as zero. The effects
still add up to the change. As δ → 0 they converge to the analytical limits (Ang et al. 1998,
Table 2; Ang & Liu, Energy Policy 35 (2007) 238–246): a sub-category that appears (or vanishes)
gives its whole value to the factor that is zero, and nothing to the others. At δ = 10⁻²⁰ a
factor that changed at the same time keeps a share of about ``ln(ratio) / 46`` of that value;
factors that did not change get exactly zero. Negative values are not handled by LMDI: refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

#: δ, the number that stands in for a zero value (Ang 2005: "between 10⁻¹⁰ and 10⁻²⁰").
SMALL = 1e-20


def _positive(x: ArrayLike) -> np.ndarray:
    """``x`` as floats with zeros (and anything below :data:`SMALL`) raised to :data:`SMALL`."""
    x = np.asarray(x, dtype=float)
    if np.any(x < 0) or np.any(np.isnan(x)):
        raise ValueError("LMDI needs values ≥ 0")
    return np.maximum(x, SMALL)


def logmean(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """The logarithmic mean L(a, b) = (a − b) / (ln a − ln b), with L(a, a) = a; elementwise.

    It lies between the geometric and the arithmetic mean of a and b and is the weight LMDI gives
    a sub-category. Zeros become :data:`SMALL` (Ang 2005), so L(a, 0) is small, not an error.
    """
    return _logmean(_positive(a), _positive(b))


def _logmean(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """:func:`logmean` of values already > 0 (a product of δs may be below δ: kept as it is)."""
    diff = a - b
    ratio = diff / b
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # ln(a/b) via log1p near a == b: ln a − ln b would lose every digit to cancellation there.
        log_ratio = np.where(np.abs(ratio) < 0.5, np.log1p(ratio), np.log(a) - np.log(b))
        return np.where(diff == 0, a, diff / log_ratio)


def contributions(x0: ArrayLike, x1: ArrayLike) -> np.ndarray:
    """The LMDI-I terms ``L(V_i^T, V_i^0)·ln(x_{k,i}^T / x_{k,i}^0)``, shape (factors, sub-cats).

    ``x0`` and ``x1`` hold the factor values in period 0 and period T, one row per factor k and one
    column per sub-category i, in whatever units make ``V_i = Π_k x_{k,i}`` the aggregate's unit;
    the terms are in that unit. Summing a column gives that sub-category's change
    ``V_i^T − V_i^0``; summing a row gives a factor's effect (:func:`additive`).
    """
    x0, x1 = _positive(x0), _positive(x1)
    if x0.ndim != 2 or x0.shape != x1.shape:
        raise ValueError(f"need two arrays of shape (factors, sub-categories), got {x0.shape} "
                         f"and {x1.shape}")
    return _logmean(x1.prod(axis=0), x0.prod(axis=0)) * np.log(x1 / x0)


def additive(x0: ArrayLike, x1: ArrayLike) -> np.ndarray:
    """Additive LMDI-I: the effect of each factor, ``ΔV_{x_k}``, shape (factors,).

    Inputs as for :func:`contributions`. The effects sum to ``V^T − V^0``, where
    ``V = Σ_i Π_k x_{k,i}``, to floating-point precision: there is no residual.
    """
    return contributions(x0, x1).sum(axis=1)


@dataclass(frozen=True)
class Machine:
    """One machine's energy signature over a period, ``E = P_idle·t + Σ_k e_k·U_k`` (brief §5)."""

    factor: float  #: F_m, kg CO₂e per kWh of the machine's energy carrier
    idle_kw: float  #: P_idle,m, power drawn whatever the output, kW
    kwh_per_unit: Mapping[str, float]  #: e_m,k, kWh per good unit of SKU k
    electric: bool = True  #: grid electricity; False for a fuel-fired (Scope 1) machine


@dataclass(frozen=True)
class Period:
    """What a line did over a window or its baseline: the inputs of the intensity identity."""

    hours: float  #: t, the length of the period, h
    units: float  #: U, good units produced
    shares: Mapping[str, float]  #: s_k, each SKU's share of the good units (they sum to 1)
    machines: Mapping[str, Machine] = field(default_factory=dict)


def intensity(period: Period) -> float:
    """The line's intensity in kg CO₂e per good unit (brief §5)::

        I = Σ_m F_m·P_idle,m·t / U  +  Σ_m Σ_k F_m·s_k·e_m,k
    """
    if period.units <= 0:
        raise ValueError("no good units: intensity is undefined")
    idle = sum(m.factor * m.idle_kw for m in period.machines.values()) * period.hours / period.units
    variable = sum(m.factor * share * m.kwh_per_unit.get(sku, 0.0)
                   for m in period.machines.values() for sku, share in period.shares.items())
    return idle + variable


Cause = tuple[str, str | None]  # ("grid" | "throughput" | "recipe" | "equipment", machine or None)


@dataclass(frozen=True)
class Effects:
    """The change of intensity from baseline to now, split by cause, each in kg CO₂e/unit.

    ``grid``: the grid emission factor of the electric machines. ``throughput``: idle energy spread
    over more or fewer units per hour. ``recipe``: the product mix (SKU shares). ``machines``: per
    machine, its idle power and energy per unit, and for a fuel-fired machine its fuel's factor.
    """

    grid: float
    throughput: float
    recipe: float
    machines: dict[str, float]

    @property
    def total(self) -> float:
        """The whole change, I_T − I_0, kg CO₂e/unit: the effects leave no residual."""
        return self.grid + self.throughput + self.recipe + sum(self.machines.values())

    def largest(self) -> Cause:
        """The cause that moved intensity most in the direction it moved.

        ``("equipment", machine)`` or ``(cause, None)``: the largest positive effect when
        intensity rose (or did not move), the most negative when it fell. Ties go to the first of
        grid, throughput, recipe, then the machines in order.
        """
        direction = 1.0 if self.total >= 0 else -1.0
        candidates: list[tuple[Cause, float]] = [
            (("grid", None), self.grid), (("throughput", None), self.throughput),
            (("recipe", None), self.recipe),
            *((("equipment", name), value) for name, value in self.machines.items())]
        return max(candidates, key=lambda c: direction * c[1])[0]


def decompose(baseline: Period, now: Period) -> Effects:
    """Split ``intensity(now) − intensity(baseline)`` into causes with additive LMDI-I.

    Each term of the identity is a sub-category of its own, so the idle term, which is added to
    and not multiplied with the variable one, is decomposed like the rest (brief §5):

    - idle, one per machine m: ``F_m · P_idle,m · (t/U)``: F_m → grid (or the machine, see below),
      P_idle,m → the machine, t/U → throughput;
    - variable, one per machine m and SKU k: ``F_m · s_k · e_m,k``: F_m → grid (or the machine),
      s_k → recipe, e_m,k → the machine.

    A change of a fuel-fired machine's factor is that machine's effect, as is a factor change of a
    machine whose carrier changed (it is electric in one period only): the grid effect is the grid
    factor of machines that were electric in both.

    Something present in one period only is zero in the other, handled by the zero rule (module
    docstring), with these choices so the change lands on one cause:

    - a machine missing from a period has no idle power and no energy per unit there, and its
      factor is taken from the other period: its whole intensity goes to that machine;
    - a SKU with no units in a period (share 0 or missing) has no energy per unit that can be
      observed there, so its e_m,k is taken from the other period: its arrival or departure goes
      to recipe.
    """
    periods = (baseline, now)
    if min(p.units for p in periods) <= 0:
        raise ValueError("no good units: intensity is undefined")
    names = sorted(baseline.machines.keys() | now.machines.keys())
    skus = sorted(baseline.shares.keys() | now.shares.keys())
    tau = tuple(p.hours / p.units for p in periods)  # t/U, h per unit

    def pick(name: str, i: int) -> Machine:
        """Machine ``name`` in period i, or in the other period when it is missing from i."""
        return periods[i].machines.get(name) or periods[1 - i].machines[name]

    def kwh(name: str, sku: str, i: int) -> float:
        """e_m,k in period i; from the other period when the SKU made no units in i."""
        source = periods[i if periods[i].shares.get(sku, 0.0) > 0 else 1 - i]
        machine = source.machines.get(name)
        return machine.kwh_per_unit.get(sku, 0.0) if machine else 0.0

    # One sub-category per term: its three factors in period 0 and T, and the cause of each.
    terms: list[tuple[tuple[float, ...], tuple[float, ...], tuple[Cause, ...]]] = []
    for name in names:
        own: Cause = ("equipment", name)
        electric = all(p.machines[name].electric for p in periods if name in p.machines)
        carrier: Cause = ("grid", None) if electric else own
        f = (pick(name, 0).factor, pick(name, 1).factor)
        idle = tuple(p.machines[name].idle_kw if name in p.machines else 0.0 for p in periods)
        terms.append(((f[0], idle[0], tau[0]), (f[1], idle[1], tau[1]),
                      (carrier, own, ("throughput", None))))
        for sku in skus:
            s = tuple(p.shares.get(sku, 0.0) for p in periods)
            e = (kwh(name, sku, 0), kwh(name, sku, 1))
            terms.append(((f[0], s[0], e[0]), (f[1], s[1], e[1]), (carrier, ("recipe", None), own)))

    totals: dict[Cause, float] = {("equipment", name): 0.0 for name in names}
    if terms:
        x0, x1, causes = zip(*terms)
        values = contributions(np.transpose(x0), np.transpose(x1)).T  # one row per sub-category
        for row, row_causes in zip(values, causes):
            for cause, value in zip(row_causes, row):
                totals[cause] = totals.get(cause, 0.0) + float(value)
    return Effects(grid=totals.get(("grid", None), 0.0),
                   throughput=totals.get(("throughput", None), 0.0),
                   recipe=totals.get(("recipe", None), 0.0),
                   machines={name: totals[("equipment", name)] for name in names})
