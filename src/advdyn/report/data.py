"""The plain data a report is rendered from: claims, figures, tables, sections, environment.

Experiments return an :class:`Outcome`; the reproduce orchestration wraps each in a
:class:`Section` and the whole run in a :class:`Report`; :mod:`advdyn.report.html` and
:mod:`advdyn.report.markdown` render it. Nothing here computes a measurement.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from advdyn import __version__
from advdyn.errors import check_choice

VERDICTS = ("supported", "partly supported", "not supported", "inconclusive")


@dataclass(frozen=True)
class Claim:
    """One claim of the paper, what was measured, and the verdict.

    ``id`` is the paper's label (``"L4.4"``, ``"T5.1"``, ``"§5.1"``); ``claim`` states it in a
    sentence; ``measurement`` gives the number(s) behind the verdict; ``verdict`` is one of
    :data:`VERDICTS`; ``note`` adds scope or caveats (the setting the measurement was made in).
    """

    id: str
    claim: str
    measurement: str
    verdict: str
    note: str = ""

    def __post_init__(self) -> None:
        check_choice(f"claim {self.id}: verdict", self.verdict, VERDICTS)


@dataclass(frozen=True)
class Figure:
    """A PNG figure on disk with a caption that says what to look for in it."""

    path: Path
    caption: str
    title: str = ""


@dataclass(frozen=True)
class Table:
    """A small table of numbers to show as is (e.g. steps to escape per scale and ratio)."""

    title: str
    columns: list[str]
    rows: list[list[Any]]


@dataclass(frozen=True)
class Outcome:
    """What an experiment reports: a paragraph, claims with verdicts, figures, tables."""

    text: str = ""
    claims: list[Claim] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)


def outcome_to_json(outcome: Outcome) -> dict[str, Any]:
    """An :class:`Outcome` as JSON data (paths as strings)."""
    return {"text": outcome.text,
            "claims": [vars(c) for c in outcome.claims],
            "figures": [{"path": str(f.path), "caption": f.caption, "title": f.title}
                        for f in outcome.figures],
            "tables": [vars(t) for t in outcome.tables]}


def outcome_from_json(data: dict[str, Any]) -> Outcome:
    """The inverse of :func:`outcome_to_json`."""
    return Outcome(text=data["text"], claims=[Claim(**c) for c in data["claims"]],
                   figures=[Figure(path=Path(f["path"]), caption=f["caption"], title=f["title"])
                            for f in data["figures"]],
                   tables=[Table(**t) for t in data["tables"]])


@dataclass(frozen=True)
class Section:
    """One experiment's part of the report, with how it was run.

    ``error`` is set (and ``outcome`` is ``None``) when the experiment failed; the report then
    shows the error in place of its results.
    """

    name: str
    title: str
    description: str
    config: dict[str, Any]
    wall_s: float
    compute_s: float
    n_jobs: int
    n_reused: int
    outcome: Outcome | None = None
    error: str | None = None


@dataclass(frozen=True)
class Report:
    """A whole reproduction run: settings, one section per experiment, the environment."""

    title: str
    sections: list[Section]
    settings: dict[str, Any]
    environment: dict[str, str]

    @property
    def claims(self) -> list[tuple[Section, Claim]]:
        """Every claim of every section, in order, with its section."""
        return [(s, c) for s in self.sections if s.outcome for c in s.outcome.claims]

    def verdict_counts(self) -> str:
        """``"3 supported, 1 not supported"`` (verdicts in :data:`VERDICTS` order), or ``""``."""
        verdicts = [c.verdict for _, c in self.claims]
        return ", ".join(f"{verdicts.count(v)} {v}" for v in VERDICTS if v in verdicts)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def environment() -> dict[str, str]:
    """Versions, machine and time of this run, as display strings."""
    env = {
        "advdyn": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cpu cores": str(os.cpu_count()),
    }
    for package in ("torch", "numpy", "scipy", "matplotlib", "dask", "distributed"):
        env[package] = _version(package)
    env["date (UTC)"] = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    return env
