"""One experiment, end to end: jobs → result → verdicts → pictures → files → report section."""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from advdyn.atomic import write_json
from advdyn.claims import ClaimRecord, claims_of
from advdyn.errors import AdvdynError
from advdyn.experiments.base import Experiment, Job, config_dict
from advdyn.jsondata import plain
from advdyn.plots.registry import draw
from advdyn.report.data import Figure, Outcome, Section, Table
from advdyn.runner.executors import Executor
from advdyn.runner.outputs import json_part, save_figure
from advdyn.runner.run import run_jobs
from advdyn.runner.store import JobResult, ResultStore, code_fingerprint, job_key, key_of


@dataclass(frozen=True)
class Done:
    """What running one experiment gave: the report section, the experiment's result (``None``
    when it failed) and its claim records."""

    section: Section
    result: Mapping[str, Any] | None
    records: list[ClaimRecord]


def _figures(name: str, result: Mapping[str, Any], records: list[ClaimRecord],
             results: list[JobResult], folder: Path) -> list[Figure]:
    """The experiment's pictures, drawn and saved; reused without drawing when the same jobs
    and the same records were drawn into ``folder`` before by the same code (the whole
    package's fingerprint: an edit to a figure redraws it) and every PNG is still there."""
    key = job_key(f"drawings:{name}", {"jobs": [key_of(r.job) for r in results],
                                       "records": plain([r.to_json() for r in records])},
                  code=code_fingerprint())
    index = folder / f".drawings-{key[:16]}.json"
    try:
        known = [Figure(Path(f["path"]), f["caption"], f["title"])
                 for f in json.loads(index.read_text(encoding="utf-8"))]
        if all(f.path.is_file() for f in known):
            return known
    except (OSError, ValueError, KeyError, TypeError):
        pass
    figures = []
    for d in draw(name, result, records):
        png = save_figure(d.figure, folder, d.stem)[0]
        figures.append(Figure(png, d.caption, d.title))
    for stale in folder.glob(".drawings-*.json"):
        stale.unlink()
    write_json(index, [{"path": f.path, "caption": f.caption, "title": f.title}
                       for f in figures])
    return figures


def _outcome(experiment: Experiment, config: Any, results: list[JobResult], folder: Path
             ) -> tuple[Outcome, Mapping[str, Any], list[ClaimRecord]]:
    """Collect, judge, draw and write one experiment's files into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    result = experiment.collect(config, [r.value for r in results])
    records = [c.evaluate(result) for c in claims_of(experiment.name)]
    write_json(folder / f"{experiment.name}.json", json_part(result))
    figures = _figures(experiment.name, result, records, results, folder)
    tables = [Table(t["title"], list(t["columns"]), [list(r) for r in t["rows"]])
              for t in result.get("tables", [])]
    return Outcome(str(result.get("text", "")), records, figures, tables), result, records


def run_experiment(experiment: Experiment, config: Any, folder: Path, store: ResultStore,
                   executor: Executor, *, jobs: list[Job] | None = None,
                   progress: bool = True) -> Done:
    """Run ``experiment`` with ``config`` (its ``jobs``, if already made) and write its files
    into ``folder``.

    Failures of the experiment's own code are caught and reported in the section (so the other
    experiments still run); bad input (:class:`AdvdynError`) is not caught.
    """
    start, own_cpu = time.perf_counter(), 0.0
    if jobs is None:
        jobs = experiment.jobs(config)
    results: list[JobResult] = []
    result: Mapping[str, Any] | None = None
    records: list[ClaimRecord] = []
    error: str | None = None
    outcome: Outcome | None = None
    try:
        results = run_jobs(jobs, store, executor, progress=progress, desc=experiment.name)
        cpu0 = time.process_time()
        try:
            outcome, result, records = _outcome(experiment, config, results, folder)
        finally:
            own_cpu = time.process_time() - cpu0
    except AdvdynError:
        raise
    except Exception:
        error = traceback.format_exc()
    unique = {key_of(r.job): r for r in results}
    section = Section(name=experiment.name, title=experiment.title,
                      description=experiment.description, config=config_dict(config),
                      wall_s=time.perf_counter() - start,
                      compute_s=sum(r.elapsed_s for r in unique.values()),
                      n_jobs=len({key_of(j) for j in jobs}),
                      n_reused=sum(r.cached for r in unique.values()), outcome=outcome,
                      error=error, cpu_s=own_cpu + sum(r.cpu_s for r in unique.values()))
    return Done(section, result, records)
