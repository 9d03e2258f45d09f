"""What counts as a broker reset: ResetDetector over hand-made broker states (no broker)."""

from __future__ import annotations

from crossbound.broker.state import BrokerState
from crossbound.runtime.resets import ResetDetector

TOPICS = ("hk.requests", "hk.verdicts")
CHANGELOGS = ("app-pending-changelog",)
ALL = frozenset(TOPICS + CHANGELOGS)


def _state(
    ends: dict[tuple[str, int], int], topics: frozenset[str] = ALL, cluster_id: str | None = "c1"
) -> BrokerState:
    return BrokerState(cluster_id, topics, ends)


def _healthy(offset: int) -> dict[tuple[str, int], int]:
    return {(t, p): offset for t in ALL for p in (0, 1)}


def test_a_broker_that_only_grows_is_never_a_reset() -> None:
    detector = ResetDetector(TOPICS, CHANGELOGS)
    for offset in (0, 0, 5, 5, 120):
        assert detector.check(_state(_healthy(offset))) is None


def test_log_ends_gone_back_are_offsets_and_changelogs() -> None:
    detector = ResetDetector(TOPICS, CHANGELOGS)
    assert detector.check(_state(_healthy(40))) is None
    ends = _healthy(40) | {("hk.requests", 1): 3, ("app-pending-changelog", 0): 0}
    reset = detector.check(_state(ends))
    assert reset is not None
    assert reset.what == ("changelogs", "offsets")
    assert "hk.requests[1] log end 3 < 40" in reset.detail
    assert "app-pending-changelog[0] log end 0 < 40" in reset.detail


def test_topics_gone_count_from_the_start_the_worker_created_them() -> None:
    detector = ResetDetector(TOPICS, CHANGELOGS)
    reset = detector.check(_state({}, topics=frozenset({"hk.requests"})))  # the very first look
    assert reset is not None
    assert reset.what == ("topics", "changelogs")
    assert "hk.verdicts gone" in reset.detail
    assert "app-pending-changelog gone" in reset.detail


def test_a_partition_gone_is_topics() -> None:
    detector = ResetDetector(TOPICS, CHANGELOGS)
    assert detector.check(_state(_healthy(2))) is None
    ends = {k: v for k, v in _healthy(2).items() if k != ("hk.verdicts", 1)}
    reset = detector.check(_state(ends))
    assert reset is not None
    assert reset.what == ("topics",)
    assert "hk.verdicts[1] gone" in reset.detail


def test_another_cluster_id_is_a_reset_and_none_is_no_evidence() -> None:
    detector = ResetDetector(TOPICS, CHANGELOGS)
    assert detector.check(_state(_healthy(1), cluster_id=None)) is None
    assert detector.check(_state(_healthy(1), cluster_id="c1")) is None
    assert detector.check(_state(_healthy(1), cluster_id=None)) is None
    reset = detector.check(_state(_healthy(1), cluster_id="c2"))
    assert reset is not None
    assert reset.what == ("cluster_id",)
    assert "'c2', was 'c1'" in reset.detail


def test_evidence_does_not_join_the_baseline_so_a_confirming_look_sees_it_again() -> None:
    detector = ResetDetector(TOPICS, CHANGELOGS)
    assert detector.check(_state(_healthy(50))) is None
    assert detector.check(_state(_healthy(0))) is not None
    assert detector.check(_state(_healthy(0))) is not None  # still behind the 50 seen before
    assert detector.check(_state(_healthy(60))) is None  # a transient answer: the baseline goes on


def test_topics_of_others_are_not_watched() -> None:
    detector = ResetDetector(TOPICS, CHANGELOGS)
    assert detector.check(_state(_healthy(9) | {("other", 0): 100})) is None
    assert detector.check(_state(_healthy(9) | {("other", 0): 0})) is None


def test_a_long_list_is_cut_to_a_few_examples() -> None:
    topics = [f"t{i}" for i in range(10)]
    detector = ResetDetector(topics, ())
    reset = detector.check(_state({}, topics=frozenset()))
    assert reset is not None
    assert reset.detail.count(" gone") == 3
    assert "(and 7 more)" in reset.detail
