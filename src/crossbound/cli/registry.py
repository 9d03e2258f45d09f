"""``crossbound registry check FILE`` and ``crossbound registry generate DIR``: the participant registry.

``check`` reads a registry as the worker does at start-up (against the rule sets of ``--rulesets``)
and says what is wrong, naming the entry, or how many participants it holds. ``generate`` writes a
registry of the simulator's institutions with fresh Ed25519 keys and SCRAM passwords, for the demo
and the tests, into a directory outside any git work tree.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from crossbound.cli.shared import Subparsers, add_json_flag, add_paths_flags, settings_from_args
from crossbound.domain import Side
from crossbound.settings import Settings

__all__ = ["add_parser", "run_check", "run_generate", "scenarios_of"]


def add_parser(sub: Subparsers) -> None:
    """The ``registry`` subcommand and its ``check`` and ``generate`` actions."""
    p = sub.add_parser("registry", help="check or generate a participant registry")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    check = actions.add_parser("check", help="check a registry file as the worker would at start-up")
    check.add_argument("file", type=Path, metavar="FILE")
    add_paths_flags(check)
    add_json_flag(
        check, 'one JSON line: {"participants": N, "active": N, "keys": N, "platform_keys": N, "file": ...}'
    )
    check.set_defaults(run=run_check)
    gen = actions.add_parser(
        "generate", help="write a demo/test registry with private keys and passwords to DIR (outside git)"
    )
    gen.add_argument("directory", type=Path, metavar="DIR")
    gen.add_argument("--days", type=int, default=365, help="validity of the signing keys (default 365)")
    add_paths_flags(gen)
    gen.set_defaults(run=run_generate)


def scenarios_of(settings: Settings) -> dict[str, tuple[Side, Side]]:
    """Scenario id -> (requester side, attester side) of the rule sets the settings name."""
    from crossbound.codec import SchemaRegistry
    from crossbound.rules import load_catalogue
    from crossbound.runtime.worker import scenario_sides

    catalogue = load_catalogue(
        settings.pipeline.rulesets_dir, SchemaRegistry.load(settings.pipeline.schemas_dir)
    )
    return scenario_sides(catalogue)


def run_check(args: argparse.Namespace) -> int:
    """Run ``crossbound registry check``: exit 0 when usable, 2 naming the fault when not."""
    from crossbound.participants import load_registry

    registry = load_registry(args.file, scenarios_of(settings_from_args(args)))
    summary = {
        "participants": len(registry.participants),
        "active": sum(p.active for p in registry.participants),
        "keys": sum(len(p.keys) for p in registry.participants),
        "platform_keys": len(registry.platform),
        "file": str(args.file),
    }
    if args.json:
        print(json.dumps(summary))
    else:
        print(
            f"{args.file}: {summary['participants']} participants ({summary['active']} active), "
            f"{summary['keys']} signing keys, {summary['platform_keys']} platform keys",
            file=sys.stderr,
        )
    return 0


def run_generate(args: argparse.Namespace) -> int:
    """Run ``crossbound registry generate``."""
    from crossbound.testing.participants import generate_registry

    made = generate_registry(args.directory, scenarios_of(settings_from_args(args)), days=args.days)
    print(made.path)
    print(
        f"wrote {made.path} with {len(made.passwords)} participants; private keys in "
        f"{made.path.parent / 'keys'}, SCRAM passwords in {made.path.parent / 'scram'}",
        file=sys.stderr,
    )
    return 0
