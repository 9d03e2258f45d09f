"""examples/client_example.py's request and data holder, through the client, signed, over the real
pipeline behind the in-memory broker: the verdict is ACCEPT; a data holder holding another report
makes it REJECT (the example can fail). The integration test runs its main() on a real broker."""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

from client_fakes import World

from crossbound.client import Attester, Identity, Institution, document_digest
from helpers import ROOT


def example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("client_example", ROOT / "examples" / "client_example.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def verdict_of(world: World, ex: ModuleType, answer: Any) -> dict[str, Any]:
    bank = Identity.from_registry(world.registry, ex.DEFAULT_REQUESTER.key)
    holder = Identity.from_registry(world.registry, ex.DEFAULT_ATTESTER.key)
    assert (bank, holder) == (ex.DEFAULT_REQUESTER, ex.DEFAULT_ATTESTER)  # the generated registry's
    request = ex.kyc_request(holder, datetime.fromtimestamp(world.harness.now, UTC))
    request["consent"]["recipient_inst"] = bank.institution
    att = Attester(
        "unused",
        holder,
        world.harness.topics,
        world.codec,
        world.catalogue,
        answer,
        trust=world.trust(holder),
        wire=world.memory.wire(),
        clock=world.clock,
    )
    inst = Institution(
        "unused",
        bank,
        world.harness.topics,
        world.codec,
        world.catalogue,
        trust=world.trust(bank),
        wire=world.memory.wire(),
        clock=world.clock,
    )
    async with att, inst:
        return dict(await inst.request_and_wait(request, timeout_s=5))


async def test_the_example_is_accepted(world: World) -> None:
    ex = example()
    verdict = await verdict_of(world, ex, ex.answer)
    assert verdict["outcome"] == "ACCEPT", verdict["findings"]


async def test_the_example_can_fail(world: World) -> None:
    ex = example()

    async def holding_another_revision(asked: dict[str, Any]) -> dict[str, Any]:
        answer: dict[str, Any] = await ex.answer(asked)
        answer["payload"]["kyc_report_digest"] = document_digest("another revision of the report")
        return answer

    verdict = await verdict_of(world, ex, holding_another_revision)
    assert verdict["outcome"] == "REJECT"
    assert "DIGEST_MISMATCH" in {f["code"] for f in verdict["findings"]}
