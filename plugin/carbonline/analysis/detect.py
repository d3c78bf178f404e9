"""When intensity is too high: the analyser's alert detector (design brief §5).

One :class:`Detector` watches one series — a line, or a line × SKU row — and is fed its closed
windows in time order (every closed ``1m`` window, say), each with the actual intensity, the
expected (baseline) intensity and the absolute threshold, all in kg CO₂e per good unit. It says
when an alert opens (``"firing"``) and when it resolves (``"resolved"``). Pure logic, no I/O.

Why each rule (every number is a field of :class:`Settings`):

- **Data quality.** A window whose readings cover less than ``min_coverage_pct`` of it, or that
  made no good unit (no intensity), says nothing reliable: it is labelled ``"data_quality"`` and
  ignored — it neither opens nor resolves an alert, neither extends nor breaks a run of minutes,
  and neither advances nor resets the CUSUM. A gap between windows is treated the same way, so a
  meter outage in the middle of a high run neither hides nor starts an alert.
- **Learning.** With neither a baseline (expected ``None`` or ≤ 0) nor a threshold there is
  nothing to compare with: ``"learning"``, ignored like a data-quality window.
- **Threshold.** ``actual > threshold``, the absolute per-SKU limit from the configuration.
- **Deviation.** ``deviation = actual / expected − 1`` (a fraction, 0.10 = 10 %) is high above
  ``deviation_open``; once an alert fires, a window is back to normal only below
  ``deviation_close``. The gap (hysteresis) keeps a line hovering near the limit from opening
  and closing alerts every few minutes.
- **Minimum duration.** An alert opens after ``open_after_min`` consecutive minutes of high
  windows and resolves after ``close_after_min`` consecutive minutes back to normal (under the
  threshold *and* below ``deviation_close``): one noisy minute neither pages anyone nor ends an
  alert. A window of m minutes counts m minutes.
- **CUSUM** (Page, "Continuous inspection schemes", Biometrika 41 (1954) 100–115): a drift too
  slow or too small for the deviation rule still adds up. One-sided, upper, on the relative
  residual r = deviation, winsorised to ±``deviation_open``::

      S ← max(0, S + m · (clip(r, −deviation_open, +deviation_open) − cusum_k))

  per window of m minutes, and an alert opens (detector ``"cusum"``) as soon as
  ``S > cusum_h``. The factor m makes a window of m minutes count exactly as m one-minute
  windows with the same residual (adding a constant m times, clamping at 0 each time, gives the
  same as adding m times it once and clamping once): S, a fraction × minutes (0.5 is 50 %·min),
  does not depend on the window size. The clip is ours, not Page's: without it a short blip far
  above the baseline would reach h by itself (two minutes at +28 % give S = 0.52 > 0.5 with the
  default k and h) and open an alert the minimum duration exists to suppress. Above
  ``deviation_open`` the deviation rule is in charge and the CUSUM only watches what lies below
  it; symmetrically, a very low window takes at most m · (deviation_open + cusum_k) off the
  evidence of a drift. S keeps accumulating while an alert fires (it is exposed as a gauge) and
  is reset when the alert resolves; ``cusum_h = math.inf`` turns the CUSUM off.

An alert fires once: one ``"firing"`` :class:`Transition` when it opens — the moment to fix its
cause (LMDI, :mod:`carbonline.analysis.lmdi`) — and one ``"resolved"`` when it ends; high
windows in between emit nothing. Both carry the same ``alert_id`` (:func:`alert_id_for`).

The detector is a plain dataclass, so it pickles with the engine's checkpoint and carries on
where it stopped after a restart.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from typing import Literal

Label = Literal["normal", "high", "data_quality", "learning"]
State = Literal["firing", "resolved"]
Rule = Literal["threshold", "deviation", "cusum"]

#: The uuid5 namespace of alert ids. Never change it: every alert would get a new id, and an
#: alert opened before an upgrade could no longer be matched with its resolution after it.
ALERT_NAMESPACE = uuid.UUID("30cf0f13-1d7d-4d13-b32c-758468b03d1b")

#: Tolerance on durations, in minutes: runs of fractional windows (ten windows of 0.1 min sum
#: to 0.9999999999999999) must not miss a duration by a rounding error.
EPS_MIN = 1e-9


def alert_id_for(key: str, time: int) -> str:
    """The id of the alert on series ``key`` that opened in the window starting at ``time``.

    A UUID version 5 (SHA-1 name-based, RFC 4122) of ``key``, a NUL and ``time`` (epoch ns) in
    :data:`ALERT_NAMESPACE`: the same series and opening window always give the same id, so a
    replay or a restart re-emits an alert under the id it already had, and sinks can de-duplicate.
    """
    return str(uuid.uuid5(ALERT_NAMESPACE, f"{key}\0{time}"))


@dataclass(frozen=True)
class Settings:
    """The detector's numbers. Deviations are fractions of the baseline (0.10 = +10 %)."""

    min_coverage_pct: float = 90.0  #: below this coverage, %, a window is ``data_quality``
    deviation_open: float = 0.10  #: a window is high above this deviation (fraction)
    deviation_close: float = 0.05  #: while firing, back to normal only below this (fraction)
    open_after_min: float = 3.0  #: minutes of consecutive high windows that open an alert
    close_after_min: float = 5.0  #: minutes of consecutive normal windows that resolve it
    cusum_k: float = 0.02  #: CUSUM allowance, fraction: a deviation below it never adds up
    cusum_h: float = 0.5  #: CUSUM decision limit, fraction × minutes (0.5 = 50 %·min)

    def __post_init__(self) -> None:
        if not 0 <= self.deviation_close <= self.deviation_open:
            raise ValueError("need 0 ≤ deviation_close ≤ deviation_open for the hysteresis")
        if min(self.open_after_min, self.close_after_min, self.cusum_k, self.cusum_h) < 0:
            raise ValueError("durations, cusum_k and cusum_h must be ≥ 0")


