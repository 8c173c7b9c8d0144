"""``advdyn phase --out DIR [--scales ...] [--ratios ...] [--seeds N] [--dim D] ...``: the input
scale × ratio phase diagram of the number of local minima and of the escape time."""

from __future__ import annotations

import argparse
import time

from advdyn.cli.cmd_fig1 import add_config_flags, add_run_flags, config_from_args, prepare
from advdyn.experiments.phase import PhaseConfig, run_phase, write_outputs


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "phase", help="phase diagram: local minima of L and escape steps over scale × ratio",
        description="Over a log grid of input scales ‖x‖ and ratios r (ε = r‖x‖) and several "
        "seeds (Xavier two-layer networks): the number of local minima of L = -ℓ on the sphere "
        "(exact circle scan for d = 2, multistart census for --dim > 2) and the number of PGD "
        "steps from a (slightly perturbed) local maximum of L until the iterate stays within "
        "tol·ε of a local minimum. Writes DIR/phase.json (scales, ratios, mean_minima, "
        "mean_escape_steps, spreads, seeds, every setting) and DIR/phase.png/.pdf.")
    add_run_flags(p)
    add_config_flags(p, PhaseConfig, "phase diagram")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    cfg = config_from_args(PhaseConfig, args)
    out = prepare(args)
    t0 = time.perf_counter()
    results = run_phase(cfg, progress=not args.no_progress)
    write_outputs(results, out)
    checks = results["checks"]
    row = ", ".join(f"{v:g}" for v in checks["mean_minima_at_smallest_scale"])
    by_scale = ", ".join(f"{s:g}: {v:.2f}" for s, v in zip(
        results["scales"], checks["mean_minima_by_scale"], strict=True))
    print(f"mean minima at the smallest scale {checks['smallest_scale']:g} (per ratio): {row}")
    print(f"mean minima per scale (averaged over ratios): {by_scale}")
    esc = ", ".join(f"{s:g}: {'-' if v is None else f'{v:.0f}'}" for s, v in zip(
        results["scales"], checks["mean_escape_by_scale"], strict=True))
    print(f"mean escape steps per scale (averaged over ratios): {esc}")
    print(f"wrote {out / 'phase.json'}, phase.png, phase.pdf ({time.perf_counter() - t0:.0f} s)")
    return 0
