"""Regenerate README.md's scenario table from the rule sets (``make readme``).

The table sits between ``<!-- scenarios:begin -->`` and ``<!-- scenarios:end -->``; everything else in
README.md is left as it is. ``--check`` only says whether the table is up to date (exit 1 if not), as
``tests/unit/cli/test_catalogue_view.py`` does on every test run::

    python scripts/update_readme.py [--check] [--readme PATH] [--schemas DIR] [--rulesets DIR]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from crossbound._data import default_rulesets_dir, default_schemas_dir
from crossbound.cli.scenario_view import load, scenario_rows
from crossbound.errors import ConfigError
from crossbound.rules import Catalogue

README_BEGIN: Final = "<!-- scenarios:begin -->"
README_END: Final = "<!-- scenarios:end -->"
WRITE_COMMAND: Final = "make readme (python scripts/update_readme.py)"
README: Final = Path(__file__).resolve().parents[1] / "README.md"


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def readme_table(catalogue: Catalogue) -> str:
    """README's scenario table (Markdown): id, sides, theme, scheme and platform status, PIPL, title."""
    lines = [
        "| scenario | requester → attester | theme | scheme status | on the platform | PIPL outbound"
        " | own rules | title |",
        "|---|---|---|---|---|---|---:|---|",
    ]
    for r in scenario_rows(catalogue):
        pipl = "yes" if r.pipl_outbound else "no"
        cells = (
            f"`{r.id}`",
            r.direction,
            r.theme,
            r.status,
            r.platform_status,
            pipl,
            str(r.own_rules),
            r.title,
        )
        lines.append("| " + " | ".join(_md_cell(c) for c in cells) + " |")
    return "\n".join(lines)


def replace_readme_region(text: str, table: str) -> str:
    """``text`` with everything between the scenario markers replaced by ``table``.

    Raises ValueError unless each marker occurs exactly once, begin before end.
    """
    if text.count(README_BEGIN) != 1 or text.count(README_END) != 1:
        raise ValueError(f"README needs exactly one {README_BEGIN} and one {README_END}")
    head, rest = text.split(README_BEGIN)
    if README_END not in rest:
        raise ValueError(f"{README_END} must come after {README_BEGIN}")
    _, tail = rest.split(README_END)
    return f"{head}{README_BEGIN}\n{table}\n{README_END}{tail}"


def main(argv: Sequence[str] | None = None) -> int:
    """Rewrite (or with ``--check``, only compare) README's scenario table; 2 if it cannot."""
    parser = argparse.ArgumentParser(prog="scripts/update_readme.py", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the table is out of date; write nothing"
    )
    parser.add_argument("--readme", type=Path, default=README, metavar="PATH", help="default: the checkout's")
    parser.add_argument("--schemas", type=Path, default=None, metavar="DIR")
    parser.add_argument("--rulesets", type=Path, default=None, metavar="DIR")
    args = parser.parse_args(argv)
    readme: Path = args.readme
    try:
        catalogue, _ = load(args.schemas or default_schemas_dir(), args.rulesets or default_rulesets_dir())
    except ConfigError as exc:
        print(f"update_readme: {exc}", file=sys.stderr)
        return 2
    try:
        text = readme.read_text(encoding="utf-8")
        new = replace_readme_region(text, readme_table(catalogue))
    except (ValueError, OSError) as exc:
        print(f"update_readme: {readme}: {exc}", file=sys.stderr)
        return 2
    if new == text:
        print(f"{readme}: scenario table up to date ({len(catalogue.scenarios)} scenarios)", file=sys.stderr)
        return 0
    if args.check:
        print(f"{readme}: scenario table is out of date; run {WRITE_COMMAND}", file=sys.stderr)
        return 1
    readme.write_text(new, encoding="utf-8")
    print(f"{readme}: scenario table rewritten ({len(catalogue.scenarios)} scenarios)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
