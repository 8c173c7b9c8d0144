r"""Second-order geometry of ``L`` on the sphere ``εS^{D-1}`` (SPEC §3).

With the constraint ``c(δ) = ‖δ‖² - ε²`` (``∇c = 2δ``, ``∇²c = 2I``) and δ ≠ 0:

* ``λ*(δ) = ⟨∇L, δ⟩/(2‖δ‖²)``, ``Γ(δ) = ∇L - 2λ*δ = P_T ∇L``;
* ``Ξ(δ) = ∇²L - 2λ* I`` (Hessian of the Lagrangian);
* the Riemannian Hessian ``Qᵀ Ξ Q`` with ``Q`` an orthonormal basis of the tangent space.

A point is critical on the sphere when ``Γ = 0``; it is a local minimum / maximum / saddle by the
signs of the ``D-1`` tangent eigenvalues (degenerate if one is within tolerance of 0). It is a
KKT point of the *ball* problem ``min_{‖δ‖≤ε} L`` when additionally ``λ* ≤ 0`` (``-∇L`` points
outward), and a strict local minimum of the ball problem when it is also a sphere minimum.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from advdyn.geometry import (
    alignment,
    in_dtype,
    lagrange_multiplier,
    row_norm,
    sphere_rtol,
    tangent_basis,
    tangent_project,
)
from advdyn.models.objective import Objective

TYPES = ("minimum", "maximum", "saddle", "degenerate", "not-critical")


def lagrangian_hessian(hess: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
    """``Ξ = ∇²L - 2λ* I`` for a batch ``(B, D, D)``."""
    eye = torch.eye(hess.shape[-1], dtype=hess.dtype, device=hess.device)
    return hess - 2 * lam[:, None, None] * eye


def riemannian_hessian(xi: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
    """``Qᵀ Ξ Q`` on the tangent space at δ, shape ``(B, D-1, D-1)`` (symmetrised)."""
    q = tangent_basis(delta)
    h = q.transpose(1, 2) @ xi @ q
    return (h + h.transpose(1, 2)) / 2


def default_tolerances(dtype: torch.dtype) -> tuple[float, float]:
    """``(critical_rtol, eig_rtol)``: ``‖Γ‖ ≤ critical_rtol·‖∇L‖`` counts as critical and
    ``|μ| ≤ eig_rtol·max|μ|`` as a zero tangent eigenvalue."""
    return (1e-6, 1e-8) if dtype == torch.float64 else (1e-3, 1e-4)


def classify(gamma_norm: torch.Tensor, grad_norm: torch.Tensor, eigs: torch.Tensor,
             critical_rtol: float, eig_rtol: float) -> list[str]:
    """The :data:`TYPES` label of each row from ‖Γ‖, ‖∇L‖ and the tangent eigenvalues."""
    critical = gamma_norm <= critical_rtol * grad_norm
    scale = eigs.abs().amax(dim=1).clamp_min(torch.finfo(eigs.dtype).tiny)
    zero = (eigs.abs() <= eig_rtol * scale[:, None]).any(dim=1)
    pos = (eigs > 0).all(dim=1)
    neg = (eigs < 0).all(dim=1)
    out = []
    for c, z, p, n in zip(critical.tolist(), zero.tolist(), pos.tolist(), neg.tolist(),
                          strict=True):
        out.append("not-critical" if not c else "degenerate" if z else
                   "minimum" if p else "maximum" if n else "saddle")
    return out


@dataclass
class SphereDiagnosis:
    """Everything SPEC §3 defines at a batch of points δ (each on the sphere of radius ‖δ‖)."""

    L: torch.Tensor
    ell: torch.Tensor
    grad: torch.Tensor
    lam: torch.Tensor
    gamma: torch.Tensor
    gamma_norm: torch.Tensor
    xi: torch.Tensor
    tangent_eigenvalues: torch.Tensor
    alignment: torch.Tensor
    on_sphere: torch.Tensor
    kkt: torch.Tensor
    types: list[str]


def diagnose(objective: Objective, delta: torch.Tensor, eps: float | torch.Tensor | None = None,
             critical_rtol: float | None = None, eig_rtol: float | None = None
             ) -> SphereDiagnosis:
    """λ*, Γ, Ξ, tangent eigenvalues (ascending), alignment ``cos∠[-∇L, δ]``, type and the KKT
    flag at every row of ``delta``. ``eps`` (default ``‖δ‖``) decides ``on_sphere``; it is
    taken in the dtype of the computation (a float32 ε with a float64 δ is widened to the
    number it was written as, :func:`advdyn.geometry.in_dtype`: the same answer as float64)."""
    flat = delta.reshape(delta.shape[0], -1)
    ev = objective.evaluate(delta)
    assert ev.grad is not None
    g = ev.grad.reshape(flat.shape)
    lam = lagrange_multiplier(g, flat)
    gamma = tangent_project(flat, g)
    xi = lagrangian_hessian(objective.hessian(delta), lam)
    eigs = torch.linalg.eigvalsh(riemannian_hessian(xi, flat))
    crit_tol, eig_tol = default_tolerances(flat.dtype)
    crit_tol = crit_tol if critical_rtol is None else critical_rtol
    eig_tol = eig_tol if eig_rtol is None else eig_rtol
    gnorm = row_norm(gamma)
    types = classify(gnorm, row_norm(g), eigs, crit_tol, eig_tol)
    radius = row_norm(flat)
    e = radius if eps is None else in_dtype(eps, flat.dtype, flat.device).expand_as(radius)
    on_sphere = (radius - e).abs() <= sphere_rtol(flat.dtype) * e
    critical = torch.tensor([t != "not-critical" for t in types], device=flat.device)
    kkt = on_sphere & critical & (lam <= 0)
    return SphereDiagnosis(L=ev.L, ell=ev.ell, grad=ev.grad, lam=lam, gamma=gamma,
                           gamma_norm=gnorm, xi=xi, tangent_eigenvalues=eigs,
                           alignment=alignment(g, flat), on_sphere=on_sphere, kkt=kkt,
                           types=types)
