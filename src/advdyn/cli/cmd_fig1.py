"""``advdyn fig1 --out DIR [--seed S] ...``: Figure 1 (simulated landscapes, d = 2).

One flag per configuration field (``--angle-density`` for ``angle_density``), defaults shown
from the dataclass, values left unset taken from it. The figure runs through the same path as
``advdyn reproduce`` (:func:`advdyn.pipeline.run_standalone`), its files straight into DIR.
"""

from __future__ import annotations

import argparse

from advdyn.cli.common import add_experiment_command, print_section, run_experiment_command
from advdyn.experiments.fig1 import EXPERIMENT, Fig1Config


def register(sub: argparse._SubParsersAction) -> None:
    add_experiment_command(
        sub, "fig1", Fig1Config, title="figure 1", run=run,
        description="A two-layer network at Xavier initialisation, d = 2, input scales × "
        "ratios (ε = r‖x‖). Per panel: L(δ) = -ℓ over the disk B(0, ε) in coordinates δ/ε, the "
        "exact census of local minima/maxima of L on the circle, and PGD trajectories from "
        "uniform starts (all panels in one batched run). Writes DIR/fig1.json (every choice, "
        "per panel the counts and the steps each trajectory took to settle), DIR/fig1.png, "
        "DIR/fig1.pdf and DIR/claims.json (the Figure 1 claim's record); the job's result is "
        "cached in DIR/cache.")


def run(args: argparse.Namespace) -> int:
    done = run_experiment_command(args, EXPERIMENT, Fig1Config)
    for panel in (done.result or {}).get("panels", []):
        med = panel["median_steps"]
        print(f"scale {panel['scale']:g} ratio {panel['ratio']:g}: local minima of L "
              f"{panel['minima']}, maxima {panel['maxima']}; median steps "
              f"{'-' if med is None else f'{med:g}'} ({panel['settled']}/"
              f"{panel['trajectories']} settled)")
    out = args.out
    return print_section(done.section, [f"{out}/fig1.json", f"{out}/fig1.png",
                                        f"{out}/fig1.pdf"])
