r"""The two-layer softplus network ``f(z) = Σ_r a_r σ(w_rᵀ z)`` with closed-form derivatives.

With ``h = W z``, ``s = sigmoid(h)``, ``s' = s ⊙ (1 - s)``:

* ``∇f = Wᵀ (a ⊙ s)``, ``∇²f = Wᵀ diag(a ⊙ s') W``;
* for ``L(δ) = -ℓ(y, f(x+δ))``: ``∇L = -ℓ'(u) ∇f``, ``∇²L = -(ℓ'(u) ∇²f + ℓ''(u) ∇f ∇fᵀ)``.

``σ(h) = logaddexp(h, 0) = max(h, 0) + log1p(exp(-|h|))`` (one kernel) is finite for any ``|h|``
(input scale 10⁴ in float32).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from advdyn.errors import check_dim, check_finite_tensor, check_number, fail
from advdyn.losses import ScalarLoss
from advdyn.models.checks import check_device
from advdyn.models.objective import Evaluation, Objective

_OUTER_LIMIT = 1 << 24  # entries of the stacked outer products worth materialising


class TwoLayerNet:
    """Weights ``W`` (m×d) and output weights ``a`` (m); closed forms act on batches ``(B, d)``."""

    def __init__(self, W: torch.Tensor, a: torch.Tensor) -> None:
        W = torch.as_tensor(W)
        a = torch.as_tensor(a, dtype=W.dtype, device=W.device)
        check_dim("W", W, 2, "(m, d)")
        check_dim("a", a, 1, "(m,)")
        if a.shape[0] != W.shape[0]:
            raise fail("a", f"has {a.shape[0]} entries but W has m = {W.shape[0]} rows",
                       "a needs one output weight per row of W")
        self.W = check_finite_tensor("W", W)
        self.a = check_finite_tensor("a", a)
        # the GEMM operands Wᵀ and a ⊙ W, as views made once (a per-call ``.T`` and ``@``
        # dispatch cost ≈ 5 µs, a tenth of a d = 2 GEMM): a ⊙ W is stored as (a ⊙ W)ᵀ (d, m)
        # row-major, because BLAS is several times faster on S (a ⊙ W) in that layout when d
        # is small (W and a are never modified in place); and the 0 of
        # softplus(h) = logaddexp(h, 0), one exact kernel
        self._Wt = self.W.T
        self._aW = (self.a[:, None] * self.W).T.contiguous().T
        self._zero = W.new_zeros(())

    @property
    def width(self) -> int:
        return self.W.shape[0]

    @property
    def dim(self) -> int:
        return self.W.shape[1]

    @classmethod
    def xavier(cls, d: int, m: int, kappa: float | None = None, gamma: float | None = None,
               generator: torch.Generator | None = None,
               dtype: torch.dtype = torch.float64) -> TwoLayerNet:
        r"""Xavier initialisation: ``w_r ~ N(0, κ² I)``, ``a_r = ±γ`` with probability 1/2 each;
        defaults ``κ = d^{-1/2}``, ``γ = m^{-1/2}``."""
        d = check_number("d", d, positive=True, integer=True)
        m = check_number("m", m, positive=True, integer=True)
        k = 1 / math.sqrt(d) if kappa is None else check_number("kappa", kappa, positive=True)
        g = 1 / math.sqrt(m) if gamma is None else check_number("gamma", gamma, positive=True)
        W = k * torch.randn((m, d), generator=generator, dtype=dtype)
        signs = torch.randint(0, 2, (m,), generator=generator).to(dtype) * 2 - 1
        return cls(W, g * signs)

    def to(self, dtype: torch.dtype | None = None, device: torch.device | str | None = None
           ) -> TwoLayerNet:
        """The network in ``dtype`` on ``device`` (a CUDA device on a torch without CUDA raises
        :class:`~advdyn.errors.AdvdynError` saying how to get one)."""
        if device is not None:
            device = check_device("device", device)
        return TwoLayerNet(self.W.to(device=device, dtype=dtype), self.a.to(device=device,
                                                                             dtype=dtype))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """``f(z)`` for every row of ``z`` ``(B, d)``, shape ``(B,)``."""
        return torch.logaddexp(torch.mm(z, self._Wt), self._zero) @ self.a

    def value_and_grad(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``f(z)`` and ``∇f(z) = Wᵀ(a ⊙ sigmoid(Wz)) = (a ⊙ W)ᵀ sigmoid(Wz)``: two GEMMs and
        two elementwise passes over the ``(B, m)`` pre-activations."""
        h = torch.mm(z, self._Wt)
        u = torch.logaddexp(h, self._zero) @ self.a
        return u, self._grad_from(h)

    def grad(self, z: torch.Tensor) -> torch.Tensor:
        """``∇f(z)`` alone: two GEMMs and one elementwise pass (sigmoid), no softplus."""
        return self._grad_from(torch.mm(z, self._Wt))

    def _grad_from(self, h: torch.Tensor) -> torch.Tensor:
        """``∇f = (a ⊙ W)ᵀ sigmoid(h)`` from the pre-activations ``h`` (overwritten)."""
        return torch.mm(h.sigmoid_(), self._aW)

    def hessian(self, z: torch.Tensor) -> torch.Tensor:
        """``∇²f(z) = Wᵀ diag(a ⊙ s') W``, shape ``(B, d, d)``."""
        s = torch.sigmoid(z @ self.W.T)
        c = self.a * s * (1 - s)
        m, d = self.W.shape
        if m * d * d <= _OUTER_LIMIT:  # one GEMM against the stacked outer products w_r w_rᵀ
            outer = (self.W[:, :, None] * self.W[:, None, :]).reshape(m, d * d)
            return (c @ outer).reshape(-1, d, d)
        return (c[:, None, :] * self.W.T) @ self.W

    def as_module(self) -> nn.Module:
        """The same network as a ``torch.nn.Module`` (for autograd cross-checks and adapters)."""
        return _TwoLayerModule(self.W, self.a)


