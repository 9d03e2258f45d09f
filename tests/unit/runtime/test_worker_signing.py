"""The worker's signing keys: required with a registry, refused without one, each checked at start-up."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from crossbound.domain import Side
from crossbound.errors import ConfigError
from crossbound.rules import Catalogue
from crossbound.runtime.worker import load_components, scenario_sides
from crossbound.settings import Settings
from crossbound.testing.participants import GeneratedRegistry, generate_registry


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory, catalogue: Catalogue) -> GeneratedRegistry:
    return generate_registry(
        tmp_path_factory.mktemp("wk") / "reg", scenario_sides(catalogue), now=datetime.now(UTC)
    )


def _settings(generated: GeneratedRegistry | None, **keys: Path) -> Settings:
    pipeline: dict[str, object] = dict(keys)
    if generated is not None:
        pipeline["participants"] = generated.path
    return Settings(pipeline=pipeline)


def test_with_a_registry_the_worker_loads_a_signer_per_side(generated: GeneratedRegistry) -> None:
    settings = _settings(
        generated,
        signing_key_hk=generated.platform_key(Side.HK),
        signing_key_sz=generated.platform_key(Side.SZ),
    )
    assert settings.pipeline.signatures_required
    components = load_components(settings)
    assert {side: s.key_id for side, s in components.signers.items()} == {
        "hk": "platform-hk-1",
        "sz": "platform-sz-1",
    }


def test_a_registry_without_signing_keys_stops_start_up(generated: GeneratedRegistry) -> None:
    with pytest.raises(ConfigError, match=r"signatures are required: pipeline\.signing_key_sz"):
        load_components(_settings(generated, signing_key_hk=generated.platform_key(Side.HK)))


def test_a_key_of_the_other_side_stops_start_up_naming_the_file(generated: GeneratedRegistry) -> None:
    wrong = generated.platform_key(Side.HK)
    with pytest.raises(ConfigError, match=f"signing key {wrong}: its public key is none of the"):
        load_components(_settings(generated, signing_key_hk=wrong, signing_key_sz=wrong))


def test_an_institutions_key_is_not_the_platforms(generated: GeneratedRegistry) -> None:
    bank = generated.private_key("hsbchkhhhkh-1")
    with pytest.raises(ConfigError, match="none of the \\[\\[platform\\]\\] keys for side HK"):
        load_components(
            _settings(generated, signing_key_hk=bank, signing_key_sz=generated.platform_key(Side.SZ))
        )


def test_signing_keys_without_a_registry_are_refused(generated: GeneratedRegistry) -> None:
    assert not _settings(None).pipeline.signatures_required
    assert load_components(_settings(None)).signers == {}
    with pytest.raises(ConfigError, match="need the participant registry"):
        load_components(_settings(None, signing_key_hk=generated.platform_key(Side.HK)))
