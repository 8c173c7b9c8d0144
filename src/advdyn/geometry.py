r"""Balls and spheres, batched: each row of a batch ``(B, *shape)`` has its own radius ``ε_b``.

Norms are taken over all non-batch dimensions (a row is one flattened vector of dimension D).

* l2 ball ``B(0, ε) = {δ : ‖δ‖₂ ≤ ε}``, sphere ``εS^{D-1} = {‖δ‖₂ = ε}``;
* l∞ ball ``{δ : ‖δ‖∞ ≤ ε}``.

Each ball is a tiny class with the three norm-specific hooks a PGD loop needs (Foolbox style):
``sample`` (exactly uniform start in the open ball), ``normalize`` (the steepest-ascent direction
of unit dual norm) and ``project`` (Euclidean projection onto the ball). Box clipping for a data
domain is kept separate (:func:`clip_to_box`) so the two constraints never get confused.
"""

from __future__ import annotations

import torch

from advdyn.errors import fail

TINY = 1e-30
#: The floating-point types a command or experiment may be asked for, by name.
DTYPES = {"float32": torch.float32, "float64": torch.float64}


def sphere_rtol(dtype: torch.dtype) -> float:
    """Relative tolerance of the test ``‖δ‖ = ε`` (a projected point has norm ε to a few ulp)."""
    return 64 * torch.finfo(dtype).eps


def in_dtype(value: torch.Tensor | float, dtype: torch.dtype,
             device: torch.device | None = None) -> torch.Tensor:
    """``value`` as a tensor of the computation's ``dtype``. A floating tensor narrower than
    ``dtype`` (a float32 ε for a float64 objective) is widened through its shortest decimal that
    round-trips in its own precision, i.e. the number that was written: float32 ``0.3`` becomes
    float64 ``0.3``, not ``0.30000001192…``, so a narrow ε gives the answer of the wide one."""
    t = torch.as_tensor(value)
    if (t.is_floating_point() and dtype.is_floating_point
            and torch.finfo(t.dtype).bits < torch.finfo(dtype).bits):
        import numpy as np  # the shortest round-trip decimal of a float32 is numpy's repr

        narrow = t.detach().cpu().to(torch.float32).numpy()
        t = torch.from_numpy(narrow.astype(str).astype(np.float64))
    return t.to(dtype=dtype, device=device)


def row_norm(v: torch.Tensor, keepdim: bool = False) -> torch.Tensor:
    """``‖v_b‖₂`` for every row: shape ``(B,)``, or ``(B, 1, ..., 1)`` with ``keepdim`` (which
    broadcasts against ``v`` in any memory layout)."""
    return torch.linalg.vector_norm(v, dim=tuple(range(1, v.ndim)), keepdim=keepdim)


