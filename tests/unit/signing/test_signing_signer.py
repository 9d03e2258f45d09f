"""Loading a signer: from PEM, under the registry's platform keys, with the key never shown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key

from crossbound.domain import Side
from crossbound.errors import ConfigError
from crossbound.participants import load_registry
from crossbound.rules import Catalogue
from crossbound.runtime.worker import scenario_sides
from crossbound.signing import Binding, RecordKind, Signer, Verifier, platform_signer
from crossbound.testing.participants import GeneratedRegistry, generate_registry, platform_key_id

NOW = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture
def generated(tmp_path: Path, catalogue: Catalogue) -> GeneratedRegistry:
    return generate_registry(tmp_path / "reg", scenario_sides(catalogue), now=NOW)


def test_a_participant_key_signs_what_the_registry_verifies(
    generated: GeneratedRegistry, catalogue: Catalogue
) -> None:
    registry = load_registry(generated.path, scenario_sides(catalogue))
    signer = Signer.from_pem_file(generated.private_key("hsbchkhhhkh-1"), "hsbchkhhhkh-1")
    binding = Binding(Side.HK, RecordKind.REQUEST, b"r")
    ms = int(NOW.timestamp() * 1000)
    got = Verifier(registry).verify(b"v", signer.headers(b"v", binding, ms), binding, ms)
    assert getattr(got, "participant", None) == registry.find("BIC", "HSBCHKHHHKH")
    assert signer.public_key == registry.find("BIC", "HSBCHKHHHKH").keys[0].public_key  # type: ignore[union-attr]


def test_the_repr_shows_neither_key_nor_file(generated: GeneratedRegistry) -> None:
    path = generated.private_key("hsbchkhhhkh-1")
    text = repr(Signer.from_pem_file(path, "hsbchkhhhkh-1"))
    assert text == "Signer(key_id='hsbchkhhhkh-1', algorithm='Ed25519')"


def test_the_platform_signer_takes_its_key_id_from_the_registry(
    generated: GeneratedRegistry, catalogue: Catalogue
) -> None:
    registry = load_registry(generated.path, scenario_sides(catalogue))
    for side in Side:
        signer = platform_signer(generated.platform_key(side), registry, side, NOW)
        assert signer.key_id == platform_key_id(side)
    with pytest.raises(ConfigError, match="none of the \\[\\[platform\\]\\] keys for side SZ"):
        platform_signer(generated.platform_key(Side.HK), registry, Side.SZ, NOW)
    with pytest.raises(ConfigError, match="is not valid now"):
        platform_signer(generated.platform_key(Side.HK), registry, Side.HK, NOW + timedelta(days=400))


def test_a_bad_key_file_fails_naming_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.pem"
    with pytest.raises(ConfigError, match=f"signing key {missing}: not readable"):
        Signer.from_pem_file(missing, "k")
    junk = tmp_path / "junk.pem"
    junk.write_bytes(b"not a key")
    with pytest.raises(ConfigError, match=f"signing key {junk}: not an unencrypted PEM private key"):
        Signer.from_pem_file(junk, "k")
    ec = tmp_path / "ec.pem"
    ec.write_bytes(
        generate_private_key(SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    with pytest.raises(ConfigError, match="not a key of Ed25519"):
        Signer.from_pem_file(ec, "k")
