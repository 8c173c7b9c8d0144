"""``advdyn fig3 --out DIR [--quick]``: the escape probe along adversarial training (Figure 3)."""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict

from advdyn.cli.cmd_fig2 import (
    ESCAPE_DEFINITION,
    add_probe_arguments,
    data_record,
    footnote,
    probe_config,
    write_outputs,
)
from advdyn.cli.cmd_fig2 import QUICK as PROBE_QUICK
from advdyn.cli.cmd_sweep import output_folder
from advdyn.cli.cmd_train import (
    add_data_arguments,
    add_model_arguments,
    add_train_arguments,
    history_table,
    load_data,
    train_config,
)
from advdyn.experiments.advtrain import probe_training
from advdyn.experiments.escape import summarize, training_claim
from advdyn.models.cnn import build_cnn, parameter_count

SCALE = 0.1
EPOCHS = (0, 10, 100)
QUICK_EPOCHS = (0, 2, 5)
TRAIN_QUICK = {"train_images": 1000, "eval_images": 500, "pgd_steps": 5}


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
    p.add_argument("--epochs", type=int, nargs="+", default=None, metavar="E",
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
    data = load_data(args)
    t0 = time.perf_counter()
    run_, curves = probe_training(train_cfg, probe_cfg, data, ckpt, epochs,
                                  progress=not args.no_progress)
    claims = training_claim(curves, probe_cfg.claim_margin)
    summaries = [{**summarize(c), "data_source": data.source} for c in curves]
    seconds = time.perf_counter() - t0
    n_params = parameter_count(build_cnn(args.arch, activation=args.activation))
    model_text = (f"{args.arch} CNN ({args.activation}, {n_params} parameters), PGD "
                  f"adversarial training at scale {train_cfg.scale:g}, ratio "
                  f"{train_cfg.ratio:g}, K = {train_cfg.pgd_steps}")
    payload = {
        "figure": "fig3",
        "claim": "escape from a local maximum of L gets harder (more steps) as adversarial "
                 "training proceeds (paper Figure 3)",
        "escape_definition": ESCAPE_DEFINITION,
        "claims_per_scale": claims,
        "quick": args.quick, "seconds": seconds, "command": ["advdyn", *sys.argv[1:]],
        "data": data_record(data, train_cfg.train_images or int(data.train_images.shape[0]),
                            run_.unit_mean_norm),
        "model": {"arch": args.arch, "activation": args.activation, "seed": args.model_seed,
                  "parameters": n_params, "init": "PyTorch default"},
        "training": {"config": asdict(train_cfg), "eps": run_.eps, "epochs": list(epochs),
                     "checkpoints": {str(e): str(p) for e, p in run_.checkpoints.items()},
                     "resumed_from": run_.resumed_from, "history": run_.history},
        "config": asdict(probe_cfg),
        "curves": summaries,
    }
    acc = {h["epoch"]: h for h in run_.history}
    verdicts = {c["scale"]: c for c in claims}
    panels = []
    for s in probe_cfg.scales:
        v = verdicts[s]
        for e in sorted(set(epochs)):
            panels.append({
                "title": f"epoch {e}, input scale {s:g} (clean {acc[e]['clean_acc']:.2f}, "
                         f"robust {acc[e]['robust_acc']:.2f})",
                "verdict": f"{v['verdict']} ({v['held']} held, {v['ties']} ties, "
                           f"{v['contradicted']} contradicted)",
                "curves": [c for c in summaries if c["scale"] == s and c["epoch"] == e]})
    write_outputs(out, "fig3", payload, panels, probe_cfg.fraction,
                  "Figure 3 — attack from a local maximum of L along adversarial training; "
                  "claim: escape gets harder as training proceeds",
                  footnote(probe_cfg, model_text, data.source))
    print(history_table(run_.history))
    for c in claims:
        print(f"scale {c['scale']:g}: claim {c['verdict']} ({c['held']} held, {c['ties']} ties, "
              f"{c['contradicted']} contradicted)")
    print(f"wrote {out / 'fig3.json'}, fig3.png, fig3.pdf ({seconds:.0f} s)")
    return 0
