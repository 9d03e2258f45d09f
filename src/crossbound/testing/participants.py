"""Generate a participant registry and its secrets for the demo and the tests.

:func:`generate_registry` writes into one directory, outside any git work tree (it refuses one, so
that no private key can be committed by accident; ``.gitignore`` also ignores ``*.private.pem`` and
``*.password``):

* ``registry.toml``, the registry (:mod:`crossbound.participants.loader` reads it);
* ``keys/<key_id>.private.pem``, each participant's Ed25519 signing key (PKCS#8, mode 0600), and the
  worker's for each side (``platform-hk-1``, ``platform-sz-1``: the registry's ``[[platform]]`` keys);
* ``scram/<key>.password``, each participant's Kafka SCRAM password (mode 0600), for a secured test
  broker (:class:`crossbound.broker.kafka_config.SecureMode`).

The participants are the simulator's institutions (:mod:`crossbound.testing.synthetic`) and the other
institutions the scenario fixtures name (``examples/``): every HK one may request in every scenario HK
requests in and attest in every scenario HK attests in; the same on the SZ side.
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crossbound.domain import Side
from crossbound.errors import InputError
from crossbound.participants import REGISTRY_VERSION, Registry
from crossbound.signing import Signer, platform_signer
from crossbound.testing import fixtures
from crossbound.testing.encoding import Keyring
from crossbound.testing.synthetic import CN_BANKS, CN_CREDIT_AGENCIES, HK_BANKS, HK_CRAS

__all__ = ["GeneratedRegistry", "generate_registry", "platform_key_id"]

_SIMULATED = {Side.HK: HK_BANKS + HK_CRAS, Side.SZ: CN_BANKS + CN_CREDIT_AGENCIES}


def _institutions() -> dict[Side, list[dict[str, str]]]:
    """The simulator's institutions, then each other one a scenario fixture names (the traffic sends
    the fixtures' requests too, so a signed demo needs them registered), once each, on its side."""
    found = {side: list(insts) for side, insts in _SIMULATED.items()}
    seen = {(i["scheme"], i["id"]) for insts in found.values() for i in insts}
    for scenario in fixtures.discover():
        for fixture in fixtures.load(scenario).fixtures.values():
            for role in ("requester", "attester"):
                inst, side = fixture.request[f"{role}_inst"], Side(fixture.request[f"{role}_side"])
                if (inst["scheme"], inst["id"]) not in seen:
                    seen.add((inst["scheme"], inst["id"]))
                    found[side].append({"scheme": inst["scheme"], "id": inst["id"], "city": inst["city"]})
    return found


@dataclass(frozen=True, slots=True)
class GeneratedRegistry:
    """What was written: the registry file and, by participant key, its password file."""

    path: Path
    passwords: Mapping[str, Path]

    def password(self, key: str) -> str:
        """A participant's SCRAM password."""
        return self.passwords[key].read_text(encoding="utf-8").strip()

    def private_key(self, key_id: str) -> Path:
        """The PEM file of the private key ``key_id`` (a participant's ``<key>-1``, or the platform's)."""
        return self.path.parent / "keys" / f"{key_id}.private.pem"

    def platform_key(self, side: Side) -> Path:
        """The PEM file of the worker's key for ``side``."""
        return self.private_key(platform_key_id(side))

    def keyring(self, registry: Registry) -> Keyring:
        """Every participant's signer (its first key), to sign as the institutions do."""
        return Keyring(
            {
                (p.scheme.value, p.identifier): Signer.from_pem_file(self.private_key(k.key_id), k.key_id)
                for p in registry.participants
                for k in p.keys[:1]
            }
        )

    def platform_signers(self, registry: Registry) -> dict[str, Signer]:
        """The worker's signer of each side (``hk``, ``sz``), as the worker loads them."""
        return {side.topic: platform_signer(self.platform_key(side), registry, side) for side in Side}


def platform_key_id(side: Side) -> str:
    """The key id of the generated worker key for ``side``."""
    return f"platform-{side.topic}-1"


def _inside_git(directory: Path) -> Path | None:
    for parent in (directory, *directory.parents):
        if (parent / ".git").exists():
            return parent
    return None


def _secret_file(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def _new_key(directory: Path, key_id: str) -> bytes:
    """A fresh Ed25519 key written to ``keys/<key_id>.private.pem``; its raw public key."""
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    _secret_file(directory / "keys" / f"{key_id}.private.pem", pem)
    return private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _toml(value: object) -> str:
    if isinstance(value, datetime.datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(value)  # strings and ints: JSON's escapes are TOML basic strings' escapes


def generate_registry(
    directory: Path,
    scenarios: Mapping[str, tuple[Side, Side]],
    *,
    now: datetime.datetime | None = None,
    days: int = 365,
) -> GeneratedRegistry:
    """Write a registry of the simulator's institutions, with fresh keys and passwords, to ``directory``.

    ``scenarios`` maps each scenario id to its (requester side, attester side). Raises
    :class:`InputError` if ``directory`` is inside a git work tree.
    """
    directory = directory.resolve()
    repo = _inside_git(directory)
    if repo is not None:
        raise InputError(
            f"{directory} is inside the git work tree {repo}: private keys are never written there"
        )
    start = (now or datetime.datetime.now(datetime.UTC)).replace(microsecond=0) - datetime.timedelta(days=1)
    until = start + datetime.timedelta(days=days)
    (directory / "keys").mkdir(parents=True, exist_ok=True)
    (directory / "scram").mkdir(exist_ok=True)
    lines = ["# generated by crossbound registry generate: test and demo participants", "", "[registry]"]
    lines.append(f"version = {REGISTRY_VERSION}")
    passwords = {}
    for side, institutions in _institutions().items():
        requests = sorted(s for s, (req, _) in scenarios.items() if req is side)
        attests = sorted(s for s, (_, att) in scenarios.items() if att is side)
        for inst in institutions:
            key = inst["id"].lower()
            key_id = f"{key}-1"
            public = _new_key(directory, key_id)
            passwords[key] = directory / "scram" / f"{key}.password"
            _secret_file(passwords[key], secrets.token_urlsafe(24).encode() + b"\n")
            fields = {
                "key": key,
                "identifier": inst["id"],
                "scheme": inst["scheme"],
                "side": side.value,
                "city": inst["city"],
                "status": "active",
                "principal": f"User:{key}",
                "may_request": requests,
                "may_attest": attests,
            }
            lines += ["", "[[participants]]", *(f"{k} = {_toml(v)}" for k, v in fields.items())]
            signing = {
                "key_id": key_id,
                "algorithm": "Ed25519",
                "public_key": base64.b64encode(public).decode(),
                "not_before": start,
                "not_after": until,
            }
            lines += ["", "[[participants.keys]]", *(f"{k} = {_toml(v)}" for k, v in signing.items())]
    for side in Side:
        key_id = platform_key_id(side)
        signing = {
            "key_id": key_id,
            "algorithm": "Ed25519",
            "public_key": base64.b64encode(_new_key(directory, key_id)).decode(),
            "not_before": start,
            "not_after": until,
        }
        lines += ["", "[[platform]]", f"side = {_toml(side.value)}", "", "[[platform.keys]]"]
        lines += [f"{k} = {_toml(v)}" for k, v in signing.items()]
    path = directory / "registry.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return GeneratedRegistry(path, passwords)