def row_dot(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """``⟨u_b, v_b⟩`` for every row, shape ``(B,)``."""
    return (u.flatten(1) * v.flatten(1)).sum(dim=1)


def per_row(values: torch.Tensor | float, like: torch.Tensor) -> torch.Tensor:
    """Broadcast a scalar or a ``(B,)`` vector against ``like`` of shape ``(B, *shape)``."""
    t = torch.as_tensor(values, dtype=like.dtype, device=like.device)
    if t.ndim == 0:
        t = t.expand(like.shape[0])
    if t.shape != (like.shape[0],):
        raise fail("eps", f"expected a scalar or one value per row ({like.shape[0]}), "
                          f"got shape {tuple(t.shape)}")
    return t.reshape((-1,) + (1,) * (like.ndim - 1))


def _radii(eps: torch.Tensor | float, n: int, dtype: torch.dtype) -> torch.Tensor:
    e = torch.as_tensor(eps, dtype=dtype).reshape(-1)
    if e.numel() == 1:
        e = e.expand(n)
    if e.shape != (n,):
        raise fail("eps", f"expected a scalar or {n} values, got {e.numel()}")
    if not torch.isfinite(e).all() or (e <= 0).any():
        raise fail("eps", "every radius must be finite and > 0")
    return e


class L2Ball:
    r"""The l2 ball ``{δ : ‖δ‖₂ ≤ ε}``."""

    name = "l2"

    @staticmethod
    def sample(n: int, shape: tuple[int, ...], eps: torch.Tensor | float,
               generator: torch.Generator | None = None,
               dtype: torch.dtype = torch.float64) -> torch.Tensor:
        r"""Exactly uniform in the open ball: ``δ = εU^{1/D} g/‖g‖``, ``g~N(0,I)``, ``U~U[0,1)``.

        The radius law is ``P(‖δ‖ ≤ r) = (r/ε)^D``. Sampled on the CPU so that a seed gives the same
        numbers on every device.
        """
        e = _radii(eps, n, dtype)
        g = torch.randn((n, *shape), generator=generator, dtype=dtype)
        u = torch.rand(n, generator=generator, dtype=dtype)
        dim = max(1, int(torch.tensor(shape).prod()))
        r = e * u.pow(1.0 / dim)
        return g * (r / row_norm(g).clamp_min(TINY)).reshape((-1,) + (1,) * len(shape))

    @staticmethod
    def sample_sphere(n: int, shape: tuple[int, ...], eps: torch.Tensor | float,
                      generator: torch.Generator | None = None,
                      dtype: torch.dtype = torch.float64) -> torch.Tensor:
        """Uniform on the sphere ``εS^{D-1}``: ``ε g/‖g‖``."""
        e = _radii(eps, n, dtype)
        g = torch.randn((n, *shape), generator=generator, dtype=dtype)
        return g * (e / row_norm(g).clamp_min(TINY)).reshape((-1,) + (1,) * len(shape))

    @staticmethod
    def normalize(grad: torch.Tensor) -> torch.Tensor:
        """``g/‖g‖₂`` (zero where ``g = 0``): the unit-l2 steepest direction.

        Computed as ``ĝ/‖ĝ‖`` with ``ĝ = g/max|g|``, so a gradient of any tiny nonzero size (a
        saturated loss, ``‖g‖ ≈ 1e-99``) still gives a unit direction instead of stalling.
        """
        # the row scalars keep their dimensions (B, 1, ...) and are updated in place: one kernel
        # each, no reshape (nor the copy that flattening a channels-last gradient would make)
        peak = grad.abs().amax(dim=tuple(range(1, grad.ndim)), keepdim=True)
        g = grad / peak.clamp_min_(torch.finfo(grad.dtype).tiny)
        return g.div_(row_norm(g, keepdim=True).clamp_min_(TINY))

    @staticmethod
    def project(delta: torch.Tensor, eps: torch.Tensor | float) -> torch.Tensor:
        r"""``P_B(v) = v · min(1, ε/‖v‖)``."""
        # min(1, ε/‖v‖) (= 1 for v = 0, where ε/0 = inf), shaped (B, 1, ...)
        scale = per_row(eps, delta) / row_norm(delta, keepdim=True)
        return delta * scale.clamp_max_(1)

    @staticmethod
    def radius(delta: torch.Tensor) -> torch.Tensor:
        """The ball's norm of each row."""
        return row_norm(delta)


class LinfBall:
    r"""The l∞ ball ``{δ : ‖δ‖∞ ≤ ε}``."""

    name = "linf"

    @staticmethod
    def sample(n: int, shape: tuple[int, ...], eps: torch.Tensor | float,
               generator: torch.Generator | None = None,
               dtype: torch.dtype = torch.float64) -> torch.Tensor:
        """Uniform in the open cube: every coordinate ``ε(2U - 1)``, ``U ~ U[0,1)``."""
        e = _radii(eps, n, dtype).reshape((-1,) + (1,) * len(shape))
        return e * (2 * torch.rand((n, *shape), generator=generator, dtype=dtype) - 1)

    @staticmethod
    def normalize(grad: torch.Tensor) -> torch.Tensor:
        """``sign(g)``: the unit-l∞ steepest direction."""
        return grad.sign()

    @staticmethod
    def project(delta: torch.Tensor, eps: torch.Tensor | float) -> torch.Tensor:
        """Coordinate-wise clamp to ``[-ε, ε]``."""
        e = per_row(eps, delta)
        return torch.maximum(torch.minimum(delta, e), -e)

    @staticmethod
    def radius(delta: torch.Tensor) -> torch.Tensor:
        """The ball's norm of each row."""
        return delta.reshape(delta.shape[0], -1).abs().amax(dim=1)


BALLS: dict[str, type[L2Ball] | type[LinfBall]] = {"l2": L2Ball, "linf": LinfBall}


def clip_to_box(x: torch.Tensor, delta: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """The δ' nearest δ with ``x + δ' ∈ [low, high]`` coordinate-wise (a data box, not the ball)."""
    return (x + delta).clamp(low, high) - x


def tangent_project(delta: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    r"""``P_T v = v - ⟨v, δ⟩ δ/‖δ‖²``: the component of ``v`` tangent to the sphere through δ."""
    coef = row_dot(v, delta) / row_norm(delta).pow(2).clamp_min(TINY)
    return v - per_row(coef, delta) * delta


def sphere_terms(grad: torch.Tensor, delta: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""``(‖δ‖, ‖Γ(δ)‖, λ*(δ))`` per row, sharing ``⟨∇L, δ⟩`` and ``‖δ‖²`` (the same numbers as
    :func:`row_norm`, ``row_norm(tangent_project(δ, ∇L))`` and :func:`lagrange_multiplier`)."""
    norm = row_norm(delta)
    norm2 = norm.pow(2).clamp_min(TINY)
    dot = row_dot(grad, delta)
    gamma = row_norm(grad - per_row(dot / norm2, grad) * delta)
    return norm, gamma, dot / (2 * norm2)


def lagrange_multiplier(grad: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
    r"""``λ*(δ) = argmin_λ ‖∇L - λ∇c‖ = ⟨∇L, δ⟩/(2‖δ‖²)`` for ``c(δ) = ‖δ‖² - ε²``."""
    return row_dot(grad, delta) / (2 * row_norm(delta).pow(2).clamp_min(TINY))


def alignment(grad: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
    r"""``α(δ) = cos∠[-∇L, δ] = -⟨∇L, δ⟩/(‖∇L‖‖δ‖)`` (0 where either vector is 0)."""
    den = (row_norm(grad) * row_norm(delta)).clamp_min(TINY)
    return -row_dot(grad, delta) / den


def tangent_basis(delta: torch.Tensor) -> torch.Tensor:
    r"""An orthonormal basis of the tangent space ``{v : ⟨v, δ⟩ = 0}``, shape ``(B, D, D-1)``.

    Householder reflector ``H = I - 2vvᵀ/‖v‖²`` with ``v = δ̂ + sign(δ̂₁)e₁`` maps ``δ̂`` to
    ``∓e₁``; its columns 2..D are orthonormal and orthogonal to δ.
    """
    b = delta.shape[0]
    u = delta.reshape(b, -1)
    dim = u.shape[1]
    if dim < 2:
        raise fail("delta", "the sphere needs dimension ≥ 2")
    uh = u / row_norm(u).clamp_min(TINY)[:, None]
    sgn = torch.where(uh[:, 0] >= 0, 1.0, -1.0).to(u.dtype)
    v = uh.clone()
    v[:, 0] += sgn
    eye = torch.eye(dim, dtype=u.dtype, device=u.device).expand(b, dim, dim)
    h = eye - 2 * v[:, :, None] * v[:, None, :] / row_norm(v).pow(2)[:, None, None]
    return h[:, :, 1:]
