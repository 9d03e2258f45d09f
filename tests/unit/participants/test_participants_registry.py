"""The participant registry: what a good file gives, and how each bad entry stops start-up."""

from __future__ import annotations

import datetime
import tomllib
from pathlib import Path
from typing import Any

import pytest

from crossbound.domain import Side
from crossbound.errors import ConfigError, InputError, RegistryError
from crossbound.participants import Algorithm, Scheme, Status, load_registry, parse_registry
from crossbound.rules import Catalogue
from crossbound.runtime.worker import load_components, scenario_sides
from crossbound.settings import Settings
from crossbound.testing.participants import generate_registry

NOW = datetime.datetime(2026, 6, 1, tzinfo=datetime.UTC)


@pytest.fixture(scope="module")
def scenarios(catalogue: Catalogue) -> dict[str, tuple[Side, Side]]:
    return scenario_sides(catalogue)


@pytest.fixture
def generated(tmp_path: Path, scenarios: dict[str, tuple[Side, Side]]) -> Path:
    return generate_registry(tmp_path / "reg", scenarios, now=NOW).path


def _doc(path: Path) -> dict[str, Any]:
    return tomllib.loads(path.read_text(encoding="utf-8"))


def test_a_generated_registry_loads_with_lookups(
    generated: Path, scenarios: dict[str, tuple[Side, Side]]
) -> None:
    registry = load_registry(generated, scenarios)
    assert len(registry.participants) == 21  # the simulator's 15, and 6 more the scenario fixtures name
    hsbc = registry.find("BIC", "HSBCHKHHHKH")
    assert hsbc is not None
    assert (hsbc.key, hsbc.side, hsbc.city, hsbc.status) == ("hsbchkhhhkh", Side.HK, "HK", Status.ACTIVE)
    assert hsbc.principal == "User:hsbchkhhhkh"
    assert all(scenarios[s][0] is Side.HK for s in hsbc.may_request)
    assert all(scenarios[s][1] is Side.HK for s in hsbc.may_attest)
    (key,) = hsbc.keys
    assert key.algorithm is Algorithm.ED25519
    assert len(key.public_key) == 32
    assert key.valid_at(NOW)
    assert not key.valid_at(key.not_after)
    assert registry.signing_key(key.key_id) == (hsbc, key)
    assert registry.find("LEI", "HSBCHKHHHKH") is None
    assert registry.find("NOTASCHEME", "x") is None
    assert len(registry.digest) == 16


def test_generate_writes_private_keys_readable_by_the_owner_only(
    tmp_path: Path, scenarios: dict[str, tuple[Side, Side]]
) -> None:
    made = generate_registry(tmp_path / "reg", scenarios, now=NOW)
    keys = sorted((tmp_path / "reg" / "keys").glob("*.private.pem"))
    assert len(keys) == 21 + 2  # and the platform's, one per side
    assert all(k.stat().st_mode & 0o777 == 0o600 for k in keys)
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in made.passwords.values())
    assert "PRIVATE KEY" not in made.path.read_text(encoding="utf-8")


def test_generate_refuses_a_directory_inside_a_git_work_tree(
    tmp_path: Path, scenarios: dict[str, tuple[Side, Side]]
) -> None:
    (tmp_path / ".git").mkdir()
    with pytest.raises(InputError, match="git work tree"):
        generate_registry(tmp_path / "sub" / "reg", scenarios)
    assert not (tmp_path / "sub").exists()


