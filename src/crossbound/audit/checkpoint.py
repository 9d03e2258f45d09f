"""Signed checkpoints: a side's chain heads, signed with its platform key, kept on both sides.

A checkpoint is a JSON object (``type`` ``checkpoint``): the ``side`` (``HK``, ``SZ``) whose chains
it vouches for, ``heads`` (each chain's name, ``seq`` and ``digest``, sorted by chain), ``at_ms`` and
``signature``: a ``crossbound.signature`` header value (:mod:`crossbound.signing`) made with the
side's ``[[platform]]`` key over the checkpoint's canonical bytes (:func:`~crossbound.audit.entry.
canonical`: every field but ``signature``), bound to (side, ``audit_checkpoint``,
``crossbound.audit.checkpoint``), at ``at_ms``: a kind of its own, so no checkpoint signature verifies
as a verdict's nor the reverse.

The worker writes each checkpoint first to the *other* side's audit topic (the cross-anchor), then
to its own: a crash in between leaves an anchor without its original, which the verifier accepts
(the anchor is still checked against the chain), never an original without its anchor, which it
rejects (:mod:`~crossbound.audit.verify`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from crossbound.audit.chains import Head
from crossbound.audit.entry import FORMAT, canonical
from crossbound.domain import Side
from crossbound.signing import HEADER, BadHeader, Binding, RecordKind, Refused, Signature, Signer, Verifier

__all__ = ["CHECKPOINT_KEY", "binding", "make_checkpoint", "verify_checkpoint"]

CHECKPOINT_KEY: Final = b"crossbound.audit.checkpoint"


def binding(side: Side) -> Binding:
    """What a checkpoint's signature is bound to."""
    return Binding(side, RecordKind.AUDIT_CHECKPOINT, CHECKPOINT_KEY)


def make_checkpoint(signer: Signer, side: Side, heads: Mapping[str, Head], at_ms: int) -> dict[str, Any]:
    """The signed checkpoint of ``heads`` (chain -> head) of ``side``."""
    cp: dict[str, Any] = {
        "v": FORMAT,
        "type": "checkpoint",
        "side": side.value,
        "heads": [{"chain": c, "seq": h.seq, "digest": h.digest} for c, h in sorted(heads.items())],
        "at_ms": at_ms,
    }
    cp["signature"] = signer.signature(canonical(cp), binding(side), at_ms).header_value().decode()
    return cp


def verify_checkpoint(cp: Mapping[str, Any], verifier: Verifier) -> str | None:
    """None if ``cp`` is signed by a platform key of its side in the ``verifier``'s registry, valid when
    it was signed; else why not (naming registry entries only)."""
    try:
        side = Side(cp["side"])
        raw = str(cp["signature"]).encode("ascii")
        signed_at = Signature.parse(raw).signed_at_ms
    except (KeyError, ValueError, BadHeader) as exc:
        return f"not a signed checkpoint ({exc})"
    if signed_at != cp.get("at_ms"):
        return "its signature's time is not its at_ms"
    # offline: the time checked is the key's validity at signing, not the distance to a clock
    found = verifier.verify_platform(canonical(dict(cp)), [(HEADER, raw)], binding(side), now_ms=signed_at)
    if isinstance(found, Refused):
        return f"{found.reason.value}: {found.detail}"
    return None
