"""The two broker engines behind one small interface: what the worker, demo, bench and tests start."""

from __future__ import annotations

from typing import Literal, Protocol, Self

from crossbound.broker.kafka import KafkaCluster
from crossbound.broker.tansu import EmbeddedBroker

__all__ = ["ENGINES", "Broker", "Engine", "make_broker"]

Engine = Literal["tansu", "kafka"]
ENGINES: tuple[Engine, ...] = ("tansu", "kafka")


class Broker(Protocol):
    """A broker crossbound started: where it is and how to stop it."""

    @property
    def engine(self) -> str:
        """``tansu`` or ``kafka``."""
        ...

    @property
    def nodes(self) -> int:
        """How many broker nodes (Tansu: 1)."""
        ...

    @property
    def bootstrap(self) -> str:
        """aiokafka ``bootstrap_servers``."""
        ...

    @property
    def url(self) -> str:
        """crossbound's ``--broker`` URL."""
        ...

    def start(self) -> Self:
        """Start and wait until it answers."""
        ...

    def stop(self) -> None:
        """Stop; idempotent."""
        ...


def make_broker(engine: str, *, nodes: int = 1) -> EmbeddedBroker | KafkaCluster:
    """An unstarted broker of ``engine`` (``nodes`` applies to Kafka only)."""
    if engine == "tansu":
        if nodes != 1:
            raise ValueError("Tansu runs one node")
        return EmbeddedBroker()
    if engine == "kafka":
        return KafkaCluster(nodes)
    raise ValueError(f"unknown broker engine {engine!r}; engines: {', '.join(ENGINES)}")
