"""Madry PGD adversarial training for any ``torch.nn.Module`` (:func:`fit`), of K models of
one architecture at once (:func:`fit_ensemble`, on :class:`GroupedNet`), its inner attack
(:class:`InnerPGD`, :func:`perturb`, :func:`perturb_ensemble`), the robust accuracy it defines
and the callbacks that observe a run. No file is written here."""

from advdyn.train.ensemble import Member, fit_ensemble, perturb_ensemble, shared
from advdyn.train.grouped import EnsembleObjective, GroupedNet, groupable
from advdyn.train.inner import (
    ATTACK,
    EVALUATE,
    FIRST_FREE_PURPOSE,
    SHUFFLE,
    InnerPGD,
    attack_loss,
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
           "Callback", "EnsembleObjective", "EpochHook", "GroupedNet", "HeldOut", "InnerPGD",
           "Member", "Optimiser", "Progress", "Recipe", "Step", "attack_loss", "fit",
           "fit_ensemble", "groupable", "perturb", "perturb_ensemble", "robust_accuracy", "shared",
           "stream", "train_epoch"]
