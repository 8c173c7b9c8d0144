"""Entry point: ``advdyn COMMAND ...``.

The commands are registered in one place, :data:`advdyn.cli.names.COMMANDS`; each lives in its
own module with a ``register(subparsers)`` function that adds its parser and sets
``run=<function(args) -> int>``. A call imports only the module of the command it names, and
that module imports the libraries its command needs inside ``run``, so ``advdyn --help`` and an
argument error answer without loading torch. Bad input raises
:class:`advdyn.errors.AdvdynError` (or an argparse error) and ends as one line on stderr with
exit status 2, no traceback, nothing written.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import NoReturn

from advdyn import __version__
from advdyn.cli.common import fill_all, flag_error
from advdyn.cli.names import COMMANDS
from advdyn.errors import AdvdynError

DESCRIPTION = ("Dynamics of first-order adversaries: PGD on norm balls, the landscape of the "
               "adversarial loss on the sphere, and the claims of Deng et al. (ICML 2020).")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(2)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser. ``command`` ``None``: every command's full parser (for the documentation and
    the tests); a command's name: that command's full parser, the others by name and help line
    only (their modules not imported); anything else (``--help``, a typo): the list of commands
    only, nothing imported."""
    parser = _Parser(prog="advdyn", description=DESCRIPTION,
                     epilog="advdyn COMMAND --help describes a command; docs/cli.md all of them.")
    parser.add_argument("--version", action="version", version=f"advdyn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name, (module, help_line) in COMMANDS.items():
        if command is None or command == name:
            importlib.import_module(module).register(sub)
        else:
            sub.add_parser(name, help=help_line)
    if command is None:
        fill_all(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv[0] if argv else "")
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except AdvdynError as e:
        sys.stderr.write(f"advdyn {args.command}: error: {flag_error(str(e), argv)}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("advdyn: interrupted\n")
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
