"""The simulated institutions and data holders of a traffic mix, each one a :mod:`crossbound.client`.

Every requester a case names gets its :class:`~crossbound.client.Institution` and every data holder
its :class:`~crossbound.client.Attester`, each on its own topics (``per_institution``) or its side's
(``shared``), signing and verifying when a registry and the participants' keys are given (the
registry's directory holds ``keys/<key_id>.private.pem``, as ``crossbound registry generate`` writes
them), unsigned otherwise. Each connects with ``security``, or, given ``login``, as the participant
it plays (its own SCRAM user, as ``crossbound demo --secure`` runs them). :meth:`Institutions.run`
publishes a case's request through its requester and waits for the verdict; its data holder answers
with the case's attestation (none: unanswered).
A verdict that does not arrive in time is no outcome (the demo finds those requests dead-lettered).
A case whose requester is not registered cannot be sent signed: :class:`~crossbound.client.IdentityError`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crossbound.broker.security import PLAINTEXT, ClientSecurity
from crossbound.client import Attester, Identity, IdentityError, Institution, Trust, VerdictRefused
from crossbound.codec import Codec
from crossbound.codec.records import Verdict
from crossbound.domain import Side
from crossbound.participants import Registry
from crossbound.rules import Catalogue
from crossbound.testing.traffic import Case
from crossbound.topics import Topics

__all__ = ["Institutions", "Outcome"]


@dataclass
class Outcome:
    """What the requesters saw: verified verdicts and refused ones, by request id."""

    verdicts: dict[str, Verdict] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)  # request id -> reason


def identity(inst: Mapping[str, Any], side: Side, registry: Registry | None) -> Identity:
    """The identity of a record's institution: the registry's entry, or (unregistered) its id in lower
    case as the participant key, as ``crossbound registry generate`` names them."""
    if registry is None:
        return Identity(str(inst["id"]).lower(), inst["scheme"], inst["id"], side, inst.get("city"))
    found = registry.find(inst["scheme"], inst["id"])
    if found is None:
        raise IdentityError(f"{inst['scheme']} {inst['id']} is not in {registry.path}: it cannot sign")
    return Identity.of(found)


class Institutions:
    """The clients of the institutions ``cases`` name, started and stopped together."""

    def __init__(
        self,
        bootstrap: str,
        topics: Topics,
        codec: Codec,
        catalogue: Catalogue,
        cases: Iterable[Case],
        *,
        security: ClientSecurity = PLAINTEXT,
        registry: Registry | None = None,
        login: Callable[[Identity], ClientSecurity] | None = None,
    ) -> None:
        self.outcome = Outcome()
        self.answers: dict[str, Mapping[str, Any]] = {}
        self.requesters: dict[tuple[str, str], Institution] = {}
        self.attesters: dict[tuple[str, str], Attester] = {}
        keys = None if registry is None else Path(registry.path).parent / "keys"

        def trust(who: Identity) -> Trust | None:
            if registry is None or keys is None:
                return None
            participant = registry.find(who.scheme, who.id)
            assert participant is not None  # identity() found it
            return Trust.load(registry, who, keys / f"{participant.keys[0].key_id}.private.pem")

        def connect(who: Identity) -> ClientSecurity:
            return security if login is None else login(who)

        for case in cases:
            if case.request is None:
                continue
            req = case.request["requester_inst"]
            if (req["scheme"], req["id"]) not in self.requesters:
                who = identity(req, Side(case.requester_side), registry)
                self.requesters[req["scheme"], req["id"]] = Institution(
                    bootstrap, who, topics, codec, catalogue, trust=trust(who), security=connect(who)
                )
            att = case.request["attester_inst"]
            if (att["scheme"], att["id"]) not in self.attesters:
                who = identity(att, Side(case.attester_side), registry)
                self.attesters[att["scheme"], att["id"]] = Attester(
                    bootstrap,
                    who,
                    topics,
                    codec,
                    catalogue,
                    self._answer,
                    trust=trust(who),
                    security=connect(who),
                )
        self._stack = contextlib.AsyncExitStack()

    async def __aenter__(self) -> Institutions:
        clients = [*self.attesters.values(), *self.requesters.values()]
        await asyncio.gather(*(self._stack.enter_async_context(c) for c in clients))
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.aclose()

    async def _answer(self, asked: dict[str, Any]) -> Mapping[str, Any] | None:
        return self.answers.get(asked["request_id"])

    async def run(self, case: Case, created_ms: int | None, timeout_s: float) -> None:
        """Publish a case's request and wait for its verdict (into :attr:`outcome`)."""
        await self.wait(case, await self.publish(case, created_ms), timeout_s)

    async def publish(self, case: Case, created_ms: int | None = None) -> str:
        """Publish a case's request through its requester (stamped ``created_ms``, one-hour lifetime)
        and register its data holder's answer; the request id."""
        assert case.request is not None
        request = dict(case.request)
        if created_ms is not None:
            request["created_at"] = created_ms
            request["expires_at"] = created_ms + 3_600_000
        if case.attestation is not None:
            self.answers[str(request["request_id"])] = case.attestation
        inst = request["requester_inst"]
        return await self.requesters[inst["scheme"], inst["id"]].publish(request)

    async def wait(self, case: Case, request_id: str, timeout_s: float) -> None:
        """Wait for the verdict of ``request_id`` (published for ``case``) into :attr:`outcome`."""
        assert case.request is not None
        inst = case.request["requester_inst"]
        try:
            verdict = await self.requesters[inst["scheme"], inst["id"]].verdict(request_id, timeout_s)
        except VerdictRefused as exc:
            self.outcome.refused[request_id] = exc.reason
        else:
            self.outcome.verdicts[request_id] = verdict
