"""``advdyn check CLAIM --out DIR [--quick]``: run the experiment that holds one claim's arms,
judge it and write its files (the experiment's result, figures and ``DIR/claims.json``) through
the same path as ``advdyn reproduce`` (:func:`advdyn.pipeline.check`)."""

from __future__ import annotations

import argparse
import dataclasses
import typing

import torch

from advdyn.claims import all_claims, claim
from advdyn.cli.common import emit_json, flag_type, number_type, output_folder, positive_int
from advdyn.experiments import registry


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check", help="run the experiment of one claim of the paper (SPEC §7)",
                       description="Run the experiment that holds one claim's main arm and "
                       "negative control, judge both with the claim's rule and write the "
                       "experiment's result, its figures and DIR/claims.json (the records of "
                       "every claim of that experiment).")
    claims = p.add_subparsers(dest="claim", metavar="CLAIM", parser_class=type(p))
    claims.required = True
    experiments = {e.name: e for e in registry.registered()}
    for c in all_claims():
        experiment = experiments[c.experiment]
        q = claims.add_parser(c.id, help=f"{c.section}: {c.quote}",
                              description=f"{c.measurement} Rule: {c.rule} Control: {c.control}")
        q.add_argument("--out", required=True, help="output folder (created if missing)")
        q.add_argument("--quick", action="store_true",
                       help="the experiment's quick configuration")
        q.add_argument("--json", action="store_true", help="print the claim's record as JSON")
        q.add_argument("--threads", type=positive_int, default=1,
                       help="torch CPU threads (default 1: the small batched kernels here are "
                       "latency-bound; extra threads cost more than they give on a busy machine)")
        hints = typing.get_type_hints(experiment.config)
        for f in dataclasses.fields(experiment.config):
            kind, many = flag_type(hints[f.name])
            quick = experiment.quick.get(f.name)
            default = f.default if f.default is not dataclasses.MISSING else "required"
            text = f"default {default!r}" + ("" if quick is None else f", quick {quick!r}")
            q.add_argument("--" + f.name.replace("_", "-"), dest=f"param_{f.name}", metavar="V",
                           type=number_type(kind), nargs="+" if many else None, default=None,
                           help=text)
        q.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from advdyn.pipeline import check, plan  # loads plotting: only when a check runs
    from advdyn.runner.executors import InlineExecutor

    parameters = {k.removeprefix("param_"): v for k, v in vars(args).items()
                  if k.startswith("param_") and v is not None}
    experiment = registry.get(claim(args.claim).experiment, "claim")
    # every parameter is validated before anything is written
    plan([experiment], quick=args.quick, overrides={experiment.name: parameters})
    out = output_folder(args.out)
    torch.set_num_threads(args.threads)
    done = check(args.claim, out, InlineExecutor(threads=args.threads), quick=args.quick,
                 parameters=parameters, progress=False)
    if done.section.error is not None:
        print(done.section.error.rstrip().splitlines()[-1])
        return 1
    record = next(r for r in done.records if r.id == args.claim)
    if args.json:
        emit_json(record.to_json())
    else:
        print(f"{record.id}: {record.verdict} (negative control: {record.control['verdict']}) "
              f"— {record.reason}  [{done.section.wall_s:.1f} s; {out}/claims.json]")
    return 0
