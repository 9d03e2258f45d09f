"""Client-side workarounds for Tansu 0.6.0, applied only by :func:`apply_tansu_workarounds`.

Importing this module changes nothing; call :func:`apply_tansu_workarounds` (idempotent) once, before
or after consumers exist -- the patch is on the class, so existing instances see it too.

What is patched, and why (measured on Tansu 0.6.0; README.md, "Known limits", sums it up):

``aiokafka.AIOKafkaConsumer.end_offsets``
    Tansu answers ListOffsets(LATEST) with *the base offset of the last stored batch + 1* instead
    of the log end offset (30 records in 3 batches of 10 -> 21, not 30). Faust's table recovery
    reads its changelog "highwaters" through this method::

        faust.tables.recovery.Recovery._build_highwaters
          -> faust.transport.consumer.ThreadDelegateConsumer.highwaters
          -> faust.transport.drivers.aiokafka.AIOKafkaConsumerThread._highwaters
          -> aiokafka.AIOKafkaConsumer.end_offsets      (outside transactions)

    so recovery stops early and silently drops the tail of the last changelog batch. The wrapper
    keeps the broker's answer for partitions that report 0 (empty) and, for every other partition,
    asks a short-lived consumer (same bootstrap servers and security settings as the wrapped one)
    to fetch once from ``reported_end - 1``: the Fetch response's high watermark *is* correct, and
    the end becomes ``max(reported_end, highwater)``. Cost: one extra connection per call
    (milliseconds on loopback). On a real Kafka the result is unchanged (the highwater equals the
    reported end), so the patch is safe there, merely slower.

``aiokafka.AIOKafkaConsumer.__init__`` (``fetch_max_wait_ms`` capped, default 25 ms)
    Tansu holds every Fetch for the full ``fetch_max_wait_ms`` even when records arrive meanwhile
    (measured: a record produced while a consumer waits is delivered after 615 ms with a 1500 ms
    wait, 115 ms with 500 ms, 15 ms with 100 ms, 3-7 ms with 20 ms). Faust hard-codes 1500 ms, so
    each hop of the pipeline (request -> attestation request -> attestation -> verdict) would add
    up to 1.5 s. The cap trades a few idle fetches per second for latency.

Not patched (still wrong on Tansu; do not rely on them): ``seek_to_end``, ``auto_offset_reset=
'latest'``, ``offsets_for_times`` and lag figures derived from ListOffsets. Also not needed here:
the InitProducerId v3 patch for idempotent/transactional producers (crossbound runs Faust
at-least-once, and Tansu's transactions are not usable anyway).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaTimeoutError

__all__ = [
    "apply_tansu_workarounds",
    "correct_end_offsets",
    "remove_tansu_workarounds",
    "tansu_workarounds_applied",
    "unpatched_end_offsets",
]

log = logging.getLogger(__name__)

EndOffsets = Callable[[Any, Iterable[TopicPartition]], Awaitable[dict[TopicPartition, int]]]

#: ``AIOKafkaConsumer.end_offsets`` as aiokafka defines it (captured at import, nothing patched yet).
_UNPATCHED: EndOffsets = AIOKafkaConsumer.end_offsets
_MARK = "_crossbound_tansu_endfix"
_previous: EndOffsets | None = None  # what apply_tansu_workarounds() replaced
_previous_init: Callable[..., None] | None = None
FETCH_MAX_WAIT_MS = 25


async def unpatched_end_offsets(
    consumer: AIOKafkaConsumer, partitions: Iterable[TopicPartition]
) -> dict[TopicPartition, int]:
    """aiokafka's own ``end_offsets`` (the raw ListOffsets(LATEST) answer), patched or not."""
    return await _UNPATCHED(consumer, list(partitions))


def _probe_kwargs(consumer: AIOKafkaConsumer) -> dict[str, Any]:
    """Connection settings of ``consumer`` for a short-lived sibling consumer."""
    client = consumer._client
    kwargs: dict[str, Any] = {
        "bootstrap_servers": client._bootstrap_servers,
        "client_id": f"{client._client_id}-endfix",
        "request_timeout_ms": consumer._request_timeout_ms,
        "security_protocol": client._security_protocol,
        "ssl_context": client._ssl_context,
        "sasl_mechanism": client._sasl_mechanism,
        "sasl_plain_username": client._sasl_plain_username,
        "sasl_plain_password": client._sasl_plain_password,
        "sasl_kerberos_service_name": client._sasl_kerberos_service_name,
        "sasl_kerberos_domain_name": client._sasl_kerberos_domain_name,
        "sasl_oauth_token_provider": client._sasl_oauth_token_provider,
        "max_partition_fetch_bytes": consumer._max_partition_fetch_bytes,
        "fetch_max_bytes": consumer._fetch_max_bytes,
    }
    kwargs.update(
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_uncommitted",
        fetch_max_wait_ms=50,
    )
    return kwargs


