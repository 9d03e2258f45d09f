"""``crossbound scenarios list|show``: the scenario catalogue from the rule sets, for people or JSON."""

from __future__ import annotations

import argparse
import json

from crossbound.cli.shared import Subparsers, add_json_flag, add_paths_flags, settings_from_args
from crossbound.errors import InputError

__all__ = ["add_parser", "run"]


def add_parser(sub: Subparsers) -> None:
    """The ``scenarios`` subcommand and its actions."""
    p = sub.add_parser("scenarios", help="the scenario catalogue from the rule sets: list, or show one")
    p.set_defaults(run=run)
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    q = actions.add_parser("list", help="one line per scenario: id, sides, theme, status, rules, title")
    add_json_flag(q, "a JSON array")
    add_paths_flags(q)
    q = actions.add_parser("show", help="one scenario: sides, purposes, fields by class, rules")
    q.add_argument("scenario", metavar="ID")
    add_json_flag(q, "one JSON object")
    add_paths_flags(q)


def _dump(value: object) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


def run(args: argparse.Namespace) -> int:
    """Run ``crossbound scenarios``."""
    from crossbound.cli import scenario_view as view

    settings = settings_from_args(args)
    catalogue, registry = view.load(settings.pipeline.schemas_dir, settings.pipeline.rulesets_dir)
    if args.action == "list":
        rows = view.scenario_rows(catalogue)
        print(_dump([r.as_json() for r in rows]) if args.json else view.format_list(rows))
        return 0
    rs = catalogue.scenarios.get(args.scenario)
    if rs is None:
        raise InputError(
            f"unknown scenario {args.scenario!r}; known: {', '.join(sorted(catalogue.scenarios))}"
        )
    detail = view.scenario_view(rs, registry)
    print(_dump(detail.as_json()) if args.json else view.format_scenario(detail))
    return 0
