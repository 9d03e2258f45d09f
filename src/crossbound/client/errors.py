"""What the client raises: a verdict it will not hand back, a verdict that did not come, a bad setup.

::

    CrossboundError
    └── ClientError                 the client refuses to go on (its message names no value)
        ├── VerdictRefused          a verdict arrived but is not the platform's: ``reason`` says why
        ├── VerdictTimeout          no verdict within the timeout (also a ``TimeoutError``)
        └── IdentityError           a key, registry entry or record that is not this institution's

A refused verdict is never returned as good: :meth:`~crossbound.client.Institution.verdict` raises
:class:`VerdictRefused` instead. Its ``reason`` is a :class:`~crossbound.signing.RefusalReason` value
(``unsigned``, ``bad_signature``, ``unknown_signer``, ``key_expired``) or one of the client's own
(``undecodable``, ``wrong_request``); see the README's integration guide for what each means.
"""

from __future__ import annotations

from crossbound.errors import CrossboundError

__all__ = ["ClientError", "IdentityError", "VerdictRefused", "VerdictTimeout"]


class ClientError(CrossboundError):
    """Root of what the institution client raises."""


class VerdictRefused(ClientError):
    """The record on the verdicts topic for ``request_id`` failed the client's checks."""

    def __init__(self, request_id: str, reason: str, detail: str) -> None:
        self.request_id = request_id
        self.reason = reason
        self.detail = detail
        super().__init__(f"verdict for request {request_id} refused: {reason} ({detail})")


class VerdictTimeout(ClientError, TimeoutError):
    """No verdict for ``request_id`` arrived within the timeout."""

    def __init__(self, request_id: str, timeout_s: float) -> None:
        self.request_id = request_id
        self.timeout_s = timeout_s
        super().__init__(
            f"no verdict for request {request_id} within {timeout_s:g} s (a request the platform "
            "refused goes to its dead-letter topic, which the platform's operator reads)"
        )


class IdentityError(ClientError, ValueError):
    """The institution's identity, key or a record it was handed do not agree (raised before sending)."""
