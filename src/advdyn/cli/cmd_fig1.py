"""``advdyn fig1 --out DIR [--seed S] ...``: Figure 1 (simulated landscapes, d = 2).

Also holds the flag helpers that ``advdyn phase`` shares: one flag per configuration field
(``--angle-density`` for ``angle_density``), defaults shown from the dataclass, values left
unset taken from it.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
import typing
from pathlib import Path
from typing import Any

import torch

from advdyn.cli.common import config_values, flag_type, number_type, output_folder, positive_int
from advdyn.experiments.fig1 import Fig1Config, run_fig1, write_outputs
from advdyn.experiments.simulated import STEP_RULES
from advdyn.losses import SCALAR_LOSSES

HELP = {
    "scales": "input scales ‖x‖ (rows of the grid)",
    "ratios": "ratios r, ε = r‖x‖ (columns of the grid)",
    "seed": "seed of the network, the direction of x and the random starts",
    "seeds": "number of seeds (networks and directions): seed, seed+1, ...",
    "dim": "input dimension d (d > 2 uses the multistart census)",
    "width": "hidden width m of the two-layer network",
    "loss": "adversarial loss ℓ (bce: critical points of L are exactly those of f)",
    "label": "label y",
    "kappa": "Xavier weight scale κ (w_r ~ N(0, κ²I); default d^-1/2)",
    "gamma": "output weight γ (a_r = ±γ; default m^-1/2)",
    "rule": "PGD step rule: normalized δ - ρε∇L/‖∇L‖, raw δ - ρε²∇L",
    "rho": "relative step ρ",
    "steps": "PGD step budget per trajectory",
    "trajectories": "PGD trajectories per panel (uniform starts in the open disk)",
    "tol": "settled = stays within tol·ε of a local minimum of L on the sphere",
    "perturb": "kick off each local maximum: δ₀ = P_B(δ* + perturb·ε·v), v uniform unit",
    "angle_density": "circle scan: grid points per softplus transition width 1/(ε max‖w_r‖)",
    "min_angles": "circle scan: fewest angles",
    "max_angles": "circle scan: most angles",
    "grid": "contour grid points per axis",
    "census_starts": "multistart census (d > 2): uniform starts (default: the census's own)",
}
CHOICES = {"loss": sorted(SCALAR_LOSSES), "rule": list(STEP_RULES)}


def add_config_flags(p: argparse.ArgumentParser, config: type, title: str) -> None:
    """One ``--flag`` per field of the ``config`` dataclass, default ``None`` (= the field's)."""
    g = p.add_argument_group(title)
    hints = typing.get_type_hints(config)
    default = config()
    for f in dataclasses.fields(config):
        kind, many = flag_type(hints[f.name])
        value = getattr(default, f.name)
        shown = " ".join(f"{v:g}" for v in value) if many else f"{value}"
        extra: dict[str, Any] = {"nargs": "+", "metavar": "V"} if many else {}
        if f.name in CHOICES:
            extra["choices"] = CHOICES[f.name]
        text = HELP[f.name] if value is None else f"{HELP[f.name]} (default {shown})"
        g.add_argument("--" + f.name.replace("_", "-"), type=number_type(kind), default=None,
                       help=text, **extra)


def config_from_args(config: type, args: argparse.Namespace) -> Any:
    """The ``config`` dataclass built from the flags that were given (validated there)."""
    return config(**config_values(config, args))


def add_run_flags(p: argparse.ArgumentParser) -> None:
    """``--out``, ``--threads`` and ``--no-progress``."""
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--threads", type=positive_int, default=1,
                   help="torch intra-op threads (default 1: the work is many small tensor "
                        "operations, for which more threads cost more than they gain)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def prepare(args: argparse.Namespace) -> Path:
    """Validate ``--out`` and ``--threads`` and apply the thread count; returns the folder."""
    out = output_folder(args.out)
    torch.set_num_threads(args.threads)
    return out


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "fig1", help="Figure 1: landscapes of L and PGD trajectories on simulated data (d = 2)",
        description="A two-layer network at Xavier initialisation, d = 2, input scales × "
        "ratios (ε = r‖x‖). Per panel: L(δ) = -ℓ over the disk B(0, ε) in coordinates δ/ε, the "
        "exact census of local minima/maxima of L on the circle, and PGD trajectories from "
        "uniform starts (all panels in one batched run). Writes DIR/fig1.json (every choice, "
        "per panel the counts and the steps each trajectory took to settle), DIR/fig1.png and "
        "DIR/fig1.pdf.")
    add_run_flags(p)
    add_config_flags(p, Fig1Config, "figure 1")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    cfg = config_from_args(Fig1Config, args)
    out = prepare(args)
    t0 = time.perf_counter()
    results = run_fig1(cfg, progress=not args.no_progress)
    write_outputs(results, out)
    for panel in results["panels"]:
        med = panel["median_steps"]
        print(f"scale {panel['scale']:g} ratio {panel['ratio']:g}: local minima of L "
              f"{panel['minima']}, maxima {panel['maxima']}; median steps "
              f"{'-' if med is None else f'{med:g}'} ({panel['settled']}/"
              f"{panel['trajectories']} settled)")
    print(f"wrote {out / 'fig1.json'}, fig1.png, fig1.pdf ({time.perf_counter() - t0:.0f} s)")
    return 0
