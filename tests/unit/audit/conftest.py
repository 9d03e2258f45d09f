"""The audit tests' keys: one generated registry and the platform's signer of each side, per module."""

from __future__ import annotations

import pytest
from auditlog import registry_and_signers

from crossbound.domain import Side
from crossbound.participants import Registry
from crossbound.signing import Signer


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Registry, dict[Side, Signer]]:
    return registry_and_signers(tmp_path_factory.mktemp("registry"))


@pytest.fixture
def registry(keys: tuple[Registry, dict[Side, Signer]]) -> Registry:
    return keys[0]
