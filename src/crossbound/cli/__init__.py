"""The ``crossbound`` command: broker, worker, demo, check, publish, record, replay, ids, scenarios,
registry, acl, audit.

One module per command (``cli/<command>.py``) declares its flags (``add_parser``) and runs it
(``run``); this module only assembles them and turns errors into exit codes. Setting flags are
declared from the :class:`~crossbound.settings.Settings` model (:mod:`crossbound.cli.shared`), so
environment variables (``CROSSBOUND_...``) fill in what flags do not say, for every command.

Exit codes: 0 success; 1 a failure (a broker that cannot be reached, an invalid identifier, ``check
--fail-on`` met, the demo's answers not as intended); 2 unusable input or settings; 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from pydantic import ValidationError

from crossbound import __version__
from crossbound.cli import (
    acl,
    audit,
    broker,
    check,
    demo,
    ids,
    publish,
    recording,
    registry,
    scenarios,
    worker,
)
from crossbound.cli.shared import settings_from_args
from crossbound.errors import ConfigError, CrossboundError, InputError

__all__ = ["build_parser", "main", "settings_from_args"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also used to document the commands)."""
    parser = argparse.ArgumentParser(
        prog="crossbound",
        description=__doc__.splitlines()[0],
        epilog="Exit codes: 0 success, 1 failure (e.g. broker unreachable), 2 unusable input or settings.",
    )
    parser.add_argument("--version", action="version", version=f"crossbound {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    broker.add_parser(sub)
    worker.add_parser(sub)
    demo.add_parser(sub)
    check.add_parser(sub)
    ids.add_parser(sub)
    scenarios.add_parser(sub)
    publish.add_parser(sub)
    recording.add_parsers(sub)
    registry.add_parser(sub)
    acl.add_parser(sub)
    audit.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``crossbound`` console script."""
    args = build_parser().parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except ValidationError as exc:
        print(f"crossbound: bad setting: {exc}", file=sys.stderr)
        return 2
    except (ConfigError, InputError) as exc:
        print(f"crossbound: {exc}", file=sys.stderr)
        return 2
    except CrossboundError as exc:
        print(f"crossbound: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
