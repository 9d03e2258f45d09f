"""What an institution runs: ``crossbound.client``, a small async client of the platform.

* :class:`Institution` publishes signed requests and awaits their verdicts, each verified against
  the platform's key of its side (a verdict that is not the platform's raises
  :class:`VerdictRefused`, never returns as good);
* :class:`Attester` serves the attestation requests addressed to a data holder with an async
  callback, after checking the platform signed them, and signs and sends the answers;
* :class:`Issuer` publishes the signed fingerprints of the documents a data source issues (fingerprint
  mode), and revokes them;
* :class:`Identity` is who the client acts as, :class:`Trust` its signer and the registry it
  verifies against (no ``Trust``: the unsigned path of a deployment without a registry);
* :func:`normalise_identifier`, :func:`hmac_identifier`, :func:`document_digest`: what an institution
  computes before anything crosses;
* :class:`Wire` / :class:`KafkaWire`: the one seam to Kafka (TLS and SASL through
  :class:`~crossbound.broker.security.ClientSecurity`).

The README's "Integrating an institution" is the guide; ``examples/client_example.py`` runs.
"""

from __future__ import annotations

from crossbound.client.attester import Answer, Attester
from crossbound.client.errors import ClientError, IdentityError, VerdictRefused, VerdictTimeout
from crossbound.client.identifiers import document_digest, hmac_identifier, normalise_identifier
from crossbound.client.identity import Identity, Trust, institution_signer
from crossbound.client.institution import Institution
from crossbound.client.issuer import Issuer
from crossbound.client.metrics import ClientMetrics
from crossbound.client.wire import KafkaWire, Received, Wire

__all__ = [
    "Answer",
    "Attester",
    "ClientError",
    "ClientMetrics",
    "Identity",
    "IdentityError",
    "Institution",
    "Issuer",
    "KafkaWire",
    "Received",
    "Trust",
    "VerdictRefused",
    "VerdictTimeout",
    "Wire",
    "document_digest",
    "hmac_identifier",
    "institution_signer",
    "normalise_identifier",
]
