"""The alert detector: hand-worked window sequences, one property.

Unless said otherwise: 1-minute windows, baseline 0.68 kg CO₂e/unit, no threshold, full
coverage, default settings (open above +10 %, close below +5 %, 3 minutes to open, 5 to resolve,
CUSUM k = 0.02, h = 0.5, residual clipped to ±0.10). Each expected value is worked in a comment.
"""

from __future__ import annotations

import math
import pickle

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carbonline.analysis.detect import (
    Detector,
    Observation,
    Settings,
    Transition,
    alert_id_for,
)

T0 = 1_700_000_000_000_000_000  # ns, 2023-11-14 22:13:20 UTC
MIN = 60_000_000_000  # ns per minute
KEY = "site/line/sku"
BASE = 0.68  # kg CO₂e/unit
STEP = 0.87  # deviation 0.87 / 0.68 − 1 = +27.9 %: high, and clipped to +0.10 in the CUSUM
BACK = 0.69  # deviation 0.69 / 0.68 − 1 = +1.47 %: below the 5 % close level


def window(i: int, actual: float | None, expected: float | None = BASE,
           threshold: float | None = None, coverage: float = 100.0,
           minutes: float = 1.0) -> Observation:
    """The window starting i minutes after T0."""
    return Observation(T0 + i * MIN, minutes, actual, expected, threshold, coverage)


def feed(detector: Detector, actuals: list[float | None], start: int = 0,
         **kwargs: float | None) -> dict[int, Transition]:
    """Feed 1-minute windows from minute ``start``; the transitions by minute (one at most)."""
    out = {}
    for i, actual in enumerate(actuals, start):
        transitions = detector.feed(window(i, actual, **kwargs))
        assert len(transitions) <= 1
        out.update({i: t for t in transitions})
    return out


def opened(detector: Detector) -> int:
    """Open an alert with three minutes at STEP (minutes 0–2); the minute after them."""
    assert list(feed(detector, [STEP] * 3)) == [2]
    return 3


# ---------------------------------------------------------------------------------------------
# Deviation, minimum duration, hysteresis.

def test_step_opens_at_the_third_high_minute_and_resolves_after_five_normal_ones() -> None:
    d = Detector(KEY)
    # Minutes 0–4 at baseline, 5–14 at STEP (high), 15–19 back at 0.69 (+1.5 %: normal).
    # Opens at the 3rd high minute, 7; resolves at the 5th normal one, 19.
    got = feed(d, [BASE] * 5 + [STEP] * 10 + [BACK] * 5)
    assert list(got) == [7, 19]
    fired, resolved = got[7], got[19]
    assert fired == Transition(alert_id_for(KEY, T0 + 7 * MIN), "firing", T0 + 7 * MIN,
                               "deviation", STEP, BASE, None, pytest.approx(0.19 / 0.68))
    assert resolved == Transition(fired.alert_id, "resolved", T0 + 19 * MIN, "deviation", BACK,
                                  BASE, None, pytest.approx(0.01 / 0.68))
    assert not d.firing and d.alert_id is None and d.cusum == 0 and d.label == "normal"


def test_firing_is_emitted_once_and_the_state_follows() -> None:
    d = Detector(KEY)
    assert feed(d, [STEP] * 2) == {} and not d.firing and d.label == "high"
    # CUSUM at minute 2: 3 × (0.10 − 0.02) = 0.24 — unclipped it would be 0.52 > h at minute 1
    # and would have opened the alert one minute early as "cusum".
    assert feed(d, [STEP], start=2)[2].detector == "deviation"
    assert d.firing and d.alert_id == alert_id_for(KEY, T0 + 2 * MIN)
    assert d.cusum == pytest.approx(0.24)
    assert feed(d, [STEP] * 20, start=3) == {}  # no second "firing"
    assert d.firing and d.label == "high" and d.cusum == pytest.approx(23 * 0.08)
    # 4 normal minutes are not enough, and a high one starts the count again.
    assert feed(d, [BACK] * 4 + [STEP] + [BACK] * 4, start=23) == {}
    assert d.firing and d.label == "normal" and d.run_min == 4
    assert feed(d, [BACK], start=32)[32].state == "resolved"


