"""The stateful stage: quota, distinct and subject_volume rules, chained hops, restarts, redelivery.

Rule sets are copies of the shipped ones with small limits, so thresholds are reached in a few requests.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from crossbound.pipeline import Incoming
from crossbound.pipeline.ledger import is_counted
from crossbound.rules import Context, Rule
from crossbound.rules.stateful import STATEFUL, StatefulCheck, Tally
from crossbound.testing import Harness

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples" / "payment_connect_northbound"
NOW = datetime.fromisoformat("2026-11-24T09:00:00+00:00").timestamp()
PCN = "payment_connect_northbound"
ICBC = {"scheme": "BIC", "id": "ICBKCNBJSZN", "city": "440300"}
CMB = {"scheme": "BIC", "id": "CMBCCNBS", "city": "440300"}


def _hex(label: str) -> str:
    return hashlib.sha256(label.encode()).hexdigest()


def _rules(tmp_path: Path, edit: Callable[[Path], None]) -> Path:
    target = tmp_path / "rulesets"
    target.mkdir()
    for name in ("envelope.toml", f"{PCN}.toml"):
        shutil.copy(ROOT / "rulesets" / name, target / name)
    edit(target)
    return target


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new), encoding="utf-8")


def payment(
    subject: str,
    *,
    payer: str | None = None,
    payee: str = "payee",
    amount: str = "100.00",
    basis: str = "SCC_FILED",
    at: float = NOW,
    attester: dict[str, str] = ICBC,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The accept fixture, for another subject, payer, payee, amount, legal basis and time."""
    request = json.loads((EXAMPLES / "accept.request.json").read_text())
    attestation = json.loads((EXAMPLES / "accept.attestation.json").read_text())
    rid = str(uuid.uuid4())
    request["request_id"] = attestation["request_id"] = rid
    request["nonce"] = uuid.uuid4().hex
    request["consent"]["subject_ref_hmac"] = _hex(subject)
    request["consent"]["legal_basis"] = basis
    request["payload"]["payer_hkid_hmac"] = _hex(f"{payer or subject}|{attester['id']}")  # a pair key's
    request["payload"]["payer_ledger_ref"] = _hex(f"ledger|{payer or subject}")  # the requester's own key
    request["attester_inst"] = attestation["attester_inst"] = attester
    request["payload"]["payee_acct_hmac"] = attestation["payload"]["payee_acct_hmac"] = _hex(payee)
    request["payload"]["amount_hkd"] = amount
    request["created_at"] = _rfc3339(at - 60)
    request["expires_at"] = _rfc3339(at + 3600)
    request["consent"]["expires_at"] = "2099-01-01T00:00:00Z"
    return request, attestation


