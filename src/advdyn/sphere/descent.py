r"""The local tools of the multistart census on ``εS^{d-1}``: the retraction, Riemannian
descent/ascent, Riemannian Newton (robust to singular tangent Hessians), deduplication of end
points, and polishing-and-typing a batch of end points."""

from __future__ import annotations

import torch
from tqdm.auto import tqdm

from advdyn.geometry import (
    lagrange_multiplier,
    per_row,
    row_norm,
    tangent_basis,
    tangent_project,
)
from advdyn.models.objective import Evaluation, Objective
from advdyn.sphere.diagnose import diagnose, lagrangian_hessian
from advdyn.sphere.points import classify_points

# descent end points closer than MERGE_RTOL·ε share one Newton polish
MERGE_RTOL = 1e-4


def retract(delta: torch.Tensor, eps: float) -> torch.Tensor:
    """``εδ/‖δ‖`` row-wise."""
    return delta * per_row(eps / row_norm(delta), delta)


def riemannian_descent(objective: Objective, delta: torch.Tensor, eps: float, *,
                       sign: float = 1.0, iters: int = 500, min_step: float = 1e-4,
                       progress: bool = False) -> torch.Tensor:
    r"""Batched monotone Riemannian descent (``sign = +1``) or ascent (``-1``) of L on ``εS``.

    Each row moves by ``δ ← ε(δ - s·t Γ/‖Γ‖)/‖δ - s·t Γ/‖Γ‖‖`` when that lowers ``s·L``
    (then ``t ← 1.5t``), else stays (``t ← t/2``); ``t₀ = 0.2ε``. A row stops when
    ``t < min_step·ε`` or ``Γ = 0``. Ends near a local minimum (maximum) of L on the sphere.
    """
    delta = delta.clone()
    b = delta.shape[0]
    t = torch.full((b,), 0.2 * eps, dtype=delta.dtype, device=delta.device)
    ev = objective.evaluate(delta)
    assert ev.grad is not None  # evaluate(grad=True) returns the gradient
    val, grad = sign * ev.L, ev.grad
    active = torch.ones(b, dtype=torch.bool, device=delta.device)
    bar = tqdm(total=iters, desc="descent" if sign > 0 else "ascent", disable=not progress,
               leave=False)
    for _ in range(iters):
        idx = active.nonzero(as_tuple=True)[0]
        if idx.numel() == 0:
            break
        d = delta[idx]
        gam = tangent_project(d, grad[idx])
        n = row_norm(gam)
        cand = retract(d - sign * per_row(t[idx] / n.clamp_min(1e-300), d) * gam, eps)
        evc = objective.select(idx).evaluate(cand)
        assert evc.grad is not None  # evaluate(grad=True) returns the gradient
        ok = (sign * evc.L < val[idx]) & (n > 0)
        sel = idx[ok]
        delta[sel], val[sel], grad[sel] = cand[ok], sign * evc.L[ok], evc.grad[ok]
        t[idx] = torch.where(ok, 1.5 * t[idx], 0.5 * t[idx])
        active[idx] = (t[idx] >= min_step * eps) & (n > 0)
        bar.update(1)
    bar.close()
    return delta


def tangent_newton_step(h: torch.Tensor, rhs: torch.Tensor) -> torch.Tensor:
    r"""The minimum-norm least-squares solution ``ξ`` of ``h ξ = rhs`` for a batch of symmetric
    tangent Hessians ``h`` ``(B, k, k)`` and right-hand sides ``rhs`` ``(B, k)``.

    With ``h = V diag(μ) Vᵀ`` (:func:`torch.linalg.eigh`), ``ξ = V diag(μ⁺) Vᵀ rhs`` where
    ``μ⁺ = 1/μ`` for ``|μ| > k·ulp·max|μ|`` and 0 otherwise (the truncated pseudo-inverse, as
    :func:`numpy.linalg.pinv` cuts off): a singular or near-singular ``h`` (a degenerate
    critical point, a continuum of them) gives the step within the range of ``h`` instead of a
    crash or an overflow, whatever the LAPACK driver. Rows with a non-finite ``h`` or ``rhs``
    get ``ξ = 0``."""
    finite = torch.isfinite(h).flatten(1).all(dim=1) & torch.isfinite(rhs).all(dim=1)
    h = torch.where(finite[:, None, None], (h + h.transpose(1, 2)) / 2, torch.zeros_like(h))
    rhs = torch.where(finite[:, None], rhs, torch.zeros_like(rhs))
    mu, vecs = torch.linalg.eigh(h)
    cutoff = h.shape[-1] * torch.finfo(h.dtype).eps * mu.abs().amax(dim=1, keepdim=True)
    keep = mu.abs() > cutoff
    inv = torch.where(keep, 1.0 / torch.where(keep, mu, torch.ones_like(mu)), torch.zeros_like(mu))
    coeff = (vecs.transpose(1, 2) @ rhs[:, :, None])[:, :, 0] * inv
    return (vecs @ coeff[:, :, None])[:, :, 0]


