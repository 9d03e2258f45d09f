"""Field paths (``payload.subject_uscc``, ``request.consent.withdrawn``) compiled into getters.

A path starts at one of the roots a :class:`~crossbound.rules.model.Context` holds and walks mapping
keys; a missing key anywhere reads as None. Checks, the compiler and the stateful hops all read
fields this way, so a path means the same thing wherever a rule names it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from crossbound.rules.model import Context

__all__ = ["ROOTS", "Getter", "getter", "getters"]

ROOTS = ("request", "payload", "attestation", "consent")

Getter = Callable[[Context], Any]


def getter(path: str) -> Getter:
    """A fast accessor for a dotted field path such as ``payload.subject_uscc``."""
    root, *keys = path.split(".")
    if root not in ROOTS:
        raise ValueError(f"field {path!r} must start with request., payload., attestation. or consent.")
    if len(keys) == 1:
        return _field(root, keys[0])

    def get_path(ctx: Context) -> Any:
        obj = ctx.root(root)
        for k in keys:
            if obj is None:
                return None
            obj = obj.get(k)
        return obj

    return get_path


def _field(root: str, key: str) -> Getter:
    """A root's own field, read without :meth:`Context.root`'s dispatch: most paths are these."""
    if root == "payload":
        return lambda ctx: ctx.payload.get(key)
    if root == "request":
        return lambda ctx: ctx.request.get(key)

    def get_one(ctx: Context) -> Any:
        obj = ctx.root(root)
        return None if obj is None else obj.get(key)

    return get_one


def getters(fields: Sequence[str], at_least: int = 1) -> list[tuple[str, Getter]]:
    """Each path with its getter; ValueError when fewer than ``at_least`` paths are given."""
    if len(fields) < at_least:
        raise ValueError(f"needs at least {at_least} field(s)")
    return [(f, getter(f)) for f in fields]
