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
    lines = files["hk"].read_text().splitlines()
    entries = [i for i, line in enumerate(lines) if json.loads(line)["record"]["type"] == "entry"]
    assert len(entries) >= 300  # every verdict of HK's requests, and the repeats of the crash
    tampered = tmp_path / "tampered.jsonl"
    # an entry dropped from the middle of a chain: one that is alone at its seq in its chain, and whose
    # successor is alone at the next (a crash fork has two entries at a seq: dropping one of them leaves
    # the other, which the next entry does not link to: "altered", not "missing"). Which seqs forked
    # depends on where the kill fell, so the sixth entry is preferred but not required.
    records = [json.loads(lines[i])["record"] for i in entries]
    per_seq = Counter((r["chain"], r["seq"]) for r in records)
    choices = sorted(
        (abs(r["seq"] - 5), r["seq"], i)
        for i, r in zip(entries, records, strict=True)
        if r["seq"] >= 1 and per_seq[(r["chain"], r["seq"])] == 1 and per_seq[(r["chain"], r["seq"] + 1)] == 1
    )
    assert choices, "no chain has two consecutive entries outside a crash fork"
    _, seq, cut = choices[0]
    tampered.write_text("\n".join(lines[:cut] + lines[cut + 1 :]) + "\n")
    args = ["audit", "verify", str(tampered), "--anchors", sz, "--registry", registry, "--json"]
    assert main(args) == 1
    first_problem = json.loads(capsys.readouterr().out.splitlines()[-1])["problems"][0]
    assert first_problem["problem"] == f"is missing: seq {seq + 1} links to an entry not in the log"
