"""``crossbound demo --secure``: the demo across the whole trust boundary, on a secured Apache Kafka.

:func:`run_secure_demo` generates a participant registry with keys and SCRAM passwords in a temporary
directory (outside git), starts one Apache Kafka node as ``crossbound broker --engine kafka --secure
DIR --users REG`` does (:func:`crossbound.cli.broker.secure_mode`: SASL_SSL, SCRAM-SHA-512, the
standard authorizer, ``admin`` its only super user), applies the registry's ACLs, and runs the demo
(:func:`crossbound.cli.demo_run.run_demo`) with this module's :class:`SecureBoundary`: the worker as
``admin`` with the registry, the ``per_institution`` layout, both platform keys and the audit on;
every simulated institution and data holder connected as itself (its own SCRAM user, topics and
key). While the worker is up, :mod:`crossbound.cli.demo_attempts` tries what participants may not
do; once it has stopped (its last checkpoints written), both sides' audit logs are exported and
each is verified against the other's anchors, and a tampered copy must fail. The directory is kept,
its path printed, so the logs can be verified again by hand (``crossbound audit verify``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from crossbound.audit import read_log, verify_log, write_log
from crossbound.broker.acls import apply_acls, describe_acls
from crossbound.broker.closing import run_closed
from crossbound.broker.kafka import KafkaCluster
from crossbound.broker.security import ClientSecurity
from crossbound.cli.audit import read_topic
from crossbound.cli.broker import secure_mode
from crossbound.cli.demo_attempts import attempt_all
from crossbound.cli.demo_run import run_demo
from crossbound.cli.registry import scenarios_of
from crossbound.client import Identity
from crossbound.codec import Codec
from crossbound.domain import Side
from crossbound.errors import CrossboundError
from crossbound.participants import Participant, Registry, load_registry, registry_acls
from crossbound.rules import Catalogue
from crossbound.runtime.worker import load_components
from crossbound.settings import Settings
from crossbound.settings.security import SecuritySettings
from crossbound.testing.participants import GeneratedRegistry, generate_registry
from crossbound.topics import SIDES, Topics

__all__ = ["SECURE_TIMEOUT_S", "SecureBoundary", "passed", "render", "run_secure_demo", "tamper"]

CHECKPOINT_INTERVAL_S = 2.0  # the demo is short: checkpoint often (the worker's stop adds the last)
# The attestation timeout of the secured run: every client and the worker speak TLS and SCRAM to a
# JVM broker, so a burst's answers take longer than the plain demo's 3 s allow on a busy machine
# (they would come late: ``late_attestation``); the late cases wait this long instead.
SECURE_TIMEOUT_S = 10.0


@dataclass
class SecureBoundary:
    """The secured run's participants, their logins, and what it adds to the summary."""

    directory: Path
    generated: GeneratedRegistry
    registry: Registry
    admin: ClientSecurity
    logged_in: set[str] = dataclasses.field(default_factory=set)  # participant keys that connected
    played: int = 0  # how many of them played the traffic (before the attempts)

    def login(self, who: Identity | Participant) -> ClientSecurity:
        """SASL_SSL as ``who``'s own SCRAM user, with its own password."""
        found = who if isinstance(who, Participant) else self.registry.find(who.scheme, who.id)
        if found is None:
            raise CrossboundError(f"{who}: not a participant of {self.registry.path}")
        user = found.principal.removeprefix("User:")
        self.logged_in.add(found.key)
        return dataclasses.replace(
            self.admin, username=user, password=SecretStr(self.generated.password(found.key))
        )

    def attempts(
        self, bootstrap: str, topics: Topics, codec: Codec, catalogue: Catalogue
    ) -> list[dict[str, str]]:
        """Every forbidden attempt (the worker up), with the reason it was refused with."""
        self.played = len(self.logged_in)
        keyring = self.generated.keyring(self.registry)
        done = run_closed(
            attempt_all(bootstrap, topics, codec, catalogue, self.registry, keyring, self.login, self.admin)
        )
        return [
            {"who": a.who, "what": a.what, "refused_by": a.refused_by, "expected": a.expected, "got": got}
            for a, got in done
        ]

    def audit(self, bootstrap: str, topics: Topics) -> dict[str, Any]:
        """Both sides' logs exported (the worker stopped), each verified against the other's anchors,
        and a tampered copy of HK's."""
        files = {side: self.directory / f"{side}.audit.jsonl" for side in SIDES}
        for side in SIDES:
            write_log(run_closed(read_topic(bootstrap, topics.audit(side), 2.0, self.admin)), files[side])
        result: dict[str, Any] = {}
        for side, other in (("hk", "sz"), ("sz", "hk")):
            result[side] = _verified(files[side], files[other], self.registry)
        tampered = tamper(files["hk"], self.directory / "hk.audit.tampered.jsonl")
        result["tampered"] = _verified(tampered, files["sz"], self.registry)
        return result

    def summary(self, attempts: list[dict[str, str]], audit: dict[str, Any]) -> dict[str, Any]:
        """The ``trust_boundary`` part of the demo's summary."""
        return {
            "connected_as_themselves": self.played,
            "directory": str(self.directory),
            "registry": str(self.generated.path),
            "attempts": attempts,
            "audit": audit,
        }

    def passed(self, summary: dict[str, Any]) -> bool:
        """See :func:`passed`."""
        return passed(summary)

    def render(self, summary: dict[str, Any]) -> Iterator[str]:
        """See :func:`render`."""
        return render(summary)


