"""``advdyn fig2 --out DIR [--quick]``: the escape probe on MNIST across input scales (Figure 2).

Also holds the probe flags that ``fig3`` shares. The computation and the output writer are
:mod:`advdyn.experiments.fig2` (shared with the experiment ``fig2``).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict, fields
from typing import Any

from advdyn.cli.cmd_train import add_data_arguments, add_model_arguments
from advdyn.cli.common import output_folder
from advdyn.experiments.escape import DTYPES, EscapeConfig
from advdyn.experiments.fig2 import (  # noqa: F401  (data_record, footnote: used by fig3)
    ESCAPE_DEFINITION,
    QUICK,
    Fig2Config,
    data_record,
    footnote,
    run_fig2,
    write_figure,
    write_outputs,
)
from advdyn.pgd import RULES

_HELP = {
    "scales": "input scales: pixels in [0, scale]",
    "ratios": "ratios r: ε = r · mean‖x‖₂ of the training images at that scale",
    "images": "held-out images probed",
    "rule": "attack step rule: normalized δ-ρε∇L/‖∇L‖, sign δ-ρε·sign∇L, raw δ-ρε²∇L",
    "rho": "attack step ρ",
    "steps": "attack steps recorded",
    "ascent_rho": "initial ascent step ρ_a (normalized rule, step ρ_a·ε)",
    "ascent_steps": "ascent step budget",
    "ascent_tol": "ascent: halve the step when L rose by ≤ tol × its total rise in a window",
    "ascent_check": "ascent: window length in steps",
    "perturb": "perturbation of the maximum, σ·ε (the ascent also refines to a step < σε)",
    "fraction": "escape = first step reaching this fraction of the rise of ℓ",
    "seed": "seed of the image choice, sphere starts and perturbation directions",
    "dtype": "floating point precision of the probe",
    "claim_margin": "a comparison holds only if the mean paired difference is ≥ this many steps",
}


def add_probe_arguments(p: argparse.ArgumentParser, scales: tuple[float, ...]) -> None:
    """One flag per :class:`EscapeConfig` field (``--ascent-rho`` for ``ascent_rho``, ...)."""
    g = p.add_argument_group("escape probe")
    default = EscapeConfig()
    for f in fields(EscapeConfig):
        value = scales if f.name == "scales" else getattr(default, f.name)
        quick = f" (quick {QUICK[f.name]})" if f.name in QUICK else ""
        if isinstance(value, tuple):
            kind: dict[str, Any] = {"type": float, "nargs": "+"}
            shown = " ".join(f"{v:g}" for v in value)
        else:
            kind = {"type": type(value)}
            shown = f"{value}"
        if f.name == "rule":
            kind["choices"] = sorted(RULES)
        if f.name == "dtype":
            kind["choices"] = sorted(DTYPES)
        g.add_argument("--" + f.name.replace("_", "-"), default=None, **kind,
                       help=f"{_HELP[f.name]} (default {shown}){quick}")


def probe_config(args: argparse.Namespace, defaults: dict[str, Any]) -> EscapeConfig:
    """The :class:`EscapeConfig` of the parsed flags; ``defaults`` fills the flags left unset."""
    values: dict[str, Any] = {}
    for f in fields(EscapeConfig):
        v = getattr(args, f.name)
        v = defaults.get(f.name) if v is None else v
        if v is not None:
            values[f.name] = tuple(v) if isinstance(v, list) else v
    return EscapeConfig(**values)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "fig2", help="Figure 2: escape from local maxima of L on MNIST across input scales",
        description="For each held-out MNIST image, input scale and ratio: find a local maximum "
        "of L = -ℓ on the sphere ‖δ‖ = ε (projected gradient ascent on L: where the attack is "
        "weakest), perturb it slightly, run the attack (PGD descent on L) from there and record "
        "ℓ. Writes DIR/fig2.json (per curve: scale, ratio, steps to escape, images, data "
        "source, every setting; per scale: whether 'smaller scale → faster escape' held) and "
        "DIR/fig2.png/.pdf. --quick: 6 images, 100 attack steps, 200 ascent steps (measured on "
        "a shared 2-core machine: 1.5 to 3 minutes wall, 90 CPU-seconds); the defaults (50 "
        "images, 200 attack and up to 500 ascent steps) took 16 minutes wall (6 CPU-minutes).")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--quick", action="store_true", help="a small run (still real MNIST images)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_data_arguments(p)
    add_model_arguments(p)
    add_probe_arguments(p, EscapeConfig().scales)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    cfg = probe_config(args, QUICK if args.quick else {})
    out = output_folder(args.out)
    config = Fig2Config(**asdict(cfg), arch=args.arch, activation=args.activation,
                        model_seed=args.model_seed, mnist_dir=args.mnist_dir,
                        holdout=args.holdout, data_seed=args.data_seed)
    result = run_fig2(config, quick=args.quick, command=["advdyn", *sys.argv[1:]],
                      progress=not args.no_progress)
    write_figure(result, out)
    for c in result["payload"]["claims_per_scale"]:
        print(f"scale {c['scale']:g}: claim {c['verdict']} ({c['held']} held, {c['ties']} ties, "
              f"{c['contradicted']} contradicted)")
    print(f"wrote {out / 'fig2.json'}, fig2.png, fig2.pdf ({result['payload']['seconds']:.0f} s)")
    return 0
