"""``advdyn train --out DIR --epochs N [--FIELD V ...]``: Madry-style PGD adversarial training
of an MNIST CNN, resumable.

The training (:func:`advdyn.experiments.advtrain.train`, on the library loop
:func:`advdyn.train.fit`) writes nothing; this command hands it a progress bar and an epoch
hook that writes the checkpoints (atomically, ``torch.save``), and resumes from ``DIR/last.pt``
(read with ``torch.load(weights_only=True)``: tensors and plain values only).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import torch
from torch import nn

from advdyn.atomic import write_json, write_with
from advdyn.cli.common import (
    add_command,
    add_config_flags,
    add_device_flag,
    add_run_flags,
    config_values,
    device_of,
    prepare,
)
from advdyn.data import load_mnist
from advdyn.errors import fail
from advdyn.experiments.advtrain import RUN_HELP, TrainRunConfig, train
from advdyn.experiments.base import config_dict
from advdyn.train import Progress

LAST = "last.pt"


def read_checkpoint(path: Path) -> dict[str, Any]:
    """A checkpoint's contents; errors name the file."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # any unpickling/format failure of a foreign or damaged file
        raise fail(str(path), f"not a readable checkpoint ({type(e).__name__})") from None
    if not isinstance(state, dict) or "format" not in state:
        raise fail(str(path), "not an advdyn adversarial-training checkpoint")
    return state


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub, "train", "min_θ mean_i max_{‖δ_i‖₂≤ε} ℓ(y_i, f_θ(x_i+δ_i)), inner max by K PGD "
        "steps from a uniform start, outer Adam/SGD. Writes DIR/last.pt after every epoch and "
        "DIR/epoch_NNNN.pt at --checkpoint-epochs and the last epoch (atomically), and "
        "DIR/train.json (configuration, per-epoch robust training loss, clean and robust "
        "held-out accuracy, PGD outputs on the sphere). Rerunning the same command resumes "
        "from DIR/last.pt.")
    add_run_flags(p)
    add_device_flag(p, "the training")
    add_config_flags(p, TrainRunConfig, "adversarial training", help_texts=RUN_HELP)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    config = TrainRunConfig(**config_values(TrainRunConfig, args))
    device = device_of(args)
    out = prepare(args)
    data = load_mnist(config.mnist_dir, holdout=config.holdout, seed=config.data_seed)
    resume = read_checkpoint(out / LAST) if (out / LAST).is_file() else None
    keep = {*config.checkpoint_epochs, config.epochs}

    def on_epoch(epoch: int, model: nn.Module, state: dict[str, Any]) -> None:
        if epoch in keep:
            write_with(out / f"epoch_{epoch:04d}.pt", lambda p: torch.save(state, p))
        write_with(out / LAST, lambda p: torch.save(state, p))

    history = train(config.training(), data, config.epochs, on_epoch=on_epoch, resume=resume,
                    callbacks=[Progress(config.epochs, enabled=not args.no_progress)],
                    device=device)
    write_json(out / "train.json", {
        "config": config_dict(config), "data_source": data.source,
        "resumed_from": None if resume is None else resume["epoch"], "history": history})
    print("epoch  robust_loss  clean_acc  robust_acc  on_sphere")
    for h in history:
        loss = "-" if h["robust_train_loss"] is None else f"{h['robust_train_loss']:.4f}"
        sphere = "-" if h["on_sphere"] is None else f"{h['on_sphere']:.3f}"
        print(f"{h['epoch']:>5}  {loss:>11}  {h['clean_acc']:>9.4f}  {h['robust_acc']:>10.4f}"
              f"  {sphere:>9}")
    print(f"wrote {out / 'train.json'}, {out / LAST}")
    return 0
