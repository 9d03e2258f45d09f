"""The store stays flat: what is past its window or retention leaves its table, counted (issue 12 item 3).

Each test drives the Harness's clock: ``advance`` runs the sweep and the housekeeping as the worker's
timers do.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from crossbound._data import default_rulesets_dir
from crossbound.pipeline import sweeper
from crossbound.testing import Harness
from crossbound.testing.traffic import Case, Traffic

YEAR_END = datetime.fromisoformat("2026-12-31T23:50:00+08:00").timestamp()  # ten to midnight, local
PCN = "payment_connect_northbound"


def _pruned(h: Harness, table: str) -> float:
    return h.registry.get_sample_value("crossbound_pruned_total", {"table": table}) or 0.0


def _send(h: Harness, case: Case) -> None:
    assert case.request is not None
    assert case.attestation is not None
    h.send_request(case.request)
    h.send_attestation(case.attestation)


def _with_repeat_rule(tmp_path: Path) -> Path:
    """The shipped rules plus a quota over window ``all`` keyed by the payee (a repeat check)."""
    target = tmp_path / "rulesets"
    target.mkdir()
    for name in ("envelope.toml", f"{PCN}.toml"):
        (target / name).write_text((default_rulesets_dir() / name).read_text(encoding="utf-8"))
    path = target / f"{PCN}.toml"
    path.write_text(
        path.read_text(encoding="utf-8")
        + """
[[rules]]
id = "PCN-91"
stage = "quota"
severity = "reject"
check = "quota"
params = { key = "payload.payee_acct_hmac", window = "all", limit = 1000, code = "REPEAT" }
description = "test"
""",
        encoding="utf-8",
    )
    return target


def test_a_ledger_past_its_windows_and_the_retention_is_swept_and_one_of_window_all_is_kept(
    tmp_path: Path,
) -> None:
    h = Harness.from_dirs(rulesets=_with_repeat_rule(tmp_path), now=YEAR_END)
    [case] = Traffic(seed=21, now=YEAR_END).payments_for_one_payer(1, amount="10.00")
    _send(h, case)
    assert len(h.usage) == 2  # the payer's day and year ledger, and the payee's repeat check
    payee = next(k for k in h.usage if k.count(b"|") == 1)
    h.advance(20 * 60)  # 00:10 on New Year's day: no window of the payer's is current any more ...
    assert len(h.usage) == 2  # ... but it was written within the dedupe retention (an hour)
    assert _pruned(h, "usage") == 0
    h.advance(3600)  # 01:10: the retention has passed too
    assert list(h.usage) == [payee]  # window all: the rule needs it for ever
    assert _pruned(h, "usage") == 1
    h.advance(24 * 3600)
    assert list(h.usage) == [payee]


def test_ledgers_are_swept_a_bounded_chunk_per_tick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sweeper, "LEDGER_CHUNK", 2)
    h = Harness.from_dirs(now=YEAR_END)
    for seed in range(5):  # five payers: five keys
        [case] = Traffic(seed=seed, now=YEAR_END).payments_for_one_payer(1, amount="10.00")
        _send(h, case)
    assert len(h.usage) == 5
    h.advance(2 * 3600)  # past the year and the retention: one scan, two keys a tick
    assert len(h.usage) == 3
    h.pipeline.housekeeping()
    h.pipeline.housekeeping()
    assert len(h.usage) == 0
    assert _pruned(h, "usage") == 5


def test_answered_requests_past_their_retention_are_forgotten_and_counted() -> None:
    h = Harness.from_dirs(now=YEAR_END)
    for case in Traffic(seed=22, now=YEAR_END).payments_for_one_payer(2, amount="10.00"):
        _send(h, case)
    assert len(h.answered) == 2
    h.advance(3600 + 3600 + 1)  # past expires_at (an hour after creation) plus the dedupe retention
    assert h.answered == {}
    assert _pruned(h, "answered") == 2


def test_a_request_left_parked_after_its_answer_is_pruned_at_its_deadline_and_counted() -> None:
    h = Harness.from_dirs(now=YEAR_END)
    [case] = Traffic(seed=23, now=YEAR_END).payments_for_one_payer(1, amount="10.00")
    assert case.request is not None
    assert case.attestation is not None
    h.send_request(case.request)
    key = str(case.request["request_id"]).encode()
    parked = h.pending[key]
    h.send_attestation(case.attestation)
    h.pending[key] = parked  # a crash between answering and unparking left it parked
    h.restart()
    h.advance(31.0)  # its deadline
    assert h.pending == {}
    assert _pruned(h, "pending") == 1
    assert len(h.verdicts("hk")) == 1  # pruned, not answered again


def test_the_ids_answered_here_are_kept_for_the_retention_then_dropped() -> None:
    """The soak found them growing with the traffic (benchmarks/soak.py, ``done_here``)."""
    h = Harness.from_dirs(now=YEAR_END)
    first, second = Traffic(seed=24, now=YEAR_END).payments_for_one_payer(2, amount="10.00")
    _send(h, first)
    done = h.pipeline.answered.done_here
    marked = set(done)
    assert str(first.request_id).encode() in marked  # the request, and its ledger hop
    h.advance(1800)
    _send(h, second)
    h.advance(1800)  # the retention since the first answer, not since the second
    assert marked.isdisjoint(done)
    assert str(second.request_id).encode() in done
    assert h.answered  # the table's own retention is longer (expires_at plus the retention)
    h.advance(3600)
    assert not done


def test_a_live_ledger_unwritten_for_the_retention_keeps_its_totals_and_loses_its_replies() -> None:
    """The soak found person keys growing by one verdict a day (benchmarks/soak.py, ``usage_kb``)."""
    from crossbound.pipeline.sweeper import USAGE

    late = datetime.fromisoformat("2026-06-15T23:50:00+08:00").timestamp()
    h = Harness.from_dirs(now=late)
    for case in Traffic(seed=25, now=late).payments_for_one_payer(2, amount="1000.00"):
        _send(h, case)
    [key] = [k for k in h.usage if k.startswith(b"payment_connect_northbound|")]
    before = h.codec.decode(h.usage[key], (USAGE,))[1]
    assert before["replies"]
    h.advance(20 * 60)  # the day turned, but the key was written within the retention
    assert h.codec.decode(h.usage[key], (USAGE,))[1] == before
    h.advance(3600)  # and now the retention has passed: the next scan trims it
    after = h.codec.decode(h.usage[key], (USAGE,))[1]
    assert after["replies"] == b""
    year = {r: w for r, w in before["windows"].items() if w["period"] == 2026}
    assert year
    assert after["windows"] == year  # the year's totals stay, the past day's go
    assert _pruned(h, "usage") == 0  # nothing removed: the key is still needed
