"""What a verified signer may do: the checks the pipeline makes once a signature verifies.

An institution is named in records by ``(scheme, id)``. A request must be signed by the institution
it names as ``requester_inst``; an attestation by the one it names as ``attester_inst``; and that
institution must be active and hold the role (``may_request``, ``may_attest``) for the scenario. Any
of these failing is ``not_authorised``. An attestation signed by the very institution it names, but
not the attester the request named, is ``wrong_attester``: someone answered who was not asked.
"""

from __future__ import annotations

from crossbound.participants import Participant, Registry
from crossbound.signing.verifier import RefusalReason, Refused, Verified

__all__ = ["Institution", "authorise_attester", "authorise_requester"]

Institution = tuple[str, str]  # (scheme, id), as records name an institution


def _signer_is(
    registry: Registry, verified: Verified, named: Institution, role: str, scenario: str
) -> Refused | None:
    signer = verified.participant
    if registry.find(*named) is not signer:
        return Refused(
            RefusalReason.NOT_AUTHORISED, f"signed by {signer.key!r}, not by the {role} the record names"
        )
    if not signer.active:
        return Refused(RefusalReason.NOT_AUTHORISED, f"signer {signer.key!r} is {signer.status.value}")
    roles = signer.may_request if role == "requester" else signer.may_attest
    if scenario not in roles:
        return Refused(
            RefusalReason.NOT_AUTHORISED, f"signer {signer.key!r} may not act as {role} in {scenario!r}"
        )
    return None


def authorise_requester(
    registry: Registry, verified: Verified, scenario: str, requester: Institution
) -> Refused | None:
    """None if the signer is the active ``requester`` and may request in ``scenario``."""
    return _signer_is(registry, verified, requester, "requester", scenario)


def authorise_attester(
    registry: Registry,
    verified: Verified,
    scenario: str,
    attester: Institution,
    asked: Institution,
) -> Refused | None:
    """None if the signer is the active ``attester`` the attestation names, may attest in
    ``scenario``, and is the one the request ``asked``."""
    refused = _signer_is(registry, verified, attester, "attester", scenario)
    if refused is not None:
        return refused
    if registry.find(*asked) is not verified.participant:
        signer: Participant = verified.participant
        return Refused(
            RefusalReason.WRONG_ATTESTER, f"signed by {signer.key!r}, not by the attester the request named"
        )
    return None
