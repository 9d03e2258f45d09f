"""The client tests' world: a generated registry (keys valid at the harness's time), the pipeline
behind an in-memory broker, and the institutions of one corporate credit report case."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from client_fakes import NOW, Memory, Platform, World

from crossbound.domain import Side
from crossbound.participants import Registry, load_registry
from crossbound.runtime.worker import scenario_sides
from crossbound.signing import Signer, platform_signer
from crossbound.testing import Harness
from crossbound.testing.participants import GeneratedRegistry, generate_registry
from crossbound.testing.traffic import Traffic


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[GeneratedRegistry, Registry, Harness]:
    harness = Harness.from_dirs(now=NOW)
    scenarios = scenario_sides(harness.catalogue)
    made = generate_registry(
        tmp_path_factory.mktemp("registry"), scenarios, now=datetime.fromtimestamp(NOW, UTC)
    )
    return made, load_registry(made.path, scenarios), harness


@pytest.fixture
def world(generated: tuple[GeneratedRegistry, Registry, Harness]) -> World:
    made, registry, shared = generated
    harness = Harness(shared.codec, shared.catalogue, now=NOW)
    memory = Memory()
    signers: dict[Side, Signer] = {
        side: platform_signer(made.platform_key(side), registry, side, datetime.fromtimestamp(NOW, UTC))
        for side in Side
    }
    platform = Platform(memory, harness, signers)
    case = Traffic(seed=5, now=NOW).case("sb_corporate_credit_report", "valid")
    return World(harness, memory, platform, registry, made, case)
