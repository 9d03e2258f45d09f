"""Kafka's murmur2 partitioner, as the pipeline computes it, against aiokafka's."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as reference
from hypothesis import given, settings
from hypothesis import strategies as st

from crossbound.pipeline.partitioner import murmur2, partition_for


@settings(max_examples=500)
@given(st.binary(max_size=80))
def test_murmur2_is_kafkas(data: bytes) -> None:
    assert murmur2(data) == reference(data)


def test_partition_for_matches_aiokafka_default_partitioner() -> None:
    partitioner = DefaultPartitioner()
    for i in range(200):
        key = f"request-{i}".encode()
        assert partition_for(key, 4) == partitioner(key, [0, 1, 2, 3], [0, 1, 2, 3])
