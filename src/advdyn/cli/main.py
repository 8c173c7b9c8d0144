"""Entry point: ``advdyn COMMAND ...``.

Every command lives in its own module of this package with a ``register(subparsers)`` function
that adds its parser and sets ``run=<function(args) -> int>``. Bad input raises
:class:`advdyn.errors.AdvdynError` (or an argparse error) and ends as one line on stderr with
exit status 2, no traceback, nothing written.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import NoReturn

from advdyn import __version__
from advdyn.errors import AdvdynError

COMMANDS = [
    "advdyn.cli.cmd_pgd",
    "advdyn.cli.cmd_diagnose",
    "advdyn.cli.cmd_census",
    "advdyn.cli.cmd_check",
    "advdyn.cli.cmd_sweep",
    "advdyn.cli.cmd_reproduce",
    "advdyn.cli.cmd_fig1",
    "advdyn.cli.cmd_fig2",
    "advdyn.cli.cmd_fig3",
    "advdyn.cli.cmd_phase",
    "advdyn.cli.cmd_train",
    "advdyn.cli.cmd_bench",
    "advdyn.cli.cmd_audit",
]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(2)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser with every command, or with only ``command``'s module imported (a command's
    module may import heavy libraries; a call runs one command, so it loads one)."""
    parser = _Parser(prog="advdyn", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"advdyn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    wanted = f"advdyn.cli.cmd_{command}"
    for name in [wanted] if wanted in COMMANDS else COMMANDS:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv[0] if argv else None)
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except AdvdynError as e:
        sys.stderr.write(f"advdyn {args.command}: error: {e}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("advdyn: interrupted\n")
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
