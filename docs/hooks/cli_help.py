"""MkDocs hook: replace ``<!-- advdyn-cli-help -->`` with every command's ``--help`` text."""

from __future__ import annotations

import argparse
from typing import Any

MARKER = "<!-- advdyn-cli-help -->"


def _sections() -> str:
    from advdyn.cli.main import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    parts = []
    for name, command in sub.choices.items():
        text = command.format_help().rstrip()
        parts.append(f"### advdyn {name}\n\n```text\n{text}\n```\n")
    return "\n".join(parts)


def on_page_markdown(markdown: str, **_: Any) -> str:
    """Expand the marker on the page that has it; other pages pass through."""
    return markdown.replace(MARKER, _sections()) if MARKER in markdown else markdown
