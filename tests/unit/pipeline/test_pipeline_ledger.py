"""A key's ledger is bounded by its rules, not by its traffic (issue 9 item 4).

One payer with 5,000 requests in a day, through the Harness (past the 4,500 at which the day-long
record of every verdict passed 1 MB and later requests were lost): one verdict each, the limit exact
at the boundary, and the ledger value of a size that does not grow (benchmarks/ledger.py takes it to
10,000 and more). Also: distinct values kept only while the
limit needs them, windows that are over dropped when their key is written, and records of the
previous version still read.
"""

from __future__ import annotations

import io
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from fastavro import schemaless_writer

from crossbound._data import default_rulesets_dir
from crossbound.codec import MAGIC
from crossbound.pipeline.hops import LAST_MAX
from crossbound.pipeline.ledger import find_reply, reply_count
from crossbound.rules.stateful import periods
from crossbound.testing import Harness
from crossbound.testing.traffic import Case, Traffic

NOW = datetime.fromisoformat("2026-11-24T09:00:00+00:00").timestamp()  # 17:00 local
USAGE_BOUND = 8 * 1024  # bytes: LAST_MAX replies of about 200 bytes, the windows, the framing


def _send(h: Harness, case: Case) -> None:
    assert case.request is not None
    assert case.attestation is not None
    h.send_request(case.request)
    h.send_attestation(case.attestation)


