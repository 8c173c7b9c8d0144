"""``advdyn sweep GRID.yaml --out DIR``: run a grid over an experiment's parameters."""

from __future__ import annotations

import argparse
from pathlib import Path

from advdyn.atomic import write_text
from advdyn.cli.common import output_folder, positive_int
from advdyn.runner import EXECUTORS, Executor, make_executor
from advdyn.runner.sweep import load_sweep, run_sweep


def add_executor_arguments(p: argparse.ArgumentParser) -> None:
    """``--executor``, ``--workers``, ``--scheduler``, ``--no-progress``."""
    p.add_argument("--executor", default="local", metavar="NAME",
                   help="where jobs run: " + ", ".join(EXECUTORS) + " (default local: a "
                   "process pool on this machine; dask: a Dask cluster)")
    p.add_argument("--workers", type=positive_int, default=None, metavar="N",
                   help="worker processes for local, or for dask's LocalCluster "
                   "(default: CPU cores)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="dask only: a scheduler address (tcp://host:8786, e.g. a dask-jobqueue "
                   "SLURMCluster's) or scheduler file; default: start a LocalCluster")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def executor_from(args: argparse.Namespace) -> Executor:
    """The executor the arguments ask for (validated; nothing is written)."""
    return make_executor(args.executor, workers=args.workers, scheduler=args.scheduler)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``sweep`` command."""
    p = subparsers.add_parser(
        "sweep", help="run a grid over an experiment's parameters",
        description="Run every configuration of a grid file (docs/sweep-format.md), reusing "
        "results already in DIR/cache, and write DIR/table.csv (+ table.parquet with pyarrow), "
        "DIR/summary.png and DIR/sweep.json.")
    p.add_argument("grid", metavar="GRID.yaml", help="the sweep file")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    add_executor_arguments(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Validate everything, then run the sweep and print where its files are."""
    out = output_folder(args.out)
    sweep = load_sweep(args.grid)
    with executor_from(args) as executor:
        out.mkdir(parents=True, exist_ok=True)
        write_text(out / "sweep.yaml", Path(args.grid).read_text(encoding="utf-8"))
        result = run_sweep(sweep, out, executor, progress=not args.no_progress)
    print(f"sweep {sweep.experiment.name}: {len(sweep.points)} grid points, {result.n_jobs} "
          f"jobs ({result.n_reused} reused) in {result.wall_s:.1f} s")
    for path in [out / "sweep.yaml", *result.files]:
        print(f"  {path}")
    return 0
