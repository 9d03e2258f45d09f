"""A requesting institution: publish signed requests, await their verdicts, verified.

::

    async with Institution(wire, identity, topics, codec, catalogue, trust=trust) as me:
        verdict = await me.request_and_wait(request, timeout_s=30)

:meth:`Institution.publish` fills the request's envelope where it is left out (a fresh ``request_id``,
this institution as ``requester_inst``, its side), encodes it with the project's codec (Avro, schema
named by its fingerprint ahead of the body), signs it and waits for the broker's acknowledgement.
:meth:`Institution.verdict` waits for the verdict of a request id on the institution's verdicts
topic. A verdict is handed back only if the platform's key of this side signed it (with a
:class:`~crossbound.client.Trust`), it decodes as a verdict, and it is the verdict of the request its
key names; otherwise :class:`~crossbound.client.VerdictRefused`, counted, and the refusal is what
``verdict`` raises. Later copies of a verdict (the platform may repeat one) are ignored.
"""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections.abc import Mapping
from typing import Any

from crossbound.client.endpoint import Endpoint
from crossbound.client.errors import ClientError, IdentityError, VerdictRefused, VerdictTimeout
from crossbound.client.wire import Received
from crossbound.codec.jsonform import request_from_json
from crossbound.codec.records import Verdict
from crossbound.errors import DecodeError
from crossbound.signing import RecordKind

__all__ = ["Institution"]

_VERDICT = frozenset({"core/verdict"})


class Institution(Endpoint):
    """An institution that requests: see the module docstring.

    ``bootstrap`` and ``security`` connect it (or pass a ready ``wire``); ``trust`` signs and verifies
    (None: the unsigned path of a deployment without a registry); ``clock`` gives epoch seconds
    (the keywords: :class:`~crossbound.client.endpoint.Options`).
    """

    reads_topic = "verdicts"

    @functools.cached_property
    def _waiting(self) -> dict[str, asyncio.Future[Verdict]]:
        """The futures of the verdicts awaited, by request id (made on first use)."""
        return {}

    def encode(self, request: Mapping[str, Any]) -> tuple[str, bytes]:
        """The request id and encoded value of ``request`` (JSON form, envelope filled in)."""
        obj = dict(request)
        obj.setdefault("request_id", str(uuid.uuid4()))
        obj.setdefault("requester_inst", self.identity.institution)
        obj.setdefault("requester_side", self.identity.side.value)
        if (
            not self.identity.names(obj["requester_inst"])
            or obj["requester_side"] != self.identity.side.value
        ):
            raise IdentityError(f"the request names another requester than {self.identity.key!r}")
        record = request_from_json(obj, self.codec, self.catalogue)
        return record["request_id"], self.codec.encode("core/request", record)

    async def publish(self, request: Mapping[str, Any]) -> str:
        """Encode, sign and send ``request``; its request id once the broker acknowledged it.

        :class:`~crossbound.errors.InputError` if it does not validate, :class:`IdentityError` if it
        names another requester.
        """
        request_id, value = self.encode(request)
        self._future(request_id)
        try:
            await self.send(
                self.identity.topic(self.topics, "requests"), RecordKind.REQUEST, request_id.encode(), value
            )
        except BaseException:
            self._waiting.pop(request_id, None)
            raise
        return request_id

    async def verdict(self, request_id: str, timeout_s: float = 60.0) -> Verdict:
        """The verified verdict of ``request_id``; :class:`VerdictRefused` or :class:`VerdictTimeout`."""
        settled = self._waiting.get(request_id)
        if not self.reading and (settled is None or not settled.done()):
            raise ClientError(f"not reading {self.reads}: use the client with `async with` (or it failed)")
        future = self._future(request_id)
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout_s)
        except TimeoutError:
            raise VerdictTimeout(request_id, timeout_s) from None
        finally:
            if future.done():
                self._waiting.pop(request_id, None)

    async def request_and_wait(self, request: Mapping[str, Any], timeout_s: float = 60.0) -> Verdict:
        """:meth:`publish`, then :meth:`verdict`."""
        return await self.verdict(await self.publish(request), timeout_s)

    def forget(self, request_id: str) -> None:
        """Stop waiting for ``request_id`` (a published request whose verdict nobody will ask for)."""
        future = self._waiting.pop(request_id, None)
        if future is not None and not future.done():
            future.cancel()

    def _future(self, request_id: str) -> asyncio.Future[Verdict]:
        future = self._waiting.get(request_id)
        if future is None:
            future = self._waiting[request_id] = asyncio.get_running_loop().create_future()
        return future

    async def handle(self, rec: Received) -> None:
        """A record on the verdicts topic: settle the future of its request, if one waits."""
        request_id = (rec.key or b"").decode("utf-8", "replace")
        future = self._waiting.get(request_id)
        if future is None or future.done():
            return  # another institution's (shared layout), or a copy of one already settled
        refused = self.check(rec, RecordKind.VERDICT)
        if refused is not None:
            self._refuse(future, request_id, refused.reason.value, refused.detail)
            return
        try:
            verdict: Verdict = self.codec.decode_input(rec.value or b"", _VERDICT)[1]  # type: ignore[assignment]
        except DecodeError as exc:
            self._refuse(future, request_id, "undecodable", exc.reason)
            return
        if verdict["request_id"] != request_id:
            self._refuse(
                future, request_id, "wrong_request", "the verdict is of another request than its key"
            )
            return
        future.set_result(verdict)

    def stopped(self, exc: Exception) -> None:
        """Every verdict still awaited fails: none can arrive any more."""
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(ClientError(f"stopped reading {self.reads}: {type(exc).__name__}"))

    def _refuse(self, future: asyncio.Future[Verdict], request_id: str, reason: str, detail: str) -> None:
        self.refuse("verdict", reason)
        future.set_exception(VerdictRefused(request_id, reason, detail))
