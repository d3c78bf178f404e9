"""Energy signatures: recovery of known parameters, robustness, hand-worked fits, validity, store.

Synthetic windows are generated from known parameters; every other expected value is worked by
hand in its comment.
"""

from __future__ import annotations

import json
import math
import sqlite3

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carbonline.analysis.baseline import (
    MIN_R2,
    MIN_WINDOWS,
    Baseline,
    BaselineStore,
    fit,
    nominal,
)

PROPERTY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
IDLE_KW, KWH_PER_UNIT, KW_PER_DEGREE = 12.0, 0.08, 0.5
EXACT = 1e-9


def windows(count: int = 1000, seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """15-minute windows at 0–600 units/h and an outdoor temperature of −5–30 °C."""
    rng = np.random.default_rng(seed)
    hours = np.full(count, 0.25)
    return hours, rng.uniform(0, 600, count) * hours, rng.uniform(-5, 30, count)


def energy(hours: np.ndarray, units: np.ndarray, degrees: np.ndarray | None = None) -> np.ndarray:
    power = IDLE_KW + (0.0 if degrees is None else KW_PER_DEGREE * degrees)
    return power * hours + KWH_PER_UNIT * units


# ---------------------------------------------------------------------------------------------
# Recovery and robustness.

def test_noise_free_windows_give_back_the_parameters():
    hours, units, _ = windows()
    baseline = fit(hours, units, energy(hours, units), fitted_at=1_700_000_000_000_000_000)
    assert baseline.idle_kw == pytest.approx(IDLE_KW, abs=EXACT)
    assert baseline.kwh_per_unit == pytest.approx(KWH_PER_UNIT, abs=EXACT)
    assert baseline.r2 == pytest.approx(1.0, abs=EXACT)
    assert (baseline.valid, baseline.reason, baseline.held_at_zero) == (True, None, ())
    assert (baseline.n, baseline.rejected) == (1000, 0)
    assert baseline.units_per_hour == (min(units / hours), max(units / hours))
    assert baseline.fitted_at == 1_700_000_000_000_000_000


def test_noise_free_windows_with_a_driver_give_back_its_coefficient():
    hours, units, degrees = windows()
    baseline = fit(hours, units, energy(hours, units, degrees), {"outdoor_c": degrees})
    assert baseline.idle_kw == pytest.approx(IDLE_KW, abs=EXACT)
    assert baseline.kwh_per_unit == pytest.approx(KWH_PER_UNIT, abs=EXACT)
    assert baseline.drivers == {"outdoor_c": pytest.approx(KW_PER_DEGREE, abs=EXACT)}
    assert baseline.driver_ranges == {"outdoor_c": (degrees.min(), degrees.max())}
    assert baseline.valid


@pytest.mark.parametrize("noise_kwh", [0.0, 0.1])
def test_gross_outliers_barely_move_the_robust_fit_but_ruin_least_squares(noise_kwh):
    hours, units, _ = windows()
    rng = np.random.default_rng(2)
    kwh = energy(hours, units) + rng.normal(0, noise_kwh, hours.size) if noise_kwh else energy(
        hours, units)
    kwh[rng.choice(hours.size, hours.size // 20, replace=False)] *= 5  # 5 % of windows, ×5
    baseline = fit(hours, units, kwh)
    assert baseline.idle_kw == pytest.approx(IDLE_KW, rel=0.02)
    assert baseline.kwh_per_unit == pytest.approx(KWH_PER_UNIT, rel=0.02)
    assert baseline.valid
    least_squares = np.linalg.lstsq(np.column_stack([hours, units]), kwh, rcond=None)[0]
    assert least_squares[0] != pytest.approx(IDLE_KW, rel=0.02)
    assert least_squares[1] != pytest.approx(KWH_PER_UNIT, rel=0.02)


@PROPERTY
@given(idle_kw=st.floats(0, 500), kwh_per_unit=st.floats(0, 5),
       seed=st.integers(0, 2**32 - 1))
def test_any_non_negative_signature_is_recovered_from_noise_free_windows(idle_kw, kwh_per_unit,
                                                                         seed):
    rng = np.random.default_rng(seed)
    hours = rng.uniform(1 / 60, 1, 100)  # windows of 1 to 60 minutes
    units = rng.uniform(0, 1000, 100) * hours
    baseline = fit(hours, units, idle_kw * hours + kwh_per_unit * units)
    assert baseline.idle_kw == pytest.approx(idle_kw, rel=1e-9, abs=1e-9)
    assert baseline.kwh_per_unit == pytest.approx(kwh_per_unit, rel=1e-9, abs=1e-9)


def test_four_windows_by_hand():
    # Four 15-minute windows making 0, 25, 50 and 75 units. Exactly on E = 12·0.25 + 0.08·U they
    # would use 3, 5, 7, 9 kWh; they used 3.5, 4.5, 6.5, 9.5, i.e. residuals +½, −½, −½, +½.
    # That residual vector is orthogonal to both columns: (1,−1,−1,1)·(1,1,1,1) = 0 and
    # (1,−1,−1,1)·(0,25,50,75) = 0 − 25 − 50 + 75 = 0, so least squares gives back the line.
    # By the textbook formulas: mean U = 37.5, mean E = 6,
    #   Sxy = (−37.5)(−2.5) + (−12.5)(−1.5) + 12.5·0.5 + 37.5·3.5 = 93.75 + 18.75 + 6.25 + 131.25
    #       = 250, Sxx = 37.5² + 12.5² + 12.5² + 37.5² = 3125, e = 250/3125 = 0.08 kWh/unit,
    #   intercept = 6 − 0.08·37.5 = 3 kWh per 0.25 h, P_idle = 12 kW.
    # Huber changes nothing: every |residual| is ½, so the MAD scale is ½/0.6745 = 0.741 and
    # 1.345·0.741 = 0.997 > ½: every weight is 1.
    # R² = 1 − SSR/SST = 1 − (4·¼) / (2.5² + 1.5² + 0.5² + 3.5²) = 1 − 1/21 = 20/21.
    hours = np.full(4, 0.25)
    units = np.array([0.0, 25.0, 50.0, 75.0])
    baseline = fit(hours, units, np.array([3.5, 4.5, 6.5, 9.5]), min_windows=4)
    assert baseline.idle_kw == pytest.approx(12.0, abs=EXACT)
    assert baseline.kwh_per_unit == pytest.approx(0.08, abs=EXACT)
    assert baseline.r2 == pytest.approx(20 / 21, abs=EXACT)
    assert baseline.units_per_hour == (0.0, 300.0)
    assert baseline.valid


# ---------------------------------------------------------------------------------------------
# When a baseline is not to be used.

def test_too_few_windows_is_still_learning():
    hours, units, _ = windows(count=12)
    baseline = fit(hours, units, energy(hours, units))
    assert MIN_WINDOWS == 60
    assert (baseline.valid, baseline.reason) == (False, "learning: 12 of 60 windows")
    assert baseline.kwh_per_unit == pytest.approx(KWH_PER_UNIT, abs=EXACT)  # shown, not used


def test_no_windows_at_all():
    baseline = fit([], [], [], {"outdoor_c": []})
    assert (baseline.valid, baseline.reason, baseline.n) == (False, "learning: 0 of 60 windows", 0)
    assert math.isnan(baseline.idle_kw) and math.isnan(baseline.drivers["outdoor_c"])
    assert baseline.units_per_hour is None and baseline.r2 is None


def test_energy_unrelated_to_output_fails_on_r2():
    hours, units, _ = windows()
    kwh = np.random.default_rng(3).uniform(0, 20, hours.size)
    baseline = fit(hours, units, kwh)
    assert baseline.r2 < 0.1
    assert baseline.reason == f"R² {baseline.r2:.2f} below {MIN_R2:g}"
    assert not baseline.valid


def test_energy_falling_with_output_holds_energy_per_unit_at_zero():
    # 101 one-hour windows making 0, 1, …, 100 units and using 20 − 0.05·U kWh: the free fit has
    # e = −0.05. Held at e = 0, the model is a constant, and the energies, 20 down to 15 in equal
    # steps, are symmetric about 17.5, so any M-estimate of that constant (Huber's too) is 17.5.
    units = np.arange(101.0)
    baseline = fit(np.ones(101), units, 20 - 0.05 * units)
    assert baseline.held_at_zero == ("kwh_per_unit",)
    assert baseline.kwh_per_unit == 0.0
    assert baseline.idle_kw == pytest.approx(17.5, abs=EXACT)


def test_energy_below_the_per_unit_line_holds_idle_power_at_zero():
    # E = 0.1·U − 2·t at 50–150 units/h: the free fit has P_idle = −2 kW. Held at P_idle = 0,
    # (weighted) least squares through the origin gives e = Σ w·U·E / Σ w·U², a weighted mean
    # of the windows' E/U = 0.1 − 2/(U/t), which run from 0.1 − 2/50 = 0.06 to 0.1 − 2/150.
    hours, units, _ = windows()
    units = units / 6 + 12.5  # 50 to 150 units/h
    baseline = fit(hours, units, 0.1 * units - 2 * hours)
    assert baseline.held_at_zero == ("idle_kw",)
    assert baseline.idle_kw == 0.0
    assert 0.06 <= baseline.kwh_per_unit <= 0.1 - 2 / 150


def test_non_finite_and_empty_windows_are_dropped_and_counted():
    hours, units, degrees = windows()
    kwh = energy(hours, units, degrees)
    hours[0], hours[1], hours[2] = 0.0, -0.25, np.nan
    units[3], kwh[4], degrees[5] = np.nan, np.inf, np.nan
    baseline = fit(hours, units, kwh, {"outdoor_c": degrees})
    assert (baseline.n, baseline.rejected) == (994, 6)
    assert baseline.idle_kw == pytest.approx(IDLE_KW, abs=EXACT)
    assert baseline.kwh_per_unit == pytest.approx(KWH_PER_UNIT, abs=EXACT)
    assert baseline.drivers["outdoor_c"] == pytest.approx(KW_PER_DEGREE, abs=EXACT)


def test_a_constant_rate_cannot_tell_idle_power_from_energy_per_unit():
    hours = np.full(100, 0.25)
    baseline = fit(hours, 50 * hours, energy(hours, 50 * hours))
    assert not baseline.valid
    assert baseline.reason.startswith("units per hour never varied (50)")


def test_a_constant_driver_cannot_be_told_from_idle_power():
    hours, units, _ = windows()
    degrees = np.full(hours.size, 20.0)
    baseline = fit(hours, units, energy(hours, units, degrees), {"outdoor_c": degrees})
    assert baseline.reason == ("driver 'outdoor_c' never varied: its effect cannot be told from "
                               "idle power")


def test_windows_must_line_up():
    with pytest.raises(ValueError, match="one value per window"):
        fit([1.0, 1.0], [1.0], [1.0, 1.0])


# ---------------------------------------------------------------------------------------------
# Using a baseline.

def test_expected_energy_by_hand():
    # 15 minutes making 100 units at 20 °C: 0.25 h · (12 + 0.5·20) kW + 0.08·100 = 5.5 + 8
    # = 13.5 kWh; an idle hour at −4 °C: 1 · (12 − 2) = 10 kWh.
    hours, units, degrees = windows()
    baseline = fit(hours, units, energy(hours, units, degrees), {"outdoor_c": degrees})
    expected = baseline.expected_kwh([0.25, 1.0], [100, 0], {"outdoor_c": [20.0, -4.0]})
    np.testing.assert_allclose(expected, [13.5, 10.0], atol=EXACT)
    with pytest.raises(ValueError, match="'outdoor_c' has no value"):
        baseline.expected_kwh(0.25, 100)


def test_an_invalid_baseline_refuses_to_give_expected_energy():
    hours, units, _ = windows(count=12)
    baseline = fit(hours, units, energy(hours, units))
    with pytest.raises(ValueError, match="learning: 12 of 60 windows"):
        baseline.expected_kwh(0.25, 100)
    assert baseline.check(0.25, 100) == "learning: 12 of 60 windows"


def test_check_refuses_a_throughput_the_baseline_never_saw():
    # The hand-worked windows span 0 to 300 units/h; 10 % of that width, 30 units/h, is allowed
    # beyond each end: 330 units/h (82.5 units in 15 min) is the last accepted rate.
    baseline = fit(np.full(4, 0.25), np.array([0.0, 25, 50, 75]), np.array([3.5, 4.5, 6.5, 9.5]),
                   min_windows=4)
    assert baseline.check(0.25, 50) is None
    assert baseline.check(0.25, 82.5) is None
    assert baseline.check(0.25, 0) is None
    assert baseline.check(0.25, 85) == "units/h 340 is outside the fitted range 0 to 300"
    assert baseline.check(0.25, 85, tolerance=0.2) is None
    assert "units per hour are undefined" in baseline.check(0.0, 0)


def test_check_refuses_a_driver_value_the_baseline_never_saw():
    hours, units, degrees = windows()
    baseline = fit(hours, units, energy(hours, units, degrees), {"outdoor_c": degrees})
    low, high = baseline.driver_ranges["outdoor_c"]  # about −5 to 30 °C: a 35 °C wide range
    width = high - low
    assert baseline.check(0.25, 50, {"outdoor_c": 20.0}) is None
    assert baseline.check(0.25, 50, {"outdoor_c": low - 0.09 * width}) is None  # about −8 °C
    assert baseline.check(0.25, 50, {"outdoor_c": high + 0.09 * width}) is None
    reason = baseline.check(0.25, 50, {"outdoor_c": low - 0.11 * width})
    assert reason.startswith("outdoor_c ") and "outside the fitted range" in reason
    assert baseline.check(0.25, 50) == "driver 'outdoor_c' has no value"


def test_a_nominal_baseline_is_valid_and_accepts_any_window():
    baseline = nominal(0.08, idle_kw=12.0)
    assert (baseline.valid, baseline.reason) == (True, "nominal (from config)")
    assert baseline.units_per_hour is None and baseline.driver_ranges == {}
    assert baseline.check(0.25, 10_000) is None
    np.testing.assert_allclose(baseline.expected_kwh(0.25, 100), 11.0)  # 12·0.25 + 0.08·100
    with pytest.raises(ValueError):
        nominal(-0.08)


# ---------------------------------------------------------------------------------------------
# The store.

@pytest.fixture
def store_path(tmp_path):
    return tmp_path / "state" / "baselines.sqlite"


@pytest.fixture
def store(store_path):
    store = BaselineStore(store_path)
    yield store
    store.close()


def fitted_with_driver() -> Baseline:
    hours, units, degrees = windows()
    kwh = energy(hours, units, degrees)
    kwh[0] = np.nan
    return fit(hours, units, kwh, {"outdoor_c": degrees}, fitted_at=1_700_000_000_123_456_789)


def test_versions_are_numbered_per_key_and_all_kept(store):
    first, second = nominal(0.08, 12.0), fitted_with_driver()
    assert store.latest("L1", "SKU-A", "press") is None
    assert store.history("L1", "SKU-A", "press") == []
    assert store.save("L1", "SKU-A", "press", first) == 1
    assert store.save("L1", "SKU-A", "press", second) == 2
    assert store.save("L1", "SKU-B", "press", first) == 1
    assert store.latest("L1", "SKU-A", "press") == (2, second)
    assert store.history("L1", "SKU-A", "press") == [(1, first), (2, second)]


def test_round_trip_is_exact(store):
    baseline = fitted_with_driver()
    store.save("L1", "SKU-A", "press", baseline)
    _, loaded = store.latest("L1", "SKU-A", "press")
    assert loaded == baseline
    assert (loaded.idle_kw, loaded.kwh_per_unit) == (baseline.idle_kw, baseline.kwh_per_unit)
    assert isinstance(loaded.units_per_hour, tuple)
    assert loaded.rejected == 1 and loaded.fitted_at == 1_700_000_000_123_456_789


def test_unfitted_numbers_are_stored_as_null(store, store_path):
    baseline = fit([], [], [])
    store.save("L1", "SKU-A", "press", baseline)
    _, loaded = store.latest("L1", "SKU-A", "press")
    assert math.isnan(loaded.idle_kw) and math.isnan(loaded.kwh_per_unit)
    assert (loaded.valid, loaded.reason) == (baseline.valid, baseline.reason)
    db = sqlite3.connect(store_path)
    try:
        (text,) = db.execute("SELECT baseline FROM baseline").fetchone()
    finally:
        db.close()
    assert json.loads(text)["idle_kw"] is None  # strict JSON: no NaN literal


def test_a_second_store_on_the_same_file_sees_every_version(store, store_path):
    first, second = nominal(0.08), fitted_with_driver()
    store.save("L1", "SKU-A", "press", first)
    store.save("L1", "SKU-A", "press", second)
    other = BaselineStore(store_path)
    try:
        assert other.history("L1", "SKU-A", "press") == [(1, first), (2, second)]
        assert other.save("L1", "SKU-A", "press", first) == 3
    finally:
        other.close()
    assert store.latest("L1", "SKU-A", "press") == (3, first)
