"""The audit on a real worker: written while traffic runs, through a SIGKILL and a restart; the
exported log verifies against the other side's anchors, and a tampered copy does not."""

from __future__ import annotations

import asyncio
import json
import os
from collections import Counter
from pathlib import Path

import pytest

from crossbound.audit import write_log
from crossbound.broker import Broker
from crossbound.broker.security import PLAINTEXT
from crossbound.cli import main
from crossbound.cli.audit import read_topic
from crossbound.codec import Codec
from crossbound.domain import Side
from crossbound.participants import load_registry
from crossbound.rules import Catalogue
from crossbound.runtime.worker import scenario_sides
from crossbound.testing.participants import generate_registry
from crossbound.testing.traffic import Traffic
from crossbound.topics import Topics
from support import Bus, Worker, create_topics

pytestmark = [pytest.mark.integration, pytest.mark.timeout(150)]

STATELESS = ("green_loan_project_eligibility", "tech_enterprise_credential")


@pytest.mark.parametrize("broker", ["tansu"], indirect=True)
async def test_the_audit_survives_a_killed_worker_and_verifies(
    broker: Broker, tmp_path: Path, codec: Codec, catalogue: Catalogue, capsys: pytest.CaptureFixture[str]
) -> None:
    generated = generate_registry(tmp_path / "registry", scenario_sides(catalogue))
    env = {
        "CROSSBOUND_PIPELINE__PARTICIPANTS": str(generated.path),
        "CROSSBOUND_AUDIT__ENABLED": "true",
        "CROSSBOUND_AUDIT__CHECKPOINT_INTERVAL_S": "1",
        "CROSSBOUND_PIPELINE__SIGNING_KEY_HK": str(generated.platform_key(Side.HK)),
        "CROSSBOUND_PIPELINE__SIGNING_KEY_SZ": str(generated.platform_key(Side.SZ)),
    }
    tag = os.urandom(4).hex()
    topics = Topics(prefix=f"a{tag}.", app_id=f"au{tag}")
    await create_topics(broker, topics)
    traffic = Traffic(seed=21)
    first = Worker(broker, topics, tmp_path / "first.log", timeout_s=20, env=env).start()
    second = None
    keyring = generated.keyring(load_registry(generated.path, scenario_sides(catalogue)))
    async with Bus(broker.bootstrap, topics, codec, catalogue, keyring=keyring) as bus:
        ids = []
        try:
            for i in range(300):
                ids.append(await bus.send_case(traffic.case(STATELESS[i % 2], "valid")))
                if i % 50 == 49:
                    await asyncio.sleep(0.05)
                if i == 150:
                    await bus.wait_for(lambda: len(bus.verdicts) >= 60, what="first verdicts")
                    first.kill()
                    second = Worker(broker, topics, tmp_path / "second.log", timeout_s=20, env=env).start()
            await bus.wait_for(lambda: all(r in bus.verdicts for r in ids), timeout_s=90, what="all verdicts")
        finally:
            if second is not None:
                second.stop()  # a clean stop: its last checkpoint
            first.stop()
    assert second is not None
    assert "Traceback" not in second.log(), second.log()[-3000:]
    files = {}
    for side in ("hk", "sz"):
        files[side] = tmp_path / f"{side}.jsonl"
        write_log(await read_topic(broker.bootstrap, topics.audit(side), 2.0, PLAINTEXT), files[side])
    registry = str(generated.path)
    hk, sz = str(files["hk"]), str(files["sz"])
    assert main(["audit", "verify", hk, "--anchors", sz, "--registry", registry]) == 0
    assert main(["audit", "verify", sz, "--anchors", hk, "--registry", registry]) == 0
    records = [json.loads(line)["record"] for line in files["hk"].read_text().splitlines()]
    # every verdict of HK's requests, and the repeats of the crash
    assert sum(r["type"] == "entry" for r in records) >= 300
    side, seq, lines, cut = _an_entry_to_drop(files)
    tampered = tmp_path / "tampered.jsonl"
    tampered.write_text("\n".join(lines[:cut] + lines[cut + 1 :]) + "\n")
    other = files["sz" if side == "hk" else "hk"]
    args = ["audit", "verify", str(tampered), "--anchors", str(other), "--registry", registry, "--json"]
    assert main(args) == 1
    first_problem = json.loads(capsys.readouterr().out.splitlines()[-1])["problems"][0]
    assert first_problem["problem"] == f"is missing: seq {seq + 1} links to an entry not in the log"


def _an_entry_to_drop(files: dict[str, Path]) -> tuple[str, int, list[str], int]:
    """An entry to drop from the middle of a chain with no crash fork (a fork's abandoned branch is
    judged against the surviving one, which a cut would shorten), the sixth preferred: its side, seq,
    that side's log lines and the entry's line. Which chains forked depends on where the kill fell."""
    for side in ("hk", "sz"):
        lines = files[side].read_text().splitlines()
        records = {i: json.loads(line)["record"] for i, line in enumerate(lines)}
        entries = {i: r for i, r in records.items() if r["type"] == "entry"}
        per_seq = Counter((r["chain"], r["seq"]) for r in entries.values())
        forked = {chain for (chain, _), n in per_seq.items() if n > 1}
        choices = sorted(
            (abs(r["seq"] - 5), r["seq"], i)
            for i, r in entries.items()
            if r["chain"] not in forked and r["seq"] >= 1 and (r["chain"], r["seq"] + 1) in per_seq
        )
        if choices:
            _, seq, cut = choices[0]
            return side, seq, lines, cut
    raise AssertionError("every chain of both sides has a crash fork")
