"""``advdyn fig3 --out DIR [--quick]``: the escape probe along adversarial training (Figure 3)."""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict

from advdyn.cli.cmd_fig2 import add_probe_arguments, probe_config
from advdyn.cli.cmd_train import (
    add_data_arguments,
    add_model_arguments,
    add_train_arguments,
    history_table,
    train_config,
)
from advdyn.cli.common import nonneg_int, output_folder
from advdyn.experiments.fig2 import QUICK as PROBE_QUICK
from advdyn.experiments.fig2 import write_figure
from advdyn.experiments.fig3 import EPOCHS, QUICK_EPOCHS, SCALE, TRAIN_QUICK, Fig3Config, run_fig3


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "fig3", help="Figure 3: escape from local maxima of L along adversarial training",
        description="Madry-style PGD adversarial training at input scale 0.1 (checkpoints in "
        "DIR/checkpoints, resumable), then the Figure 2 escape probe on the networks at the "
        "chosen epochs. Writes DIR/fig3.json (per curve: epoch, scale, ratio, steps to escape, "
        "images, data source; clean/robust accuracy per epoch; per scale: whether 'escape gets "
        "harder as training proceeds' held; every setting) and DIR/fig3.png/.pdf. --quick: "
        f"epochs {' '.join(map(str, QUICK_EPOCHS))} on 1000 training images with K = 5 and the "
        "quick probe (about a minute on 2 unloaded cores); the defaults (epochs 0 10 100 on "
        "4000 images, K = 10) take about an hour.")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--quick", action="store_true", help="a small run (still real MNIST images)")
    p.add_argument("--epochs", type=nonneg_int, nargs="+", default=None, metavar="E",
                   help=f"checkpoint epochs probed (default {' '.join(map(str, EPOCHS))}; "
                   f"quick {' '.join(map(str, QUICK_EPOCHS))})")
    p.add_argument("--checkpoints", metavar="DIR", default=None,
                   help="checkpoint folder (default DIR/checkpoints); reused/resumed if present")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_data_arguments(p)
    add_model_arguments(p)
    add_train_arguments(p, scale=SCALE)
    add_probe_arguments(p, (SCALE,))
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    train_cfg = train_config(args, TRAIN_QUICK if args.quick else None)
    probe_cfg = probe_config(args, {"scales": (SCALE,), **(PROBE_QUICK if args.quick else {})})
    epochs = tuple(args.epochs or (QUICK_EPOCHS if args.quick else EPOCHS))
    out = output_folder(args.out)
    ckpt = output_folder(args.checkpoints) if args.checkpoints else out / "checkpoints"
    training = {k: v for k, v in asdict(train_cfg).items() if k != "seed"}
    config = Fig3Config(epochs=epochs, **training, model_seed=train_cfg.seed, **asdict(probe_cfg),
                        mnist_dir=args.mnist_dir, holdout=args.holdout,
                        data_seed=args.data_seed, work_dir=str(ckpt))
    result = run_fig3(config, quick=args.quick, command=["advdyn", *sys.argv[1:]],
                      progress=not args.no_progress)
    write_figure(result, out)
    print(history_table(result["history"]))
    for c in result["payload"]["claims_per_scale"]:
        print(f"scale {c['scale']:g}: claim {c['verdict']} ({c['held']} held, {c['ties']} ties, "
              f"{c['contradicted']} contradicted)")
    print(f"wrote {out / 'fig3.json'}, fig3.png, fig3.pdf ({result['payload']['seconds']:.0f} s)")
    return 0
