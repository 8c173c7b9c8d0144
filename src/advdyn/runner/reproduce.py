"""Run every registered experiment and write the report (``advdyn reproduce``)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from advdyn.atomic import write_text
from advdyn.report import Report, environment, render_html, render_markdown
from advdyn.runner.executors import Executor
from advdyn.runner.experiment import Experiment, config_dict, run_experiment
from advdyn.runner.store import Job, ResultStore, code_fingerprint

TITLE = "Dynamics of first-order adversaries: reproduction report"


@dataclass(frozen=True)
class Plan:
    """Experiments with their validated configurations and jobs, made before anything is
    written."""

    quick: bool
    entries: list[tuple[Experiment, Any, list[Job]]]


def plan(experiments: Sequence[Experiment], *, quick: bool) -> Plan:
    """Validate each experiment's configuration (its defaults, or its ``quick`` overrides) and
    make its jobs."""
    entries = []
    for e in experiments:
        where = f"{e.name} quick configuration" if quick else f"{e.name} configuration"
        config = e.make_config(dict(e.quick) if quick else {}, where=where)
        entries.append((e, config, list(e.jobs(config))))
    return Plan(quick, entries)


def _seeds(entries: list[tuple[Experiment, Any, list[Job]]]) -> str:
    seeds = []
    for e, config, _ in entries:
        found = {k: v for k, v in config_dict(config).items() if "seed" in k}
        seeds += [f"{e.name}.{k}={v}" for k, v in found.items()]
    return ", ".join(seeds) or "none"


def reproduce(the_plan: Plan, out: Path, executor: Executor, *, progress: bool = True,
              command: str = "") -> Report:
    """Run the plan's experiments (results cached in ``out/cache``, figures in
    ``out/<experiment>/``), then write ``out/report.html`` and ``out/report.md``."""
    start = time.perf_counter()
    store = ResultStore(out / "cache")
    sections = [run_experiment(e, config, out, store, executor, jobs=jobs, progress=progress)
                for e, config, jobs in the_plan.entries]
    settings = {"mode": "quick" if the_plan.quick else "full", "executor": executor.describe(),
                "seeds": _seeds(the_plan.entries), "output folder": str(out.resolve()),
                "code fingerprint": code_fingerprint(),
                "total wall time (s)": round(time.perf_counter() - start, 2)}
    if command:
        settings["command"] = command
    report = Report(TITLE, sections, settings, environment())
    write_text(out / "report.md", render_markdown(report, out))
    write_text(out / "report.html", render_html(report))
    return report