def _verified(path: Path, anchors: Path, registry: Registry) -> dict[str, Any]:
    report = verify_log(read_log(path), registry, read_log(anchors), anchors_name=str(anchors))
    return {
        "file": str(path),
        "anchors_file": str(anchors),
        "ok": report.ok,
        "entries": report.entries,
        "checkpoints": report.checkpoints,
        "anchors": report.anchors,
        "problem": report.problems[0].text() if report.problems else None,
    }


def tamper(log: Path, out: Path) -> Path:
    """A copy of an exported audit log with the first entry's outcome changed (``REJECT`` for any
    other, ``ACCEPT`` for a ``REJECT``): what ``audit verify`` must catch as altered."""
    lines = log.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        exported = json.loads(line)
        record = exported["record"]
        if record.get("type") == "entry":
            record["outcome"] = "ACCEPT" if record["outcome"] == "REJECT" else "REJECT"
            lines[i] = json.dumps(exported, sort_keys=True, separators=(",", ":"))
            break
    else:
        raise CrossboundError(f"{log}: no audit entry to tamper with")
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def passed(summary: dict[str, Any]) -> bool:
    """Every attempt refused with its expected reason, no verdict refused, both logs verified, the
    tampered copy failed."""
    boundary = summary["trust_boundary"]
    audit = boundary["audit"]
    return (
        all(a["got"] == a["expected"] for a in boundary["attempts"])
        and not summary["verdicts_refused"]
        and audit["hk"]["ok"]
        and audit["sz"]["ok"]
        and not audit["tampered"]["ok"]
    )


def render(summary: dict[str, Any]) -> Iterator[str]:
    """The trust-boundary part of the summary, as lines."""
    boundary = summary["trust_boundary"]
    refused = sum(summary["verdicts_refused"].values())
    yield ""
    yield (
        f"{boundary['connected_as_themselves']} institutions and data holders connected each as its own "
        "SCRAM user, on its own topics, signing with its own key and verifying the platform's signatures; "
        f"verdicts they refused: {refused}"
    )
    yield (
        "the data sources published their documents' fingerprints each as itself, signed, on its own "
        "registry topic"
    )
    yield "what participants may not do, each connected as itself:"
    for a in boundary["attempts"]:
        ok = "refused" if a["got"] == a["expected"] else "NOT REFUSED AS EXPECTED"
        by = "the broker" if a["refused_by"] == "broker" else "the worker, dead letter"
        yield f"  {a['who']} {a['what']}: {ok} by {by} ({a['got']})"
    audit = boundary["audit"]
    for side in SIDES:
        got = audit[side]
        verdict = "OK" if got["ok"] else f"FAILED: {got['problem']}"
        yield (
            f"audit {side}: {verdict}: {got['entries']} entries, {got['checkpoints']} signed checkpoint(s), "
            f"{got['anchors']} cross-anchor(s) matched in {Path(got['anchors_file']).name}"
        )
    bad = audit["tampered"]
    caught = "FAILED as it must" if not bad["ok"] else "ACCEPTED (it must not be)"
    yield f"audit hk, a tampered copy (one entry's outcome changed): {caught}: {bad['problem']}"
    yield (
        f"registry, keys and logs in {boundary['directory']} (verify again: crossbound audit verify "
        f"{audit['hk']['file']} --anchors {audit['sz']['file']} --registry {boundary['registry']})"
    )


