"""The embedded Kafka broker (Tansu) and the client-side support crossbound needs around it.

See ``docs/broker.md`` for Tansu 0.6.0's measured behaviour and bugs.
"""

from __future__ import annotations

from crossbound.broker.admin import check_topics, ensure_topics, prepare_topics, wait_for_broker
from crossbound.broker.compat import (
    apply_tansu_workarounds,
    remove_tansu_workarounds,
    tansu_workarounds_applied,
    unpatched_end_offsets,
)
from crossbound.broker.tansu import EmbeddedBroker, find_tansu_binary, run_broker

__all__ = [
    "EmbeddedBroker",
    "apply_tansu_workarounds",
    "check_topics",
    "ensure_topics",
    "find_tansu_binary",
    "prepare_topics",
    "remove_tansu_workarounds",
    "run_broker",
    "tansu_workarounds_applied",
    "unpatched_end_offsets",
    "wait_for_broker",
]