def test_hysteresis_keeps_firing_between_close_and_open() -> None:
    hover = BASE * 1.07  # +7 %: not above 10 %, not below 5 %
    d = Detector(KEY)
    i = opened(d)
    assert feed(d, [hover] * 30, start=i) == {}
    assert d.firing and d.label == "high"
    # Without hysteresis the first five minutes at +7 % would have resolved it; only below 5 %
    # does the count start: five minutes at +1.5 % resolve it.
    assert list(feed(d, [BACK] * 5, start=i + 30)) == [i + 34]
    # And +7 % does not open an alert: 8 minutes of it are "normal" (CUSUM 8 × 0.05 = 0.40 < h).
    fresh = Detector(KEY)
    assert feed(fresh, [hover] * 8) == {} and fresh.label == "normal"
    assert fresh.cusum == pytest.approx(0.40)


@pytest.mark.parametrize("peak", [STEP, 10 * BASE])
def test_short_blips_never_open(peak: float) -> None:
    d = Detector(KEY)
    # Ten times: 2 minutes at the peak, 8 at baseline. The CUSUM gains 2 × 0.08 = 0.16 (the
    # residual is clipped to 0.10, however large the peak) and loses 8 × 0.02 = 0.16.
    for cycle in range(10):
        assert feed(d, [peak] * 2, start=10 * cycle) == {}
        assert d.cusum == pytest.approx(0.16)
        assert feed(d, [BASE] * 8, start=10 * cycle + 2) == {}
        assert d.cusum == pytest.approx(0, abs=1e-12)
    # A blip followed by minutes just above baseline does not open either.
    assert feed(d, [peak] * 2 + [BACK] * 30, start=100) == {}


# ---------------------------------------------------------------------------------------------
# Threshold.

def test_threshold_breach_without_baseline_opens_as_threshold() -> None:
    d = Detector(KEY)
    # No baseline: only the threshold judges; 0.80 itself is not above it.
    got = feed(d, [0.87] * 3 + [0.80] * 5, expected=None, threshold=0.80)
    assert list(got) == [2, 7]
    assert got[2] == Transition(alert_id_for(KEY, T0 + 2 * MIN), "firing", T0 + 2 * MIN,
                                "threshold", 0.87, None, 0.80, None)
    assert got[7].state == "resolved" and got[7].detector == "threshold"
    assert d.cusum == 0  # no baseline, no residual


def test_threshold_wins_when_both_rules_are_high_and_needs_both_to_resolve() -> None:
    d = Detector(KEY)
    # 0.87 is above 0.80 and +27.9 % above baseline: "threshold" is reported.
    assert feed(d, [STEP] * 3, threshold=0.80)[2].detector == "threshold"
    # 0.75 is under the threshold but +10.3 % above baseline: not normal (≥ 5 %).
    assert feed(d, [0.75] * 10, start=3, threshold=0.80) == {} and d.firing
    # A breach with the deviation in range (+2.4 % of 0.85) opens as "threshold" too.
    e = Detector(KEY)
    assert feed(e, [0.87] * 3, expected=0.85, threshold=0.80)[2].detector == "threshold"


# ---------------------------------------------------------------------------------------------
# CUSUM.

def test_slow_drift_alarms_by_cusum_at_the_hand_worked_minute() -> None:
    # Minute n = 1, 2, … runs at deviation r_n = 0.005 n. The CUSUM gains r_n − 0.02 = 0.005 (n − 4)
    # a minute, nothing until n = 4, so for n ≥ 4
    #     S_n = 0.005 · (1 + 2 + … + (n − 4)) = 0.0025 (n − 4)(n − 3):
    # S_17 = 0.0025 · 13 · 14 = 0.455 ≤ 0.5, S_18 = 0.0025 · 14 · 15 = 0.525 > 0.5 → opens at
    # n = 18, deviation 9 %: it never crossed 10 %.
    d = Detector(KEY)
    for n in range(1, 19):
        got = d.feed(window(n, BASE * (1 + 0.005 * n)))
        assert d.cusum == pytest.approx(0.0025 * max(0, n - 4) * (n - 3), abs=1e-12)
        assert (got != []) == (n == 18)
    assert got[0].detector == "cusum" and got[0].time == T0 + 18 * MIN
    assert got[0].deviation == pytest.approx(0.09)
    assert d.label == "high" and d.cusum == pytest.approx(0.525)
    # Without the CUSUM nothing opens by then: the deviation rule alone misses the drift.
    off = Detector(KEY, Settings(cusum_h=math.inf))
    assert feed(off, [BASE * (1 + 0.005 * n) for n in range(1, 21)], start=1) == {}


def test_cusum_alarms_only_above_h() -> None:
    # Binary-exact numbers: r = 1.0625 / 1 − 1 = 0.0625, k = 0.03125, so S gains exactly 1/32 a
    # minute: S_16 = 0.5 = h is no alarm, S_17 = 0.53125 is.
    d = Detector(KEY, Settings(cusum_k=0.03125))
    assert feed(d, [1.0625] * 16, expected=1.0) == {} and d.cusum == 0.5
    assert feed(d, [1.0625], start=16, expected=1.0)[16].detector == "cusum"


