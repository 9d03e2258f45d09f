"""Unit tests of ``demo --secure``'s pure parts (:mod:`crossbound.cli.demo_secure`): the tampered
copy, when the boundary counts as held, the summary lines, each participant's own login, the
worker's environment, and the flags ``--secure`` refuses. The run itself is
``tests/integration/test_demo_secure.py``."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from crossbound.broker.security import ClientSecurity
from crossbound.cli import main
from crossbound.cli.demo_env import participants_env
from crossbound.cli.demo_secure import SecureBoundary, passed, render, tamper
from crossbound.client import Identity
from crossbound.domain import Side
from crossbound.errors import CrossboundError
from crossbound.participants import load_registry
from crossbound.rules import Catalogue
from crossbound.runtime.worker import scenario_sides
from crossbound.settings import Settings
from crossbound.testing.participants import generate_registry

HELD: dict[str, Any] = {
    "verdicts_refused": {},
    "trust_boundary": {
        "connected_as_themselves": 12,
        "directory": "/tmp/d",
        "registry": "/tmp/d/registry/registry.toml",
        "attempts": [
            {"who": "bank a", "what": "reads bank b's verdicts", "refused_by": "broker",
             "expected": "TopicAuthorizationFailedError", "got": "TopicAuthorizationFailedError"},
            {"who": "bank a", "what": "sends an unsigned request", "refused_by": "worker",
             "expected": "unsigned", "got": "unsigned"},
        ],
        "audit": {
            side: {"file": f"/tmp/d/{side}.audit.jsonl", "anchors_file": "/tmp/d/x.jsonl", "ok": ok,
                   "entries": 3, "checkpoints": 1, "anchors": 1, "problem": None if ok else "altered"}
            for side, ok in (("hk", True), ("sz", True), ("tampered", False))
        },
    },
}  # fmt: skip


def _broken(path: tuple[str | int, ...], value: object) -> dict[str, Any]:
    summary = copy.deepcopy(HELD)
    target: Any = summary
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return summary


def test_the_boundary_held() -> None:
    assert passed(HELD)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("trust_boundary", "attempts", 0, "got"), "allowed"),  # the broker let it through
        (("trust_boundary", "attempts", 1, "got"), "bad_signature"),  # refused, for another reason
        (("verdicts_refused",), {"bad_signature": 1}),  # an institution refused a verdict
        (("trust_boundary", "audit", "hk", "ok"), False),
        (("trust_boundary", "audit", "sz", "ok"), False),
        (("trust_boundary", "audit", "tampered", "ok"), True),  # the tampered copy was accepted
    ],
)
def test_the_boundary_did_not_hold(path: tuple[str | int, ...], value: object) -> None:
    assert not passed(_broken(path, value))


def test_the_summary_shows_each_attempt_and_each_audit() -> None:
    lines = list(render(_broken(("trust_boundary", "attempts", 0, "got"), "allowed")))
    assert "  bank a reads bank b's verdicts: NOT REFUSED AS EXPECTED by the broker (allowed)" in lines
    assert "  bank a sends an unsigned request: refused by the worker, dead letter (unsigned)" in lines
    assert any(line.startswith("audit hk: OK: 3 entries") for line in lines)
    assert any("a tampered copy" in line and "FAILED as it must: altered" in line for line in lines)


def test_the_tampered_copy_changes_one_entrys_outcome_and_nothing_else(tmp_path: Path) -> None:
    records = [
        {"type": "checkpoint", "heads": {}},
        {"type": "entry", "seq": 0, "outcome": "ACCEPT", "digest": "d0"},
        {"type": "entry", "seq": 1, "outcome": "REJECT", "digest": "d1"},
    ]
    log = tmp_path / "hk.jsonl"
    log.write_text(
        "".join(json.dumps({"partition": 0, "offset": i, "record": r}) + "\n" for i, r in enumerate(records))
    )
    out = tamper(log, tmp_path / "tampered.jsonl")
    got = [json.loads(line)["record"] for line in out.read_text().splitlines()]
    assert got == [records[0], {**records[1], "outcome": "REJECT"}, records[2]]
    log.write_text(json.dumps({"partition": 0, "offset": 0, "record": records[0]}) + "\n")
    with pytest.raises(CrossboundError, match="no audit entry"):
        tamper(log, tmp_path / "none.jsonl")


def test_each_participant_logs_in_as_its_own_user(tmp_path: Path, catalogue: Catalogue) -> None:
    scenarios = scenario_sides(catalogue)
    generated = generate_registry(tmp_path / "reg", scenarios)
    registry = load_registry(generated.path, scenarios)
    admin = ClientSecurity("SASL_SSL", None, "SCRAM-SHA-512", "admin", SecretStr("admin-secret"))
    boundary = SecureBoundary(tmp_path, generated, registry, admin)
    a, b = registry.participants[:2]
    for p in (a, b):
        security = boundary.login(Identity.of(p))
        assert security.username == p.principal.removeprefix("User:")
        assert security.password is not None
        assert security.password.get_secret_value() == generated.password(p.key)
        assert security.protocol == "SASL_SSL"
    assert boundary.logged_in == {a.key, b.key}
    with pytest.raises(CrossboundError, match="not a participant"):
        boundary.login(Identity("nobody", "BIC", "NOBODYHKXXX", Side.HK, "HK"))


def test_the_worker_is_given_the_registry_the_platform_keys_and_the_audit(tmp_path: Path) -> None:
    pipeline = {
        "participants": tmp_path / "registry.toml",
        "topic_layout": "per_institution",
        "signing_key_hk": tmp_path / "hk.pem",
        "signing_key_sz": tmp_path / "sz.pem",
    }
    settings = Settings(pipeline=pipeline, audit={"enabled": True, "checkpoint_interval_s": 2.0})
    assert participants_env(settings) == {
        "CROSSBOUND_PIPELINE__PARTICIPANTS": str(tmp_path / "registry.toml"),
        "CROSSBOUND_PIPELINE__TOPIC_LAYOUT": "per_institution",
        "CROSSBOUND_PIPELINE__SIGNING_KEY_HK": str(tmp_path / "hk.pem"),
        "CROSSBOUND_PIPELINE__SIGNING_KEY_SZ": str(tmp_path / "sz.pem"),
        "CROSSBOUND_AUDIT__ENABLED": "true",
        "CROSSBOUND_AUDIT__CHECKPOINT_INTERVAL_S": "2.0",
    }
    assert participants_env(Settings()) == {}


@pytest.mark.parametrize("extra", [["--broker", "127.0.0.1:9"], ["--join"], ["--keep-running"]])
def test_secure_starts_its_own_broker_and_refuses_the_flags_of_another(
    capsys: pytest.CaptureFixture[str], extra: list[str]
) -> None:
    assert main(["demo", "--secure", "--count", "1", *extra]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("crossbound: --secure starts its own Apache Kafka"), err
