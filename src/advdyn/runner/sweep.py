"""Sweeps: a grid over an experiment's parameters, run as jobs, gathered into one tidy table.

The file format is documented in ``docs/sweep-format.md``. In short::

    experiment: census          # registered name, or "package.module:ATTRIBUTE"
    description: free text      # optional
    fixed: {d: 10}              # optional: parameters held at one value
    grid:                       # the Cartesian product of these lists
      scale: [0.01, 1, 100]
      seed: [0, 1, 2]

Each grid point is one configuration of the experiment; its jobs are the experiment's jobs for
that configuration; the table has one row per job: the grid point's varied and fixed
parameters, the job's scalar configuration, then its scalar results.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import itertools
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from matplotlib.figure import Figure

from advdyn.atomic import write_text, write_with
from advdyn.errors import fail
from advdyn.experiments import registry
from advdyn.experiments.base import Experiment, Job
from advdyn.runner.environment import environment
from advdyn.runner.executors import Executor
from advdyn.runner.outputs import save_figure
from advdyn.runner.run import run_jobs
from advdyn.runner.store import JobResult, ResultStore, key_of

SWEEP_FIELDS = ("experiment", "description", "fixed", "grid")
Scalar = (str, int, float, bool, type(None))


@dataclass(frozen=True)
class Sweep:
    """A parsed, validated sweep: the experiment, its grid, and every grid point's jobs."""

    experiment: Experiment
    description: str
    fixed: dict[str, Any]
    grid: dict[str, list[Any]]
    points: list[dict[str, Any]]
    jobs: list[list[Job]]

    @property
    def all_jobs(self) -> list[Job]:
        """Every job of every grid point, in table order."""
        return [job for jobs in self.jobs for job in jobs]


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, but a key given twice in one mapping is an error."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} given twice", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_sweep(path: str | Path) -> Sweep:
    """Read and validate a sweep file; errors name the file's field at fault."""
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as e:
        raise fail("sweep file", f"cannot read {path} ({e.strerror or e})") from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise fail("sweep file", f"{path} is not valid YAML: {problem}{where}") from None
    return parse_sweep(data)


def parse_sweep(data: Any) -> Sweep:
    """Validate a sweep given as plain data (the parsed YAML) and expand its grid."""
    if not isinstance(data, Mapping):
        raise fail("sweep file", "expected a mapping with keys " + ", ".join(SWEEP_FIELDS))
    for key in data:
        if key not in SWEEP_FIELDS:
            raise fail(str(key), "unknown field of a sweep file",
                       "fields are " + ", ".join(SWEEP_FIELDS))
    name = data.get("experiment")
    if not isinstance(name, str) or not name:
        raise fail("experiment", "missing or not a string", "name a registered experiment")
    experiment = registry.get(name, "experiment")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise fail("description", "must be a string")
    fixed = data.get("fixed") or {}
    if not isinstance(fixed, Mapping):
        raise fail("fixed", "expected a mapping of parameter: value")
    grid = data.get("grid")
    if not isinstance(grid, Mapping) or not grid:
        raise fail("grid", "missing or empty", "give a mapping of parameter: [values]")
    params = experiment.parameters()
    for section, names in (("fixed", fixed), ("grid", grid)):
        for p in names:
            if p not in params:
                raise fail(f"{section}.{p}", f"unknown parameter of experiment "
                           f"{experiment.name!r}", "known: " + ", ".join(params))
    fixed = {p: experiment.coerce(p, v) for p, v in fixed.items()}
    grid = {p: [experiment.coerce(p, v) for v in values] if isinstance(values, list) else values
            for p, values in grid.items()}
    for p, values in grid.items():
        if p in fixed:
            raise fail(f"grid.{p}", "also given under fixed", "give it in one place")
        if not isinstance(values, list) or not values:
            raise fail(f"grid.{p}", "expected a non-empty list of values",
                       "a single value belongs under fixed")
        seen = [json.dumps(v, sort_keys=True, default=str) for v in values]
        if len(set(seen)) != len(seen):
            raise fail(f"grid.{p}", "a value is repeated")
    points = [dict(zip(grid, combo, strict=True)) for combo in itertools.product(*grid.values())]
    jobs = []
    for point in points:
        label = "grid point " + ", ".join(f"{k}={v}" for k, v in point.items())
        config = experiment.make_config({**fixed, **point}, where=label)
        jobs.append(list(experiment.jobs(config)))
    return Sweep(experiment, description, fixed, grid, points, jobs)


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    """Scalars (and scalars nested in mappings, as ``a.b``) of ``value`` into ``out``."""
    if isinstance(value, Mapping):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    elif isinstance(value, Scalar):
        out[prefix] = value


def _cell(value: Any) -> Any:
    """A parameter value as a table cell: a list of one value as that value, other lists and
    mappings as JSON text."""
    if isinstance(value, (list, tuple)) and len(value) == 1 and isinstance(value[0], Scalar):
        return value[0]
    return value if isinstance(value, Scalar) else json.dumps(value, sort_keys=True)


