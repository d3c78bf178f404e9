"""Allocation keys: how a shared utility's energy (or the site meter's unmetered remainder) is
split across the lines it serves, bin by bin.

- ``units``: in proportion to the good units each line made in the bin;
- ``runtime``: equally among the lines that were producing (made units) in the bin;
- ``fixed``: by the configured shares.

Where the key is zero for every line in a bin (a weekend, a stop), the configured shares apply,
or equal shares when none are given. Each row of weights sums to 1, so allocated energy always
adds up to the metered energy (energy is conserved), and the key is kept as provenance.
"""

from __future__ import annotations

import numpy as np


def allocation_weights(
    key: str,
    units: np.ndarray,
    shares: np.ndarray | None,
) -> np.ndarray:
    """Weights per bin (rows) and served line (columns), each row summing to 1.

    ``units`` is good units per bin and served line (same shape as the result); ``shares``
    the configured share per served line, or ``None``.
    """
    fallback = np.ones(units.shape[1]) if shares is None else np.asarray(shares, dtype=float)
    fallback = fallback / fallback.sum()
    if key == "units":
        weights = np.clip(units, 0.0, None)
    elif key == "runtime":
        weights = (units > 0).astype(float)
    else:  # fixed
        weights = np.broadcast_to(fallback, units.shape).copy()
    total = weights.sum(axis=1, keepdims=True)
    empty = total[:, 0] <= 0
    weights[empty] = fallback
    total[empty] = 1.0
    return weights / total
