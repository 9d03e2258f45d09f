"""What the commands share: flags declared from the :class:`~crossbound.settings.Settings` model, the
broker a command is about to use, and its reachability.

A setting flag names its place in the model (``kafka.broker``) and nothing else: its help text is the
field's description, its environment variable (``CROSSBOUND_KAFKA__BROKER``) and default are read
from the model, and :func:`settings_from_args` puts what was given back in that place. So a flag, its
environment variable and its help cannot disagree, and every command that takes a broker takes
``CROSSBOUND_KAFKA__BROKER`` too.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import socket
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias, TypeVar

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from crossbound.broker.closing import sockets_closed
from crossbound.broker.security import ClientSecurity, connection_failure, is_auth_failure
from crossbound.errors import BrokerError, InputError
from crossbound.settings import Settings, parse_broker_url

__all__ = [
    "Broker",
    "Subparsers",
    "add_broker_flag",
    "add_json_flag",
    "add_paths_flags",
    "add_security_flags",
    "add_setting",
    "client_security",
    "connect_broker",
    "env_name",
    "reach_broker",
    "run_on_broker",
    "settings_from_args",
]

T = TypeVar("T")
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

_SETTING = "setting:"  # argparse dest prefix of a flag that sets a Settings field
_CONNECT_TIMEOUT_S = 5.0


def _field(path: str) -> FieldInfo:
    model: type[BaseModel] = Settings
    *parents, last = path.split(".")
    for name in parents:
        annotation = model.model_fields[name].annotation
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            raise TypeError(f"{path}: {name} is not a settings group")
        model = annotation
    return model.model_fields[last]


def env_name(path: str) -> str:
    """The environment variable of a setting: ``kafka.broker`` -> ``CROSSBOUND_KAFKA__BROKER``."""
    return "CROSSBOUND_" + "__".join(part.upper() for part in path.split("."))


def add_setting(
    parser: argparse.ArgumentParser, flag: str, path: str, *, help: str | None = None, **kwargs: Any
) -> None:
    """A flag for the setting at ``path``; help, environment variable and default from the model."""
    field = _field(path)
    text = help or field.description or ""
    default = field.get_default(call_default_factory=False)
    shown = ""
    if default not in (None, "") and field.default_factory is None and "action" not in kwargs:
        shown = f"; default {default:g}" if isinstance(default, float) else f"; default {default}"
    if "action" not in kwargs and "choices" not in kwargs:
        kwargs.setdefault("metavar", flag.removeprefix("--").upper().replace("-", "_"))
    parser.add_argument(
        flag, dest=_SETTING + path, default=None, help=f"{text} (env {env_name(path)}{shown})", **kwargs
    )


def add_broker_flag(parser: argparse.ArgumentParser, *, embedded: bool = False) -> None:
    """``--broker``: ``kafka://host:port[,host:port]`` or ``host:port``, or ``CROSSBOUND_KAFKA__BROKER``.

    ``embedded``: the command starts the embedded Tansu when no broker is set (the worker, the demo);
    otherwise it needs one.
    """
    text = (
        None
        if embedded
        else "the Kafka to use, kafka://host:port[,host:port] or host:port; required, as this flag "
        "or its variable"
    )
    add_setting(parser, "--broker", "kafka.broker", metavar="[kafka://]HOST:PORT", help=text)
    add_security_flags(parser)


def add_security_flags(parser: argparse.ArgumentParser) -> None:
    """TLS and SASL flags. The password has no flag (a command line is visible to every user of the
    machine): ``CROSSBOUND_KAFKA__SECURITY__SASL_PASSWORD`` or ``--sasl-password-file``."""
    sec = "kafka.security."
    add_setting(
        parser,
        "--security-protocol",
        sec + "protocol",
        choices=["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"],
    )
    add_setting(parser, "--ca-file", sec + "ca_file", type=Path, metavar="PEM")
    add_setting(parser, "--cert-file", sec + "cert_file", type=Path, metavar="PEM")
    add_setting(parser, "--key-file", sec + "key_file", type=Path, metavar="PEM")
    add_setting(parser, "--sasl-username", sec + "sasl_username", metavar="USER")
    add_setting(parser, "--sasl-password-file", sec + "sasl_password_file", type=Path, metavar="FILE")


def client_security(settings: Settings) -> ClientSecurity:
    """The TLS context and SASL credentials of the command's clients, loaded once."""
    return ClientSecurity.from_settings(settings.kafka.security)


def add_paths_flags(parser: argparse.ArgumentParser) -> None:
    """``--schemas`` and ``--rulesets``: where the schemas and rule sets are read from."""
    add_setting(parser, "--schemas", "pipeline.schemas_dir", type=Path, metavar="DIR")
    add_setting(parser, "--rulesets", "pipeline.rulesets_dir", type=Path, metavar="DIR")


