"""``advdyn sweep GRID.yaml --out DIR``: run a grid over an experiment's parameters."""

from __future__ import annotations

import argparse
from pathlib import Path

from advdyn.atomic import write_text
from advdyn.cli.common import (
    add_command,
    add_device_flag,
    add_executor_arguments,
    device_of,
    executor_from,
    output_folder,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``sweep`` command."""
    p = add_command(
        subparsers, "sweep",
        "Run every configuration of a grid file (docs/sweep-format.md), reusing "
        "results already in DIR/cache, and write DIR/table.csv (+ table.parquet with pyarrow), "
        "DIR/summary.png and DIR/sweep.json.")
    p.add_argument("grid", metavar="GRID.yaml", help="the sweep file")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    add_executor_arguments(p)
    add_device_flag(p, "the jobs of an experiment on a CNN (fig2, at_scale; the others run on "
                    "the CPU; with --executor dask, cuda is checked on the workers)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Validate everything, then run the sweep and print where its files are."""
    from advdyn.pipeline import sweep as run_sweep
    from advdyn.runner.sweep import load_sweep

    out = output_folder(args.out)
    sweep = load_sweep(args.grid)
    device = device_of(args, local=args.executor != "dask")
    with executor_from(args) as executor:
        out.mkdir(parents=True, exist_ok=True)
        write_text(out / "sweep.yaml", Path(args.grid).read_text(encoding="utf-8"))
        result = run_sweep(sweep, out, executor, progress=not args.no_progress, device=device)
    print(f"sweep {sweep.experiment.name}: {len(sweep.points)} grid points, {result.n_jobs} "
          f"jobs ({result.n_reused} reused) in {result.wall_s:.1f} s")
    for path in [out / "sweep.yaml", *result.files]:
        print(f"  {path}")
    return 0
