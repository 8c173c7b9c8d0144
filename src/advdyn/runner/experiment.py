"""The plug-in interface of an experiment, and running one end to end.

An experiment module defines its configuration as a dataclass (each field a parameter, the
defaults the full run, validation in ``__post_init__`` raising :class:`advdyn.AdvdynError`), a
function splitting a configuration into :class:`~advdyn.runner.store.Job` s, and a function
turning the jobs' results into an :class:`~advdyn.report.data.Outcome` (claims with verdicts,
figures with captions). It exposes them as one module-level :class:`Experiment` named
``EXPERIMENT`` and is listed in :mod:`advdyn.experiments.registry`.
"""

from __future__ import annotations

import dataclasses
import json
import time
import traceback
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from advdyn.atomic import write_json
from advdyn.errors import AdvdynError, fail
from advdyn.report.data import Outcome, Section, outcome_from_json, outcome_to_json
from advdyn.runner.executors import Executor
from advdyn.runner.run import run_jobs
from advdyn.runner.store import Job, JobResult, ResultStore, job_key


@dataclass(frozen=True)
class Experiment:
    """An experiment: a configuration type, its jobs, and how its results are summarised.

    - ``name``: short identifier (``"census"``): the sweep file's ``experiment:`` value and the
      experiment's output folder.
    - ``title``: the report section's heading; ``description``: its opening paragraph.
    - ``config``: a dataclass type; every field is a parameter a sweep may vary.
    - ``jobs(config) -> list[Job]``: the work, each job a pure function of its JSON config.
    - ``summarize(config, results, folder) -> Outcome``: ``results`` are in the order of
      ``jobs(config)``; figures are written as PNG files into ``folder`` (which exists).
    - ``quick``: parameter overrides for ``advdyn reproduce --quick`` (a run of a few minutes).
    - ``row(result) -> dict``: optional; a job's columns in a sweep's table (scalars). Without
      it, the scalars of the job's result are used (nested mappings flattened as ``a.b``).
    """

    name: str
    title: str
    config: type
    jobs: Callable[[Any], list[Job]]
    summarize: Callable[[Any, list[JobResult], Path], Outcome]
    quick: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    row: Callable[[JobResult], Mapping[str, Any]] | None = None

    def __post_init__(self) -> None:
        if not dataclasses.is_dataclass(self.config):
            raise TypeError(f"experiment {self.name}: config must be a dataclass type")

    def parameters(self) -> dict[str, Any]:
        """Parameter names and their defaults (``dataclasses.MISSING`` where there is none)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self.config):
            if f.default is not dataclasses.MISSING:
                out[f.name] = f.default
            elif f.default_factory is not dataclasses.MISSING:
                out[f.name] = f.default_factory()
            else:
                out[f.name] = dataclasses.MISSING
        return out

    def coerce(self, name: str, value: Any) -> Any:
        """``value`` converted to parameter ``name``'s type where that loses nothing."""
        return _coerce(typing.get_type_hints(self.config).get(name, Any), value)

    def make_config(self, values: Mapping[str, Any], where: str = "parameters") -> Any:
        """Build a configuration from ``values`` (the rest default), coercing values to the
        field types (YAML's ``1`` for a float field, ``1e-3`` read as a string, lists for
        tuples, one value for a tuple of one). Errors name ``where`` and the parameter."""
        params = self.parameters()
        for name in values:
            if name not in params:
                raise fail(f"{where}.{name}", f"unknown parameter of experiment {self.name!r}",
                           "known: " + ", ".join(params))
        missing = [n for n, d in params.items() if d is dataclasses.MISSING and n not in values]
        if missing:
            raise fail(f"{where}.{missing[0]}", f"required by experiment {self.name!r}")
        kwargs = {n: self.coerce(n, v) for n, v in values.items()}
        try:
            return self.config(**kwargs)
        except AdvdynError as e:
            raise fail(where, str(e)) from None
        except (TypeError, ValueError) as e:
            raise fail(where, f"invalid parameters ({e})") from None


def config_dict(config: Any) -> dict[str, Any]:
    """A configuration dataclass as a plain dict (tuples as lists), for tables and reports."""
    return {k: list(v) if isinstance(v, tuple) else v
            for k, v in dataclasses.asdict(config).items()}


def _coerce(hint: Any, value: Any) -> Any:
    """Convert ``value`` to the simple type ``hint`` names where that loses nothing."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        return value if value is None or len(options) != 1 else _coerce(options[0], value)
    if origin in (tuple, list):
        args = [a for a in typing.get_args(hint) if a is not Ellipsis]
        inner = args[0] if len(args) == 1 else Any
        items = value if isinstance(value, (list, tuple)) else [value]  # one value: a 1-list
        return origin(_coerce(inner, v) for v in items)
    if isinstance(value, bool):
        return value
    if hint is float:
        if isinstance(value, int):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                return value
    if hint is int and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _summary(experiment: Experiment, config: Any, results: list[JobResult],
             folder: Path) -> Outcome:
    """``experiment.summarize``, reused when the same jobs were summarised into ``folder`` before
    and every figure it wrote is still there (a rerun then redraws nothing)."""
    key = job_key(f"summary:{experiment.name}", {"jobs": [r.job.key for r in results]})
    record = folder / f".outcome-{key[:16]}.json"
    if record.is_file():
        try:
            outcome = outcome_from_json(json.loads(record.read_text(encoding="utf-8")))
        except (ValueError, KeyError, TypeError):
            outcome = None
        if outcome is not None and all(f.path.is_file() for f in outcome.figures):
            return outcome
    outcome = experiment.summarize(config, results, folder)
    for stale in folder.glob(".outcome-*.json"):
        stale.unlink()
    write_json(record, outcome_to_json(outcome))
    return outcome


def run_experiment(experiment: Experiment, config: Any, out: Path, store: ResultStore,
                   executor: Executor, *, jobs: list[Job] | None = None,
                   progress: bool = True) -> Section:
    """Run ``experiment`` with ``config`` (its ``jobs``, if already made) and summarise it into
    ``out/<name>/``.

    Failures of the experiment's own code are caught and reported in the section (so the other
    experiments still run); bad input (:class:`AdvdynError`) is not caught.
    """
    start = time.perf_counter()
    if jobs is None:
        jobs = experiment.jobs(config)
    results: list[JobResult] = []
    try:
        results = run_jobs(jobs, store, executor, progress=progress, desc=experiment.name)
        folder = out / experiment.name
        folder.mkdir(parents=True, exist_ok=True)
        outcome: Outcome | None = _summary(experiment, config, results, folder)
        error = None
    except AdvdynError:
        raise
    except Exception:
        outcome, error = None, traceback.format_exc()
    unique = {r.job.key: r for r in results}
    return Section(name=experiment.name, title=experiment.title,
                   description=experiment.description, config=config_dict(config),
                   wall_s=time.perf_counter() - start,
                   compute_s=sum(r.elapsed_s for r in unique.values()),
                   n_jobs=len({j.key for j in jobs}),
                   n_reused=sum(r.cached for r in unique.values()), outcome=outcome, error=error)
