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


LOG_SOFTPLUS_SWITCH = -20.0  # below it, log softplus(m) = m - e^m/2 + O(e^{2m}) exactly in float64


def log_softplus(m: torch.Tensor) -> torch.Tensor:
    r"""``log σ(m) = log log(1 + e^m)``, finite for every finite ``m``.

    For ``m ≥ -20`` it is ``log(softplus(m))`` (no cancellation there); below, the series
    ``log log(1 + e^m) = m + log(1 - e^m/2 + e^{2m}/3 - …) = m - e^m/2 + O(e^{2m})`` (error
    below ``e^{-40}``). Each branch sees only its own side of the switch, so neither makes
    ``inf``/``NaN`` gradients in the branch ``torch.where`` discards."""
    hi = m.clamp_min(LOG_SOFTPLUS_SWITCH)
    lo = m.clamp_max(LOG_SOFTPLUS_SWITCH)
    return torch.where(m >= LOG_SOFTPLUS_SWITCH, torch.log(softplus(hi)), lo - torch.exp(lo) / 2)


def cross_entropy_margin(u: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    r"""``m = log Σ_{k≠y} e^{u_k} - u_y`` for logits ``(B, K)``, ``K ≥ 2``: the cross-entropy is
    ``ℓ = log(1 + e^m) = softplus(m)``, with no subtraction of nearly equal numbers."""
    true = F.one_hot(y.long(), u.shape[1]).bool()
    others = torch.logsumexp(u.masked_fill(true, float("-inf")), dim=1)
    return others - u.gather(1, y.long()[:, None])[:, 0]


class LogCrossEntropy:
    r"""``log ℓ`` with ``ℓ = -log softmax(u)_y = softplus(m)``, ``m`` the
    :func:`cross_entropy_margin` (computed by :func:`log_softplus`).

    ``F.cross_entropy`` forms ``logsumexp(u) - u_y`` and returns exactly 0 once the true logit
    leads by ≳ 17 (float32) or ≳ 37 (float64); ``ℓ`` itself underflows once it leads by ≳ 104
    (float32) or ≳ 745 (float64). ``log ℓ ≈ m`` stays finite and exact at any margin, and
    ``∇ log ℓ = ∇ℓ/ℓ`` points where ``∇ℓ`` points, so a normalised PGD step on ``log ℓ`` is the
    step on ``ℓ``; ``ℓ`` and ``∇ℓ = ℓ ∇log ℓ`` are recovered as ``exp`` of the log where
    representable."""

    name = "log_cross_entropy"

    @staticmethod
    def value(u: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return log_softplus(cross_entropy_margin(u, y))
