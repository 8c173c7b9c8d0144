"""The plain data a report is rendered from: claim records, figures, tables, sections.

The composition layer (:mod:`advdyn.pipeline`) builds one :class:`Section` per experiment (its
result's text and tables, the :class:`~advdyn.claims.ClaimRecord` s of its claims, the figures
the runner saved) and a :class:`Report` for the run; :mod:`advdyn.report.html` and
:mod:`advdyn.report.markdown` render it. Nothing here computes a measurement or a verdict: the
verdicts come from :mod:`advdyn.claims`, in its one vocabulary.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from advdyn.claims import VERDICTS, ClaimRecord


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
    """What an experiment section shows: a paragraph, claim records, figures, tables."""

    text: str = ""
    claims: list[ClaimRecord] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)


@dataclass(frozen=True)
class Section:
    """One experiment's part of the report, with how it was run.

    ``error`` is set (and ``outcome`` is ``None``) when the experiment failed; the report then
    shows the error in place of its results. ``cpu_s`` is the CPU time of its jobs (as stored
    with them) plus this process's own (collecting, judging, drawing).
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
    cpu_s: float = 0.0


@dataclass(frozen=True)
class Report:
    """A whole reproduction run: settings, one section per experiment, the environment."""

    title: str
    sections: list[Section]
    settings: dict[str, Any]
    environment: dict[str, str]
    #: The profile the run was sized by (``quick``, ``full``, ``reference``).
    profile: str = "full"
    #: Claim id → the verdict of the committed reference run, shown beside each verdict.
    reference: dict[str, str] = field(default_factory=dict)

    @property
    def claims(self) -> list[tuple[Section, ClaimRecord]]:
        """Every claim record of every section, in order, with its section."""
        return [(s, c) for s in self.sections if s.outcome for c in s.outcome.claims]

    def smoke_test_note(self) -> str:
        """The warning a quick report opens with, or ``""``."""
        if self.profile != "quick":
            return ""
        return ("Quick verdicts are smoke tests: the experiments ran at a few minutes' size, "
                "where most rules cannot reach their minimum effect (rows marked "
                "underpowered). The answers are the reference run's (results/reference/, "
                "advdyn reproduce --profile reference)"
                + (", shown beside each verdict." if self.reference else "."))

    def verdict_counts(self) -> str:
        """``"3 supported, 1 not supported"`` (verdicts in :data:`VERDICTS` order), or ``""``."""
        verdicts = [c.verdict for _, c in self.claims]
        return ", ".join(f"{verdicts.count(v)} {v}" for v in VERDICTS if v in verdicts)


def power_text(power: Mapping[str, Any] | None) -> str:
    """A claim row's power in words: ``"n 20, smallest p 1e-06, detects 0.3: adequate"`` or
    ``"UNDERPOWERED (n 3): why"``; ``"no power stated"`` where the rule gives none."""
    if not power:
        return "no power stated"
    detect = power.get("detectable_effect")
    text = (f"n {power.get('n')}, smallest p {power.get('min_p', 0):.2g}"
            + (f", detects {detect:.3g}" if isinstance(detect, (int, float)) else ""))
    if power.get("adequate"):
        return f"{text}: adequate"
    return f"UNDERPOWERED ({text}): {power.get('why', '')}"


def reference_text(claim: ClaimRecord, reference: Mapping[str, str]) -> str:
    """The reference run's verdict of ``claim``, marked ``≠`` where it differs; ``""`` when
    there is no reference."""
    if not reference:
        return ""
    seen = reference.get(claim.id)
    if seen is None:
        return "not in the reference run"
    return seen if seen == claim.verdict else f"≠ {seen}"
