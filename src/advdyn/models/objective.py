r"""The objective interface the PGD engine and the sphere geometry work with.

An objective fixes a batch of inputs ``x_b`` and labels ``y_b`` (one row each, or a single row
broadcast to every row of δ) and evaluates the minimisation form
``L(δ) = -ℓ(y, f(x + δ))`` row-wise, with its gradient and Hessian in δ.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import NamedTuple

import torch


class Evaluation(NamedTuple):
    """``L`` (minimisation form) and ``ell`` (= -L, the attacker's loss), each ``(B,)``;
    ``grad`` = ∇_δ L, shape of δ (``None`` when not asked for)."""

    L: torch.Tensor
    ell: torch.Tensor
    grad: torch.Tensor | None


class Objective(ABC):
    """``L(δ) = -ℓ(y, f(x+δ))`` for a batch of rows; subclasses give the model."""

    x: torch.Tensor
    y: torch.Tensor

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of one perturbation (one row of δ)."""
        return tuple(self.x.shape[1:])

    @property
    def rows(self) -> int:
        """Rows the objective holds (1 means: broadcast to any batch)."""
        return self.x.shape[0]

    @property
    def dtype(self) -> torch.dtype:
        return self.x.dtype

    @property
    def device(self) -> torch.device:
        return self.x.device

    @abstractmethod
    def evaluate(self, delta: torch.Tensor, grad: bool = True) -> Evaluation:
        """``L``, ``ℓ`` and (if ``grad``) ``∇L`` at every row of ``delta``."""

    def gradient(self, delta: torch.Tensor, scale_free: bool = False) -> torch.Tensor:
        """``∇L`` alone at every row (what a PGD step needs). With ``scale_free``, any
        ``c_b ∇L_b`` with a factor ``c_b > 0`` per row (all a scale-free step rule needs);
        subclasses may then skip work, e.g. the loss value or the factor ``ℓ'(u)``."""
        grad = self.evaluate(delta).grad
        assert grad is not None
        return grad

    def state_key(self) -> object:
        """A value that changes whenever the function ``L`` may have changed (parameters
        modified in place); results evaluated lazily check it. ``None``: never changes."""
        return None

    @abstractmethod
    def hessian(self, delta: torch.Tensor) -> torch.Tensor:
        """``∇²L`` at every row, shape ``(B, D, D)`` with ``D`` the flattened dimension."""

    @abstractmethod
    def select(self, rows: torch.Tensor) -> Objective:
        """The same objective restricted to the given rows (a no-op for a broadcast row)."""

    def _rows(self, t: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        return t if t.shape[0] == 1 else t[rows]


def autograd_evaluation(ell: Callable[[torch.Tensor], torch.Tensor], delta: torch.Tensor,
                        grad: bool = True) -> Evaluation:
    """:meth:`Objective.evaluate` for a row-wise ``ℓ(δ)`` (``(B,)``) through autograd: ``L = -ℓ``
    and ``∇L`` by one backward pass of ``Σ_b ℓ_b`` (exact per row when rows never interact)."""
    if not grad:
        with torch.no_grad():
            value = ell(delta)
        return Evaluation(-value, value, None)
    with torch.enable_grad():
        d = delta.detach().requires_grad_(True)
        value = ell(d)
        (g,) = torch.autograd.grad(value.sum(), d)
    value = value.detach()
    return Evaluation(-value, value, -g.contiguous())
