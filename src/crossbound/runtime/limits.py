"""The worker's output limits: each topic's largest record, and the start-up check of the input limit.

A record the worker writes must fit two limits: its producer's ``max_request_size`` (aiokafka refuses
a larger record at ``send``) and its topic's ``max.message.bytes`` (the broker refuses a larger batch).
:func:`output_limits` takes the smaller of the two per topic: the broker's value as read at start-up
(:func:`crossbound.broker.admin.message_limits`), else ``kafka.max_message_bytes``. The pipeline then
checks every record against it before sending (:mod:`crossbound.pipeline.budget`).

**The margin.** Some records carry a whole input plus the pipeline's own fields: a ``pending`` entry
and a hop record the request, an attestation request its payload, an ``answered`` entry the hop
record, a dead letter the input's bytes, a ledger value its last replies. Start-up fails, naming the
setting and the topic config, when ``pipeline.max_record_bytes`` plus :data:`ENVELOPE_MARGIN` does not
fit the limit of every topic that carries an input (all but the verdicts, whose size does not grow
with the input's), rather than refusing valid requests one by one at run time: a limit that cannot
hold a valid input is a configuration fault. The margin covers the fields the pipeline adds (measured
over the shipped scenarios and simulated traffic: at most 860 bytes, an ``answered`` entry holding a
hop record; a ``pending`` entry adds about 300); whatever still does
not fit (a verdict with many findings on a verdicts topic with a small limit, a ledger value) is
refused at run time, one record at a time, as ``output_too_large``.
"""

from __future__ import annotations

from collections.abc import Mapping

from crossbound.errors import ConfigError
from crossbound.pipeline.budget import OutputLimits
from crossbound.topics import SIDES, Topics

__all__ = ["ENVELOPE_MARGIN", "output_limits"]

ENVELOPE_MARGIN = 3072
"""Bytes the pipeline's own fields may add to an input it carries whole (see the module)."""


def output_limits(
    topics: Topics,
    *,
    producer_max: int,
    reported: Mapping[str, int],
    fallback: int,
    max_record_bytes: int,
) -> OutputLimits:
    """Each topic's limit; ConfigError if an input at ``max_record_bytes`` could not be carried."""
    names = [*topics.all(), *topics.changelogs()]
    limits = {name: min(producer_max, reported.get(name, fallback)) for name in names}
    verdicts = {topics.verdicts(side) for side in SIDES}
    need = max_record_bytes + ENVELOPE_MARGIN
    short = sorted(name for name in names if name not in verdicts and limits[name] < need)
    if short:
        where = ", ".join(f"{name!r} ({_source(name, producer_max, reported, fallback)})" for name in short)
        raise ConfigError(
            f"pipeline.max_record_bytes {max_record_bytes} plus the {ENVELOPE_MARGIN} bytes the pipeline "
            f"adds ({need}) does not fit the limit of topic(s) {where}: lower "
            "CROSSBOUND_PIPELINE__MAX_RECORD_BYTES, or raise the topics' max.message.bytes"
        )
    return OutputLimits(min(producer_max, fallback), limits)


def _source(name: str, producer_max: int, reported: Mapping[str, int], fallback: int) -> str:
    if name in reported and reported[name] <= producer_max:
        return f"max.message.bytes {reported[name]}"
    if name not in reported and fallback <= producer_max:
        return f"kafka.max_message_bytes {fallback}, the broker reports none"
    return f"the producer's max_request_size {producer_max}"
