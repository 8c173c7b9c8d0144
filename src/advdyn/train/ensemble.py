r"""Madry PGD adversarial training of K models of one architecture at once.

Member ``k`` trains ``f_k`` on ``(s_k x, y)`` (its input scale ``s_k``) with its own
:class:`~advdyn.train.loop.Recipe`: ``min_θk (1/n) Σ_i max_{‖δ_i‖₂ ≤ ε_k} ℓ(y_i,
f_θk(s_k x_i + δ_i))``, its own seed (shuffles and PGD starts, :func:`~advdyn.train.inner.stream`),
radius ``ε_k``, step ``ρ_k ε_k`` (or ``ρ_k ε_k²``), optimiser (Adam or SGD, its own learning
rate and state). Per step the K minibatches are stacked member-major and run as one network
(:class:`~advdyn.train.grouped.GroupedNet`): one batched PGD (:func:`advdyn.pgd.run_pgd`, one
``ε`` and ``η`` per row, each member's uniform start drawn from its own stream), then one
forward and backward pass of ``Σ_k (1/|B|) Σ_{i∈B_k} ℓ(y_i, f_θk(s_k x_i + δ_i))`` (member
``k``'s parameters get the gradient of its own term only) and one step of every member's
optimiser. So every member follows what :func:`~advdyn.train.loop.fit` does with its recipe,
up to float32 rounding (grouped kernels sum in another order).

Members share the minibatch size, the number of PGD steps, the rule and the pixel box (one PGD
run serves them all); everything else may differ. Per-member callbacks see each member as
:func:`fit` would show it (steps, epoch rows, snapshots); ``seconds`` counts from the start of
the ensemble's epoch.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from advdyn.errors import check_number, fail
from advdyn.pgd import run_pgd
from advdyn.pgd.engine import initial_delta
from advdyn.train.grouped import EnsembleObjective, GroupedNet, Weights
from advdyn.train.inner import ATTACK, SHUFFLE, InnerPGD, attack_loss, stream
from advdyn.train.loop import TRAINING_COLUMNS, Callback, Recipe, Step, record_epoch


@dataclass(frozen=True)
class Member:
    """One model's training in an ensemble: its :class:`Recipe` and the input scale ``scale``
    (it trains on ``scale · x``)."""

    recipe: Recipe
    scale: float = 1.0

    def __post_init__(self) -> None:
        check_number("scale", self.scale, positive=True)


def shared(recipe: Recipe) -> dict[str, Any]:
    """What the members of one ensemble must agree on, by field name: what one batched PGD run
    and one stacked minibatch fix (minibatch size, PGD steps, rule, pixel box)."""
    return {"batch_size": recipe.batch_size, "pgd_steps": recipe.inner.steps,
            "pgd_rule": recipe.inner.rule, "box": recipe.inner.box}


def _shared(members: Sequence[Member]) -> None:
    """Check that the members agree on :func:`shared`."""
    first = shared(members[0].recipe)
    for k, m in enumerate(members[1:], start=1):
        for field, mine in shared(m.recipe).items():
            if mine != first[field]:
                raise fail(field, f"member {k} has {mine!r}, member 0 {first[field]!r}",
                           "ensemble members share the batch size, PGD steps, rule and box")


def perturb_ensemble(net: GroupedNet, weights: Weights, x: torch.Tensor, y: torch.Tensor,
                     inners: Sequence[InnerPGD], gens: Sequence[torch.Generator]
                     ) -> torch.Tensor:
    """δ of every member's :class:`InnerPGD` on its block of the member-major rows ``(x, y)``
    (as :func:`~advdyn.train.inner.perturb` on each member alone), member ``k``'s uniform
    start drawn from ``gens[k]``; zero for ``steps = 0``."""
    if inners[0].steps == 0:
        return torch.zeros_like(x)
    b = x.shape[0] // len(inners)
    blocks = x.split(b)
    eps = [torch.full((b,), inner.eps, dtype=x.dtype, device=x.device) for inner in inners]
    eta = [torch.full((b,), inner.step_size(), dtype=x.dtype, device=x.device)
           for inner in inners]
    start = torch.cat([initial_delta("uniform", "l2", b, tuple(x.shape[1:]), e, xk, g)
                       for e, xk, g in zip(eps, blocks, gens, strict=True)])
    objective = EnsembleObjective(net, weights, attack_loss(inners[0]), x, y)
    return run_pgd(objective, torch.cat(eps), torch.cat(eta), inners[0].steps,
                   rule=inners[0].rule, start=start, box=inners[0].box).delta


def ensemble_epoch(net: GroupedNet, opts: Sequence[torch.optim.Optimizer], x: torch.Tensor,
                   y: torch.Tensor, members: Sequence[Member], epoch: int,
                   callbacks: Sequence[Sequence[Callback]]) -> list[dict[str, float]]:
    """One epoch of every member (module docstring); per member its robust training loss and
    adversarial accuracy, as :func:`~advdyn.train.loop.train_epoch` returns them."""
    n, k = x.shape[0], len(members)
    size = members[0].recipe.batch_size
    orders = [torch.randperm(n, generator=stream(m.recipe.seed, SHUFFLE, epoch))
              for m in members]
    gens = [stream(m.recipe.seed, ATTACK, epoch) for m in members]
    inners = [m.recipe.inner for m in members]
    steps = math.ceil(n / size)
    totals, correct = [0.0] * k, [0] * k
    for index in range(steps):
        idx = [order[index * size:(index + 1) * size] for order in orders]
        xs = [x[i] * m.scale for i, m in zip(idx, members, strict=True)]
        ys = [y[i] for i in idx]
        xb, yb = torch.cat(xs), torch.cat(ys)
        with torch.no_grad():
            frozen = net.weights()
        delta = perturb_ensemble(net, frozen, xb, yb, inners, gens)
        for opt in opts:
            opt.zero_grad(set_to_none=True)
        logits = net(xb + delta, net.weights()).split(len(ys[0]))
        losses = torch.stack([F.cross_entropy(out, yk) for out, yk in zip(logits, ys,
                                                                            strict=True)])
        losses.sum().backward()
        for opt in opts:
            opt.step()
        deltas = delta.split(len(ys[0]))
        for j in range(k):
            value = float(losses[j].detach())
            totals[j] += value * len(ys[j])
            correct[j] += int((logits[j].argmax(1) == ys[j]).sum())
            step = Step(epoch, index, steps, xs[j], ys[j], deltas[j], logits[j].detach(), value)
            for c in callbacks[j]:
                c.on_step(step)
    return [{"robust_train_loss": t / n, "train_adv_acc": c / n}
            for t, c in zip(totals, correct, strict=True)]


def fit_ensemble(models: Sequence[nn.Module], x: torch.Tensor, y: torch.Tensor,
                 members: Sequence[Member], epochs: int, *,
                 callbacks: Sequence[Sequence[Callback]] | None = None
                 ) -> list[list[dict[str, Any]]]:
    """Train every ``models[k]`` in place as ``members[k]`` says, all at once (module
    docstring), for ``epochs`` epochs; returns one history per member, in the form
    :func:`~advdyn.train.loop.fit` returns (epoch 0: the untrained model).
    ``callbacks[k]``: member ``k``'s callbacks."""
    epochs = check_number("epochs", epochs, nonnegative=True, integer=True)
    if len(models) != len(members) or not members:
        raise fail("members", f"{len(members)} members for {len(models)} models",
                   "give one Member per model")
    cbs = [list(c) for c in callbacks] if callbacks is not None else [[] for _ in members]
    if len(cbs) != len(members):
        raise fail("callbacks", f"{len(cbs)} callback lists for {len(members)} members")
    _shared(members)
    net = GroupedNet(models)
    opts = [m.recipe.optimiser.build(model) for m, model in zip(members, models, strict=True)]
    histories: list[list[dict[str, Any]]] = [[] for _ in members]

    def record(epoch: int, rows: Sequence[dict[str, Any]], t0: float | None) -> None:
        for model, opt, row, history, cb in zip(models, opts, rows, histories, cbs,
                                                strict=True):
            record_epoch(epoch, row, t0, model, opt, history, {}, cb)

    record(0, [dict.fromkeys(TRAINING_COLUMNS) for _ in members], None)
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        record(epoch, ensemble_epoch(net, opts, x, y, members, epoch, cbs), t0)
    return histories
