"""A paced load of attested requests, as ``bench.py``'s latency phase and ``latency_hops.py`` send it.

:func:`paced_cases` draws the requests (one to warm up, then ``warmup_s`` and ``seconds`` of them at
``rate``); :func:`warm_up` sends the first and waits for its verdict, so that nothing cold is in the
measured latencies; :func:`send_paced` sends the rest at ``rate``, each stamped ``created_at`` when sent,
and waits for all their verdicts.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from crossbound.testing.live import LiveBus
from crossbound.testing.traffic import Traffic

__all__ = ["paced_cases", "send_paced", "warm_up"]


def paced_cases(
    traffic: Traffic, scenarios: Sequence[str], rate: float, seconds: float, warmup_s: float
) -> tuple[list[Any], int]:
    """The valid cases of a paced load (the first one warms up) and how many pace the warm-up."""
    n, warm_n = int(rate * seconds), int(rate * warmup_s)
    return [traffic.case(scenarios[i % len(scenarios)], "valid") for i in range(warm_n + n + 1)], warm_n


async def warm_up(bus: LiveBus, case: Any) -> None:
    """One request and its verdict, before the load."""
    await bus.send(*bus.encode_case(case, int(time.time() * 1000)))
    await bus.wait_for(lambda: len(bus.verdicts) == 1, timeout_s=60, what="the warm-up verdict")


async def send_paced(bus: LiveBus, cases: Sequence[Any], rate: float, expected: int) -> float:
    """``cases`` sent at ``rate`` per second, each stamped when sent; then wait until ``expected``
    verdicts are in. Returns when the last was sent (``time.time()``)."""
    start = time.perf_counter()
    for i, case in enumerate(cases):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        await bus.send(*bus.encode_case(case, int(time.time() * 1000)))
    sent_end = time.time()
    await bus.wait_for(lambda: len(bus.verdicts) >= expected, timeout_s=120, what="the paced load")
    return sent_end
