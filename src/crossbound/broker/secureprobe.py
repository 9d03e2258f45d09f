"""Whether a secured Kafka node is up: one authenticated Metadata round trip, from a plain thread.

The raw Metadata v0 probe of :func:`crossbound.broker.net.metadata_probe` cannot speak TLS and SASL,
so a secured :class:`~crossbound.broker.kafka.KafkaCluster` asks with aiokafka as its super user. The
cluster's ``start`` is synchronous and may be called from a thread that runs an event loop, so the
asking runs in a thread of its own.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from typing import TYPE_CHECKING

from pydantic import SecretStr

from crossbound.broker.kafka_config import SecureMode
from crossbound.broker.security import ClientSecurity

if TYPE_CHECKING:
    from crossbound.broker.testca import GeneratedPki

__all__ = ["admin_security", "secure_probe"]


def admin_security(pki: GeneratedPki, user: str, password: str) -> ClientSecurity:
    """SASL_SSL/SCRAM-SHA-512 as ``user``, trusting only the test CA."""
    import ssl

    context = ssl.create_default_context(cafile=str(pki.ca_file))
    return ClientSecurity("SASL_SSL", context, "SCRAM-SHA-512", user, SecretStr(password))


async def _broker_ids(bootstrap: str, security: ClientSecurity) -> set[int]:
    from crossbound.broker.session import started_admin

    admin = await started_admin(bootstrap, 2.0, security)
    try:
        cluster = await admin.describe_cluster()
    finally:
        await admin.close()
    return {int(b["node_id"]) for b in cluster["brokers"]}


def secure_probe(bootstrap: str, secure: SecureMode) -> set[int]:
    """The node ids the node at ``bootstrap`` lists; raises ``OSError``/``ValueError`` while it cannot
    answer (as the plain probe does)."""
    security = admin_security(secure.pki, *secure.admin)
    quiet = logging.getLogger("aiokafka")  # a refused connection while the node starts is expected
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    try:
        return _ask(bootstrap, security)
    finally:
        quiet.setLevel(level)


def _ask(bootstrap: str, security: ClientSecurity) -> set[int]:
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        future = pool.submit(asyncio.run, asyncio.wait_for(_broker_ids(bootstrap, security), 3.0))
        try:
            return future.result()
        except (TimeoutError, OSError) as exc:
            raise OSError(f"no authenticated answer: {exc!r}") from exc
        except Exception as exc:
            raise ValueError(f"no authenticated answer: {exc!r}") from exc