def add_json_flag(parser: argparse.ArgumentParser, what: str) -> None:
    """``--json``: the command's report for programs instead of people."""
    parser.add_argument("--json", action="store_true", help=f"print {what}")


def settings_from_args(args: argparse.Namespace) -> Settings:
    """One Settings object: the setting flags given, then the environment, then the defaults."""
    top: dict[str, Any] = {}
    for dest, value in vars(args).items():
        if not dest.startswith(_SETTING) or value is None:
            continue
        *parents, last = dest.removeprefix(_SETTING).split(".")
        target = top
        for name in parents:
            target = target.setdefault(name, {})
        target[last] = value
    return Settings(**top)


def _hosts(bootstrap: str) -> Iterator[tuple[str, int]]:
    for hostport in bootstrap.split(","):
        host, _, port = hostport.rpartition(":")
        yield host.strip("[]"), int(port)


def reach_broker(settings: Settings, command: str) -> tuple[str, str]:
    """The command's broker (URL, bootstrap string), once one of its hosts accepts a connection.

    Raises :class:`InputError` when no broker is set, :class:`BrokerError` (one line naming the
    broker) when none of its hosts can be reached, so a broker that is down costs no traceback and
    no client's retry loop.
    """
    url = settings.kafka.broker
    if url is None:
        raise InputError(f"{command} needs a broker: --broker HOST:PORT or {env_name('kafka.broker')}")
    bootstrap = parse_broker_url(url)
    reason = "no host"
    for host, port in _hosts(bootstrap):
        try:
            with socket.create_connection((host, port), timeout=_CONNECT_TIMEOUT_S):
                return url, bootstrap
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
    raise BrokerError(f"cannot reach broker {url} ({reason})")


@dataclass(frozen=True)
class Broker:
    """The broker a command uses, reached, and the security its clients connect with."""

    url: str
    bootstrap: str
    security: ClientSecurity

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        """:func:`run_on_broker` on this broker."""
        return run_on_broker(self.url, work, self.security)


def connect_broker(settings: Settings, command: str) -> Broker:
    """The command's broker: its clients' security loaded (:func:`client_security`), then one of its
    hosts reached (:func:`reach_broker`, whose errors it raises)."""
    security = client_security(settings)
    url, bootstrap = reach_broker(settings, command)
    return Broker(url, bootstrap, security)


def run_on_broker(url: str, work: Coroutine[Any, Any, T], security: ClientSecurity | None = None) -> T:
    """Run ``work``; a Kafka client error becomes one :class:`BrokerError` line naming ``url``.

    aiokafka logs every failed connection attempt itself; those lines are held back while ``work``
    runs, since the error raised says it once. A broker that refuses our credentials or our TLS
    handshake is said so (asked again on one connection when the client only says it could not
    connect, see :func:`~crossbound.broker.security.connection_failure`), never with the password.
    """
    from aiokafka.errors import KafkaConnectionError, KafkaError

    quiet = logging.getLogger("aiokafka")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    try:
        return asyncio.run(_settled(work))
    except (KafkaError, BrokerError, OSError) as exc:
        if (
            security is not None
            and security.protocol != "PLAINTEXT"
            and _caused_by(exc, KafkaConnectionError)
        ):
            cause = asyncio.run(_settled(connection_failure(parse_broker_url(url), security)))
            if cause is not None and is_auth_failure(cause):
                raise BrokerError(f"broker {url} refused the connection: {_auth_reason(cause)}") from None
        if is_auth_failure(exc):
            raise BrokerError(f"broker {url} refused the connection: {_auth_reason(exc)}") from None
        if isinstance(exc, BrokerError):
            raise
        if isinstance(exc, KafkaError):
            raise BrokerError(f"broker {url}: {exc}") from None
        raise
    finally:
        quiet.setLevel(level)


async def _settled(work: Coroutine[Any, Any, T]) -> T:
    """``work``, then until its sockets have closed: a connection aiokafka closed on its way out (a
    refused login, its bootstrap connection) closes its socket in callbacks (on TLS after the
    close_notify exchange), which must run before the loop ends (see :mod:`crossbound.broker.closing`)."""
    try:
        return await work
    finally:
        await sockets_closed()


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, kind):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _auth_reason(exc: BaseException) -> str:
    import ssl

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            reason = seen.reason or type(seen).__name__
            return f"TLS handshake failed ({reason}); check --ca-file and the broker's name"
        seen = seen.__cause__ or seen.__context__
    return "authentication failed (SASL): check --sasl-username and its password"
