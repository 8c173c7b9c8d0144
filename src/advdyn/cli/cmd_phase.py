"""``advdyn phase --out DIR [--scales ...] [--ratios ...] [--seeds N] [--dim D] ...``: the input
scale × ratio phase diagram of the number of local minima and of the escape time, through the
same path as ``advdyn reproduce`` (:func:`advdyn.pipeline.run_standalone`)."""

from __future__ import annotations

import argparse

from advdyn.cli.common import add_experiment_command, print_section, run_experiment_command
from advdyn.experiments import registry
from advdyn.experiments.phase import PhaseConfig


def register(sub: argparse._SubParsersAction) -> None:
    add_experiment_command(
        sub, "phase", PhaseConfig, title="phase diagram", run=run,
        description="Over a log grid of input scales ‖x‖ and ratios r (ε = r‖x‖) and several "
        "seeds (Xavier two-layer networks): the number of local minima of L = -ℓ on the sphere "
        "(exact circle scan for d = 2, multistart census for --dim > 2) and the number of PGD "
        "steps from a (slightly perturbed) local maximum of L until ℓ = -L has covered "
        "--gap-fraction of its gap to the deepest local minimum. Writes DIR/phase.json "
        "(scales, ratios, mean_minima, mean_escape_steps, spreads, seeds, every setting) and "
        "DIR/phase.png/.pdf; the jobs' results are cached in DIR/cache.")


def run(args: argparse.Namespace) -> int:
    done = run_experiment_command(args, registry.get("phase"), PhaseConfig)
    if done.section.outcome is not None:
        print(done.section.outcome.text)
    out = args.out
    return print_section(done.section, [f"{out}/phase.json", f"{out}/phase.png",
                                        f"{out}/phase.pdf"])
