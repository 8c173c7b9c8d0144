"""``advdyn check CLAIM --out DIR [--quick] [--json]``: run the experiment that holds one claim's
arms, judge it and write its files (the experiment's result, figures and ``DIR/claims.json``)
through the same path as ``advdyn reproduce`` (:func:`advdyn.pipeline.check`).

``advdyn check --help`` lists the claims from :data:`advdyn.cli.names.CLAIMS` without importing
the claims or the experiments; the paper's labels that were ids before (``"Fig. 1"``, ...,
:data:`advdyn.cli.names.OLD_CLAIM_IDS`) are accepted for one release, with a note naming the new
id. A claim's own flags (one per parameter of its experiment) are
added when that claim is parsed (or when every parser is built, for the documentation)."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import typing

from advdyn.cli.common import (
    LazySubparsers,
    add_command,
    add_device_flag,
    device_of,
    emit_json,
    flag_type,
    number_type,
    output_folder,
    positive_int,
)
from advdyn.cli.names import CLAIMS, OLD_CLAIM_IDS

USAGE = ("advdyn check CLAIM --out DIR [--quick] [--json] [--threads N] [--device D] "
         "[--PARAMETER V ...]")


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "check", "Run the experiment that holds one claim's main arm and "
                    "negative control, judge both with the claim's rule and write the "
                    "experiment's result, its figures and DIR/claims.json (the records of "
                    "every claim of that experiment). advdyn check CLAIM --help shows the "
                    "claim's sentence, measurement, rule and control and its experiment's "
                    "parameters; docs/claims describes every claim.")
    claims = p.add_subparsers(dest="claim", metavar="CLAIM", parser_class=type(p),
                              action=LazySubparsers, title="claims (id: where in the paper)")
    p.usage = USAGE  # after add_subparsers, which names the claims' parsers from the usage
    claims.required = True
    claims.fill = add_parameters  # type: ignore[attr-defined]
    old = {new: [label for label, to in OLD_CLAIM_IDS.items() if to == new]
           for new in OLD_CLAIM_IDS.values()}
    for claim_id, section in CLAIMS:
        q = claims.add_parser(claim_id, help=section, usage=USAGE.replace("CLAIM", claim_id),
                              aliases=old.get(claim_id, []))
        q.add_argument("--out", required=True, metavar="DIR",
                       help="output folder (created if missing)")
        q.add_argument("--quick", action="store_true",
                       help="the experiment's quick configuration")
        q.add_argument("--json", action="store_true", help="print the claim's record as JSON")
        q.add_argument("--threads", type=positive_int, default=1,
                       help="torch CPU threads (default 1: the small batched kernels here are "
                       "latency-bound; extra threads cost more than they give on a busy machine)")
        add_device_flag(q, "the jobs of an experiment on a CNN (fig2, at_scale; the others run "
                        "on the CPU)")
        q.set_defaults(run=run)


def add_parameters(claim_id: str, q: argparse.ArgumentParser) -> None:
    """The claim's description and one flag per parameter of its experiment."""
    from advdyn.claims import claim
    from advdyn.experiments import registry

    c = claim(OLD_CLAIM_IDS.get(claim_id, claim_id))
    experiment = registry.get(c.experiment, "claim")
    q.description = f"{c.section}: {c.quote} Measured: {c.measurement} Rule: {c.rule} " \
                    f"Control: {c.control}"
    g = q.add_argument_group(f"parameters of the experiment {experiment.name}")
    hints = typing.get_type_hints(experiment.config)
    for f in dataclasses.fields(experiment.config):
        kind, many = flag_type(hints[f.name])
        quick = experiment.quick.get(f.name)
        default = f.default if f.default is not dataclasses.MISSING else "required"
        text = f"default {default!r}" + ("" if quick is None else f", quick {quick!r}")
        g.add_argument("--" + f.name.replace("_", "-"), dest=f"param_{f.name}", metavar="V",
                       type=number_type(kind), nargs="+" if many else None, default=None,
                       help=text)


def run(args: argparse.Namespace) -> int:
    import torch

    from advdyn.claims import claim
    from advdyn.experiments import registry
    from advdyn.pipeline import check, plan  # loads plotting: only when a check runs
    from advdyn.runner.executors import InlineExecutor

    claim_id = OLD_CLAIM_IDS.get(args.claim, args.claim)
    parameters = {k.removeprefix("param_"): v for k, v in vars(args).items()
                  if k.startswith("param_") and v is not None}
    experiment = registry.get(claim(claim_id).experiment, "claim")
    # every parameter is validated before anything is written
    plan([experiment], quick=args.quick, overrides={experiment.name: parameters})
    device = device_of(args)
    out = output_folder(args.out)
    if claim_id != args.claim:
        print(f"advdyn check: note: {args.claim!r} is the old id of {claim_id}; type "
              f"{claim_id} (old ids are accepted until the next release)", file=sys.stderr)
    torch.set_num_threads(args.threads)
    done = check(claim_id, out, InlineExecutor(threads=args.threads), quick=args.quick,
                 parameters=parameters, progress=False, device=device)
    if done.section.error is not None:
        print(done.section.error.rstrip().splitlines()[-1])
        return 1
    record = next(r for r in done.records if r.id == claim_id)
    if args.json:
        emit_json(record.to_json())
    else:
        print(f"{record.id}: {record.verdict} (negative control: {record.control['verdict']}) "
              f"— {record.reason}  [{done.section.wall_s:.1f} s; {out}/claims.json]")
    return 0
