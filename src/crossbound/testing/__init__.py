"""The integrator and test kit: the broker-free Harness, seeded traffic, and (in submodules) a live bus,
worker processes, recording and replay, and broker-failure runs against a real broker.

``Harness``, ``Published``, ``Traffic`` and ``Case`` are here; :mod:`crossbound.testing.live`,
:mod:`~crossbound.testing.recording`, :mod:`~crossbound.testing.processes` and
:mod:`~crossbound.testing.chaos` import a Kafka client, so they are imported on their own.
"""

from crossbound.testing.harness import Harness, Published
from crossbound.testing.traffic import Case, Traffic

__all__ = ["Case", "Harness", "Published", "Traffic"]
