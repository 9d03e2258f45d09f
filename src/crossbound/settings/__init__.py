"""One settings object, read once at the edge (the CLI) and passed down.

The models live in :mod:`crossbound.settings.model` (the settings tree, topics and pipeline) and
:mod:`crossbound.settings.security` (TLS and SASL for every Kafka client).
"""

from crossbound.settings.model import (
    AuditSettings,
    CleanupPolicy,
    KafkaSettings,
    MetricsSettings,
    PipelineSettings,
    Settings,
    TopicSettings,
    TopicsSettings,
    parse_broker_url,
)
from crossbound.settings.security import SecuritySettings

__all__ = [
    "AuditSettings",
    "CleanupPolicy",
    "KafkaSettings",
    "MetricsSettings",
    "PipelineSettings",
    "SecuritySettings",
    "Settings",
    "TopicSettings",
    "TopicsSettings",
    "parse_broker_url",
]