async def _acls_in_effect(bootstrap: str, security: ClientSecurity, wanted: set[Any]) -> None:
    """Until the authorizer holds ``wanted``: CreateAcls is acknowledged before the broker applies it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30.0
    while not wanted <= set(await describe_acls(bootstrap, security=security)):
        if loop.time() > deadline:
            raise CrossboundError("the registry's ACLs did not take effect in 30 s")
        await asyncio.sleep(0.1)


def _secured_settings(
    settings: Settings, url: str, directory: Path, ca_file: Path, generated: GeneratedRegistry
) -> Settings:
    """The settings of the secured run: its broker as ``admin`` (the password file ``secure_mode``
    wrote), the registry, ``per_institution``, both platform keys and the audit."""
    broker = directory / "broker"
    security = SecuritySettings(
        protocol="SASL_SSL",
        ca_file=ca_file,
        sasl_username="admin",
        sasl_password_file=broker / "admin.password",
    )
    kafka = settings.kafka.model_copy(update={"broker": url, "replication_factor": 1, "security": security})
    pipeline = settings.pipeline.model_copy(
        update={
            "participants": generated.path,
            "topic_layout": "per_institution",
            "signing_key_hk": generated.platform_key(Side.HK),
            "signing_key_sz": generated.platform_key(Side.SZ),
        }
    )
    audit = settings.audit.model_copy(
        update={"enabled": True, "checkpoint_interval_s": CHECKPOINT_INTERVAL_S}
    )
    return settings.model_copy(update={"kafka": kafka, "pipeline": pipeline, "audit": audit})


def run_secure_demo(settings: Settings, *, count: int, as_json: bool, seed: int, rate: float = 0.0) -> int:
    """Run ``demo --secure``; 0 when every request was answered as intended, every attempt refused
    with its reason, both audit logs verify and the tampered copy does not."""
    say = (lambda msg: print(msg, file=sys.stderr)) if as_json else print
    directory = Path(tempfile.mkdtemp(prefix="crossbound-secure-demo-"))
    scenarios = scenarios_of(settings)
    generated = generate_registry(directory / "registry", scenarios)
    registry = load_registry(generated.path, scenarios)
    mode = secure_mode(directory / "broker", generated.path.parent)
    say(f"crossbound demo --secure: {len(registry.participants)} participants in {generated.path}")
    say("crossbound demo --secure: starting Apache Kafka (SASL_SSL, SCRAM-SHA-512, ACLs)")
    with KafkaCluster(1, libs=settings.kafka_libs, secure=mode) as cluster:
        secured = _secured_settings(settings, cluster.url, directory, mode.pki.ca_file, generated)
        admin = ClientSecurity.from_settings(secured.kafka.security)
        # the topics as the worker names them (its per_institution layout, the issuers' registry topics)
        topics = load_components(secured, signers=False).topics
        acls = registry_acls(registry, topics)
        run_closed(apply_acls(cluster.bootstrap, acls, security=admin))
        run_closed(_acls_in_effect(cluster.bootstrap, admin, set(acls)))
        say(f"crossbound demo --secure: {len(acls)} ACLs applied on {cluster.url} as User:admin")
        boundary = SecureBoundary(directory, generated, registry, admin)
        return run_demo(secured, count=count, as_json=as_json, keep_running=False, seed=seed, rate=rate,
                        boundary=boundary, attestation_timeout_s=SECURE_TIMEOUT_S)  # fmt: skip
