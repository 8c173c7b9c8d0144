r"""Any ``torch.nn.Module`` as an objective of δ, through autograd.

``L(δ) = -ℓ(y, model(x + δ))`` row-wise; ``∇L`` by one backward pass of ``Σ_b L_b`` (rows are
independent as long as the module has no cross-row coupling, e.g. batch norm in training mode —
put such modules in ``eval()``); ``∇²L`` by ``torch.func.hessian`` vectorised over rows.
"""

from __future__ import annotations

import torch
from torch import nn

from advdyn.errors import check_finite_tensor, fail
from advdyn.losses import Loss
from advdyn.models.objective import Evaluation, Objective


class ModuleObjective(Objective):
    """``L(δ) = -ℓ(y, model(x+δ))`` for a module mapping ``(B, *shape)`` to ``(B,)``/``(B, K)``."""

    def __init__(self, model: nn.Module, loss: Loss, x: torch.Tensor, y: torch.Tensor) -> None:
        if not isinstance(model, nn.Module):
            raise fail("model", f"expected a torch.nn.Module, got {type(model).__name__}")
        x = torch.as_tensor(x)
        if x.ndim < 2:
            raise fail("x", f"expected a batch (B, *shape), got shape {tuple(x.shape)}",
                       "add a leading batch dimension")
        self.model, self.loss = model, loss
        self.x = check_finite_tensor("x", x)
        y = torch.as_tensor(y, device=x.device)
        self.y = y.reshape(-1) if y.ndim <= 1 else y
        if self.y.shape[0] not in (1, x.shape[0]) and x.shape[0] != 1:
            raise fail("y", f"has {self.y.shape[0]} rows but x has {x.shape[0]}")

    def _ell(self, delta: torch.Tensor) -> torch.Tensor:
        out = self.model(self.x + delta)
        if out.ndim == 2 and out.shape[1] == 1:
            out = out[:, 0]
        y = self.y.to(out.dtype) if out.ndim == 1 else self.y
        if y.shape[0] == 1 and out.shape[0] != 1:
            y = y.expand(out.shape[0], *y.shape[1:])
        return self.loss.value(out, y)

    def evaluate(self, delta: torch.Tensor, grad: bool = True) -> Evaluation:
        if not grad:
            with torch.no_grad():
                ell = self._ell(delta)
            return Evaluation(-ell, ell, None)
        with torch.enable_grad():
            d = delta.detach().requires_grad_(True)
            ell = self._ell(d)
            (g,) = torch.autograd.grad(ell.sum(), d)
        ell = ell.detach()
        return Evaluation(-ell, ell, -g)

    def hessian(self, delta: torch.Tensor) -> torch.Tensor:
        b = delta.shape[0]
        x = self.x.expand(b, *self.x.shape[1:]) if self.x.shape[0] == 1 else self.x
        y = self.y.expand(b, *self.y.shape[1:]) if self.y.shape[0] == 1 else self.y

        def neg_loss(flat: torch.Tensor, xi: torch.Tensor, yi: torch.Tensor) -> torch.Tensor:
            out = self.model((xi + flat.reshape(xi.shape))[None])
            out = out[:, 0] if out.ndim == 2 and out.shape[1] == 1 else out
            yy = yi[None].to(out.dtype) if out.ndim == 1 else yi[None]
            return -self.loss.value(out, yy)[0]

        flat = delta.reshape(b, -1).detach()
        try:
            return torch.vmap(torch.func.hessian(neg_loss))(flat, x, y)
        except (RuntimeError, NotImplementedError):  # modules vmap cannot batch: row by row
            return torch.stack([torch.func.hessian(neg_loss)(flat[i], x[i], y[i])
                                for i in range(b)])

    def select(self, rows: torch.Tensor) -> ModuleObjective:
        return ModuleObjective(self.model, self.loss, self._rows(self.x, rows),
                               self._rows(self.y, rows))
