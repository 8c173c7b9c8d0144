"""``advdyn fig2 --out DIR [--quick] [--FIELD V ...]``: Figure 2 on MNIST (escape from certified
local maxima of L across input scales, three step conventions, affine and linearised floors).

One flag per :class:`~advdyn.experiments.fig2.Fig2Config` field; the run goes through the
same path as ``advdyn reproduce`` (:func:`advdyn.pipeline.run_standalone`), files into DIR.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from advdyn.cli.common import (
    add_command,
    add_config_flags,
    add_device_flag,
    add_run_flags,
    print_section,
    run_experiment_command,
)
from advdyn.experiments.fig2 import EXPERIMENT, FIG2_HELP, Fig2Config


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub, "fig2", "A CNN at standard initialisation (softplus, average pooling: smooth, so "
        "maxima can be certified). For each held-out image, input scale and ratio: a local "
        "maximum of L = -ℓ on the sphere, certified by its KKT residual (rejected starts are "
        "counted), perturbed, then attacked under three step conventions (normalised ρε, raw "
        "fixed η, raw cε²); escape = ℓ reaching a fraction of the gap to a long attack's ℓ; "
        "censored runs are kept as such (Kaplan–Meier). Beside the CNN, on the same images "
        "and ruler, an affine model and the CNN linearised in its input: the floor every "
        "effect is measured against (the linearised arm is the control). Writes "
        "DIR/fig2.json, fig2.png, fig2_loss.png and claims.json (fig2a, fig2b, fig2c, "
        "fig2-scale). --quick: 20–35 CPU-seconds; the defaults about 20–25 CPU-minutes "
        "(estimate).")
    add_run_flags(p)
    add_device_flag(p, "the probe jobs")
    p.add_argument("--quick", action="store_true", help="the quick configuration (tiny CNN, "
                   "6 images, 3 ratios, short budgets), then the flags given")
    add_config_flags(p, Fig2Config, "figure 2", help_texts=FIG2_HELP)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    done = run_experiment_command(args, EXPERIMENT, Fig2Config)
    out = Path(args.out)
    if done.result is not None:
        c = done.result["checks"]
        print(f"starts: {c['certified']} certified, {c['rejected']} rejected; rows with ℓ = 0: "
              f"{c['rows_with_zero_ell']}")
    return print_section(done.section, [out / "fig2.json", out / "fig2.png",
                                        out / "claims.json"])
