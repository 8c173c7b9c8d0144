r"""The inner maximisation of Madry adversarial training and the robust accuracy it defines.

For a classifier ``f`` and a labelled point ``(x, y)``, the inner problem is
``max_{‖δ‖₂ ≤ ε, x + δ ∈ box} ℓ(y, f(x + δ))``, ``ℓ`` the cross-entropy. :class:`InnerPGD` fixes
how it is approximated: ``K`` steps of the PGD engine (:func:`advdyn.pgd.run_pgd`, ascent on ℓ)
from a uniform start in the ball, step ``ρε`` with the normalized and sign rules (run on
``log ℓ``, whose gradient has the direction of ``∇ℓ`` and never saturates) or ``ρε²`` with the raw
rule (on ℓ itself). Robust accuracy under ``R`` restarts counts a point only if
``argmax f(x + δ_r) = y`` for every restart ``r`` (and ``argmax f(x) = y``).

Every random draw comes from :func:`stream` ``(seed, purpose, epoch)``: one independent generator
per purpose and epoch, so that a run resumed at any epoch repeats the uninterrupted one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from advdyn.errors import check_choice, check_number, fail
from advdyn.losses import CrossEntropy, LogCrossEntropy
from advdyn.models import ModuleObjective
from advdyn.pgd import RULES, run_pgd

#: The purposes of :func:`stream` this layer draws for; a caller's own purposes start at
#: :data:`FIRST_FREE_PURPOSE`.
SHUFFLE, ATTACK, EVALUATE = 0, 1, 2
FIRST_FREE_PURPOSE = 3


def stream(seed: int, purpose: int, epoch: int = 0) -> torch.Generator:
    """A CPU generator for one ``purpose`` in one ``epoch``, independent of all the others (its
    seed is ``SeedSequence([seed, purpose, epoch])``'s first word)."""
    g = torch.Generator()
    g.manual_seed(int(np.random.SeedSequence([seed, purpose, epoch]).generate_state(1)[0]))
    return g


@dataclass(frozen=True)
class InnerPGD:
    """The inner attack: ``steps`` PGD steps of ``rule`` in the l2 ball of radius ``eps`` from a
    uniform start, step ``rho·eps`` (normalized, sign) or ``rho·eps²`` (raw); ``box = (lo, hi)``
    keeps ``x + δ`` in ``[lo, hi]``; ``steps = 0`` is clean training (δ = 0)."""

    eps: float
    steps: int
    rho: float = 0.25
    rule: str = "normalized"
    box: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        check_number("eps", self.eps, positive=True)
        check_number("pgd_steps", self.steps, nonnegative=True, integer=True)
        check_number("pgd_rho", self.rho, positive=True)
        check_choice("pgd_rule", self.rule, RULES)
        if self.box is not None and not self.box[0] < self.box[1]:
            raise fail("box", f"needs lo < hi, got {self.box}")

    def step_size(self) -> float:
        """The PGD step: ``ρε²`` (raw) or ``ρε`` (normalized, sign)."""
        return self.rho * (self.eps * self.eps if self.rule == "raw" else self.eps)


def attack_loss(inner: InnerPGD) -> type[CrossEntropy] | type[LogCrossEntropy]:
    """The loss PGD ascends: ℓ itself for the raw rule, ``log ℓ`` for the normalized and sign
    rules (same direction of the gradient, never saturating)."""
    return CrossEntropy if inner.rule == "raw" else LogCrossEntropy


def perturb(model: nn.Module, x: torch.Tensor, y: torch.Tensor, inner: InnerPGD,
            gen: torch.Generator) -> torch.Tensor:
    """δ of :class:`InnerPGD` on the batch ``(x, y)`` (ascent on ℓ, or on ``log ℓ`` for the
    normalized and sign rules), its start drawn from ``gen``; zero for ``steps = 0``."""
    if inner.steps == 0:
        return torch.zeros_like(x)
    res = run_pgd(ModuleObjective(model, attack_loss(inner), x, y), inner.eps,
                  inner.step_size(), inner.steps, rule=inner.rule, start="uniform",
                  generator=gen, box=inner.box)
    return res.delta


def robust_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, inner: InnerPGD,
                    restarts: int, seed: int, batch: int = 500) -> tuple[float, float]:
    """Clean accuracy, and robust accuracy under ``restarts`` runs of ``inner`` (a row counts only
    if every restart leaves it correct); starts from ``stream(seed, EVALUATE)``, so the same
    starts at every epoch."""
    gen = stream(seed, EVALUATE)
    clean = robust = 0
    for i in range(0, x.shape[0], batch):
        xb, yb = x[i:i + batch], y[i:i + batch]
        with torch.no_grad():
            ok = model(xb).argmax(1) == yb
        clean += int(ok.sum())
        for _ in range(restarts):
            delta = perturb(model, xb, yb, inner, gen)
            with torch.no_grad():
                ok &= model(xb + delta).argmax(1) == yb
        robust += int(ok.sum())
    return clean / x.shape[0], robust / x.shape[0]
