"""The commands' one path: ``reproduce`` (every experiment and the report), ``check`` (one
claim), the standalone experiment commands, and ``sweep``."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from advdyn.atomic import write_json, write_text
from advdyn.claims import ClaimRecord, claim
from advdyn.experiments import registry
from advdyn.experiments.base import Experiment, Job, config_dict
from advdyn.pipeline.section import Done, run_experiment
from advdyn.plots.sweep import sweep_summary
from advdyn.report import Report, render_html, render_markdown
from advdyn.runner.environment import environment
from advdyn.runner.executors import Executor, InlineExecutor
from advdyn.runner.store import ResultStore, code_fingerprint
from advdyn.runner.sweep import Sweep, SweepRun, run_sweep

TITLE = "Dynamics of first-order adversaries: reproduction report"
CLAIMS_FILE = "claims.json"


@dataclass(frozen=True)
class Plan:
    """Experiments with their validated configurations and jobs, made before anything is
    written."""

    quick: bool
    entries: list[tuple[Experiment, Any, list[Job]]]


def plan(experiments: Sequence[Experiment], *, quick: bool,
         overrides: Mapping[str, Mapping[str, Any]] | None = None) -> Plan:
    """Validate each experiment's configuration (its defaults, or its ``quick`` overrides, then
    ``overrides[name]``) and make its jobs."""
    entries = []
    for e in experiments:
        where = f"{e.name} quick configuration" if quick else f"{e.name} configuration"
        values = {**(dict(e.quick) if quick else {}), **dict((overrides or {}).get(e.name, {}))}
        config = e.make_config(values, where=where)
        entries.append((e, config, list(e.jobs(config))))
    return Plan(quick, entries)


def write_claims(out: Path, records: Sequence[ClaimRecord]) -> Path:
    """``out/claims.json``: the records (:meth:`ClaimRecord.to_json`), in register order."""
    return write_json(out / CLAIMS_FILE, [r.to_json() for r in records])


def _seeds(entries: list[tuple[Experiment, Any, list[Job]]]) -> str:
    seeds = []
    for e, config, _ in entries:
        found = {k: v for k, v in config_dict(config).items() if "seed" in k}
        seeds += [f"{e.name}.{k}={v}" for k, v in found.items()]
    return ", ".join(seeds) or "none"


def reproduce(the_plan: Plan, out: Path, executor: Executor, *, progress: bool = True,
              command: str = "") -> Report:
    """Run the plan's experiments (results cached in ``out/cache``, files in
    ``out/<experiment>/``), then write ``out/claims.json``, ``out/report.html`` and
    ``out/report.md``."""
    start = time.perf_counter()
    store = ResultStore(out / "cache")
    done = [run_experiment(e, config, out / e.name, store, executor, jobs=jobs,
                           progress=progress) for e, config, jobs in the_plan.entries]
    settings = {"mode": "quick" if the_plan.quick else "full", "executor": executor.describe(),
                "seeds": _seeds(the_plan.entries), "output folder": str(out.resolve()),
                "code fingerprint": code_fingerprint(),
                "total wall time (s)": round(time.perf_counter() - start, 2)}
    if command:
        settings["command"] = command
    report = Report(TITLE, [d.section for d in done], settings, environment())
    write_claims(out, [r for d in done for r in d.records])
    write_text(out / "report.md", render_markdown(report, out))
    write_text(out / "report.html", render_html(report))
    return report


def run_standalone(experiment: Experiment, config: Any, out: Path, *, progress: bool = True,
                   threads: int = 1) -> Done:
    """One experiment in this process (``advdyn fig1``, ``advdyn phase``, …): its files
    straight into ``out`` (results cached in ``out/cache``, so a rerun reuses them), and
    ``out/claims.json`` when it has claims."""
    with InlineExecutor(threads=threads) as executor:
        done = run_experiment(experiment, config, out, ResultStore(out / "cache"), executor,
                              progress=progress)
    if done.records:
        write_claims(out, done.records)
    return done


def check(claim_id: str, out: Path, executor: Executor, *, quick: bool = False,
          parameters: Mapping[str, Any] | None = None, progress: bool = True) -> Done:
    """``advdyn check CLAIM``: run the experiment that holds ``claim_id``'s arms (its quick
    configuration with ``quick``, then ``parameters``), write its files and ``out/claims.json``
    (that experiment's records)."""
    experiment = registry.get(claim(claim_id).experiment, "claim")
    [(e, config, jobs)] = plan([experiment], quick=quick,
                               overrides={experiment.name: parameters or {}}).entries
    done = run_experiment(e, config, out, ResultStore(out / "cache"), executor, jobs=jobs,
                          progress=progress)
    write_claims(out, done.records)
    return done


def sweep(the_sweep: Sweep, out: Path, executor: Executor, *, progress: bool = True) -> SweepRun:
    """``advdyn sweep``: the grid's jobs through the runner, the tidy table and the summary
    figure (:func:`advdyn.plots.sweep.sweep_summary`)."""
    name = the_sweep.experiment.name

    def summary(rows: list[dict[str, Any]], swept: list[str], results: list[str]) -> Any:
        return sweep_summary(rows, swept, results, title=f"sweep of {name}")

    return run_sweep(the_sweep, out, executor, summary, progress=progress)
