"""Records in, records out: the pipeline's logic, free of Faust and of any Kafka client.

:class:`Pipeline` is the runtime contract (routing, the one error policy, the hop loop, timers,
rebalance) over injected :class:`Tables`; the worker (:mod:`crossbound.runtime.app`) and the
:class:`crossbound.testing.Harness` both drive it. Its parts, one job each: ``requests``,
``attestations``, ``hops`` (the stateful stage), ``stores`` (the tables and what is kept beside them),
``sweeper`` (timeouts, forgetting), ``outputs`` (the records produced), ``budget`` (each record
within its topic's size limit), ``guard`` (declared forms on the way in, the outgoing guard on the way
out), ``partitioner`` (murmur2).
"""

from crossbound.pipeline.pipeline import Pipeline, Tables
from crossbound.pipeline.records import Incoming, Outgoing
from crossbound.pipeline.stores import State

__all__ = ["Incoming", "Outgoing", "Pipeline", "State", "Tables"]
