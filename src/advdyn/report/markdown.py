"""Render a :class:`~advdyn.report.data.Report` as Markdown (figures linked by relative path)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from advdyn.claims import ClaimRecord
from advdyn.report.data import Report, Section, power_text, reference_text


def _md(value: Any) -> str:
    """A table cell: pipes escaped, line breaks flattened."""
    if isinstance(value, float):
        value = f"{value:.6g}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def table(columns: list[str], rows: list[list[Any]]) -> str:
    """A Markdown table (cells through :func:`_md`)."""
    lines = ["| " + " | ".join(_md(c) for c in columns) + " |",
             "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_md(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


CLAIM_COLUMNS = ["claim", "statement", "measurement and reason", "verdict",
                 "negative control (same rule)"]


def _claim_row(c: ClaimRecord, reference: Mapping[str, str]) -> list[Any]:
    """A claim record's cells: the verdict with its power, the reference run's verdict (when
    there is one) and the control's verdict side by side."""
    ctrl = c.control
    control = (f"**{ctrl['verdict']}** — *{ctrl.get('reason', '')}* (control: "
               f"{ctrl.get('description', '')})" if ctrl.get("verdict")
               else ctrl.get("description", ""))
    regime = f" Regime: {c.regime}." if c.regime else ""
    return [c.id + (f" ({c.place})" if c.place else ""), c.quote,
            f"{c.measurement} — *{c.reason}*{regime}",
            f"**{c.verdict}** ({power_text(c.power)})",
            *([reference_text(c, reference)] if reference else []), control]


def _columns(reference: Mapping[str, str]) -> list[str]:
    return CLAIM_COLUMNS[:4] + (["reference run"] if reference else []) + CLAIM_COLUMNS[4:]


def _section(s: Section, base: Path, number: int, reference: Mapping[str, str]
             ) -> tuple[str, int]:
    out = [f"## {s.title}\n"]
    if s.description:
        out.append(s.description.strip() + "\n")
    out.append(f"*{s.n_jobs} jobs ({s.n_reused} reused from the cache), wall time "
               f"{s.wall_s:.1f} s, compute time of its jobs {s.compute_s:.1f} s.*\n")
    if s.error is not None:
        out.append("**This experiment failed:**\n\n```\n" + s.error.rstrip() + "\n```\n")
    if s.outcome is not None:
        if s.outcome.text:
            out.append(s.outcome.text.strip() + "\n")
        if s.outcome.claims:
            out.append("### Claims\n\n" + table(
                _columns(reference), [_claim_row(c, reference) for c in s.outcome.claims]))
        for t in s.outcome.tables:
            out.append(f"### {t.title}\n\n" + table(t.columns, t.rows))
        for fig in s.outcome.figures:
            rel = Path(os.path.relpath(fig.path, base)).as_posix()
            title = f"Figure {number}" + (f". {fig.title}" if fig.title else "")
            out.append(f"![{title}]({rel})\n\n*{title}.* {fig.caption}\n")
            number += 1
    out.append("### Configuration\n\n" + table(["parameter", "value"],
                                                [[k, v] for k, v in s.config.items()]))
    return "\n".join(out), number


def render_markdown(report: Report, base: Path) -> str:
    """The report as Markdown; figure links are relative to ``base`` (where the file goes)."""
    out = [f"# {report.title}\n",
           f"*{report.environment.get('date (UTC)', '')} UTC · advdyn "
           f"{report.environment.get('advdyn', '')}*\n"]
    failed = [s.title for s in report.sections if s.error is not None]
    if failed:
        out.append(f"**{len(failed)} experiment(s) failed:** {', '.join(failed)}.\n")
    out.append("## The paper's claims\n")
    if report.claims:
        if report.smoke_test_note():
            out.append(f"> **{report.smoke_test_note()}**\n")
        out.append(f"**Verdicts:** {report.verdict_counts()}.\n")
        out.append(table([*_columns(report.reference), "experiment"],
                          [[*_claim_row(c, report.reference), s.title]
                           for s, c in report.claims]))
    else:
        out.append("No claims were measured in this run.\n")
    number = 1
    for s in report.sections:
        text, number = _section(s, base, number, report.reference)
        out.append(text)
    out.append("## Configuration and environment\n")
    out.append("### Run\n\n" + table(["setting", "value"],
                                      [[k, v] for k, v in report.settings.items()]))
    out.append("### Wall time per experiment\n\n" + table(
        ["experiment", "wall time (s)", "compute time (s)", "jobs", "reused"],
        [[s.title, round(s.wall_s, 2), round(s.compute_s, 2), s.n_jobs, s.n_reused]
         for s in report.sections]))
    out.append("### Environment\n\n" + table(["", "version / value"],
                                              [[k, v] for k, v in report.environment.items()]))
    return "\n".join(out)