def newton_polish(objective: Objective, delta: torch.Tensor, eps: float, *, iters: int = 30,
                  max_step: float = 0.25) -> torch.Tensor:
    r"""Batched Riemannian Newton on ``Γ = 0``: ``(QᵀΞQ)ξ = -QᵀΓ``, ``δ ← ε(δ+Qξ)/‖δ+Qξ‖``.

    ``Q`` is the tangent basis at δ (:func:`advdyn.geometry.tangent_basis`); the system is
    solved by :func:`tangent_newton_step` (minimum-norm least squares: a singular or
    near-singular ``QᵀΞQ`` never crashes), and the step is capped at ``max_step·ε`` (a trust
    radius). A row stops once ``‖Γ‖ ≤ 4·ulp·‖∇L‖`` or its step vanishes. Converges
    quadratically to the nearest non-degenerate critical point of any type.
    """
    delta = delta.clone()
    tiny = 4 * torch.finfo(delta.dtype).eps
    active = torch.ones(delta.shape[0], dtype=torch.bool, device=delta.device)
    for _ in range(iters):
        idx = active.nonzero(as_tuple=True)[0]
        if idx.numel() == 0:
            break
        d, obj = delta[idx], objective.select(idx)
        g = obj.gradient(d)
        gam = tangent_project(d, g)
        conv = row_norm(gam) <= tiny * row_norm(g)
        xi = lagrangian_hessian(obj.hessian(d), lagrange_multiplier(g, d))
        q = tangent_basis(d)
        h = q.transpose(1, 2) @ xi @ q
        step = (q @ tangent_newton_step(h, -(q.transpose(1, 2) @ gam[:, :, None])[:, :, 0])
                [:, :, None])[:, :, 0]
        n = row_norm(step)
        step = step * per_row(torch.clamp(max_step * eps / n.clamp_min(1e-300), max=1.0), step)
        new = retract(d + step, eps)
        new = torch.where(conv[:, None], d, new)
        delta[idx] = new
        active[idx] = ~conv & (n > tiny * eps)
    return delta


def dedup(delta: torch.Tensor, tol: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Greedy clustering within ``tol`` (exact duplicates first collapsed, so the distance
    matrix is over distinct points only). Returns (cluster label per row, the first row of
    each cluster)."""
    n = delta.shape[0]
    if n == 0:
        return torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long)
    uniq, inverse = torch.unique(delta, dim=0, return_inverse=True)
    dist = torch.cdist(uniq, uniq)
    ulabel = torch.full((uniq.shape[0],), -1, dtype=torch.long)
    k = 0
    for i in range(uniq.shape[0]):
        if ulabel[i] < 0:
            ulabel[(dist[i] <= tol) & (ulabel < 0)] = k
            k += 1
    label = ulabel[inverse.cpu()]
    first = torch.full((k,), n, dtype=torch.long).scatter_reduce(
        0, label, torch.arange(n), reduce="amin")
    return label, first


def polish_and_type(objective: Objective, ends: torch.Tensor, eps: float, *,
                    critical_rtol: float, eig_rtol: float, grad_scale: float, iters: int
                    ) -> tuple[torch.Tensor, list[str]]:
    """Newton-polish end points and classify them.

    End points with ``‖∇L‖ ≤ critical_rtol·grad_scale`` (the median ‖∇L‖ at the uniform starts)
    and ``‖Γ‖ > 10⁻³‖∇L‖`` (near a zero set of ∇L, where Newton on Γ is singular, or in a flat
    saturated region) are only classified; the others are merged within
    ``MERGE_RTOL·ε`` (members share their representative's polish), so Hessians are formed for
    the distinct end points only.
    """
    if ends.shape[0] == 0:
        return ends, []
    out = ends.clone()
    g = objective.gradient(ends)
    gn = row_norm(g)
    skip = (gn <= critical_rtol * grad_scale) & (row_norm(tangent_project(ends, g)) > 1e-3 * gn)
    moving = (~skip).nonzero(as_tuple=True)[0]
    if moving.numel():
        label, reps = dedup(ends[moving], MERGE_RTOL * eps)
        out[moving] = newton_polish(objective, ends[moving[reps]], eps, iters=iters)[label]
    distinct, inverse = torch.unique(out, dim=0, return_inverse=True)
    dg = diagnose(objective, distinct, eps=eps, critical_rtol=critical_rtol, eig_rtol=eig_rtol)
    kinds = classify_points(dg, critical_rtol, eig_rtol, continuum=eps)
    return out, [kinds[i] for i in inverse.tolist()]


class FlatView(Objective):
    """View of a one-row objective on flattened perturbations ``(B, D)``."""

    def __init__(self, objective: Objective) -> None:
        self.inner = objective
        self.x = objective.x.reshape(objective.rows, -1)
        self.y = objective.y

    def _shape(self, delta: torch.Tensor) -> torch.Tensor:
        return delta.reshape(delta.shape[0], *self.inner.shape)

    def evaluate(self, delta: torch.Tensor, grad: bool = True) -> Evaluation:
        ev = self.inner.evaluate(self._shape(delta), grad)
        g = None if ev.grad is None else ev.grad.reshape(delta.shape)
        return Evaluation(ev.L, ev.ell, g)

    def hessian(self, delta: torch.Tensor) -> torch.Tensor:
        return self.inner.hessian(self._shape(delta))

    def select(self, rows: torch.Tensor) -> FlatView:
        return self
