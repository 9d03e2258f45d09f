"""Hypothesis strategies for values of an Avro schema, shared by the generated writer's and reader's tests.

Not a test module: ``tests/unit`` is on ``sys.path`` (pytest's prepend import mode), so the codec
tests import it by name.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime
from typing import Any

from hypothesis import strategies as st

from crossbound.codec import Codec
from crossbound.testing import Harness
from crossbound.testing import fixtures as examples


def values(schema: Any, named: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values of ``schema`` that fastavro writes."""
    if isinstance(schema, list):
        return st.one_of(*(values(b, named) for b in schema))
    if isinstance(schema, str):
        schema = named.get(schema, {"type": schema})
    kind = schema["type"]
    if isinstance(kind, (dict, list)) or kind in named:
        return values(kind, named)
    logical = schema.get("logicalType")
    if logical == "timestamp-millis":
        return st.datetimes(datetime(1900, 1, 1), datetime(2200, 1, 1), timezones=st.just(UTC))
    if logical == "date":
        return st.dates(date(1900, 1, 1), date(2200, 1, 1))
    if logical == "decimal":
        digits = schema["precision"] - schema["scale"]
        return st.decimals(-(10**digits) + 1, 10**digits - 1, places=schema["scale"], allow_nan=False)
    simple: dict[str, st.SearchStrategy[Any]] = {
        "null": st.none(),
        "boolean": st.booleans(),
        "int": st.integers(-(2**31), 2**31 - 1),
        "long": st.integers(-(2**63), 2**63 - 1),
        "float": st.floats(width=32),
        "double": st.floats(),
        "bytes": st.binary(max_size=90),  # past 63: a length of two varint bytes
        "string": st.text(max_size=90),
    }
    if kind in simple:
        return simple[kind]
    if kind == "fixed":
        return st.binary(min_size=schema["size"], max_size=schema["size"])
    if kind == "enum":
        return st.sampled_from(schema["symbols"])
    if kind == "array":
        return st.lists(values(schema["items"], named), max_size=3)
    if kind == "map":
        return st.dictionaries(st.text(max_size=8), values(schema["values"], named), max_size=3)
    assert kind == "record", kind
    required = {f["name"]: values(f["type"], named) for f in schema["fields"] if "default" not in f}
    optional = {f["name"]: values(f["type"], named) for f in schema["fields"] if "default" in f}
    return st.fixed_dictionaries(required, optional=optional)  # a field left out: its default


def answer_one_attested_request(codec: Codec) -> Harness:
    """A payment_connect_northbound request and its attestation through a Harness on ``codec``; the
    verdict must be ACCEPT, after the scenario's stateful hops. Returns the Harness."""
    case = examples.load("payment_connect_northbound").fixtures["accept"]
    h = Harness(codec, Harness.from_dirs().catalogue, now=examples.FIXTURE_TIME.timestamp())
    request, attestation = examples.refresh(case, random.Random(1), h.now)
    assert attestation is not None
    h.send_request(request)
    [verdict] = [p.record for p in h.send_attestation(attestation) if p.topic.endswith(".verdicts")]
    assert verdict["outcome"] == "ACCEPT"
    assert h.internal  # its stateful hops too
    return h