def _first(doc: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = doc["participants"][0]
    return entry


@pytest.mark.parametrize(
    ("change", "fault"),
    [
        (
            lambda e: (
                e.update(identifier="NOTABIC")
                if e["scheme"] == "BIC"
                else e.update(scheme="BIC", identifier="NOTABIC")
            ),
            "identifier is not a valid BIC",
        ),
        (lambda e: e.update(scheme="BRN"), "scheme must be one of LEI, BIC, USCC, HK_BRN"),
        (lambda e: e.update(side="MO"), "side must be one of HK, SZ"),
        (lambda e: e.update(city="440300"), "city must be HK on the HK side"),
        (lambda e: e.update(status="paused"), "status must be one of active, suspended, revoked"),
        (lambda e: e.update(key="Has.Dot"), "key must be 1-32 of a-z"),
        (lambda e: e.update(principal="alice"), "principal must look like User:<name>"),
        (
            lambda e: e.update(may_request=["no_such_scenario"]),
            "may_request: no rule set for scenario 'no_such_scenario'",
        ),
        (
            lambda e: e.update(may_request=["nb_hk_resident_consumer_credit"]),
            "has its requester on SZ, not HK",
        ),
        (lambda e: e.update(colour="blue"), "unknown keys ['colour']"),
        (lambda e: e.pop("principal"), "missing principal"),
        (lambda e: e["keys"][0].update(public_key="AAAA"), "public_key must be 32 bytes for Ed25519, got 3"),
        (lambda e: e["keys"][0].update(public_key="not base64!"), "public_key is not base64"),
        (lambda e: e["keys"][0].update(algorithm="RSA"), "algorithm must be one of Ed25519"),
        (
            lambda e: e["keys"][0].update(not_after=e["keys"][0]["not_before"]),
            "not_after must be after not_before",
        ),
        (
            lambda e: e["keys"][0].update(not_before=datetime.datetime(2026, 1, 1)),
            "date-times with an offset",
        ),
    ],
)
def test_each_bad_entry_is_named_with_its_fault(
    generated: Path, scenarios: dict[str, tuple[Side, Side]], change: Any, fault: str
) -> None:
    doc = _doc(generated)
    entry = _first(doc)
    assert entry["side"] == "HK"
    change(entry)
    with pytest.raises(RegistryError) as caught:
        parse_registry(doc, scenarios, path="reg.toml")
    assert fault in caught.value.fault
    assert str(caught.value).startswith("reg.toml: participant 1")


@pytest.mark.parametrize(
    ("field", "fault"),
    [
        ("key", "key already used by participant"),
        ("principal", "principal already used by participant"),
        ("identifier", "identifier already used by participant"),
    ],
)
def test_keys_identifiers_and_principals_are_unique(
    generated: Path, scenarios: dict[str, tuple[Side, Side]], field: str, fault: str
) -> None:
    doc = _doc(generated)
    first, second = doc["participants"][:2]
    second[field] = first[field]
    if field == "identifier":
        second["scheme"] = first["scheme"]
    with pytest.raises(RegistryError, match=fault):
        parse_registry(doc, scenarios, path="reg.toml")


def test_a_key_id_is_unique_across_participants(
    generated: Path, scenarios: dict[str, tuple[Side, Side]]
) -> None:
    doc = _doc(generated)
    first, second = doc["participants"][:2]
    second["keys"][0]["key_id"] = first["keys"][0]["key_id"]
    with pytest.raises(RegistryError, match="key_id already used by participant"):
        parse_registry(doc, scenarios, path="reg.toml")


def test_the_file_needs_its_version_and_must_be_toml(
    tmp_path: Path, scenarios: dict[str, tuple[Side, Side]]
) -> None:
    with pytest.raises(RegistryError, match=r"needs a \[registry\] table with version = 1"):
        parse_registry({"participants": []}, scenarios)
    bad = tmp_path / "bad.toml"
    bad.write_text("[registry\n", encoding="utf-8")
    with pytest.raises(RegistryError, match=f"{bad}: not readable TOML"):
        load_registry(bad, scenarios)


def test_the_worker_refuses_to_start_on_a_bad_registry(generated: Path) -> None:
    text = generated.read_text(encoding="utf-8").replace(
        'identifier = "HSBCHKHHHKH"', 'identifier = "NOTABIC"'
    )
    generated.write_text(text, encoding="utf-8")
    settings = Settings(pipeline={"participants": generated})
    with pytest.raises(RegistryError, match=r"participant \d+ 'hsbchkhhhkh': identifier is not a valid BIC"):
        load_components(settings)


def test_the_per_institution_layout_needs_a_registry(generated: Path) -> None:
    with pytest.raises(ConfigError, match="per_institution needs the participant registry"):
        load_components(Settings(pipeline={"topic_layout": "per_institution"}))
    keys = {
        f"signing_key_{s}": generated.parent / "keys" / f"platform-{s}-1.private.pem" for s in ("hk", "sz")
    }
    components = load_components(
        Settings(pipeline={"topic_layout": "per_institution", "participants": generated, **keys})
    )
    assert "hk.hsbchkhhhkh.verdicts" in components.topics.kinds()
    assert components.participants is not None


def test_scheme_names_the_identifier_kind() -> None:
    assert [s.identifier_kind for s in Scheme] == ["lei", "bic", "uscc", "hk_brn"]
