"""The public names, pinned: a change here is a change to what integrators import."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

PUBLIC = {
    "crossbound": ["__version__"],
    "crossbound.client": [
        "Answer",
        "Attester",
        "ClientError",
        "ClientMetrics",
        "Identity",
        "IdentityError",
        "Institution",
        "Issuer",
        "KafkaWire",
        "Received",
        "Trust",
        "VerdictRefused",
        "VerdictTimeout",
        "Wire",
        "document_digest",
        "hmac_identifier",
        "institution_signer",
        "normalise_identifier",
    ],
    "crossbound.codec": [
        "FIELD_CLASSES",
        "MAGIC",
        "Codec",
        "Framing",
        "SchemaRegistry",
        "SchemaVersion",
        "SingleObjectFraming",
    ],
    "crossbound.identifiers": [
        "KINDS",
        "IdCheck",
        "check",
        "gb11714_check_char",
        "hkid_check_char",
        "is_plausible_uscc",
        "is_valid",
        "lei_check_digits",
        "luhn_check_digit",
        "resident_id_check_char",
        "uscc_check_char",
    ],
    "crossbound.errors": [
        "BrokerError",
        "BrokerNotFound",
        "ConfigError",
        "CrossboundError",
        "DecodeError",
        "InputError",
        "RegistryError",
        "RuleSetError",
        "SchemaError",
    ],
    "crossbound.rules": [
        "Catalogue",
        "Context",
        "Finding",
        "Outcome",
        "Rule",
        "RuleSet",
        "Severity",
        "evaluate",
        "load_catalogue",
        "outcome_of",
    ],
    "crossbound.pipeline": ["Incoming", "Outgoing", "Pipeline", "State", "Tables"],
    "crossbound.testing": ["Case", "Harness", "Published", "Traffic"],
    "crossbound.testing.live": ["LiveBus"],
    "crossbound.testing.recording": ["Recorded", "read_jsonl", "record", "replay", "write_jsonl"],
    "crossbound.testing.processes": ["start_worker_process", "stop_process", "wait_until_ready"],
    "crossbound.domain": ["LOCAL_TZ", "DeadLetterReason", "Side", "local_date"],
    "crossbound.metrics": [
        "DEAD_LETTER_REASON_PATTERN",
        "FINDING_SEVERITIES",
        "KINDS",
        "LATENCY_BUCKETS",
        "OUTCOMES",
        "SIDES",
        "Metrics",
    ],
    "crossbound.metrics_server": ["MetricsServer", "serve_metrics"],
    "crossbound.topics": [
        "AUDIT_TABLE",
        "KINDS",
        "REPLICATED_TABLES",
        "SIDES",
        "TABLES",
        "Layout",
        "TopicKind",
        "Topics",
        "wire_side",
    ],
    "crossbound.audit": [
        "GENESIS",
        "Auditor",
        "Chains",
        "Head",
        "Logged",
        "Problem",
        "Report",
        "Writer",
        "canonical",
        "chain_name",
        "digest_of",
        "encode",
        "from_topic",
        "make_checkpoint",
        "read_log",
        "verify_checkpoint",
        "verify_log",
        "write_log",
    ],
    "crossbound.participants": [
        "REGISTRY_VERSION",
        "Acl",
        "Algorithm",
        "Participant",
        "Registry",
        "Scheme",
        "SigningKey",
        "Status",
        "acl_lines",
        "load_registry",
        "parse_registry",
        "registry_acls",
    ],
    "crossbound.signing": [
        "FORMAT_VERSION",
        "HEADER",
        "MAX_AGE_MS",
        "MAX_SKEW_MS",
        "TAG",
        "BadHeader",
        "Binding",
        "Institution",
        "PlatformVerified",
        "RecordKind",
        "RefusalReason",
        "Refused",
        "Signature",
        "Signer",
        "Verified",
        "Verifier",
        "authorise_attester",
        "authorise_requester",
        "find_header",
        "platform_signer",
        "signed_bytes",
    ],
    "crossbound.broker.security": ["PLAINTEXT", "ClientSecurity", "connection_failure", "is_auth_failure"],
    "crossbound.broker.topicspec": [
        "CHECKED_CONFIGS",
        "ObservedTopic",
        "TopicSpec",
        "mismatches",
        "topic_configs",
        "topic_specs",
    ],
}


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_exported_members(module: str) -> None:
    mod = importlib.import_module(module)
    assert sorted(mod.__all__) == sorted(PUBLIC[module])
    for name in mod.__all__:
        assert hasattr(mod, name), name


def test_errors_are_rooted_and_retry_policy_is_on_the_class() -> None:
    from crossbound import errors

    for name in errors.__all__:
        assert issubclass(getattr(errors, name), errors.CrossboundError)
    assert issubclass(errors.ConfigError, ValueError)
    assert errors.BrokerError.retriable is True
    assert errors.DecodeError.retriable is False


def test_importing_the_package_has_no_side_effects() -> None:
    # a fresh interpreter: importing every module starts nothing and registers no global metrics
    code = (
        "import threading, prometheus_client\n"
        "import crossbound, crossbound.runtime.app, crossbound.runtime.worker, crossbound.cli.demo\n"
        "import crossbound.testing.live, crossbound.cli\n"
        "names = {m.name for m in prometheus_client.REGISTRY.collect()}\n"
        "assert not any(n.startswith('crossbound') for n in names), names\n"
        "assert threading.active_count() == 1, threading.enumerate()\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
