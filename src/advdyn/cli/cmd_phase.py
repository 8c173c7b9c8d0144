"""``advdyn phase --out DIR [--scales ...] [--ratios ...] [--seeds N] [--dim D] ...``: the input
scale × ratio phase diagram of the number of local minima and of the escape time, through the
same path as ``advdyn reproduce`` (:func:`advdyn.pipeline.run_standalone`)."""

from __future__ import annotations

import argparse

from advdyn.cli.common import (
    add_config_flags,
    add_run_flags,
    config_from_args,
    prepare,
    print_section,
)
from advdyn.experiments import registry
from advdyn.experiments.phase import PhaseConfig
from advdyn.pipeline import run_standalone


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "phase", help="phase diagram: local minima of L and escape steps over scale × ratio",
        description="Over a log grid of input scales ‖x‖ and ratios r (ε = r‖x‖) and several "
        "seeds (Xavier two-layer networks): the number of local minima of L = -ℓ on the sphere "
        "(exact circle scan for d = 2, multistart census for --dim > 2) and the number of PGD "
        "steps from a (slightly perturbed) local maximum of L until the iterate stays within "
        "tol·ε of a local minimum. Writes DIR/phase.json (scales, ratios, mean_minima, "
        "mean_escape_steps, spreads, seeds, every setting) and DIR/phase.png/.pdf; the jobs' "
        "results are cached in DIR/cache.")
    add_run_flags(p)
    add_config_flags(p, PhaseConfig, "phase diagram")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    cfg = config_from_args(PhaseConfig, args)
    out = prepare(args)
    done = run_standalone(registry.get("phase"), cfg, out, progress=not args.no_progress,
                          threads=args.threads)
    if done.section.outcome is not None:
        print(done.section.outcome.text)
    return print_section(done.section, [out / "phase.json", out / "phase.png",
                                        out / "phase.pdf"])
