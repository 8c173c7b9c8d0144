"""Madry PGD adversarial training for any ``torch.nn.Module`` (:func:`fit`), its inner attack
(:class:`InnerPGD`, :func:`perturb`), the robust accuracy it defines and the callbacks that
observe a run. No file is written here."""

from advdyn.train.inner import (
    ATTACK,
    EVALUATE,
    FIRST_FREE_PURPOSE,
    SHUFFLE,
    InnerPGD,
    perturb,
    robust_accuracy,
    stream,
)
from advdyn.train.loop import (
    FORMAT,
    OPTIMIZERS,
    Callback,
    EpochHook,
    HeldOut,
    Optimiser,
    Progress,
    Recipe,
    Step,
    fit,
    train_epoch,
)

__all__ = ["ATTACK", "EVALUATE", "FIRST_FREE_PURPOSE", "FORMAT", "OPTIMIZERS", "SHUFFLE",
           "Callback", "EpochHook", "HeldOut", "InnerPGD", "Optimiser", "Progress", "Recipe",
           "Step", "fit", "perturb", "robust_accuracy", "stream", "train_epoch"]