class _TwoLayerModule(nn.Module):
    def __init__(self, W: torch.Tensor, a: torch.Tensor) -> None:
        super().__init__()
        self.W = nn.Parameter(W.clone())
        self.a = nn.Parameter(a.clone())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.softplus(z @ self.W.T, threshold=float("inf")) @ self.a


def _label_rows(y: torch.Tensor | float, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    t = torch.as_tensor(y, dtype=dtype, device=device).reshape(-1)
    check_finite_tensor("y", t)
    return t


class TwoLayerObjective(Objective):
    """``L(δ) = -ℓ(y, f(x+δ))`` for the two-layer network, by the closed forms above."""

    def __init__(self, net: TwoLayerNet, loss: ScalarLoss, x: torch.Tensor,
                 y: torch.Tensor | float) -> None:
        x = torch.as_tensor(x, dtype=net.W.dtype, device=net.W.device)
        if x.ndim == 1:
            x = x[None]
        check_dim("x", x, 2, "(d,) or (B, d)")
        if x.shape[1] != net.dim:
            raise fail("x", f"has dimension {x.shape[1]} but W has d = {net.dim} columns")
        self.net, self.loss = net, loss
        self.x = check_finite_tensor("x", x)
        self.y = _label_rows(y, x.dtype, x.device)
        if self.y.shape[0] not in (1, self.x.shape[0]) and self.x.shape[0] != 1:
            raise fail("y", f"has {self.y.shape[0]} rows but x has {self.x.shape[0]}")
        sign = loss.d1_sign(self.y)
        self._minus_d1_sign = None if sign is None else -sign[:, None]

    def evaluate(self, delta: torch.Tensor, grad: bool = True) -> Evaluation:
        z = self.x + delta
        if not grad:
            ell = self.loss.value(self.net.forward(z), self.y)
            return Evaluation(-ell, ell, None)
        u, g = self.net.value_and_grad(z)
        ell = self.loss.value(u, self.y)
        return Evaluation(-ell, ell, -self.loss.d1(u, self.y)[:, None] * g)

    def gradient(self, delta: torch.Tensor, scale_free: bool = False) -> torch.Tensor:
        """``∇L = -ℓ'(u) ∇f`` alone (as :meth:`evaluate`, without the loss value). With
        ``scale_free`` and a loss whose ``sign ℓ'`` does not depend on ``u`` (bce with labels
        0/1), ``-sign(ℓ') ∇f``: no softplus pass for ``u`` (see :class:`Objective`)."""
        z = self.x + delta
        if scale_free and self._minus_d1_sign is not None:
            return self.net.grad(z).mul_(self._minus_d1_sign)
        u, g = self.net.value_and_grad(z)
        return -self.loss.d1(u, self.y)[:, None] * g

    def state_key(self) -> object:
        return (self.net.W._version, self.net.a._version)

    def hessian(self, delta: torch.Tensor) -> torch.Tensor:
        z = self.x + delta
        u, g = self.net.value_and_grad(z)
        d1 = self.loss.d1(u, self.y)[:, None, None]
        d2 = self.loss.d2(u, self.y)[:, None, None]
        return -(d1 * self.net.hessian(z) + d2 * g[:, :, None] * g[:, None, :])

    def select(self, rows: torch.Tensor) -> TwoLayerObjective:
        return TwoLayerObjective(self.net, self.loss, self._rows(self.x, rows),
                                 self._rows(self.y, rows))
