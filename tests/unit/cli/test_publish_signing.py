"""``crossbound publish --signing-key``: records signed as their institution, as a worker with a
participant registry takes them in (here a fingerprint, on the Harness)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crossbound.cli import build_parser, main
from crossbound.cli.documents import read_documents
from crossbound.cli.publish import encode_documents
from crossbound.cli.shared import settings_from_args
from crossbound.participants import load_registry
from crossbound.rules import Catalogue
from crossbound.runtime.worker import scenario_sides
from crossbound.signing import Signer
from crossbound.testing import Harness
from crossbound.testing.participants import generate_registry
from helpers import EXAMPLES

FOLDER = EXAMPLES / "sb_personal_credit_report_fingerprint"


def test_a_fingerprint_signed_by_publish_is_taken_in_by_a_worker_with_a_registry(
    tmp_path: Path, catalogue: Catalogue
) -> None:
    made = generate_registry(tmp_path / "reg", scenario_sides(catalogue), now=datetime.now(UTC))
    registry = load_registry(made.path, scenario_sides(catalogue))
    signer = Signer.from_pem_file(made.private_key("icbkcnbjszn-1"), "icbkcnbjszn-1")
    args: argparse.Namespace = build_parser().parse_args(["publish", "--topic", "sz.fingerprints", "f"])
    [(key, value, headers)] = encode_documents(
        settings_from_args(args),
        "fingerprint",
        read_documents(str(FOLDER / "accept.fingerprint.json")),
        signer,
    )
    h = Harness.from_dirs(participants=registry, signers=made.platform_signers(registry))
    h.now = datetime.now(UTC).timestamp()
    assert h.send("sz.fingerprints", key, value, headers=headers) == []  # taken in, nothing sent
    assert len(h.fingerprints) == 1
    [dead] = h.send("sz.fingerprints", key, value)  # the same record unsigned
    assert dead.record["reason"] == "unsigned"


def test_signing_key_needs_key_id(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    argv = ["publish", "--topic", "t", "--signing-key", str(tmp_path / "k.pem"), str(tmp_path / "f")]
    assert main(argv) == 2
    assert "--signing-key and --key-id go together" in capsys.readouterr().err
