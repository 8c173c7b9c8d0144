"""``advdyn fig3 --out DIR [--quick] [--FIELD V ...]`` (the experiment ``at_scale``): Madry
adversarial training at several input scales (Question 2), the Figure 3 probe along training,
and PGD's stationarity and restarts on the trained networks (Question 1).

One flag per :class:`~advdyn.experiments.at_scale.AtScaleConfig` field; the run goes through
the same path as ``advdyn reproduce`` (:func:`advdyn.pipeline.run_standalone`).
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
from advdyn.experiments.at_scale import AT_SCALE_HELP, EXPERIMENT, AtScaleConfig


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub, "fig3", "Madry-style PGD adversarial training of one CNN at input scales 0.1, 1, "
        "10 and 1000 at a fixed ratio (same architecture, optimiser and schedule; several "
        "seeds), beside the same network behind x/scale (the control). Per epoch: robust "
        "training loss, clean and robust held-out accuracy (PGD with restarts), PGD outputs on "
        "the sphere. At the probe epochs: the Figure 2 escape probe, PGD's steps to "
        "stationarity (normalised and raw rules, random-direction control) and the spread of "
        "Madry-style restarts. Writes DIR/at_scale.json, at_scale.png, fig3.png, "
        "q1_stationarity.png and claims.json (at-scale, sphere-at, fig3, fig3-scale, q1-cnn, "
        "concentration-cnn). --quick: about 25 CPU-seconds; the defaults about 4 CPU-hours "
        "(estimate).")
    add_run_flags(p)
    add_device_flag(p, "the training and probe jobs")
    p.add_argument("--quick", action="store_true", help="the quick configuration (tiny CNN, "
                   "3 scales, 2 seeds, 2 epochs on 200 images), then the flags given")
    add_config_flags(p, AtScaleConfig, "adversarial training across scales",
                     help_texts=AT_SCALE_HELP)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    done = run_experiment_command(args, EXPERIMENT, AtScaleConfig)
    out = Path(args.out)
    return print_section(done.section, [out / "at_scale.json", out / "fig3.png",
                                        out / "claims.json"])