def tidy_rows(sweep: Sweep, results: list[JobResult]) -> list[dict[str, Any]]:
    """One row per job (grid points in order, then jobs in order).

    Columns: ``point`` and ``job`` (indices), the grid's parameters, the fixed parameters, the
    job's scalar configuration, its scalar results (or the experiment's ``row(result)``; a
    result named like a column before it is prefixed ``result.``), and ``key`` (the job's cache
    folder name). Arrays stay in the cache.
    """
    rows: list[dict[str, Any]] = []
    it = iter(results)
    for i, (point, jobs) in enumerate(zip(sweep.points, sweep.jobs, strict=True)):
        for j, job in enumerate(jobs):
            result = next(it)
            row: dict[str, Any] = {"point": i, "job": j}
            row.update({k: _cell(v) for k, v in point.items()})
            row.update({k: _cell(v) for k, v in sweep.fixed.items()})
            config: dict[str, Any] = {}
            _flatten("", job.config, config)
            row.update({k: v for k, v in config.items() if k not in row})
            values: dict[str, Any] = {}
            row_of = sweep.experiment.row
            _flatten("", result.value if row_of is None else dict(row_of(result.value)), values)
            row.update({(f"result.{k}" if k in row else k): v for k, v in values.items()})
            row["key"] = key_of(job)
            rows.append(row)
    return rows


def result_columns(sweep: Sweep, rows: list[dict[str, Any]]) -> list[str]:
    """The columns of ``rows`` that hold results (not indices, parameters or job configuration)."""
    taken = {"point", "job", "key", *sweep.grid, *sweep.fixed}
    for job in sweep.all_jobs:
        config: dict[str, Any] = {}
        _flatten("", job.config, config)
        taken.update(config)
    return [c for c in columns(rows) if c not in taken]


def columns(rows: list[dict[str, Any]]) -> list[str]:
    """Every column of ``rows``, in first-seen order."""
    return list(dict.fromkeys(k for row in rows for k in row))


def table_csv(rows: list[dict[str, Any]]) -> str:
    """``rows`` as CSV text (missing cells empty, floats in shortest round-trip form)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns(rows), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def write_parquet(rows: list[dict[str, Any]], path: Path) -> bool:
    """Write ``rows`` as Parquet if pyarrow is installed; return whether it was written.

    A column mixing numbers and text is stored as text.
    """
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return False
    data: dict[str, list[Any]] = {}
    for name in columns(rows):
        values = [row.get(name) for row in rows]
        present = [v for v in values if v is not None]
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present)
        boolean = all(isinstance(v, bool) for v in present)
        if not (numeric or boolean):
            values = [None if v is None else str(v) for v in values]
        data[name] = values
    table = pa.table(data)
    write_with(path, lambda p: pq.write_table(table, p))
    return True


@dataclass(frozen=True)
class SweepRun:
    """What a sweep run produced and how long it took."""

    rows: list[dict[str, Any]]
    files: list[Path]
    wall_s: float
    n_jobs: int
    n_reused: int


def run_sweep(sweep: Sweep, out: Path, executor: Executor,
              summary: Callable[[list[dict[str, Any]], list[str], list[str]], Figure], *,
              progress: bool = True) -> SweepRun:
    """Run every job of ``sweep`` (reusing ``out/cache``), write ``out/table.csv`` (and
    ``table.parquet`` with pyarrow), ``out/summary.png`` (``summary(rows, swept parameters,
    result columns)``, drawn by the caller's picture function) and ``out/sweep.json``."""
    start = time.perf_counter()
    store = ResultStore(out / "cache")
    results = run_jobs(sweep.all_jobs, store, executor, progress=progress,
                       desc=f"sweep {sweep.experiment.name}")
    rows = tidy_rows(sweep, results)
    text = table_csv(rows)
    table, figure, parquet = out / "table.csv", out / "summary.png", out / "table.parquet"
    unchanged = table.is_file() and figure.is_file() and table.read_text("utf-8") == text
    if not unchanged:  # a rerun with every result reused keeps the files it would rewrite
        parquet.unlink(missing_ok=True)
        save_figure(summary(rows, list(sweep.grid), result_columns(sweep, rows)), out,
                    figure.stem, formats=("png",))
        write_text(table, text)  # last: an up-to-date table means an up-to-date figure
    files = [table, figure]
    if parquet.is_file() or write_parquet(rows, parquet):
        files.append(parquet)
    unique = {key_of(r.job): r for r in results}
    wall = time.perf_counter() - start
    n_reused = sum(r.cached for r in unique.values())
    meta = {"experiment": sweep.experiment.name, "description": sweep.description,
            "fixed": sweep.fixed, "grid": sweep.grid, "points": len(sweep.points),
            "jobs": len(unique), "reused": n_reused, "executor": executor.describe(),
            "wall_s": wall, "defaults": {k: v for k, v in sweep.experiment.parameters().items()
                                         if v is not dataclasses.MISSING},
            "environment": environment()}
    files.append(write_text(out / "sweep.json", json.dumps(meta, indent=2, default=str) + "\n"))
    return SweepRun(rows, files, wall, len(unique), n_reused)
