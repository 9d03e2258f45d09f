"""The demo's worker child's environment: what the demo was told, passed on without a command line.

A child's command line is visible to every user of the machine, so the TLS and SASL settings (a
password file, or the password itself) and the registry's paths go in its environment, as the
``CROSSBOUND_*`` variables the worker reads (:class:`crossbound.settings.Settings`).
"""

from __future__ import annotations

from pydantic import SecretStr

from crossbound.settings import Settings

__all__ = ["participants_env", "security_env"]


def security_env(settings: Settings) -> dict[str, str]:
    """The demo's TLS and SASL settings as the worker child's environment (never its command line,
    which every user of the machine can read)."""
    env = {}
    for name, value in settings.kafka.security:
        if value is None:
            continue
        text = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        env[f"CROSSBOUND_KAFKA__SECURITY__{name.upper()}"] = text
    return env


def participants_env(settings: Settings) -> dict[str, str]:
    """The registry, topic layout, platform keys and audit as the worker child's environment (none
    without a registry)."""
    pipe = settings.pipeline
    if pipe.participants is None:
        return {}
    keys = {
        f"CROSSBOUND_PIPELINE__SIGNING_KEY_{side.upper()}": str(path)
        for side, path in (("hk", pipe.signing_key_hk), ("sz", pipe.signing_key_sz))
        if path is not None
    }
    return {
        "CROSSBOUND_PIPELINE__PARTICIPANTS": str(pipe.participants),
        "CROSSBOUND_PIPELINE__TOPIC_LAYOUT": pipe.topic_layout,
        **keys,
        "CROSSBOUND_AUDIT__ENABLED": "true" if settings.audit.enabled else "false",
        "CROSSBOUND_AUDIT__CHECKPOINT_INTERVAL_S": str(settings.audit.checkpoint_interval_s),
    }
