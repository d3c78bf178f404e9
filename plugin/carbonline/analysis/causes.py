"""The built-in probable-cause analyser: the LMDI split of design brief §5, registered on the
``carbonline_root_cause`` hook like any plant's own analyser (which, registered, answers first)."""

from __future__ import annotations

from ..plugins import hookimpl
from .lmdi import Effects, Period, decompose


@hookimpl(trylast=True)
def carbonline_root_cause(baseline: Period, now: Period) -> Effects:
    """Grid, throughput, recipe and per-machine effects, kg CO₂e/unit, no residual."""
    return decompose(baseline, now)