@dataclass(frozen=True)
class Observation:
    """One closed window of the watched series. Intensities in kg CO₂e per good unit."""

    time: int  #: window start, ns since the Unix epoch (UTC)
    minutes: float  #: window length, min
    actual: float | None  #: the window's intensity; ``None`` when it made no good unit
    expected: float | None  #: the baseline intensity; ``None`` when there is no valid baseline
    threshold: float | None  #: the absolute limit from the configuration, or ``None``
    coverage_pct: float  #: share of the window covered by the energy meters' readings, %

    def __post_init__(self) -> None:
        if not self.minutes > 0:
            raise ValueError(f"a window lasts more than 0 minutes, got {self.minutes}")
        for value in (self.actual, self.expected, self.threshold, self.coverage_pct):
            if value is not None and math.isnan(value):
                raise ValueError("NaN in an observation: use None for a missing value")


@dataclass(frozen=True)
class Transition:
    """An alert opening (``"firing"``) or ending (``"resolved"``), at the window that decided it.

    ``time`` is that window's start (ns), ``detector`` the rule that opened the alert (also on
    its ``"resolved"``), and the numbers are those of that window: intensities in kg CO₂e per
    good unit, ``deviation`` = actual / expected − 1 as a fraction (``None`` without baseline).
    """

    alert_id: str
    state: State
    time: int
    detector: Rule
    actual: float
    expected: float | None
    threshold: float | None
    deviation: float | None


@dataclass(frozen=True)
class Alert:
    """The alert that is firing: its id (:func:`alert_id_for`) and the rule that opened it."""

    id: str
    detector: Rule


@dataclass
class Detector:
    """The alert state of one series, ``key`` (e.g. ``"site/line/sku"``), fed window by window.

    Besides :meth:`feed`'s transitions, its fields are the live state: ``alert`` (``None`` when
    not firing; also as :attr:`firing` and :attr:`alert_id`), ``cusum`` (S, fraction × minutes),
    ``label`` (the last window's; ``None`` before the first), ``run_min`` (minutes of the
    current run: high windows while not firing, normal windows while firing) and ``last_time``
    (start of the last window fed, ns).
    """

    key: str
    settings: Settings = field(default_factory=Settings)
    alert: Alert | None = field(default=None, init=False)
    cusum: float = field(default=0.0, init=False)
    label: Label | None = field(default=None, init=False)
    run_min: float = field(default=0.0, init=False)
    last_time: int | None = field(default=None, init=False)

    @property
    def firing(self) -> bool:
        """Whether an alert is open."""
        return self.alert is not None

    @property
    def alert_id(self) -> str | None:
        """The open alert's id; ``None`` when none is open."""
        return self.alert.id if self.alert else None

    def feed(self, obs: Observation) -> list[Transition]:
        """Take the next window; the alert transitions it causes (none or one).

        Windows must come in time order: a window starting at or before the previous one is
        refused (``ValueError``), since feeding a window twice would count its minutes twice.
        A ``"high"`` label means the window counts against normal: above the threshold, or
        above ``deviation_open`` (at or above ``deviation_close`` while firing), or its CUSUM
        alarm opened the alert.
        """
        if self.last_time is not None and obs.time <= self.last_time:
            raise ValueError(f"{self.key}: window at {obs.time} ns is not after the last one, "
                             f"at {self.last_time} ns")
        self.last_time = obs.time
        s = self.settings
        actual = obs.actual
        if actual is None or obs.coverage_pct < s.min_coverage_pct:
            self.label = "data_quality"
            return []
        deviation = (actual / obs.expected - 1
                     if obs.expected is not None and obs.expected > 0 else None)
        if deviation is None and obs.threshold is None:
            self.label = "learning"
            return []

        over = obs.threshold is not None and actual > obs.threshold
        if deviation is not None:
            r = min(max(deviation, -s.deviation_open), s.deviation_open)
            self.cusum = max(0.0, self.cusum + obs.minutes * (r - s.cusum_k))
        if self.alert:
            high = over or (deviation is not None and deviation >= s.deviation_close)
        else:
            high = over or (deviation is not None and deviation > s.deviation_open)
        # The run counts high windows towards opening, or normal windows towards resolving.
        self.run_min = self.run_min + obs.minutes if high != self.firing else 0.0

        def transition(alert: Alert, state: State) -> list[Transition]:
            return [Transition(alert.id, state, obs.time, alert.detector, actual, obs.expected,
                               obs.threshold, deviation)]

        if self.alert:
            self.label = "high" if high else "normal"
            if self.run_min < s.close_after_min - EPS_MIN:
                return []
            alert, self.alert, self.cusum, self.run_min = self.alert, None, 0.0, 0.0
            return transition(alert, "resolved")
        rule: Rule
        if high and self.run_min >= s.open_after_min - EPS_MIN:
            rule = "threshold" if over else "deviation"
        elif self.cusum > s.cusum_h:
            rule, high = "cusum", True
        else:
            self.label = "high" if high else "normal"
            return []
        self.label, self.run_min = "high", 0.0
        self.alert = Alert(alert_id_for(self.key, obs.time), rule)
        return transition(self.alert, "firing")