async def correct_end_offsets(
    consumer: AIOKafkaConsumer, reported: Mapping[TopicPartition, int]
) -> dict[TopicPartition, int]:
    """Replace each non-zero reported end offset by ``max(reported, Fetch high watermark)``.

    Raises ``KafkaTimeoutError`` if the high watermarks cannot be read within the consumer's
    ``request_timeout_ms`` (the same contract as ``end_offsets`` itself).
    """
    result = dict(reported)
    to_check = {tp: end for tp, end in reported.items() if end > 0}
    if not to_check:
        return result
    timeout_s = consumer._request_timeout_ms / 1000
    probe = AIOKafkaConsumer(**_probe_kwargs(consumer))
    try:
        await probe.start()
        probe.assign(list(to_check))
        for tp, end in to_check.items():
            probe.seek(tp, end - 1)
        deadline = time.monotonic() + timeout_s
        pending = set(to_check)
        while pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise KafkaTimeoutError(
                    f"no Fetch high watermark for {sorted(map(str, pending))} within {timeout_s:g} s"
                )
            await probe.getmany(*pending, timeout_ms=int(min(remaining, 0.1) * 1000), max_records=1)
            for tp in list(pending):
                highwater = probe.highwater(tp)
                if highwater is not None:
                    pending.discard(tp)
                    result[tp] = max(to_check[tp], highwater)
    finally:
        await probe.stop()
    fixed = {tp: (to_check[tp], result[tp]) for tp in to_check if result[tp] != to_check[tp]}
    if fixed:
        log.debug("end_offsets corrected for Tansu: %s", fixed)
    return result


def _make_wrapper(inner: EndOffsets) -> EndOffsets:
    async def end_offsets(
        self: AIOKafkaConsumer, partitions: Iterable[TopicPartition]
    ) -> dict[TopicPartition, int]:
        reported = await inner(self, partitions)
        return await correct_end_offsets(self, reported)

    end_offsets.__doc__ = (
        "aiokafka's end_offsets, corrected for Tansu's ListOffsets(LATEST) bug by "
        "crossbound.broker.compat (see that module's docstring)."
    )
    end_offsets.__qualname__ = "AIOKafkaConsumer.end_offsets"
    setattr(end_offsets, _MARK, True)
    return end_offsets


def tansu_workarounds_applied() -> bool:
    """True while :func:`apply_tansu_workarounds` is in effect."""
    return bool(getattr(AIOKafkaConsumer.end_offsets, _MARK, False))


def _make_init(inner: Callable[..., None], cap_ms: int) -> Callable[..., None]:
    def __init__(self: AIOKafkaConsumer, *topics: str, **kwargs: Any) -> None:
        kwargs["fetch_max_wait_ms"] = min(int(kwargs.get("fetch_max_wait_ms", 500)), cap_ms)
        inner(self, *topics, **kwargs)

    return __init__


def apply_tansu_workarounds(fetch_max_wait_ms: int = FETCH_MAX_WAIT_MS) -> None:
    """Patch ``AIOKafkaConsumer`` for Tansu (see the module docstring); idempotent."""
    global _previous, _previous_init
    if tansu_workarounds_applied():
        return
    _previous = AIOKafkaConsumer.end_offsets
    _previous_init = AIOKafkaConsumer.__init__
    AIOKafkaConsumer.end_offsets = _make_wrapper(_previous)
    AIOKafkaConsumer.__init__ = _make_init(_previous_init, fetch_max_wait_ms)
    log.info("Tansu client workarounds applied (AIOKafkaConsumer.end_offsets, fetch_max_wait_ms)")


def remove_tansu_workarounds() -> None:
    """Undo :func:`apply_tansu_workarounds` (for tests); a no-op when not applied."""
    global _previous, _previous_init
    if not tansu_workarounds_applied() or _previous is None:
        return
    AIOKafkaConsumer.end_offsets = _previous
    if _previous_init is not None:
        AIOKafkaConsumer.__init__ = _previous_init
    _previous = None
    _previous_init = None
