"""``crossbound acl``: the Kafka ACLs a participant registry implies, printed or applied.

The ACLs are those of :mod:`crossbound.participants.acls` over the ``per_institution`` topic layout
(with ``--topic-prefix``): ``kafka-acls.sh`` lines by default, JSON with ``--json``. ``--apply``
creates them on ``--broker`` through the admin protocol, as a principal allowed to (a super user);
``--prune`` also deletes the bindings of the registry's principals that it no longer implies (a
participant suspended or revoked, a role taken away).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from crossbound.broker.security import ClientSecurity
from crossbound.cli.shared import (
    Subparsers,
    add_broker_flag,
    add_json_flag,
    add_paths_flags,
    add_setting,
    connect_broker,
    settings_from_args,
)
from crossbound.errors import InputError
from crossbound.participants import Acl

__all__ = ["add_parser", "run"]


def add_parser(sub: Subparsers) -> None:
    """The ``acl`` subcommand (``acl print``)."""
    p = sub.add_parser("acl", help="print (or apply) the Kafka ACLs a participant registry implies")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    show = actions.add_parser(
        "print",
        help="print the ACLs as kafka-acls.sh lines (or JSON); --apply creates them on --broker",
        description=__doc__.splitlines()[0],
    )
    show.add_argument("--registry", type=Path, required=True, metavar="FILE", help="the registry file")
    add_setting(show, "--topic-prefix", "pipeline.topic_prefix")
    show.add_argument("--apply", action="store_true", help="create the ACLs on --broker (needs a super user)")
    show.add_argument(
        "--prune",
        action="store_true",
        help="with --apply: also delete the registry principals' bindings it no longer implies "
        "(suspended or revoked participants, roles taken away)",
    )
    add_broker_flag(show)
    add_paths_flags(show)
    add_json_flag(show, "the ACLs as one JSON array")
    show.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run ``crossbound acl print``."""
    from crossbound.participants import acl_lines, registry_acls
    from crossbound.runtime.worker import load_components

    if args.prune and not args.apply:
        raise InputError("--prune goes with --apply")
    settings = settings_from_args(args)
    pipe = settings.pipeline.model_copy(
        update={"participants": args.registry, "topic_layout": "per_institution"}
    )
    components = load_components(settings.model_copy(update={"pipeline": pipe}), signers=False)
    assert components.participants is not None  # load_components read --registry
    acls = registry_acls(components.participants, components.topics)
    if args.json:
        print(json.dumps([acl.as_dict() for acl in acls], indent=2))
    else:
        url = settings.kafka.broker.removeprefix("kafka://") if settings.kafka.broker else "BOOTSTRAP"
        for line in acl_lines(acls, url):
            print(line)
    if args.apply:
        broker = connect_broker(settings, "acl print --apply")
        principals = {p.principal for p in components.participants.participants}
        sent, pruned = broker.run(_apply(broker.bootstrap, acls, principals, args.prune, broker.security))
        print(
            f"applied {sent} ACL(s), deleted {pruned} on {broker.url} as {broker.security.describe()}",
            file=sys.stderr,
        )
    return 0


async def _apply(
    bootstrap: str, acls: list[Acl], principals: set[str], prune: bool, security: ClientSecurity
) -> tuple[int, int]:
    from crossbound.broker.acls import apply_acls, delete_acls, describe_acls, stale_acls

    sent = await apply_acls(bootstrap, acls, security=security)
    if not prune:
        return sent, 0
    stale = stale_acls(await describe_acls(bootstrap, security=security), acls, principals)
    return sent, await delete_acls(bootstrap, stale, security=security)