def _rfc3339(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ledger(h: Harness) -> tuple[bytes, dict[str, Any]]:
    [(key, raw)] = h.usage.items()  # one payer at one bank: one key
    return raw, h.codec.decode(raw)[1] | {"key": key}


def test_a_hot_key_gets_one_verdict_per_request_exact_limits_and_a_ledger_that_stays_small() -> None:
    h = Harness.from_dirs(now=NOW)
    cases = Traffic(seed=5, now=NOW).payments_for_one_payer(5_002, amount="2.00")
    sizes: dict[int, int] = {}
    for n, case in enumerate(cases, 1):
        _send(h, case)
        if n in (100, 1_000, 2_500, 5_000):
            raw, state = _ledger(h)
            sizes[n] = len(raw)
            assert len(raw) <= USAGE_BOUND, (n, len(raw))
            assert Decimal(state["windows"]["PCN-03"]["total"]) == 2 * min(n, 5_000)
    verdicts = h.verdicts("hk")
    assert Counter(v["request_id"] for v in verdicts) == Counter(c.request_id for c in cases)
    got = [(v["outcome"], tuple(f["code"] for f in v["findings"])) for v in verdicts]
    assert got == [(c.expected, c.expected_codes) for c in cases]
    # the day limit (HKD 10,000) holds exactly: the 5,000th payment of 2.00 reaches it, the next breaks it
    assert got[4_999] == ("ACCEPT", ())
    assert got[5_000:] == [("REJECT", ("LIMIT_EXCEEDED",))] * 2
    assert max(sizes.values()) - min(sizes.values()) <= 8, sizes  # flat: only the totals' digits grow
    _, state = _ledger(h)
    assert reply_count(state["replies"]) == LAST_MAX


def test_a_redelivered_hop_among_the_last_ones_is_answered_as_before_and_counted_once() -> None:
    h = Harness.from_dirs(now=NOW)
    cases = Traffic(seed=6, now=NOW).payments_for_one_payer(LAST_MAX + 5, amount="100.00")
    for case in cases:
        _send(h, case)
    before = dict(h.usage)
    h.restart()  # a new process: what it is redelivered was answered by the one before
    hops = [h._deliver(out) for out in h.internal]
    again = [h.pipeline.handle(rec) for rec in hops[-LAST_MAX:]]
    assert [o.value for [o] in again] == [p.value for p in h.published if p.topic.endswith("verdicts")][
        -LAST_MAX:
    ]
    assert h.usage == before, "nothing counted twice"
    # older than the last LAST_MAX: decided (and counted) again, as the module says
    [[older]] = [h.pipeline.handle(hops[0])]
    assert h.codec.decode(older.value)[1]["outcome"] == "ACCEPT"
    assert Decimal(_ledger(h)[1]["windows"]["PCN-03"]["total"]) == 100 * (LAST_MAX + 5 + 1)


def test_distinct_values_are_kept_only_up_to_limit_plus_one_with_the_same_verdicts(tmp_path: Any) -> None:
    rulesets = tmp_path / "rulesets"
    rulesets.mkdir()
    for name in ("envelope.toml", "payment_connect_northbound.toml"):
        (rulesets / name).write_text((default_rulesets_dir() / name).read_text(encoding="utf-8"))
    path = rulesets / "payment_connect_northbound.toml"
    path.write_text(
        path.read_text(encoding="utf-8")
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
""",
        encoding="utf-8",
    )
    h = Harness.from_dirs(rulesets=rulesets, now=NOW)
    cases = Traffic(seed=8, now=NOW).payments_for_one_payer(60, amount="1.00")
    payees = [f"{n % 7:064x}" if n % 3 else f"{n:064x}" for n in range(60)]  # new ones and repeats
    seen: set[str] = set()
    expected = []
    for case, payee in zip(cases, payees, strict=True):
        assert case.request is not None
        assert case.attestation is not None
        case.request["payload"]["payee_acct_hmac"] = case.attestation["payload"]["payee_acct_hmac"] = payee
        seen.add(payee)
        expected.append("REVIEW" if len(seen) > 2 else "ACCEPT")  # the exact count, kept in the test
        _send(h, case)
    assert [v["outcome"] for v in h.verdicts("hk")] == expected
    [key] = [k for k in h.usage if k.count(b"|") == 1]  # the PCN-90 ledger: keyed by the payer alone
    state = h.codec.decode(h.usage[key])[1]
    assert len(state["members"]["PCN-90"]) == 3  # limit + 1, whatever the traffic
    assert state["windows"]["PCN-90"]["total"] == "3"


def test_a_window_that_is_over_is_dropped_when_its_key_is_next_written() -> None:
    h = Harness.from_dirs(now=NOW)
    traffic = Traffic(seed=9, now=NOW)
    first, second = traffic.payments_for_one_payer(2, amount="100.00")
    assert first.request is not None
    _send(h, first)
    before = periods(datetime.fromtimestamp(h.now, UTC))
    assert _ledger(h)[1]["windows"]["PCN-03"] == {"period": before["day"], "total": "100.00"}
    h.now += 24 * 3600  # the next local day: PCN-03's day window is over, PCN-04's year is not
    assert second.request is not None
    second.request["created_at"] = _rfc3339(h.now - 60)
    second.request["expires_at"] = _rfc3339(h.now + 3600)
    _send(h, second)
    assert h.verdicts("hk")[-1]["outcome"] == "ACCEPT"
    windows = _ledger(h)[1]["windows"]
    today = periods(datetime.fromtimestamp(h.now, UTC))
    assert today["day"] != before["day"]
    # the year window carries over, unless NOW sits on the last day of a year
    year_total = "200.00" if today["year"] == before["year"] else "100.00"
    assert windows == {
        "PCN-03": {"period": today["day"], "total": "100.00"},
        "PCN-04": {"period": today["year"], "total": year_total},
    }


def test_a_ledger_written_by_the_previous_version_is_read_and_its_totals_kept() -> None:
    h = Harness.from_dirs(now=NOW)
    [case] = Traffic(seed=10, now=NOW).payments_for_one_payer(1, amount="2.00")
    assert case.request is not None
    inst, payload = case.request["requester_inst"], case.request["payload"]
    ledger_key, payer = payload["ledger_key_id"], payload["payer_ledger_ref"]
    key = f"payment_connect_northbound|{inst['scheme']}:{inst['id']}|{ledger_key}|{payer}".encode()
    today = periods(datetime.fromtimestamp(NOW, UTC))
    v2 = h.codec.registry.versions("internal/quota_usage")[1]
    record = {
        "windows": {"PCN-03": {"period": today["day"], "total": "9999.00"}},
        "members": {},
        "applied": {"r-0": {"day": today["day"], "partition": 0, "verdict": b"v", "topic": "", "key": None}},
        "recent": ["r-0"],
    }
    buf = io.BytesIO()
    schemaless_writer(buf, v2.parsed, record)
    h.usage[key] = MAGIC + v2.fingerprint + buf.getvalue()
    _send(h, case)
    [verdict] = h.verdicts("hk")
    assert (verdict["outcome"], [f["code"] for f in verdict["findings"]]) == ("REJECT", ["LIMIT_EXCEEDED"])
    state = h.codec.decode(h.usage[key])[1]
    assert state["windows"]["PCN-03"]["total"] == "9999.00"  # a rejected request counts nothing
    assert find_reply(state["replies"], case.request["request_id"]) is not None


def test_a_ledger_whose_packed_replies_do_not_parse_is_unreadable_once_then_starts_again() -> None:
    h = Harness.from_dirs(now=NOW)
    first, second, third = Traffic(seed=11, now=NOW).payments_for_one_payer(3, amount="2.00")
    _send(h, first)
    _, state = _ledger(h)
    key = state.pop("key")
    state["replies"] = state["replies"][:-1]  # the last entry runs past the end: a broken writer
    h.usage[key] = h.codec.encode("internal/quota_usage", state)
    _send(h, second)
    _send(h, third)
    assert [v["outcome"] for v in h.verdicts("hk")] == ["ACCEPT", "REVIEW", "ACCEPT"]
    assert [f["code"] for f in h.verdicts("hk")[1]["findings"]] == ["LEDGER_UNREADABLE"]
    assert h.registry.get_sample_value("crossbound_unreadable_total", {"where": "usage"}) == 1.0
    assert _ledger(h)[1]["windows"]["PCN-03"]["total"] == "4.00"  # again from the second request


def test_a_hop_that_meets_replies_older_than_the_retention_drops_them() -> None:
    """The soak found keys written shortly before the daily scan keeping their replies for ever (up to
    :data:`LAST_MAX`): no redelivered hop needs a reply older than the dedupe retention, so the next hop
    at the key drops them instead of adding to them.
    """
    h = Harness.from_dirs(now=NOW)
    cases = Traffic(seed=12, now=NOW).payments_for_one_payer(3, amount="10.00")
    for case in cases[:2]:
        _send(h, case)
    assert reply_count(_ledger(h)[1]["replies"]) == 2
    h.now += h.pipeline.answered.retention_ms / 1000 + 60  # no timer ran: the sweep did not trim it
    last = cases[2]
    assert last.request is not None
    last.request["created_at"] = _rfc3339(h.now - 60)
    last.request["expires_at"] = _rfc3339(h.now + 3600)
    _send(h, last)
    assert h.verdicts("hk")[-1]["outcome"] == "ACCEPT"
    replies = _ledger(h)[1]["replies"]
    assert reply_count(replies) == 1
    assert find_reply(replies, last.request["request_id"]) is not None


def test_a_hop_s_periods_follow_the_clock_across_a_local_midnight() -> None:
    """Worked out once per second, and still the periods of the instant: the local day turns at 16:00 UTC."""
    h = Harness.from_dirs(now=0.0)
    hops = h.pipeline.hops
    midnight = datetime(2026, 12, 31, 16, 0, tzinfo=UTC)  # 2027-01-01 00:00 in UTC+8
    for at in (midnight.timestamp() - 0.000001, midnight.timestamp() - 0.5, midnight.timestamp()):
        now = datetime.fromtimestamp(at, UTC)
        assert hops._periods(int(now.timestamp() * 1000), now) == periods(now)
    before = datetime.fromtimestamp(midnight.timestamp() - 1, UTC)
    assert periods(before)["year"] == 2026
    assert periods(midnight)["year"] == 2027
