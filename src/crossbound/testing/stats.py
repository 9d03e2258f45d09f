"""One percentile for every report the kit prints: the demo, the broker-failure run and the benchmarks."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

__all__ = ["percentile"]


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (a whole percent, 0.01 to 0.99) of ``values``; 0.0 when there are none.

    ``statistics.quantiles`` with the inclusive method: linear interpolation between the two nearest
    values, so p50 of an even count is the mean of the middle two.
    """
    cut = round(q * 100)
    if not 1 <= cut <= 99:
        raise ValueError(f"q must be a whole percent between 0.01 and 0.99, not {q!r}")
    if len(values) < 2:
        return float(values[0]) if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[cut - 1]
