"""Schemas and the wire codec (Avro single-object encoding)."""

from crossbound.codec.registry import FIELD_CLASSES, SchemaRegistry, SchemaVersion
from crossbound.codec.wire import MAGIC, Codec

__all__ = ["FIELD_CLASSES", "MAGIC", "Codec", "SchemaRegistry", "SchemaVersion"]