def test_deviation_is_reported_when_it_decides_the_same_window_as_cusum() -> None:
    d = Detector(KEY)
    # 6 minutes at +7 %: S = 6 × 0.05 = 0.30. Then STEP: 0.38, 0.46, 0.54 — S passes h at the
    # third high minute, the one that completes the minimum duration: the step is reported.
    feed(d, [BASE * 1.07] * 6)
    got = feed(d, [STEP] * 3, start=6)
    assert list(got) == [8] and got[8].detector == "deviation"
    assert d.cusum == pytest.approx(0.54)


def test_cusum_resets_when_the_alert_resolves() -> None:
    d = Detector(KEY)
    i = opened(d)
    feed(d, [STEP] * 10, start=i)
    assert d.cusum == pytest.approx(13 * 0.08)  # far above h while firing
    feed(d, [BACK] * 5, start=i + 10)
    # Reset at resolution, so the residual S (≈ 1.04 − 5 × 0.0053 ≈ 1.01 > h) does not reopen.
    assert not d.firing and d.cusum == 0
    assert feed(d, [BACK] * 10, start=i + 15) == {}


def test_a_window_of_m_minutes_counts_as_m_one_minute_windows() -> None:
    long, short = Detector(KEY), Detector(KEY)
    # +3 %: each minute adds 0.01; then at baseline each minute takes 0.02 off, down to 0.
    long.feed(window(0, BASE * 1.03, minutes=5))
    feed(short, [BASE * 1.03] * 5)
    assert long.cusum == pytest.approx(0.05) and short.cusum == pytest.approx(0.05)
    long.feed(window(5, BASE, minutes=5))
    feed(short, [BASE] * 5, start=5)
    assert long.cusum == short.cusum == 0
    # A 15-minute window at +7 %: S = 15 × 0.05 = 0.75 > h, as minute 11 of 1-minute ones would.
    assert Detector(KEY).feed(window(0, BASE * 1.07, minutes=15))[0].detector == "cusum"
    # Durations count minutes: a 2-minute and a 1-minute high window open the alert.
    d = Detector(KEY)
    assert d.feed(window(0, STEP, minutes=2)) == []
    assert d.feed(window(2, STEP))[0].detector == "deviation"
    # Ten 6-second windows make a minute, though 0.1 added ten times is 0.9999999999999999.
    e = Detector(KEY, Settings(open_after_min=1.0))
    got = [e.feed(Observation(T0 + i * MIN // 10, 0.1, STEP, BASE, None, 100.0))
           for i in range(10)]
    assert [len(g) for g in got] == [0] * 9 + [1]


# ---------------------------------------------------------------------------------------------
# Data quality and learning.

def test_data_quality_windows_neither_count_nor_reset() -> None:
    d = Detector(KEY)
    feed(d, [STEP] * 2)
    s = d.cusum  # 2 × 0.08
    # Half covered with a huge intensity, then fully covered but without good units.
    assert d.feed(window(2, 100.0, coverage=50.0)) == [] and d.label == "data_quality"
    assert d.feed(window(3, None)) == [] and d.label == "data_quality"
    assert d.cusum == s and d.run_min == 2 and not d.firing
    # The third high minute opens, at minute 4: the two in between neither counted nor reset.
    assert d.feed(window(4, STEP))[0].time == T0 + 4 * MIN
    # While firing: 4 normal minutes, a bad window, one normal minute → resolved.
    feed(d, [BACK] * 4, start=5)
    assert d.feed(window(9, 100.0, coverage=89.9)) == [] and d.firing
    assert d.feed(window(10, BACK))[0].state == "resolved"


def test_poorly_covered_windows_never_alert() -> None:
    d = Detector(KEY)
    for i in range(60):
        assert d.feed(window(i, 100 * BASE, threshold=0.80, coverage=50.0)) == []
    assert d.label == "data_quality" and d.cusum == 0 and d.run_min == 0
    # 90 % is enough (only *below* min_coverage_pct is bad).
    d.feed(window(60, STEP, coverage=90.0))
    assert d.label == "high" and d.run_min == 1


def test_without_baseline_or_threshold_the_detector_is_learning() -> None:
    d = Detector(KEY)
    for i, expected in enumerate([None] * 30 + [0.0] * 30):  # a zero baseline is no baseline
        assert d.feed(window(i, 100 * BASE, expected=expected)) == []
        assert d.label == "learning"
    assert not d.firing and d.cusum == 0 and d.run_min == 0
    # Like data quality, a learning window inside a high run neither counts nor resets it.
    feed(d, [STEP] * 2, start=60)
    assert d.feed(window(62, STEP, expected=None)) == [] and d.label == "learning"
    assert d.feed(window(63, STEP))[0].time == T0 + 63 * MIN


# ---------------------------------------------------------------------------------------------
# Ids, checkpoints, refusals.

def test_alert_ids_are_stable_and_deterministic() -> None:
    # uuid5(ALERT_NAMESPACE, "site/line/sku\0<ns>"), pinned: a changed namespace or name would
    # give every alert a new id across an upgrade.
    assert alert_id_for(KEY, T0 + 7 * MIN) == "8c6426a8-6b05-51ff-ae70-44b5944b3590"
    sequence = [BASE] * 5 + [STEP] * 10 + [BACK] * 5 + [STEP] * 3
    a, b, other = Detector(KEY), Detector(KEY), Detector("site/line/other")
    got_a, got_b, got_other = feed(a, sequence), feed(b, sequence), feed(other, sequence)
    assert got_a == got_b and list(got_a) == [7, 19, 22]
    assert got_a[7].alert_id == got_a[19].alert_id == alert_id_for(KEY, T0 + 7 * MIN)
    assert got_a[22].alert_id == alert_id_for(KEY, T0 + 22 * MIN) != got_a[7].alert_id
    assert [t.alert_id for t in got_other.values()] == [
        alert_id_for("site/line/other", T0 + 7 * MIN),
        alert_id_for("site/line/other", T0 + 7 * MIN),
        alert_id_for("site/line/other", T0 + 22 * MIN)]
    assert got_other[7].alert_id != got_a[7].alert_id


def test_pickled_detector_continues_identically() -> None:
    d = Detector(KEY)
    i = opened(d)
    feed(d, [STEP] * 4 + [BACK] * 3, start=i)  # firing, 3 of the 5 normal minutes counted
    restored = pickle.loads(pickle.dumps(d))
    assert restored == d and restored.firing and restored.run_min == 3
    rest = [BACK] * 2 + [STEP] * 3
    got, got_restored = feed(d, rest, start=i + 7), feed(restored, rest, start=i + 7)
    # 2 more normal minutes resolve it; 3 high ones open the next alert.
    assert got == got_restored and list(got) == [i + 8, i + 11]
    assert got[i + 8].alert_id == alert_id_for(KEY, T0 + 2 * MIN)
    assert restored == d


def test_refusals() -> None:
    d = Detector(KEY)
    d.feed(window(5, BASE))
    for i in (5, 4):  # the same window again, or an earlier one
        with pytest.raises(ValueError, match="not after"):
            d.feed(window(i, BASE))
    with pytest.raises(ValueError, match="0 minutes"):
        window(6, BASE, minutes=0.0)
    with pytest.raises(ValueError, match="NaN"):
        window(6, math.nan)
    with pytest.raises(ValueError, match="hysteresis"):
        Settings(deviation_open=0.05, deviation_close=0.10)


# ---------------------------------------------------------------------------------------------
# A property over arbitrary sequences.

KINDS = st.sampled_from(["base", "back", "hover", "step", "huge", "poor", "idle", "learning"])
ACTUALS = {"base": BASE, "back": BACK, "hover": BASE * 1.07, "step": STEP, "huge": 10 * BASE,
           "poor": 10 * BASE, "idle": None, "learning": 10 * BASE}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(KINDS, max_size=120))
def test_transitions_alternate_and_pair_up(kinds: list[str]) -> None:
    d = Detector(KEY)
    transitions = []
    for i, kind in enumerate(kinds):
        obs = window(i, ACTUALS[kind], expected=None if kind == "learning" else BASE,
                     coverage=50.0 if kind == "poor" else 100.0)
        before = (d.firing, d.cusum, d.run_min)
        got = d.feed(obs)
        assert len(got) <= 1
        if kind in ("poor", "idle", "learning"):  # ignored: nothing moves
            assert got == [] and (d.firing, d.cusum, d.run_min) == before
        transitions += got
        assert d.firing == (len(transitions) % 2 == 1)
    for n, t in enumerate(transitions):
        assert t.state == ("firing" if n % 2 == 0 else "resolved")
        if t.state == "resolved":
            assert t.alert_id == transitions[n - 1].alert_id
            assert t.detector == transitions[n - 1].detector
        else:
            assert t.alert_id == alert_id_for(KEY, t.time)
