"""The worker's output limits: the smaller of the producer's and the topic's, and the start-up check."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from crossbound.errors import ConfigError
from crossbound.metrics import Metrics
from crossbound.runtime.limits import ENVELOPE_MARGIN, output_limits
from crossbound.runtime.worker import load_components
from crossbound.settings import PipelineSettings, Settings
from crossbound.topics import Topics

TOPICS = Topics()
KAFKA_DEFAULT = 1_048_588


def _limits(reported: dict[str, int], *, producer_max: int = 4_000_000, max_record_bytes: int = 1_000_000):
    return output_limits(
        TOPICS,
        producer_max=producer_max,
        reported=reported,
        fallback=KAFKA_DEFAULT,
        max_record_bytes=max_record_bytes,
    )


def test_each_topic_gets_the_smaller_of_the_producers_and_its_own_limit() -> None:
    limits = _limits({TOPICS.verdicts("hk"): 500, TOPICS.quota: 8_000_000})
    assert limits.limit(TOPICS.verdicts("hk")) == 500  # verdicts do not carry the input: no check
    assert limits.limit(TOPICS.quota) == 4_000_000  # the producer's max_request_size
    assert limits.limit(TOPICS.changelog("pending")) == KAFKA_DEFAULT  # not reported: the setting


def test_start_up_fails_when_an_input_at_the_limit_could_not_be_carried() -> None:
    pending = TOPICS.changelog("pending")
    with pytest.raises(ConfigError) as err:
        _limits({pending: 1_000_000 + ENVELOPE_MARGIN - 1})
    message = str(err.value)
    assert "pipeline.max_record_bytes 1000000" in message
    assert f"'{pending}' (max.message.bytes {1_000_000 + ENVELOPE_MARGIN - 1})" in message
    assert "CROSSBOUND_PIPELINE__MAX_RECORD_BYTES" in message
    _limits({pending: 1_000_000 + ENVELOPE_MARGIN})  # just enough


def test_the_producers_limit_counts_too() -> None:
    with pytest.raises(ConfigError, match="the producer's max_request_size 4096"):
        _limits({}, producer_max=4096, max_record_bytes=1025)
    _limits({}, producer_max=4096, max_record_bytes=1024)  # the smallest input limit still fits


def test_the_worker_refuses_to_build_an_app_whose_topics_cannot_carry_its_inputs() -> None:
    from crossbound.runtime.app import build_app

    settings = Settings(pipeline=PipelineSettings(max_record_bytes=1_046_000))
    parts = load_components(settings)
    metrics = Metrics(CollectorRegistry())
    with pytest.raises(ConfigError, match=r"sz\.attestation-requests"):
        build_app(settings, parts, metrics, "127.0.0.1:1", message_limits={})
