r"""Adversarial losses ``ℓ(y, u)`` and their first two derivatives in ``u`` (attacker maximises ℓ).

Scalar-output losses act row-wise on ``u, y`` of shape ``(B,)``:

* quadratic: ``ℓ = (y - u)²``, ``ℓ' = -2(y - u)``, ``ℓ'' = 2``;
* binary cross-entropy on a logit, ``y ∈ [0, 1]``:
  ``ℓ = -y log s(u) - (1-y) log(1 - s(u)) = (1-y) softplus(u) + y softplus(-u)``,
  ``ℓ' = s(u) - y = (1-y) s(u) - y s(-u)``, ``ℓ'' = s(u)(1 - s(u)) = s(u) s(-u)``, with ``s`` the
  logistic sigmoid. The right-hand forms never subtract nearly equal numbers, so a tiny loss of a
  confidently right logit (``ℓ ≈ e^{-|u|}``) keeps its relative precision.

Multi-class cross-entropy acts on logits ``(B, K)`` and integer labels ``(B,)``; it has no closed
derivatives here because it is only used with general modules (autograd).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from advdyn.errors import check_choice


def softplus(h: torch.Tensor) -> torch.Tensor:
    """``σ(h) = log(1 + e^h) = max(h, 0) + log1p(exp(-|h|))``, exact and overflow-free."""
    return h.clamp_min(0) + torch.log1p(torch.exp(-h.abs()))


class Quadratic:
    """``ℓ(y, u) = (y - u)²``."""

    name = "quadratic"

    @staticmethod
    def value(u: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (y - u).pow(2)

    @staticmethod
    def d1(u: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return -2 * (y - u)

    @staticmethod
    def d2(u: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.full_like(u, 2.0)

    @staticmethod
    def d1_sign(y: torch.Tensor) -> torch.Tensor | None:
        """The sign of ``ℓ' = -2(y - u)`` depends on ``u``: ``None``."""
        return None


class BinaryCrossEntropy:
    """``ℓ(y, u) = (1-y) softplus(u) + y softplus(-u)`` (cross-entropy of a logit against y)."""

    name = "bce"

    @staticmethod
    def value(u: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (1 - y) * softplus(u) + y * softplus(-u)

    @staticmethod
    def d1(u: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (1 - y) * torch.sigmoid(u) - y * torch.sigmoid(-u)

    @staticmethod
    def d2(u: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(u) * torch.sigmoid(-u)

    @staticmethod
    def d1_sign(y: torch.Tensor) -> torch.Tensor | None:
        """``sign ℓ'(u)`` when it does not depend on ``u``: ``+1`` for ``y = 0`` (``ℓ' = s(u)``),
        ``-1`` for ``y = 1`` (``ℓ' = -s(-u)``); ``None`` if some label lies strictly between."""
        if not ((y == 0) | (y == 1)).all():
            return None
        return 1 - 2 * y


class CrossEntropy:
    """``ℓ(y, u) = -log softmax(u)_y`` for logits ``u`` ``(B, K)`` and labels ``y`` ``(B,)``."""

    name = "cross_entropy"

    @staticmethod
    def value(u: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(u, y.long(), reduction="none")


ScalarLoss = type[Quadratic] | type[BinaryCrossEntropy]
Loss = ScalarLoss | type[CrossEntropy]
SCALAR_LOSSES: dict[str, ScalarLoss] = {"quadratic": Quadratic, "bce": BinaryCrossEntropy}
LOSSES: dict[str, Loss] = {**SCALAR_LOSSES, "cross_entropy": CrossEntropy}


def get_loss(name: str, field: str = "loss") -> Loss:
    """The loss class called ``name`` (``quadratic``, ``bce`` or ``cross_entropy``)."""
    return LOSSES[check_choice(field, name, LOSSES)]
