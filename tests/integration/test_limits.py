"""A parked request at the input size limit survives a worker restart (its pending record is larger).

The Harness version of this, and of the stateful hops, is tests/unit/pipeline/test_pipeline_limits.py.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from crossbound.broker import Broker
from crossbound.codec import Codec
from crossbound.rules import Catalogue
from crossbound.testing.traffic import Traffic
from crossbound.topics import Topics
from support import Bus, Worker, create_topics

pytestmark = [pytest.mark.integration, pytest.mark.timeout(150)]

LIMIT = 1024  # the smallest max_record_bytes the settings allow


async def test_a_parked_request_at_the_limit_is_answered_after_a_restart(
    broker: Broker, tmp_path: Path, codec: Codec, catalogue: Catalogue
) -> None:
    tag = os.urandom(4).hex()
    topics = Topics(prefix=f"l{tag}.", app_id=f"cbl{tag}")
    await create_topics(broker, topics)
    env = {"CROSSBOUND_PIPELINE__MAX_RECORD_BYTES": str(LIMIT)}
    case = Traffic(seed=3).case("sb_corporate_credit_report", "late")
    assert case.request is not None
    # the request itself just under the limit: codes of the consent's categories (a well-formed field
    # no rule reads; the consent id has a declared form and cannot be padded)
    case.request["consent"]["pi_categories"] += ["X" * 40] * 11 + ["X" * 19]
    async with Bus(broker.bootstrap, topics, codec, catalogue) as bus:
        assert LIMIT - 80 < len(bus.encode_case(case)[2]) <= LIMIT
        first = Worker(broker, topics, tmp_path / "first.log", timeout_s=15, env=env).start()
        await asyncio.to_thread(first.wait_ready, 60.0)
        rid = await bus.send_case(case, answer=False)
        await bus.wait_for(lambda: len(bus.attestation_requests) == 1, what="the request parked")
        first.stop()  # before its deadline: the next process finds it in the pending table
        assert rid not in bus.verdicts
        second = Worker(broker, topics, tmp_path / "second.log", timeout_s=15, env=env).start()
        try:
            await bus.wait_for(lambda: rid in bus.verdicts, timeout_s=90, what="the timeout verdict")
            assert second.proc is not None
            assert second.proc.poll() is None  # still running
        finally:
            second.stop()
    assert bus.verdicts[rid][0]["outcome"] == "REJECT"
    assert bus.dead_letters == []
    assert "Traceback" not in second.log(), second.log()[-3000:]
