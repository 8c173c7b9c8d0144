"""``advdyn reproduce --out DIR [--quick | --profile quick|full|reference]``: run every
experiment and write the report."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from advdyn.cli.common import (
    add_command,
    add_device_flag,
    add_executor_arguments,
    device_of,
    executor_from,
    output_folder,
)
from advdyn.cli.names import PROFILES
from advdyn.errors import fail

#: The committed reference run's verdicts, shown beside a run's own when present.
REFERENCE_CLAIMS = "results/reference/claims.json"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``reproduce`` command."""
    p = add_command(
        subparsers, "reproduce",
        "Run every registered experiment (results cached in DIR/cache, so a rerun "
        "only computes what is missing) and write DIR/report.html (self-contained), "
        "DIR/report.md, DIR/claims.json (every claim's record: verdict, numbers, rule, "
        "negative control, power) and DIR/run.json (profile, commit, machine, wall and CPU "
        "time per experiment). Exit status 1 if an experiment failed (the report says which). "
        "Profiles: quick (a smoke test of a few minutes), full (every experiment's defaults), "
        "reference (the size of the committed results/reference/, about half an hour on two "
        "cores).")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--profile", choices=PROFILES, default=None,
                   help="the experiments' sizes (default full)")
    p.add_argument("--quick", action="store_true", help="the same as --profile quick")
    p.add_argument("--reference-claims", metavar="FILE", default=REFERENCE_CLAIMS,
                   help="a claims.json whose verdicts the report shows beside this run's, "
                        "marking where they differ; the run.json beside it times the estimate of "
                        "the time left (default: the committed reference run, "
                        f"{REFERENCE_CLAIMS}, when it exists under the current folder)")
    p.add_argument("--only", action="append", metavar="NAME", default=None,
                   help="run only this experiment (repeatable)")
    add_executor_arguments(p)
    add_device_flag(p, "the jobs of the experiments on a CNN (fig2, at_scale; the others run "
                    "on the CPU; with --executor dask, cuda is checked on the workers)")
    p.set_defaults(run=run)


def _command(args: argparse.Namespace) -> str:
    """The command line that reproduces this run."""
    words = ["advdyn", "reproduce", "--out", args.out]
    words += ["--profile", _profile(args)]
    for name in args.only or []:
        words += ["--only", name]
    words += ["--executor", args.executor]
    words += ["--workers", str(args.workers)] if args.workers else []
    words += ["--scheduler", args.scheduler] if args.scheduler else []
    words += ["--device", args.device] if args.device != "cpu" else []
    return shlex.join(words)


def _profile(args: argparse.Namespace) -> str:
    """The profile the flags ask for (``--quick`` is ``--profile quick``)."""
    if args.quick and args.profile not in (None, "quick"):
        raise fail("--quick", f"contradicts --profile {args.profile}", "give one of them")
    return "quick" if args.quick else args.profile or "full"


def run(args: argparse.Namespace) -> int:
    """Validate every configuration, run the experiments, print the report's path."""
    from advdyn.experiments import registry
    from advdyn.pipeline import plan, reference_verdicts, reproduce
    from advdyn.pipeline.reproduce import RUN_FILE, expected_times

    profile = _profile(args)
    device = device_of(args, local=args.executor != "dask")
    out = output_folder(args.out)
    reference = reference_verdicts(Path(args.reference_claims))
    expected = expected_times(Path(args.reference_claims).with_name(RUN_FILE))
    if args.only:
        experiments = [registry.get(name, "--only") for name in args.only]
    else:
        experiments = registry.registered()
    the_plan = plan(experiments, profile=profile, device=device)
    with executor_from(args) as executor:
        out.mkdir(parents=True, exist_ok=True)
        report = reproduce(the_plan, out, executor, progress=not args.no_progress,
                           command=_command(args), reference=reference, expected=expected)
    failed = [s.name for s in report.sections if s.error is not None]
    verdicts = [c.verdict for _, c in report.claims]
    print(f"{len(report.sections)} experiments, {len(verdicts)} claims "
          f"({verdicts.count('supported')} supported); report: {out / 'report.html'}")
    if failed:
        print("failed: " + ", ".join(failed), file=sys.stderr)
    return 1 if failed else 0
