"""LMDI-I decomposition: a published worked example, hand-worked cases and properties.

The published example is the two-level industrial data set of Xu & Ang (2014); every other
expected value below is worked by hand in its comment.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carbonline.analysis.lmdi import (
    SMALL,
    Machine,
    Period,
    additive,
    contributions,
    decompose,
    intensity,
    logmean,
)

PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ---------------------------------------------------------------------------------------------
# The published example.
#
# X.Y. Xu and B.W. Ang, "Multilevel index decomposition analysis: Approaches and application",
# Energy Economics 44 (2014) 375–382, doi:10.1016/j.eneco.2014.05.002. Numbers copied from the
# accepted manuscript, Tables 1–4 (p. 28), found as documentation/xu2014.pdf in the public
# repository github.com/xiwangxiang/PyLMDI (commit 1ebd230; its input_data/example_data_ang_2014.csv
# holds the same E and A). Table 1's data are "taken from an example in Ang (1995)":
# B.W. Ang, "Multilevel decomposition of industrial energy consumption", Energy Economics 17 (1995)
# 39–51.
#
# Table 1 (arbitrary units): energy E and activity A of four subsectors, in two sectors.
# Its S (activity share) and I (energy intensity) columns are printed rounded (subsector 2's I^T =
# 10/8 = 1.25 is printed 1.3), so they are derived here from E and A, as the paper does.
E0 = np.array([20.0, 10.0, 8.0, 12.0])  # subsectors 1, 2 (sector 1) and 3, 4 (sector 2), year 0
A0 = np.array([5.0, 5.0, 10.0, 30.0])
ET = np.array([30.0, 10.0, 15.0, 9.0])  # year T
AT = np.array([12.0, 8.0, 30.0, 30.0])
SECTOR = np.array([0, 0, 1, 1])  # which sector each subsector belongs to
# The paper reports multiplicative LMDI-I: D_xk = exp(Σ_i L(E_i^T, E_i^0)/L(E^T, E^0) · ln(x^T/x^0))
# (its Eq. 13–15), i.e. exp(ΔE_xk / L(E^T, E^0)) of the additive effect: Ang (2005) gives this
# link between the two forms, which lets the additive effects be checked against these tables.
D_TOT = 1.28  # Tables 2–4, E^T/E^0 = 64/50
# Table 2, single-level LMDI-I: D_act, D_str, D_int.
TABLE_2_LEVEL_1 = (1.5998, 1.1183, 0.7154)
TABLE_2_LEVEL_2 = (1.5936, 1.2378, 0.6489)
# Table 3, multilevel-parallel (M-P) row: D_act, D_str (level 0→1), D_str (level 1→2), D_int.
TABLE_3_MP = (1.5936, 1.1183, 1.1068, 0.6489)
# Table 4, M-P row with sector 2 not split into subsectors (asymmetric hierarchy).
TABLE_4_MP = (1.5985, 1.1179, 1.0407, 0.6883)
PRINTED = 0.5e-4  # the tables print four decimals


def multiplicative(x0: np.ndarray, x1: np.ndarray) -> np.ndarray:
    """The multiplicative LMDI-I indices from the additive effects (Ang 2005)."""
    total0, total1 = x0.prod(axis=0).sum(), x1.prod(axis=0).sum()
    return np.exp(additive(x0, x1) / logmean(total1, total0))


def sector_sums(values: np.ndarray) -> np.ndarray:
    return np.bincount(SECTOR, weights=values)


def single_level(energy: np.ndarray, activity: np.ndarray) -> np.ndarray:
    """Factors of E_i = A · (A_i/A) · (E_i/A_i): overall activity, structure, intensity."""
    total = activity.sum()
    return np.array([np.full(activity.size, total), activity / total, energy / activity])


def parallel(energy: np.ndarray, activity: np.ndarray, sector: np.ndarray) -> np.ndarray:
    """M-P factors of E_ij = A · (A_i/A) · (A_ij/A_i) · (E_ij/A_ij)."""
    total = activity.sum()
    in_sector = np.bincount(sector, weights=activity)[sector]
    return np.array([np.full(activity.size, total), in_sector / total, activity / in_sector,
                     energy / activity])


def test_xu_ang_2014_table_2_single_level_by_sector():
    x0 = single_level(sector_sums(E0), sector_sums(A0))
    x1 = single_level(sector_sums(ET), sector_sums(AT))
    assert multiplicative(x0, x1) == pytest.approx(TABLE_2_LEVEL_1, abs=PRINTED)


def test_xu_ang_2014_table_2_single_level_by_subsector():
    x0, x1 = single_level(E0, A0), single_level(ET, AT)
    assert multiplicative(x0, x1) == pytest.approx(TABLE_2_LEVEL_2, abs=PRINTED)
    assert np.prod(multiplicative(x0, x1)) == pytest.approx(D_TOT, rel=1e-12)
    assert additive(x0, x1).sum() == pytest.approx(64.0 - 50.0, rel=1e-12)  # no residual


def test_xu_ang_2014_table_3_multilevel_parallel():
    x0, x1 = parallel(E0, A0, SECTOR), parallel(ET, AT, SECTOR)
    assert multiplicative(x0, x1) == pytest.approx(TABLE_3_MP, abs=PRINTED)


def test_xu_ang_2014_table_4_asymmetric_hierarchy():
    # Sector 2 is one sub-category (subsectors 3 and 4 summed) whose own structure factor is 1.
    def merged(values: np.ndarray) -> np.ndarray:
        return np.append(values[:2], values[2:].sum())

    x0 = parallel(merged(E0), merged(A0), np.array([0, 0, 1]))
    x1 = parallel(merged(ET), merged(AT), np.array([0, 0, 1]))
    assert multiplicative(x0, x1) == pytest.approx(TABLE_4_MP, abs=PRINTED)


# ---------------------------------------------------------------------------------------------
# logmean and additive, by hand.

def test_logmean_by_hand():
    assert logmean(2.0, 1.0) == pytest.approx(1 / math.log(2))  # (2 − 1)/(ln 2 − ln 1)
    assert logmean(np.e, 1.0) == pytest.approx(np.e - 1)  # (e − 1)/(1 − 0)
    assert logmean(3.0, 3.0) == 3.0  # L(a, a) = a, no 0/0
    assert logmean([1.0, 4.0], [2.0, 4.0]) == pytest.approx([1 / math.log(2), 4.0])


def test_logmean_of_a_zero_uses_the_small_number():
    # Zero → δ (Ang 2005): L(1, 0) = (1 − δ)/(ln 1 − ln δ) = 1/ln(1/δ) ≈ 1/46.05.
    assert logmean(1.0, 0.0) == pytest.approx(1 / -math.log(SMALL))
    assert logmean(0.0, 0.0) == SMALL


def test_negative_values_are_refused():
    with pytest.raises(ValueError):
        logmean(-1.0, 1.0)
    with pytest.raises(ValueError):
        additive([[1.0]], [[-1.0]])


def test_additive_by_hand():
    # One sub-category, V = x1·x2 goes from 1·1 = 1 to 2·2 = 4. L(4, 1) = 3/ln 4 = 3/(2 ln 2), so
    # each factor's effect is 3/(2 ln 2) · ln 2 = 1.5, and 1.5 + 1.5 = 4 − 1.
    assert additive([[1.0], [1.0]], [[2.0], [2.0]]) == pytest.approx([1.5, 1.5])
    # Two sub-categories, one factor that only changes in the second: V = 3 + 1 → 3 + 2.
    # Factor 1 (3 → 3 and 1 → 2): L(2, 1)·ln 2 = 1 = the whole change; factor 2 is constant: 0.
    assert additive([[3.0, 1.0], [1.0, 1.0]], [[3.0, 2.0], [1.0, 1.0]]) == pytest.approx([1.0, 0])


def test_a_new_sub_category_goes_to_the_factor_that_was_zero():
    # Sub-category 2 appears: x = (0 → 5, 2 → 2), V_2 = 0 → 10. Only x_1 changed, so its effect
    # takes V_2 whole (Ang et al. 1998's analytical limit); factor 2 did not change: exactly 0.
    effects = additive([[1.0, 0.0], [1.0, 2.0]], [[1.0, 5.0], [1.0, 2.0]])
    assert effects[0] == pytest.approx(10.0, rel=1e-15)
    assert effects[1] == 0.0


def test_shapes_must_match():
    with pytest.raises(ValueError):
        additive([[1.0, 2.0]], [[1.0]])
    with pytest.raises(ValueError):
        additive([1.0, 2.0], [1.0, 2.0])


# ---------------------------------------------------------------------------------------------
# Properties.

positive = st.floats(1e-3, 1e3)


@PROPERTY
@given(a=positive, b=positive)
def test_logmean_lies_between_the_geometric_and_arithmetic_means(a, b):
    value = float(logmean(a, b))
    assert math.sqrt(a * b) * (1 - 1e-12) <= value <= (a + b) / 2 * (1 + 1e-12)
    assert value == pytest.approx(float(logmean(b, a)), rel=1e-12)


@st.composite
def factor_pairs(draw, zeros: bool) -> tuple[np.ndarray, np.ndarray]:
    """Factor values in two periods, shape (factors, sub-categories); some zero if asked."""
    factors, subs = draw(st.integers(1, 4)), draw(st.integers(1, 6))
    value = st.one_of(positive, st.just(0.0)) if zeros else positive
    draw_array = st.lists(value, min_size=factors * subs, max_size=factors * subs)
    return (np.reshape(draw(draw_array), (factors, subs)),
            np.reshape(draw(draw_array), (factors, subs)))


@PROPERTY
@given(pair=st.one_of(factor_pairs(zeros=False), factor_pairs(zeros=True)))
def test_effects_sum_to_the_change_with_no_residual(pair):
    x0, x1 = pair
    v0, v1 = x0.prod(axis=0).sum(), x1.prod(axis=0).sum()
    # Rounding, plus the zero rule: a zero stands in as δ, so a sub-category with a zero keeps
    # at most δ times its other factors, δ·(10³)³ = 1e-11, of a value; 6 of them < 1e-10.
    tolerance = 1e-12 * max(v0, v1) + 1e-10
    assert additive(x0, x1).sum() == pytest.approx(v1 - v0, abs=tolerance)
    # and per sub-category: each column of terms adds up to that sub-category's change
    assert contributions(x0, x1).sum(axis=0) == pytest.approx(
        x1.prod(axis=0) - x0.prod(axis=0), abs=tolerance)


@PROPERTY
@given(pair=factor_pairs(zeros=False))
def test_swapping_the_periods_negates_every_effect(pair):
    x0, x1 = pair
    scale = max(x0.prod(axis=0).sum(), x1.prod(axis=0).sum())
    assert additive(x1, x0) == pytest.approx(-additive(x0, x1), abs=1e-12 * scale)


# ---------------------------------------------------------------------------------------------
# The line's intensity (design brief §5), worked by hand.
#
# Baseline: 8 h, 4000 good units, one SKU "A". The compressor is electric: F = 0.4 kg/kWh,
# P_idle = 5 kW, e = 0.1 kWh/unit. The oven burns gas: F = 0.2 kg/kWh, P_idle = 10 kW,
# e = 0.5 kWh/unit.
#   idle     = (0.4·5 + 0.2·10)·8/4000 = 4·0.002 = 0.008 kg/unit
#   variable = 0.4·1·0.1 + 0.2·1·0.5   = 0.04 + 0.1 = 0.14 kg/unit      I_0 = 0.148 kg/unit

COMPRESSOR = Machine(factor=0.4, idle_kw=5.0, kwh_per_unit={"A": 0.1})
OVEN = Machine(factor=0.2, idle_kw=10.0, kwh_per_unit={"A": 0.5}, electric=False)
BASELINE = Period(hours=8.0, units=4000.0, shares={"A": 1.0},
                  machines={"compressor": COMPRESSOR, "oven": OVEN})


def with_machines(period: Period, **machines: Machine) -> Period:
    return Period(period.hours, period.units, period.shares, {**period.machines, **machines})


def test_intensity_by_hand():
    assert intensity(BASELINE) == pytest.approx(0.148)


def test_a_compressor_needing_more_energy_per_unit_is_equipment():
    # e: 0.1 → 0.15 kWh/unit. ΔI = 0.4·1·0.05 = 0.02 kg/unit, all of it the compressor's.
    now = with_machines(BASELINE, compressor=Machine(0.4, 5.0, {"A": 0.15}))
    effects = decompose(BASELINE, now)
    assert effects.machines["compressor"] == pytest.approx(0.02)
    assert effects.grid == 0.0 and effects.throughput == 0.0 and effects.recipe == 0.0
    assert effects.machines["oven"] == 0.0
    assert effects.total == pytest.approx(intensity(now) - intensity(BASELINE))
    assert effects.largest() == ("equipment", "compressor")


def test_a_higher_grid_factor_is_grid():
    # Electric F: 0.4 → 0.5. ΔI = 0.1·5·8/4000 (idle) + 0.1·1·0.1 (variable) = 0.001 + 0.01.
    now = with_machines(BASELINE, compressor=Machine(0.5, 5.0, {"A": 0.1}))
    effects = decompose(BASELINE, now)
    assert effects.grid == pytest.approx(0.011)
    assert effects.machines == {"compressor": 0.0, "oven": 0.0}
    assert effects.largest() == ("grid", None)


def test_a_higher_fuel_factor_is_that_machines_own_effect():
    # Gas F: 0.2 → 0.25. ΔI = 0.05·10·8/4000 + 0.05·1·0.5 = 0.001 + 0.025; grid untouched.
    now = with_machines(BASELINE, oven=Machine(0.25, 10.0, {"A": 0.5}, electric=False))
    effects = decompose(BASELINE, now)
    assert effects.machines["oven"] == pytest.approx(0.026)
    assert effects.grid == 0.0
    assert effects.largest() == ("equipment", "oven")


def test_fewer_units_in_the_same_time_is_throughput():
    # U: 4000 → 2000 in the same 8 h, so the idle term doubles: ΔI = 0.008 kg/unit.
    now = Period(8.0, 2000.0, BASELINE.shares, BASELINE.machines)
    effects = decompose(BASELINE, now)
    assert effects.throughput == pytest.approx(0.008)
    assert effects.grid == 0.0 and effects.recipe == 0.0
    assert effects.machines == {"compressor": 0.0, "oven": 0.0}
    assert effects.largest() == ("throughput", None)


def test_a_shift_to_a_more_energy_hungry_sku_is_recipe():
    # SKU B needs 1.0 kWh/unit in the oven (A: 0.5); both 0.1 in the compressor. Shares A/B go
    # from 0.8/0.2 to 0.5/0.5: oven 0.2·(0.8·0.5 + 0.2·1.0) = 0.12 → 0.2·(0.25 + 0.5) = 0.15,
    # compressor 0.4·0.1 either way. ΔI = 0.03 kg/unit, all recipe.
    compressor = Machine(0.4, 5.0, {"A": 0.1, "B": 0.1})
    oven = Machine(0.2, 10.0, {"A": 0.5, "B": 1.0}, electric=False)
    machines = {"compressor": compressor, "oven": oven}
    baseline = Period(8.0, 4000.0, {"A": 0.8, "B": 0.2}, machines)
    now = Period(8.0, 4000.0, {"A": 0.5, "B": 0.5}, machines)
    effects = decompose(baseline, now)
    assert effects.recipe == pytest.approx(0.03)
    assert effects.machines["oven"] == 0.0 and effects.grid == 0.0
    assert effects.largest() == ("recipe", None)


def test_a_new_sku_is_recipe():
    # B is new (no baseline units, so no baseline e): its e is taken from now. Shares become
    # 0.5/0.5: oven 0.2·(0.5·0.5 + 0.5·1.0) = 0.15 vs 0.1; compressor 0.4·0.1 either way.
    # ΔI = 0.05 kg/unit, all recipe, nothing on the machines.
    compressor = Machine(0.4, 5.0, {"A": 0.1, "B": 0.1})
    oven = Machine(0.2, 10.0, {"A": 0.5, "B": 1.0}, electric=False)
    now = Period(8.0, 4000.0, {"A": 0.5, "B": 0.5}, {"compressor": compressor, "oven": oven})
    effects = decompose(BASELINE, now)
    assert effects.recipe == pytest.approx(0.05)
    assert effects.machines == {"compressor": 0.0, "oven": 0.0}
    assert effects.total == pytest.approx(intensity(now) - intensity(BASELINE))


def test_a_machine_added_since_the_baseline_is_that_machine():
    # A chiller appears: 0.4·2·8/4000 (idle) + 0.4·0.05 (variable) = 0.0016 + 0.02 kg/unit.
    now = with_machines(BASELINE, chiller=Machine(0.4, 2.0, {"A": 0.05}))
    effects = decompose(BASELINE, now)
    assert effects.machines["chiller"] == pytest.approx(0.0216)
    assert effects.grid == 0.0 and effects.throughput == 0.0 and effects.recipe == 0.0
    assert effects.largest() == ("equipment", "chiller")


def test_largest_follows_the_direction_of_the_change():
    # Grid falls 0.4 → 0.2 (−0.022: idle 0.2·5·8/4000 = 0.002, variable 0.2·0.1 = 0.02) while the
    # compressor's e rises 0.1 → 0.12 (about +0.004..0.008): intensity fell, and the cause of the
    # fall is the grid, not the compressor that rose.
    now = with_machines(BASELINE, compressor=Machine(0.2, 5.0, {"A": 0.12}))
    effects = decompose(BASELINE, now)
    assert effects.total < 0 < effects.machines["compressor"]
    assert effects.largest() == ("grid", None)


def test_no_good_units_is_refused():
    with pytest.raises(ValueError):
        decompose(BASELINE, Period(8.0, 0.0, BASELINE.shares, BASELINE.machines))


@st.composite
def periods(draw) -> tuple[Period, Period]:
    """Two periods of one line; machines and SKUs may be missing from either."""
    skus = ["A", "B", "C"]

    def period() -> Period:
        names = draw(st.sets(st.sampled_from(["compressor", "oven", "chiller"])))
        weights = [draw(st.one_of(st.just(0.0), st.floats(0.1, 1.0))) for _ in skus]
        if sum(weights) == 0:
            weights[0] = 1.0
        shares = {k: w / sum(weights) for k, w in zip(skus, weights) if w > 0}
        machines = {n: Machine(factor=draw(st.floats(0.01, 1.0)),
                               idle_kw=draw(st.floats(0.0, 50.0)),
                               kwh_per_unit={k: draw(st.floats(0.0, 5.0)) for k in skus},
                               electric=n != "oven" or draw(st.booleans()))
                    for n in names}
        return Period(draw(st.floats(0.1, 24.0)), draw(st.floats(1.0, 1e5)), shares, machines)

    return period(), period()


@PROPERTY
@given(pair=periods())
def test_line_effects_sum_to_the_change_in_intensity(pair):
    baseline, now = pair
    change = intensity(now) - intensity(baseline)
    scale = max(intensity(now), intensity(baseline), 1e-3)
    effects = decompose(baseline, now)
    assert effects.total == pytest.approx(change, abs=1e-9 * scale)
    assert set(effects.machines) == baseline.machines.keys() | now.machines.keys()
