"""``crossbound demo --secure`` end to end: its own Apache Kafka (SASL_SSL, SCRAM, the registry's ACLs),
every institution and data holder as itself, each forbidden attempt refused with its reason, both
audit logs verified by ``crossbound audit verify`` and each tampered copy refused.

One demo run (40 requests, about a minute: the Kafka start is most of it), as a subprocess, with its
temporary directory under the test's (``TMPDIR``), so that the logs it keeps can be verified again.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from crossbound.broker.net import free_port
from crossbound.cli import main

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

EXPECTED = {
    "publishes on bank": "TopicAuthorizationFailedError",
    "reads bank": "TopicAuthorizationFailedError",
    "writes a verdict on its own verdict topic": "TopicAuthorizationFailedError",
    "consumes in bank": "GroupAuthorizationFailedError",
    "reads data holder": "TopicAuthorizationFailedError",
    "publishes a document fingerprint on data source": "TopicAuthorizationFailedError",
    "sends an unsigned request": "unsigned",
    "signs a request with a key that is not its own": "bad_signature",
    "naming bank": "not_authorised",
    "answers a request addressed to another data holder": "wrong_attester",
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str, Path]:
    """The demo's JSON summary, its stderr and the directory it kept."""
    tmp = tmp_path_factory.mktemp("secure-demo")
    result = subprocess.run(
        [
            *(sys.executable, "-m", "crossbound", "demo", "--secure", "--count", "40", "--json"),
            *("--metrics-port", str(free_port())),
        ],
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
        env={**os.environ, "TMPDIR": str(tmp)},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    return summary, result.stderr, Path(summary["trust_boundary"]["directory"])


def test_the_traffic_runs_signed_under_the_acls_and_every_attempt_is_refused(
    demo: tuple[dict[str, Any], str, Path],
) -> None:
    summary, stderr, directory = demo
    assert summary["published"] == 40
    assert summary["unanswered"] == 0
    assert summary["expected_matched"] == 40
    assert summary["verdicts_refused"] == {}
    boundary = summary["trust_boundary"]
    assert boundary["connected_as_themselves"] >= 10
    got = {a["what"]: a["got"] for a in boundary["attempts"]}
    assert len(got) == len(EXPECTED)
    for what, reason in got.items():
        [expected] = [r for start, r in EXPECTED.items() if start in what]
        assert reason == expected, what
    assert "Traceback" not in stderr
    secrets = [p.read_text().strip() for p in (directory / "registry" / "scram").glob("*.password")]
    secrets.append((directory / "broker" / "admin.password").read_text().strip())
    assert not [s for s in secrets if s in json.dumps(summary) + stderr]


def test_both_audit_logs_verify_and_the_tampered_copies_do_not(
    demo: tuple[dict[str, Any], str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    summary, _, directory = demo
    audit = summary["trust_boundary"]["audit"]
    for side in ("hk", "sz"):
        assert audit[side]["ok"], audit[side]["problem"]
        assert audit[side]["entries"] > 0
        assert audit[side]["anchors"] == audit[side]["checkpoints"] > 0
    assert not audit["tampered"]["ok"]
    assert audit["tampered"]["problem"].endswith("its content does not match its digest: altered")
    registry = str(directory / "registry" / "registry.toml")
    hk, sz = str(directory / "hk.audit.jsonl"), str(directory / "sz.audit.jsonl")
    assert main(["audit", "verify", hk, "--anchors", sz, "--registry", registry]) == 0
    assert main(["audit", "verify", sz, "--anchors", hk, "--registry", registry]) == 0
    assert main(["audit", "verify", audit["tampered"]["file"], "--anchors", sz, "--registry", registry]) == 1
    lines = Path(sz).read_text().splitlines()
    last = max(i for i, line in enumerate(lines) if json.loads(line)["record"]["type"] == "entry")
    dropped = tmp_path / "sz.dropped.jsonl"  # the last entry gone: a checkpoint vouches for it
    dropped.write_text("\n".join(lines[:last] + lines[last + 1 :]) + "\n")
    capsys.readouterr()
    assert main(["audit", "verify", str(dropped), "--anchors", hk, "--registry", registry]) == 1
    assert "not in the log: dropped or altered" in capsys.readouterr().out
