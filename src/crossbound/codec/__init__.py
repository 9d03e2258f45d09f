"""Schemas and the wire codec: Avro bodies behind a framing (default: Avro single-object encoding)."""

from crossbound.codec.codec import Codec
from crossbound.codec.framing import MAGIC, Framing, SingleObjectFraming
from crossbound.codec.registry import FIELD_CLASSES, SchemaRegistry, SchemaVersion

__all__ = [
    "FIELD_CLASSES",
    "MAGIC",
    "Codec",
    "Framing",
    "SchemaRegistry",
    "SchemaVersion",
    "SingleObjectFraming",
]
