"""Prometheus metrics of the crossbound worker (see :mod:`crossbound.metrics.container` for the table
of every metric): :class:`Metrics`, held in one container built from an injected registry, and the
label values each metric accepts (:mod:`crossbound.metrics.labels`)."""

from crossbound.metrics.container import Metrics
from crossbound.metrics.labels import (
    DEAD_LETTER_REASON_PATTERN,
    FINDING_SEVERITIES,
    KINDS,
    LATENCY_BUCKETS,
    OUTCOMES,
    SIDES,
)

__all__ = [
    "DEAD_LETTER_REASON_PATTERN",
    "FINDING_SEVERITIES",
    "KINDS",
    "LATENCY_BUCKETS",
    "OUTCOMES",
    "SIDES",
    "Metrics",
]
