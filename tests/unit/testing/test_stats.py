"""Unit tests of crossbound.testing.stats: the one percentile of the kit's reports."""

from __future__ import annotations

import statistics

import pytest

from crossbound.testing.stats import percentile


def test_percentile_interpolates_between_the_nearest_values() -> None:
    values = [4.0, 1.0, 3.0, 2.0]
    assert percentile(values, 0.5) == 2.5
    assert percentile(values, 0.01) == pytest.approx(1.03)
    assert percentile(values, 0.99) == pytest.approx(3.97)
    many = [float(i) for i in range(1001)]
    assert percentile(many, 0.5) == 500.0
    assert percentile(many, 0.99) == 990.0
    assert percentile(many, 0.99) == statistics.quantiles(many, n=100, method="inclusive")[98]


def test_percentile_of_no_or_one_value() -> None:
    assert percentile([], 0.99) == 0.0
    assert percentile([7.5], 0.5) == 7.5


@pytest.mark.parametrize("q", [0.0, 1.0, 0.001, -0.5])
def test_percentile_takes_whole_percents_only(q: float) -> None:
    with pytest.raises(ValueError, match="whole percent"):
        percentile([1.0, 2.0], q)
