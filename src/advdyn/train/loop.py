r"""Madry PGD adversarial training of any ``torch.nn.Module`` classifier.

Objective (Madry et al., 2018): ``min_θ (1/n) Σ_i max_{‖δ_i‖₂ ≤ ε} ℓ(y_i, f_θ(x_i + δ_i))``, ``ℓ``
the cross-entropy. Per epoch the ``n`` training points are shuffled and cut into minibatches
``B``; for each, δ comes from the inner attack (:class:`~advdyn.train.inner.InnerPGD`) and the
outer step is one step of Adam or SGD (:class:`Optimiser`) on
``(1/|B|) Σ_{i∈B} ℓ(y_i, f_θ(x_i + δ_i))``. The epoch's row records the robust training loss
``(1/n) Σ_B |B|·loss_B`` and the accuracy on the adversarial examples, then each callback's
measurements, then the epoch's seconds. Epoch 0 is the untrained model (no training columns).

Callbacks (:class:`Callback`) see every step (:class:`Step`: the batch, δ, logits, loss — enough
for a progress line or extra statistics), add columns to every epoch's row
(:meth:`Callback.measure`) and receive, after every epoch, a snapshot of everything a resumed
run needs (the epoch, the caller's ``identity``, model and optimiser state, history). Nothing is
written here: the caller decides where checkpoints go. Epoch ``e`` draws its shuffle and PGD
starts from :func:`~advdyn.train.inner.stream` ``(seed, ·, e)``, so a run resumed from the
snapshot of epoch ``e`` repeats what the uninterrupted run would have done.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from advdyn.errors import check_choice, check_number, fail
from advdyn.train.inner import ATTACK, SHUFFLE, InnerPGD, perturb, robust_accuracy, stream

#: The snapshot format (unchanged since the loop lived in the ``advtrain`` experiment, so its
#: checkpoints resume).
FORMAT = "advdyn-advtrain-2"
OPTIMIZERS = ("adam", "sgd")
TRAINING_COLUMNS = ("robust_train_loss", "train_adv_acc")


@dataclass(frozen=True)
class Optimiser:
    """The outer step: ``adam`` (``torch.optim.Adam`` at ``lr``) or ``sgd`` (SGD at ``lr`` with
    heavy-ball ``momentum``); the first weight (the first parameter of two or more dimensions,
    in registration order: the kernel or matrix the input meets first) at ``lr · first_lr``.
    An input scale ``s`` reparameterises that weight (``W₁' = s·W₁``): ``first_lr = s⁻¹`` (Adam,
    whose step ignores the gradient's size) or ``s⁻²`` (SGD) keeps its effective rate."""

    kind: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9
    first_lr: float = 1.0

    def __post_init__(self) -> None:
        check_choice("optimizer", self.kind, OPTIMIZERS)
        check_number("lr", self.lr, positive=True)
        check_number("momentum", self.momentum, nonnegative=True)
        check_number("first_lr", self.first_lr, positive=True)

    def build(self, model: nn.Module) -> torch.optim.Optimizer:
        """The torch optimiser over ``model``'s parameters (the first weight in a group of its
        own when ``first_lr`` ≠ 1)."""
        params = list(model.parameters())
        first = next((i for i, p in enumerate(params) if p.ndim >= 2), None)
        groups: list[dict[str, Any]] = [{"params": params}]
        if self.first_lr != 1.0 and first is not None:
            rest = params[:first] + params[first + 1:]
            groups = [{"params": [params[first]], "lr": self.lr * self.first_lr},
                      *([{"params": rest}] if rest else [])]
        if self.kind == "adam":
            return torch.optim.Adam(groups, lr=self.lr)
        return torch.optim.SGD(groups, lr=self.lr, momentum=self.momentum)


@dataclass(frozen=True)
class Recipe:
    """Everything of a training run but the model, data and length: the inner attack, the outer
    optimiser, the minibatch size and the seed of the shuffles and PGD starts."""

    inner: InnerPGD
    optimiser: Optimiser
    batch_size: int
    seed: int

    def __post_init__(self) -> None:
        check_number("batch_size", self.batch_size, positive=True, integer=True)
        check_number("seed", self.seed, nonnegative=True, integer=True)


@dataclass(frozen=True)
class Step:
    """One optimiser step: ``epoch`` (from 1), ``index`` of ``steps`` in the epoch, the batch
    ``x``, ``y``, its perturbation ``delta``, the logits at ``x + delta`` before the step
    (detached) and the batch's mean loss."""

    epoch: int
    index: int
    steps: int
    x: torch.Tensor
    y: torch.Tensor
    delta: torch.Tensor
    logits: torch.Tensor
    loss: float


class Callback:
    """Hooks of a training run; each does nothing unless overridden."""

    def on_step(self, step: Step) -> None:
        """Called after every optimiser step."""

    def measure(self, epoch: int, model: nn.Module) -> dict[str, Any]:
        """Columns added to epoch ``epoch``'s row (epoch 0: the untrained model), in order."""
        return {}

    def on_epoch(self, epoch: int, model: nn.Module, state: dict[str, Any]) -> None:
        """Called once epoch ``epoch``'s row is recorded; ``state`` resumes the run there."""


class EpochHook(Callback):
    """A :class:`Callback` that hands every epoch's ``(epoch, model, state)`` to ``hook``."""

    def __init__(self, hook: Callable[[int, nn.Module, dict[str, Any]], None]) -> None:
        self.hook = hook

    def on_epoch(self, epoch: int, model: nn.Module, state: dict[str, Any]) -> None:
        self.hook(epoch, model, state)


def train_epoch(model: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor,
                recipe: Recipe, epoch: int, callbacks: Sequence[Callback] = ()
                ) -> dict[str, float]:
    """One epoch (module docstring); returns its robust training loss and adversarial
    accuracy."""
    n = x.shape[0]
    order = torch.randperm(n, generator=stream(recipe.seed, SHUFFLE, epoch))
    gen = stream(recipe.seed, ATTACK, epoch)
    steps = math.ceil(n / recipe.batch_size)
    total, correct = 0.0, 0
    for index in range(steps):
        idx = order[index * recipe.batch_size:(index + 1) * recipe.batch_size]
        xb, yb = x[idx], y[idx]
        delta = perturb(model, xb, yb, recipe.inner, gen)
        opt.zero_grad(set_to_none=True)
        logits = model(xb + delta)
        loss = F.cross_entropy(logits, yb)
        loss.backward()
        opt.step()
        value = float(loss.detach())
        total += value * xb.shape[0]
        correct += int((logits.argmax(1) == yb).sum())
        step = Step(epoch, index, steps, xb, yb, delta, logits.detach(), value)
        for c in callbacks:
            c.on_step(step)
    return {"robust_train_loss": total / n, "train_adv_acc": correct / n}


def _resumed(resume: Mapping[str, Any], identity: Mapping[str, Any], epochs: int) -> int:
    """The epoch a snapshot resumes at, after checking it belongs to this run."""
    if resume.get("format") != FORMAT or any(resume.get(k) != v for k, v in identity.items()):
        raise fail("resume", "the saved run has another configuration, data or format",
                   "use the same settings to resume, or start afresh")
    start = int(resume["epoch"])
    if start > epochs:
        raise fail("epochs", f"the saved run is already at epoch {start} > {epochs}")
    return start


def fit(model: nn.Module, x: torch.Tensor, y: torch.Tensor, recipe: Recipe, epochs: int, *,
        callbacks: Sequence[Callback] = (), resume: Mapping[str, Any] | None = None,
        identity: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Train ``model`` in place on ``(x, y)`` up to ``epochs`` (module docstring); returns the
    per-epoch history. ``identity`` (plain data, e.g. the configuration and the data's source)
    is stored in every snapshot and must match the one a ``resume`` snapshot carries."""
    epochs = check_number("epochs", epochs, nonnegative=True, integer=True)
    identity = dict(identity or {})
    opt = recipe.optimiser.build(model)
    history: list[dict[str, Any]] = []
    start = 0
    if resume is not None:
        start = _resumed(resume, identity, epochs)
        model.load_state_dict(resume["model"])
        opt.load_state_dict(resume["optimizer"])
        history = list(resume["history"])

    if resume is None:
        record_epoch(0, dict.fromkeys(TRAINING_COLUMNS), None, model, opt, history, identity,
                     callbacks)
    for epoch in range(start + 1, epochs + 1):
        t0 = time.perf_counter()
        record_epoch(epoch, train_epoch(model, opt, x, y, recipe, epoch, callbacks), t0, model,
                     opt, history, identity, callbacks)
    return history


def record_epoch(epoch: int, row: dict[str, Any], t0: float | None, model: nn.Module,
                 opt: torch.optim.Optimizer, history: list[dict[str, Any]],
                 identity: Mapping[str, Any], callbacks: Sequence[Callback]) -> None:
    """Close epoch ``epoch``: add every callback's columns and the seconds since ``t0`` (0 for
    epoch 0) to ``row``, append it to ``history`` and hand every callback the snapshot that
    resumes the run there."""
    for c in callbacks:
        row.update(c.measure(epoch, model))
    row["seconds"] = 0.0 if t0 is None else time.perf_counter() - t0
    history.append({"epoch": epoch, **row})
    state = {"format": FORMAT, "epoch": epoch, **identity,
             "model": copy.deepcopy(model.state_dict()),
             "optimizer": copy.deepcopy(opt.state_dict()), "history": copy.deepcopy(history)}
    for c in callbacks:
        c.on_epoch(epoch, model, state)


class HeldOut(Callback):
    """Adds ``clean_acc`` and ``robust_acc`` (:func:`~advdyn.train.inner.robust_accuracy` of
    ``inner`` with ``restarts`` restarts, starts from ``seed``) on held-out ``(x, y)`` to every
    epoch's row."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, inner: InnerPGD, restarts: int,
                 seed: int) -> None:
        self.x, self.y, self.inner = x, y, inner
        self.restarts = check_number("eval_restarts", restarts, positive=True, integer=True)
        self.seed = seed

    def measure(self, epoch: int, model: nn.Module) -> dict[str, Any]:
        clean, robust = robust_accuracy(model, self.x, self.y, self.inner, self.restarts,
                                        self.seed)
        return {"clean_acc": clean, "robust_acc": robust}


class Progress(Callback):
    """A progress bar (tqdm, standard error) over the optimiser steps up to epoch ``epochs``,
    with the epoch and the last batch's loss."""

    def __init__(self, epochs: int, enabled: bool = True) -> None:
        self.epochs, self.enabled = epochs, enabled
        self.bar: tqdm | None = None

    def on_step(self, step: Step) -> None:
        if self.bar is None:
            self.bar = tqdm(total=(self.epochs - step.epoch + 1) * step.steps, desc="train",
                            unit="step", disable=not self.enabled, leave=False)
        self.bar.update(1)
        self.bar.set_postfix(epoch=step.epoch, loss=f"{step.loss:.4f}", refresh=False)

    def on_epoch(self, epoch: int, model: nn.Module, state: dict[str, Any]) -> None:
        if epoch == self.epochs and self.bar is not None:
            self.bar.close()