def _rfc3339(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def outcome(h: Harness, case: tuple[dict[str, Any], dict[str, Any]]) -> tuple[str, list[str]]:
    request, attestation = case
    first = h.send_request(request)
    out = h.send_attestation(attestation) if not any(p.topic.endswith("verdicts") for p in first) else first
    verdicts = [p.record for p in out if p.topic == h.topics.verdicts("hk")]
    assert len(verdicts) == 1, [p.record for p in out]
    return verdicts[0]["outcome"], [f["code"] for f in verdicts[0]["findings"]]


@pytest.fixture
def scc(tmp_path: Path) -> Harness:
    """C10 for sensitive data with review above 2 and reject above 3 distinct subjects."""

    def edit(d: Path) -> None:
        _replace(d / "envelope.toml", "limit = 9999,", "limit = 3,")
        _replace(d / "envelope.toml", "limit = 8999,", "limit = 2,")

    return Harness.from_dirs(rulesets=_rules(tmp_path, edit), now=NOW)


def test_c10_counts_distinct_subjects_per_institution_and_reviews_then_rejects(scc: Harness) -> None:
    assert outcome(scc, payment("s1")) == ("ACCEPT", [])
    assert outcome(scc, payment("s1")) == ("ACCEPT", [])  # the same subject again: not a new one
    assert outcome(scc, payment("s2")) == ("ACCEPT", [])
    assert outcome(scc, payment("s3")) == ("REVIEW", ["SCC_THRESHOLD_SENSITIVE_90"])
    assert outcome(scc, payment("s4")) == (
        "REJECT",
        ["SCC_THRESHOLD_SENSITIVE", "SCC_THRESHOLD_SENSITIVE_90"],
    )
    # past the threshold the standard contract no longer covers the institution: known subjects too
    assert outcome(scc, payment("s1"))[0] == "REJECT"


@pytest.mark.parametrize("basis", ["CONTRACT_NECESSITY", "GBA_SC"])
def test_c10_does_not_count_under_the_exemptions(scc: Harness, basis: str) -> None:
    """The 2024 Provisions exempt contract necessity; the GBA standard contract has no volume cap."""
    for i in range(6):
        assert outcome(scc, payment(f"s{i}", basis=basis)) == ("ACCEPT", [])
    assert not any(k.startswith(b"pipl") for k in scc.usage)


def test_the_consent_exemption_counts_subjects_sent_under_every_non_exempt_basis(tmp_path: Path) -> None:
    """C10-EXEMPT counts every subject sent under CONSENT or SCC_FILED (count_when) and judges only
    requests on consent alone (when): 2 subjects under a filed contract use up an exemption of 2."""

    def edit(d: Path) -> None:
        _replace(d / f"{PCN}.toml", "sensitive_personal_data = true", "sensitive_personal_data = false")
        _replace(d / "envelope.toml", "limit = 99999,", "limit = 2,")

    h = Harness.from_dirs(rulesets=_rules(tmp_path, edit), now=NOW)
    assert outcome(h, payment("s1")) == ("ACCEPT", [])
    assert outcome(h, payment("s2")) == ("ACCEPT", [])
    assert outcome(h, payment("s3", basis="CONSENT")) == ("REJECT", ["PIPL_EXEMPTION_THRESHOLD"])
    assert outcome(h, payment("s4")) == ("ACCEPT", [])  # SCC_FILED is not judged by the exemption


def test_consent_alone_is_no_mechanism_for_sensitive_data(scc: Harness) -> None:
    assert outcome(scc, payment("s1", basis="CONSENT")) == ("REJECT", ["LEGAL_BASIS"])


def test_c10_counts_per_exporting_institution(scc: Harness) -> None:
    """Payment Connect northbound: the mainland bank's answers leave the mainland, so C10 counts at the
    attester; another HK requester does not start a new count, another mainland attester does."""
    for i in range(3):
        outcome(scc, payment(f"s{i}"))
    other_requester = payment("s8")
    bank = {"scheme": "BIC", "id": "HSBCHKHHHKH", "city": "HK"}
    other_requester[0]["requester_inst"] = other_requester[0]["consent"]["recipient_inst"] = bank
    assert outcome(scc, other_requester) == (
        "REJECT",
        ["SCC_THRESHOLD_SENSITIVE", "SCC_THRESHOLD_SENSITIVE_90"],
    )
    other_attester = payment("s9")
    mainland = {"scheme": "BIC", "id": "PCBCCNBJSZX", "city": "440300"}
    other_attester[0]["attester_inst"] = other_attester[1]["attester_inst"] = mainland
    assert outcome(scc, other_attester) == ("ACCEPT", [])


def test_state_survives_a_restart(scc: Harness) -> None:
    for i in range(3):
        outcome(scc, payment(f"s{i}"))
    scc.restart()  # a new process over the same (changelog-recovered) tables
    assert outcome(scc, payment("s3"))[0] == "REJECT"


def test_rejected_verdicts_release_no_attested_values(scc: Harness) -> None:
    for i in range(4):
        outcome(scc, payment(f"s{i}"))
    request, attestation = payment("s5")
    scc.send_request(request)
    [verdict] = [p.record for p in scc.send_attestation(attestation) if p.topic.endswith("verdicts")]
    assert verdict["outcome"] == "REJECT"
    assert verdict["attested"] == {}


def hop_records(h: Harness) -> list[Incoming]:
    """The hop records the harness routed so far, as their consumer received them."""
    return [Incoming(o.topic, o.partition or 0, n, o.key, o.value) for n, o in enumerate(h.internal)]


def test_a_redelivered_hop_is_answered_again_and_counts_nothing_twice(scc: Harness) -> None:
    outcome(scc, payment("s1", amount="6000.00"))
    hops = hop_records(scc)
    assert len(hops) == 3  # members, volume, the payer's ledger
    before = dict(scc.usage)
    first = [scc.pipeline.handle(rec) for rec in hops]
    assert first == [[], [], []]  # redelivered to the process that answered: its producer delivered
    scc.restart()  # after a crash, a new process gets the same records again
    again = [scc.pipeline.handle(rec) for rec in hops]
    assert [len(o) for o in again] == [1, 1, 1]
    assert again[-1][0].topic == scc.topics.verdicts("hk")
    assert scc.codec.decode(again[-1][0].value)[1]["outcome"] == "ACCEPT"
    assert scc.usage == before, "nothing was counted twice"
    # a later rebalance gives them to the new process again: it sent them, so nothing more goes out
    assert [scc.pipeline.handle(rec) for rec in hops] == [[], [], []]
    # the payer's day total still holds 6000: another 6000 breaks the HKD 10,000 day limit
    assert outcome(scc, payment("s1", amount="6000.00")) == ("REJECT", ["LIMIT_EXCEEDED"])


def test_one_payer_has_one_day_limit_whichever_bank_receives() -> None:
    """The payer's bank keys its limits by its own ledger reference, not by the pair key it shares
    with each payee's bank: HK$6,000 to an ICBC payee and HK$6,000 to a CMB payee break HK$10,000."""
    h = Harness.from_dirs(now=NOW)
    assert outcome(h, payment("p", amount="6000.00", basis="CONTRACT_NECESSITY")) == ("ACCEPT", [])
    paid_elsewhere = payment("p", amount="6000.00", basis="CONTRACT_NECESSITY", attester=CMB)
    assert paid_elsewhere[0]["payload"]["payer_hkid_hmac"] != payment("p")[0]["payload"]["payer_hkid_hmac"]
    assert outcome(h, paid_elsewhere) == ("REJECT", ["LIMIT_EXCEEDED"])


def test_the_ledger_references_do_not_cross_to_the_attester() -> None:
    """The same for a person whoever the counterparty: were they sent, two payee banks could link
    their customers' payers. The pair-key HMAC, which the attester matches, crosses."""
    h = Harness.from_dirs(now=NOW)
    request, _ = payment("p", basis="CONTRACT_NECESSITY")
    request["payload"].update(ledger_key_next_id="ledger-2027", payer_ledger_ref_next=_hex("next|p"))
    h.send_request(request)
    [ask] = h.attestation_requests("sz")
    crossed = h.codec.decode(ask["payload"])[1]
    assert crossed["payer_hkid_hmac"] == request["payload"]["payer_hkid_hmac"]
    assert [
        crossed[f]
        for f in ("ledger_key_id", "ledger_key_next_id", "payer_ledger_ref", "payer_ledger_ref_next")
    ] == [None] * 4


def test_a_rotation_of_the_ledger_key_keeps_the_limits() -> None:
    """During the overlap the request carries the reference under the next key too: the next key's
    ledger counts it (counting only), so after the switch the day's HK$6,000 is still there."""
    h = Harness.from_dirs(now=NOW)
    request, attestation = payment("p", amount="6000.00", basis="CONTRACT_NECESSITY")
    request["payload"].update(ledger_key_next_id="ledger-2027", payer_ledger_ref_next=_hex("next|p"))
    assert outcome(h, (request, attestation)) == ("ACCEPT", [])
    request, attestation = payment("p", amount="6000.00", basis="CONTRACT_NECESSITY")
    request["payload"].update(ledger_key_id="ledger-2027", payer_ledger_ref=_hex("next|p"))
    assert outcome(h, (request, attestation)) == ("REJECT", ["LIMIT_EXCEEDED"])


def test_the_next_key_s_ledger_only_counts() -> None:
    """The next key's ledger counts and never refuses: the current key's ledger decides. Here the
    next reference's ledger already holds HK$9,500 and a HK$1,000 payment still passes."""
    h = Harness.from_dirs(now=NOW)
    request, attestation = payment("q", amount="9500.00", basis="CONTRACT_NECESSITY")
    request["payload"].update(ledger_key_id="ledger-2027", payer_ledger_ref=_hex("next|p"))
    assert outcome(h, (request, attestation))[0] == "ACCEPT"
    request, attestation = payment("p", amount="1000.00", basis="CONTRACT_NECESSITY")
    request["payload"].update(ledger_key_next_id="ledger-2027", payer_ledger_ref_next=_hex("next|p"))
    assert outcome(h, (request, attestation)) == ("ACCEPT", [])
    [key] = [k for k in h.usage if b"ledger-2027" in k]
    windows = h.codec.decode(h.usage[key])[1]["windows"]
    assert windows["PCN-03"]["total"] == "10500.00"  # counted there all the same


def test_distinct_values_per_key(tmp_path: Path) -> None:
    def edit(d: Path) -> None:
        (d / f"{PCN}.toml").write_text(
            (d / f"{PCN}.toml").read_text()
            + """
[[rules]]
id = "PCN-90"
stage = "quota"
severity = "review"
check = "distinct"
description = "test"
[rules.params]
key = ["payload.payer_hkid_hmac"]
value = "payload.payee_acct_hmac"
window = "day"
limit = 2
code = "MANY_PAYEES"
"""
        )

    h = Harness.from_dirs(rulesets=_rules(tmp_path, edit), now=NOW)
    assert outcome(h, payment("p", payee="a", basis="CONTRACT_NECESSITY")) == ("ACCEPT", [])
    assert outcome(h, payment("p", payee="b", basis="CONTRACT_NECESSITY")) == ("ACCEPT", [])
    assert outcome(h, payment("p", payee="a", basis="CONTRACT_NECESSITY"))[0] == "ACCEPT"
    assert outcome(h, payment("p", payee="c", basis="CONTRACT_NECESSITY")) == ("REVIEW", ["MANY_PAYEES"])
    assert outcome(h, payment("q", payee="c", basis="CONTRACT_NECESSITY"))[0] == "ACCEPT"  # another payer
    h.advance(24 * 3600)  # a new day (UTC+8): a new window
    assert outcome(h, payment("p", payee="d", basis="CONTRACT_NECESSITY", at=h.now))[0] == "ACCEPT"


def test_quota_without_amount_detects_repeats_across_requesters(tmp_path: Path) -> None:
    def edit(d: Path) -> None:
        (d / f"{PCN}.toml").write_text(
            (d / f"{PCN}.toml").read_text()
            + """
[[rules]]
id = "PCN-91"
stage = "quota"
severity = "reject"
check = "quota"
params = { key = "payload.payee_acct_hmac", window = "all", limit = 1, code = "REPEAT" }
description = "test"
"""
        )

    h = Harness.from_dirs(rulesets=_rules(tmp_path, edit), now=NOW)
    assert outcome(h, payment("p1", payee="x", basis="CONTRACT_NECESSITY"))[0] == "ACCEPT"
    assert outcome(h, payment("p2", payee="x", basis="CONTRACT_NECESSITY")) == ("REJECT", ["REPEAT"])
    h.advance(400 * 24 * 3600)
    assert outcome(h, payment("p3", payee="x", basis="CONTRACT_NECESSITY", at=h.now)) == (
        "REJECT",
        ["REPEAT"],
    )
    assert outcome(h, payment("p4", payee="y", basis="CONTRACT_NECESSITY", at=h.now))[0] == "ACCEPT"


def _volume_state(h: Harness) -> dict[str, Any]:
    """The state at C10's volume hop: keyed by the ledger and the requesting institution alone."""
    [key] = [k for k in h.usage if k.startswith(b"pipl_scc_sensitive|") and k.count(b"|") == 1]
    return h.codec.decode(h.usage[key])[1]


def test_a_volume_hop_remembers_the_last_32_new_subjects_request_ids(scc: Harness) -> None:
    cases = [payment(f"subject-{i}") for i in range(34)]
    for case in cases:
        outcome(scc, case)
    counted = _volume_state(scc)["counted"] or b""
    assert len(counted) == 32 * 16  # 16-byte digests of request ids
    assert [is_counted(counted, request["request_id"]) for request, _ in cases] == [False] * 2 + [True] * 32


def test_a_volume_hop_redelivered_to_its_process_is_silent_while_remembered(scc: Harness) -> None:
    outcome(scc, payment("s1"))
    [_, volume, _] = hop_records(scc)
    assert scc.pipeline.handle(volume) == []  # this process answered it: its producer delivers it
    for i in range(32):  # 32 newer subjects push it out of the volume hop's memory of counted ids
        outcome(scc, payment(f"later-{i}"))
    # but this process remembers deciding it: still silent. Before, it was decided again here, so a
    # crash's two deliveries of one older hop (redelivered, and sent on again) gave 3 copies
    assert scc.pipeline.handle(volume) == []
    scc.pipeline.answered.done_here.clear()  # a new process: it decides the hop once more, then not again
    assert len(scc.pipeline.handle(volume)) == 1
    assert scc.pipeline.handle(volume) == []


def _without_quota_rules(tmp_path: Path) -> Path:
    def edit(d: Path) -> None:
        path = d / f"{PCN}.toml"
        head, *blocks = path.read_text(encoding="utf-8").split("\n[[rules]]\n")
        kept = [b for b in blocks if 'stage = "quota"' not in b]
        path.write_text("\n[[rules]]\n".join([head, *kept]), encoding="utf-8")

    return _rules(tmp_path, edit)


def test_a_hop_whose_step_the_new_rule_set_no_longer_has_is_answered_with_what_it_carries(
    tmp_path: Path,
) -> None:
    before = Harness.from_dirs(now=NOW)
    request, attestation = payment("s1")
    before.send_request(request)
    before.send_attestation(attestation)
    *_, last = hop_records(before)  # the payer's ledger hop: the scenario's third step
    after = Harness.from_dirs(rulesets=_without_quota_rules(tmp_path), now=NOW)  # redeployed
    assert len(after.catalogue.scenarios[PCN].steps) == 2  # only C10's members and volume hops are left
    [verdict] = after.pipeline.handle(last)
    assert verdict.topic == after.topics.verdicts("hk")
    record = after.codec.decode(verdict.value)[1]
    assert (record["request_id"], record["outcome"], record["findings"]) == (
        request["request_id"],
        "ACCEPT",
        [],
    )
    assert after.usage == {}  # nothing counted at a step that no longer exists


def test_a_hop_whose_step_is_gone_is_answered_once_by_a_process(tmp_path: Path) -> None:
    """Redelivered after a redeploy (a crash, a new rule set): one repeat, then silent in that process.

    Before, this branch recorded nothing as done, so every later delivery of the hop to the same
    process (each rebalance before a commit) sent its verdict once more.
    """
    before = Harness.from_dirs(now=NOW)
    request, attestation = payment("s1")
    before.send_request(request)
    before.send_attestation(attestation)
    *_, last = hop_records(before)
    after = Harness.from_dirs(rulesets=_without_quota_rules(tmp_path), now=NOW)
    [verdict] = after.pipeline.handle(last)  # the one repeat of this crash
    assert verdict.topic == after.topics.verdicts("hk")
    assert [after.pipeline.handle(last) for _ in range(3)] == [[], [], []]
    after.pipeline.answered.done_here.clear()  # another new process: it answers once more
    assert len(after.pipeline.handle(last)) == 1


class _Largest(StatefulCheck):
    """A check written for this test: the largest amount per key and window stays within the limit."""

    name = "largest"
    default_code = "TOO_LARGE_FOR_KEY"

    def count(
        self, rule: Rule, ctx: Context, period: int, total: Decimal | None, seen: list[str], fresh: bool
    ) -> Tally | None:
        amount = Decimal(ctx.payload["amount_hkd"])
        return Tally(rule, period, amount if total is None else max(total, amount))


def test_a_new_stateful_check_is_one_class(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(STATEFUL, "largest", _Largest())  # registered as the shipped ones are

    def edit(d: Path) -> None:
        (d / f"{PCN}.toml").write_text(
            (d / f"{PCN}.toml").read_text()
            + """
[[rules]]
id = "PCN-92"
stage = "quota"
severity = "review"
check = "largest"
params = { key = "payload.payee_acct_hmac", window = "day", limit = "500" }
description = "test"
"""
        )

    h = Harness.from_dirs(rulesets=_rules(tmp_path, edit), now=NOW)
    assert outcome(h, payment("p", payee="x", amount="400.00", basis="CONTRACT_NECESSITY")) == ("ACCEPT", [])
    assert outcome(h, payment("q", payee="x", amount="600.00", basis="CONTRACT_NECESSITY")) == (
        "REVIEW",
        ["TOO_LARGE_FOR_KEY"],
    )
    assert outcome(h, payment("r", payee="y", amount="600.00", basis="CONTRACT_NECESSITY"))[1] == [
        "TOO_LARGE_FOR_KEY"
    ]
