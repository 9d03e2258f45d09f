"""The worker's audit: signed checkpoints anchored on the other side first, the keys checked at
start-up, and an audit entry the broker refuses is never its input's second outcome."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from auditlog import SCENARIOS, registry_and_signers
from prometheus_client import CollectorRegistry

from crossbound.audit import verify_checkpoint
from crossbound.errors import ConfigError
from crossbound.metrics import Metrics
from crossbound.pipeline import Incoming, Outgoing
from crossbound.runtime.auditing import WorkerAudit, audit_signers
from crossbound.settings import Settings
from crossbound.signing import Verifier
from crossbound.testing import Harness
from crossbound.testing import fixtures as examples
from crossbound.testing.participants import generate_registry
from crossbound.topics import Topics

TOPICS = Topics()


async def test_checkpoints_go_to_the_other_side_first_then_to_their_own(tmp_path: Path) -> None:
    registry, signers = registry_and_signers(tmp_path)
    metrics = Metrics(CollectorRegistry())
    h = Harness.from_dirs(now=examples.FIXTURE_TIME.timestamp())
    audit = WorkerAudit(h.codec, TOPICS, {}, 4, signers, metrics, clock=lambda: 1_790_000_001.0)
    rec = Incoming(TOPICS.requests("hk"), 2, 9, b"k", b"\xc3\x01" + bytes(8), None)
    outs = audit.of_input("in", h.pipeline.handle(rec), rec, [])
    sent: list[Outgoing] = []

    async def produce(out: Outgoing) -> None:
        sent.append(out)

    await audit.checkpoint(produce)
    assert sent == []  # nothing persisted yet: nothing to vouch for
    audit.persist("in")
    await audit.checkpoint(produce)
    assert [(o.topic, o.key) for o in sent] == [
        ("sz.audit", b"checkpoint.hk"),  # the anchor first
        ("hk.audit", b"checkpoint.hk"),
    ]
    cp = json.loads(sent[0].value)
    entry = json.loads(outs[1].value)
    assert cp["heads"] == [{"chain": "hk.in.2", "seq": 0, "digest": entry["digest"]}]
    assert verify_checkpoint(cp, Verifier(registry)) is None
    assert (
        metrics.registry.get_sample_value("crossbound_audit_records_total", {"side": "sz", "type": "anchor"})
        == 1
    )


def test_the_checkpoint_keys_are_the_platform_keys_checked_at_start_up(tmp_path: Path) -> None:
    generated = generate_registry(tmp_path, SCENARIOS)
    from crossbound.participants import load_registry

    registry = load_registry(generated.path, SCENARIOS)
    platform = generated.platform_signers(registry)
    on = Settings(audit={"enabled": True})
    assert audit_signers(Settings(), None, {}) == {}
    with pytest.raises(ConfigError, match="needs the participant registry"):
        audit_signers(on, None, {})
    with pytest.raises(ConfigError, match=r"pipeline.signing_key_sz \(CROSSBOUND_PIPELINE__SIGNING_KEY_SZ\)"):
        audit_signers(on, registry, {"hk": platform["hk"]})
    assert {side.topic: s.key_id for side, s in audit_signers(on, registry, platform).items()} == {
        "hk": "platform-hk-1",
        "sz": "platform-sz-1",
    }


def test_a_timeout_is_logged_on_its_requests_timer_chain() -> None:
    h = Harness.from_dirs(now=examples.FIXTURE_TIME.timestamp(), registry=CollectorRegistry())
    audit = WorkerAudit(h.codec, TOPICS, {}, 4, {}, h.metrics)
    rec = Incoming(TOPICS.requests("hk"), 3, 9, b"k", b"\xc3\x01" + bytes(8), None)
    [dead] = h.pipeline.handle(rec)  # any decision will do: the timer logs what it is given
    out, logged = audit.of_timer(dead, TOPICS.requests("hk"), 3)
    entry = json.loads(logged.value)
    assert out is dead
    assert (entry["chain"], entry["seq"]) == ("hk.timer.3", 0)
    assert (entry["source"], entry["input"]) == ({"topic": "hk.requests", "partition": 3, "offset": -1}, None)
