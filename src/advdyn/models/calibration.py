r"""Calibration arms: models that share every artifact of a measurement (data, ε, step rule,
budget, loss) but have a single maximum of the loss over the ball — the ruler's floor
(docs/experiments/at_scale.md).

- :func:`affine_classifier`: ``f(z) = A·vec(z) + b`` (``nn.Linear`` at PyTorch's init, behind a
  flatten). Its cross-entropy ``ℓ(δ) = logsumexp(f(x+δ)) − f_y(x+δ)`` is convex in δ, so its
  maxima over the ball lie on the sphere; where the logits move little over the ball ``ℓ`` is
  close to linear in δ and the maximum is the single point ``ε·ĝ`` (``g = ∇ℓ(0)``).
- :class:`JacobianLinearised`: a network linearised in its input at anchors ``x₀`` (one per row)
  and at its current weights, ``f̃(x₀ + δ) = f(x₀) + J_f(x₀) δ``, the input-Jacobian formed once
  per anchor (:func:`torch.func.jacrev`). ``f̃`` is affine in δ, so the loss of ``f̃`` over the
  ball has the same single-maximum landscape as the affine arm while keeping the network's
  logits and input-Jacobian at ``x₀``. Gradients flow through the product with ``J``, so PGD,
  Hessians and :class:`~advdyn.models.ModuleObjective` work on it unchanged. The linearisation
  is in the input only: ``f(x₀)`` and ``J`` are detached tensors (training the network later
  does not move this arm), the anchors fixed.
- :class:`Penalised`: any objective with a quadratic penalty, ``L_κ(δ) = L(δ) + κ_b‖δ_b‖²``
  (the attacker ascends ``ℓ(δ) − κ_b‖δ_b‖²``). With ``κ_b`` large enough its maximum over the
  ball is interior, while the network, data, start, step rule, box and budget are those of the
  attack: the arm that keeps a PGD measurement's ruler without a maximum on the sphere.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.func import jacrev, vmap

from advdyn.errors import fail
from advdyn.models.objective import Evaluation, Objective


def affine_classifier(in_shape: tuple[int, ...] = (1, 28, 28), classes: int = 10, *,
                      seed: int = 0, dtype: torch.dtype = torch.float32) -> nn.Sequential:
    """``Flatten → Linear(∏in_shape, classes)`` at PyTorch's standard init drawn from ``seed``:
    the affine calibration arm for a classifier of inputs shaped ``in_shape``."""
    if not in_shape or any(int(s) <= 0 for s in in_shape):
        raise fail("in_shape", f"must be positive sizes, got {in_shape}")
    if classes < 2:
        raise fail("classes", f"must be ≥ 2, got {classes}")
    features = 1
    for s in in_shape:
        features *= int(s)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return nn.Sequential(nn.Flatten(), nn.Linear(features, classes, dtype=dtype))


class JacobianLinearised(nn.Module):
    """``z ↦ f(x₀) + J(z − x₀)``, row by row: ``model`` linearised in its input at the anchors
    ``x₀`` (shape ``(B, *input)``; ``z`` must have the same shape), ``J = J_f(x₀)`` of shape
    ``(B, K, *input)`` formed once (``torch.func.jacrev`` per anchor, in the anchors' dtype).
    Each step costs one batched matrix product, and :meth:`rows` gives the same model on a
    subset (or repetition) of its anchors, for objectives that re-select rows."""

    def __init__(self, at_anchor: torch.Tensor, jacobian: torch.Tensor,
                 anchors: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("at_anchor", at_anchor.detach())
        self.register_buffer("jacobian", jacobian.detach())
        self.register_buffer("anchors", anchors.detach())

    @classmethod
    def of(cls, model: nn.Module, anchors: torch.Tensor) -> JacobianLinearised:
        """``model`` (frozen as it is now) linearised at each row of ``anchors``."""
        def f(x: torch.Tensor) -> torch.Tensor:
            out: torch.Tensor = model(x[None])[0]
            return out
        with torch.no_grad():
            at = model(anchors)
        jac = vmap(jacrev(f))(anchors.detach())
        return cls(at, jac, anchors)

    def rows(self, index: torch.Tensor) -> JacobianLinearised:
        """The linearisation at the anchors ``index`` (in that order)."""
        at, jac, x0 = (self.at_anchor, self.jacobian, self.anchors)
        return JacobianLinearised(at[index], jac[index], x0[index])  # type: ignore[index]

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x0: torch.Tensor = self.anchors  # type: ignore[assignment]
        if z.shape != x0.shape:
            raise fail("z", f"has shape {tuple(z.shape)}, the anchors {tuple(x0.shape)}",
                       "select the anchors of the batch you evaluate with rows()")
        jac: torch.Tensor = self.jacobian  # type: ignore[assignment]
        at: torch.Tensor = self.at_anchor  # type: ignore[assignment]
        step = (z - x0.to(z.dtype)).flatten(1)
        return at.to(z.dtype) + torch.einsum("bkd,bd->bk", jac.flatten(2).to(z.dtype), step)


class Penalised(Objective):
    """``L_κ(δ) = L(δ) + κ_b‖δ_b‖²`` for an ``objective`` ``L`` and one ``κ_b ≥ 0`` per row
    (``kappa`` of shape ``(B,)``, or one value for every row): ``∇L_κ = ∇L + 2κ_bδ_b``,
    ``∇²L_κ = ∇²L + 2κ_b I``; ``ell`` = ``−L_κ``. A stationary point with ``∇L`` along ``−δ``
    lies at ``‖δ‖ = ‖∇L(δ)‖/(2κ)``."""

    def __init__(self, objective: Objective, kappa: torch.Tensor | float) -> None:
        kappa = torch.as_tensor(kappa, dtype=objective.dtype, device=objective.device)
        if kappa.ndim > 1 or (kappa.ndim == 1 and kappa.shape[0] != objective.rows):
            raise fail("kappa", f"needs one value or one per row ({objective.rows}), got shape "
                       f"{tuple(kappa.shape)}")
        if not bool(torch.isfinite(kappa).all()) or bool((kappa < 0).any()):
            raise fail("kappa", "must be finite and ≥ 0")
        self.objective, self.kappa = objective, kappa.reshape(-1)
        self.x, self.y = objective.x, objective.y

    def _penalty(self, delta: torch.Tensor) -> torch.Tensor:
        return self.kappa * delta.flatten(1).square().sum(1)

    def evaluate(self, delta: torch.Tensor, grad: bool = True) -> Evaluation:
        ev = self.objective.evaluate(delta, grad)
        value = ev.L + self._penalty(delta).to(ev.L.dtype)
        g = None
        if ev.grad is not None:
            shape = (-1,) + (1,) * (delta.ndim - 1)
            g = ev.grad + 2 * self.kappa.reshape(shape).to(ev.grad.dtype) * delta
        return Evaluation(value, -value, g)

    def state_key(self) -> object:
        return self.objective.state_key()

    def hessian(self, delta: torch.Tensor) -> torch.Tensor:
        h = self.objective.hessian(delta)
        eye = torch.eye(h.shape[-1], dtype=h.dtype, device=h.device)
        return h + 2 * self.kappa.to(h.dtype).reshape(-1, 1, 1) * eye

    def select(self, rows: torch.Tensor) -> Penalised:
        kappa = self.kappa if self.kappa.shape[0] == 1 else self.kappa[rows]
        return Penalised(self.objective.select(rows), kappa)
