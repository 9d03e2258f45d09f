"""TLS and SASL for every Kafka client crossbound makes: the worker's, the CLI's, the admin and probe.

:class:`ClientSecurity` is built once from :class:`~crossbound.settings.SecuritySettings` (the CA and
client certificate loaded into one ``ssl.SSLContext``, the password file read) and handed to each
client as keyword arguments (:meth:`ClientSecurity.aiokafka_kwargs`). The password is held as a
``SecretStr`` and only revealed inside those arguments: ``repr`` of this object, of the settings and
every error message built here name the user, never the password.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr

from crossbound.errors import ConfigError
from crossbound.settings import SecuritySettings

__all__ = ["PLAINTEXT", "ClientSecurity", "connection_failure", "is_auth_failure"]


@dataclass(frozen=True, slots=True)
class ClientSecurity:
    """What a client needs to connect: protocol, TLS context, SASL mechanism, user and password."""

    protocol: str = "PLAINTEXT"
    ssl_context: ssl.SSLContext | None = None
    sasl_mechanism: str = "SCRAM-SHA-512"
    username: str | None = None
    password: SecretStr | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, settings: SecuritySettings) -> ClientSecurity:
        """Load the CA, the client certificate and the password file; ConfigError naming the file."""
        context = _ssl_context(settings) if settings.tls else None
        password = settings.sasl_password
        if settings.sasl_password_file is not None:
            password = SecretStr(_read_secret(settings.sasl_password_file))
        return cls(settings.protocol, context, settings.sasl_mechanism, settings.sasl_username, password)

    def aiokafka_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``AIOKafkaProducer``/``Consumer``/``AdminClient``/``AIOKafkaClient``."""
        kwargs: dict[str, Any] = {"security_protocol": self.protocol}
        if self.ssl_context is not None:
            kwargs["ssl_context"] = self.ssl_context
        if self.protocol.startswith("SASL_"):
            kwargs["sasl_mechanism"] = self.sasl_mechanism
            kwargs["sasl_plain_username"] = self.username
            kwargs["sasl_plain_password"] = (
                None if self.password is None else self.password.get_secret_value()
            )
        return kwargs

    def describe(self) -> str:
        """One loggable phrase: ``SASL_SSL as User:hk-bank`` (no password)."""
        return f"{self.protocol} as User:{self.username}" if self.username else self.protocol


PLAINTEXT = ClientSecurity()


def _read_secret(path: Any) -> str:
    try:
        value = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the SASL password file ({exc.strerror})") from None
    if not value:
        raise ConfigError(f"{path}: the SASL password file is empty")
    return str(value)


def _ssl_context(settings: SecuritySettings) -> ssl.SSLContext:
    try:
        context = ssl.create_default_context(
            cafile=None if settings.ca_file is None else str(settings.ca_file)
        )
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"{settings.ca_file}: not a readable PEM CA file ({exc})") from None
    context.check_hostname = settings.check_hostname
    if settings.cert_file is not None and settings.key_file is not None:
        try:
            context.load_cert_chain(str(settings.cert_file), str(settings.key_file))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"{settings.cert_file} / {settings.key_file}: not a usable PEM certificate and key ({exc})"
            ) from None
    return context


def is_auth_failure(exc: BaseException) -> bool:
    """Whether a client error is the broker refusing our credentials (SASL) or our TLS handshake."""
    from aiokafka.errors import AuthenticationFailedError, SaslAuthenticationFailed

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, AuthenticationFailedError | SaslAuthenticationFailed | ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


async def connection_failure(bootstrap: str, security: ClientSecurity) -> BaseException | None:
    """Why one connection to the first host of ``bootstrap`` fails, or ``None`` if it does not.

    aiokafka's clients log the cause of a failed bootstrap (a refused SASL login, a TLS error) and
    raise a bare ``KafkaConnectionError``; a command asks again with one connection to say which.
    """
    from aiokafka.conn import create_conn
    from aiokafka.errors import KafkaError

    host, _, port = bootstrap.split(",")[0].rpartition(":")
    try:
        conn = await create_conn(host.strip("[]"), int(port), **security.aiokafka_kwargs())
    except (OSError, KafkaError, TimeoutError) as exc:
        return exc
    conn.close()
    return None
