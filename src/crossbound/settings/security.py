"""TLS and SASL settings, one set for every client (``CROSSBOUND_KAFKA__SECURITY__...``).

The SASL password is a ``SecretStr``; the model does not echo its input in validation errors, so no
repr, log view or error message shows it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

__all__ = ["SecurityProtocol", "SecuritySettings"]

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
_TLS = ("SSL", "SASL_SSL")
_SASL = ("SASL_PLAINTEXT", "SASL_SSL")


class SecuritySettings(BaseModel):
    """How every crossbound client (worker, CLI, admin and probe) authenticates to Kafka.

    The password is a secret value: it is never part of ``repr``, :meth:`Settings.as_dict`, a log line
    or an error message. It comes from ``CROSSBOUND_KAFKA__SECURITY__SASL_PASSWORD`` or, better, a
    file named by ``CROSSBOUND_KAFKA__SECURITY__SASL_PASSWORD_FILE`` (read when a client is built).
    """

    # the input of a failed validation can hold the SASL password: errors do not echo it
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    protocol: SecurityProtocol = Field(
        default="PLAINTEXT", description="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL (TLS and SCRAM)"
    )
    ca_file: Path | None = Field(
        default=None,
        description="PEM file of the CA(s) that signed the brokers' certificates; unset: "
        "the system's trust store",
    )
    cert_file: Path | None = Field(default=None, description="PEM client certificate (mutual TLS)")
    key_file: Path | None = Field(default=None, description="PEM private key of cert_file")
    check_hostname: bool = Field(default=True, description="check the broker's name in its certificate")
    sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = Field(
        default="SCRAM-SHA-512", description="SASL mechanism"
    )
    sasl_username: str | None = Field(default=None, description="SASL user (the Kafka principal User:<name>)")
    sasl_password: SecretStr | None = Field(default=None, description="SASL password (a secret)")
    sasl_password_file: Path | None = Field(
        default=None, description="file holding the SASL password (one line), instead of sasl_password"
    )

    @property
    def tls(self) -> bool:
        """Whether the connection is TLS (SSL or SASL_SSL)."""
        return self.protocol in _TLS

    @property
    def sasl(self) -> bool:
        """Whether the client authenticates with SASL."""
        return self.protocol in _SASL

    @model_validator(mode="after")
    def _check_consistent(self) -> SecuritySettings:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together (mutual TLS needs both)")
        if not self.tls and (self.ca_file or self.cert_file):
            raise ValueError(
                f"ca_file, cert_file and key_file need protocol SSL or SASL_SSL, not {self.protocol}"
            )
        has_password = self.sasl_password is not None or self.sasl_password_file is not None
        if self.sasl:
            if not self.sasl_username:
                raise ValueError(f"protocol {self.protocol} needs sasl_username")
            if (self.sasl_password is None) == (self.sasl_password_file is None):
                raise ValueError(
                    f"protocol {self.protocol} needs exactly one of sasl_password and sasl_password_file"
                )
        elif self.sasl_username or has_password:
            raise ValueError(
                "sasl_username and its password need protocol SASL_PLAINTEXT or SASL_SSL, "
                f"not {self.protocol}"
            )
        return self
