r"""A census of the critical points of ``L`` on the sphere ``εS^{d-1}``.

Critical points are the δ with ``‖δ‖ = ε`` and ``Γ(δ) = P_T ∇L(δ) = 0``; each is classified by
the eigenvalues ``μ`` of the Riemannian Hessian ``QᵀΞQ`` (``Ξ = ∇²L - 2λ*I``, SPEC §3): all
``μ > 0`` a local minimum of L on the sphere (a good adversary), all ``μ < 0`` a local maximum
(where the attack is weakest), mixed a saddle, and *degenerate* when some ``|μ|`` is within
``eig_rtol`` of 0 relative to the largest ``|μ|`` or to ``‖Ξ‖₂`` (the latter also covers d = 2,
where the tangent space has a single eigenvalue).

Two methods:

* **d = 2, exact** (:func:`scan_circle`): ``θ ↦ L(ε(cos θ, sin θ))`` has derivative
  ``ε⟨∇L, (-sin θ, cos θ)⟩``; its sign is evaluated on a dense angle grid, every sign change is a
  bracket, refined by the Illinois (modified regula-falsi) method to the last representable angle.
  A change ``- → +`` is a local minimum of L on the circle, ``+ → -`` a local maximum. Rows are
  batched: one call scans many problems (each row of the objective with its own ε).
* **any d, multistart** (:func:`census`): Riemannian descent and ascent (normalised steps along
  ``∓Γ/‖Γ‖`` with the retraction ``δ ↦ εδ/‖δ‖`` and an adaptive step length) from uniform sphere
  starts and from PGD end points, then a Riemannian Newton polish ``(QᵀΞQ)ξ = -QᵀΓ``, then
  deduplication and classification, in rounds that double the starts until the Good–Turing
  unseen basin mass is small. Saddles are searched by Newton on ``Γ = 0`` from midpoints between
  found minima (and between maxima) and from uniform starts; each saddle's unstable (stable)
  direction is then followed down (up) to the minima (maxima) it connects. How many minima and
  maxima may still be unseen is estimated from the hit counts of the uniform starts (Chao1 and
  the Good–Turing unseen probability mass), never presented as a complete count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from advdyn.errors import check_number, fail
from advdyn.geometry import (
    L2Ball,
    lagrange_multiplier,
    per_row,
    row_dot,
    row_norm,
    tangent_basis,
    tangent_project,
)
from advdyn.models.objective import Evaluation, Objective
from advdyn.pgd import run_pgd
from advdyn.sphere.diagnose import (
    SphereDiagnosis,
    classify,
    default_tolerances,
    diagnose,
    lagrangian_hessian,
)

KINDS = ("minimum", "maximum", "saddle", "degenerate")
_LISTS = {"minimum": "minima", "maximum": "maxima", "saddle": "saddles",
          "degenerate": "degenerate"}
# elements of one evaluation batch (points × hidden units) the d = 2 scan aims at (memory bound)
SCAN_CHUNK = 1 << 23
# descent end points closer than MERGE_RTOL·ε share one Newton polish; degenerate points closer
# than DEGENERATE_MERGE·ε are listed once, and at most DEGENERATE_LISTED of them
MERGE_RTOL = 1e-4
DEGENERATE_MERGE = 0.1
DEGENERATE_LISTED = 32


@dataclass
class CriticalPoint:
    """One critical point of L on the sphere.

    ``delta`` the point (‖δ‖ = ε); ``L`` the value (minimisation form); ``lam`` = λ*(δ);
    ``eigenvalues`` the tangent (Riemannian Hessian) eigenvalues, ascending; ``type`` one of
    :data:`KINDS`; ``hits`` how many independent uniform starts ended here (0: found by another
    route, and always 0 for the d = 2 scan); ``gamma_norm`` = ‖Γ(δ)‖; ``alignment`` =
    cos∠[-∇L, δ]; ``kkt``: also a KKT point of the ball problem (λ* ≤ 0).
    """

    delta: np.ndarray
    L: float
    lam: float
    eigenvalues: np.ndarray
    type: str
    hits: int
    gamma_norm: float
    alignment: float
    kkt: bool

    def to_json(self) -> dict[str, Any]:
        return {"delta": self.delta.tolist(), "L": self.L, "lam": self.lam,
                "eigenvalues": self.eigenvalues.tolist(), "type": self.type, "hits": self.hits,
                "gamma_norm": self.gamma_norm, "alignment": self.alignment, "kkt": self.kkt}


@dataclass
class Census:
    """The critical points found on ``εS^{d-1}``, by type, sorted by ``L``.

    ``unseen``: what may have been missed (per type: observed count, singletons/doubletons of
    the hit counts, the Chao1 estimate of the total and the Good–Turing probability that a new
    uniform start lands in an unseen basin; for the d = 2 scan: the grid resolution).
    ``method``: ``"circle-scan"`` or ``"multistart"``; ``info``: the settings and diagnostics.
    """

    eps: float
    minima: list[CriticalPoint] = field(default_factory=list)
    maxima: list[CriticalPoint] = field(default_factory=list)
    saddles: list[CriticalPoint] = field(default_factory=list)
    degenerate: list[CriticalPoint] = field(default_factory=list)
    unseen: dict[str, Any] = field(default_factory=dict)
    method: str = ""
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def counts(self) -> dict[str, int]:
        """Number of points of each type found."""
        return {name: len(getattr(self, name)) for name in _LISTS.values()}

    def to_json(self) -> dict[str, Any]:
        """A plain JSON-able dict (points as lists of numbers)."""
        out: dict[str, Any] = {"eps": self.eps, "method": self.method, "counts": self.counts}
        for name in _LISTS.values():
            out[name] = [p.to_json() for p in getattr(self, name)]
        out["unseen"] = self.unseen
        out["info"] = self.info
        return out


def _classify(dg: SphereDiagnosis, crit_rtol: float, eig_rtol: float,
              exact: list[str] | None = None, continuum: float | None = None) -> list[str]:
    """Types from a diagnosis: :func:`~advdyn.sphere.classify`, plus degenerate when the smallest
    ``|μ|`` is within ``eig_rtol·‖Ξ‖₂`` of 0. ``exact`` (d = 2 scan) gives the kind from the sign
    change of ``dL/dθ``; it replaces the critical test and the eigenvalue signs.

    With ``continuum = ε`` (multistart census, d ≥ 3) a point that is not critical relative to
    its own ‖∇L‖ but where ∇L itself vanishes on the scale of the curvature,
    ``‖∇L‖ ≤ crit_rtol·ε‖Ξ‖₂``, is critical and degenerate: ∇L → 0 there while Γ/‖∇L‖ does
    not, as on the level set ``u = y`` where the quadratic loss attains its maximum L = 0 (of
    dimension d-2 on the sphere, so with d-2 zero tangent eigenvalues). A saturated, merely flat
    region (∇L and ∇²L both tiny) is not critical by this rule."""
    grad_norm = row_norm(dg.grad)
    xi_norm = torch.linalg.matrix_norm(dg.xi, ord=2)
    base = classify(dg.gamma_norm, grad_norm, dg.tangent_eigenvalues, crit_rtol, eig_rtol)
    zero_grad = ((grad_norm <= crit_rtol * continuum * xi_norm) if continuum is not None
                 else torch.zeros_like(grad_norm, dtype=torch.bool)).tolist()
    small = (dg.tangent_eigenvalues.abs().amin(dim=1) <= eig_rtol * xi_norm).tolist()
    out = []
    for i, t in enumerate(base):
        if exact is None and t == "not-critical":
            out.append("degenerate" if zero_grad[i] else t)
        elif small[i] or t == "degenerate":
            out.append("degenerate")
        else:
            out.append(t if exact is None else exact[i])
    return out


def _points(objective: Objective, delta: torch.Tensor, eps: float | torch.Tensor,
            hits: list[int], crit_rtol: float, eig_rtol: float,
            exact: list[str] | None = None, continuum: float | None = None
            ) -> list[CriticalPoint]:
    """Diagnose the rows of ``delta`` and wrap them as :class:`CriticalPoint` s (see
    :func:`_classify` for ``exact``)."""
    dg = diagnose(objective, delta, eps=eps, critical_rtol=crit_rtol, eig_rtol=eig_rtol)
    pts = []
    for i, t in enumerate(_classify(dg, crit_rtol, eig_rtol, exact, continuum)):
        pts.append(CriticalPoint(
            delta=delta[i].detach().cpu().numpy().astype(np.float64).reshape(-1),
            L=float(dg.L[i]), lam=float(dg.lam[i]),
            eigenvalues=dg.tangent_eigenvalues[i].detach().cpu().numpy().astype(np.float64),
            type=t, hits=int(hits[i]), gamma_norm=float(dg.gamma_norm[i]),
            alignment=float(dg.alignment[i]), kkt=bool(dg.lam[i] <= 0)))
    return pts


def _sorted_census(eps: float, points: list[CriticalPoint], **kwargs: Any) -> Census:
    c = Census(eps=eps, **kwargs)
    for p in sorted(points, key=lambda q: q.L):
        if p.type in _LISTS:
            getattr(c, _LISTS[p.type]).append(p)
    return c


# ---------------------------------------------------------------------------------------------
# d = 2: the exact circle scan


def _row_eps(objective: Objective, eps: float | torch.Tensor) -> torch.Tensor:
    e = torch.as_tensor(eps, dtype=objective.dtype).reshape(-1)
    if e.numel() == 1:
        e = e.expand(objective.rows)
    if objective.rows not in (1, e.numel()):
        raise fail("eps", f"expected a scalar or {objective.rows} values (one per row), "
                          f"got {e.numel()}")
    if not torch.isfinite(e).all() or (e <= 0).any():
        raise fail("eps", "every radius must be finite and > 0")
    return e.contiguous()


def _tangent_slope(objective: Objective, rows: torch.Tensor, theta: torch.Tensor,
                   eps: torch.Tensor) -> torch.Tensor:
    """``⟨∇L(δ), (-sin θ, cos θ)⟩`` at ``δ = ε(cos θ, sin θ)``: the sign of ``dL/dθ``."""
    u = torch.stack([torch.cos(theta), torch.sin(theta)], dim=1)
    t = torch.stack([-torch.sin(theta), torch.cos(theta)], dim=1)
    return row_dot(objective.select(rows).gradient(eps[:, None] * u), t)


def scan_circle(objective: Objective, eps: float | torch.Tensor, n_angles: int = 4096, *,
                max_refine: int = 200, critical_rtol: float | None = None,
                eig_rtol: float | None = None, progress: bool = False) -> list[Census]:
    r"""Exact census on the circle ``εS¹`` for every row of a d = 2 objective.

    ``eps``: a scalar or one radius per row. The sign of ``dL/dθ`` is evaluated at ``n_angles``
    equispaced angles; each sign change (``- → +``: minimum of L, ``+ → -``: maximum) is refined
    by the Illinois method on the bracket until the bracket is one ulp wide or ``dL/dθ = 0``.
    The count is exact unless two critical points lie within one grid cell ``2π/n_angles`` of each
    other (``info.min_gap_cells`` reports the closest pair found, in cells; None for fewer than
    two points). Points are then
    diagnosed (λ*, tangent eigenvalue); a point whose tangent eigenvalue is within ``eig_rtol·‖Ξ‖₂``
    of 0 is listed as degenerate. Returns one :class:`Census` per row.
    """
    if objective.shape != (2,):
        raise fail("objective", f"scan_circle needs dimension d = 2, got shape {objective.shape}",
                   "use census() for other dimensions")
    n_angles = check_number("n_angles", n_angles, positive=True, integer=True)
    if n_angles < 8:
        raise fail("n_angles", f"needs at least 8 angles, got {n_angles}")
    max_refine = check_number("max_refine", max_refine, positive=True, integer=True)
    dtype, device = objective.dtype, objective.device
    e = _row_eps(objective, eps).to(device)
    b = e.numel()
    crit_default, eig_default = default_tolerances(dtype)
    eig_rtol = eig_default if eig_rtol is None else check_number("eig_rtol", eig_rtol,
                                                                 nonnegative=True)
    crit_rtol = crit_default if critical_rtol is None else check_number(
        "critical_rtol", critical_rtol, nonnegative=True)
    theta = torch.arange(n_angles, dtype=dtype, device=device) * (2 * math.pi / n_angles)

    width = int(getattr(getattr(objective, "net", None), "width", 64))
    per_call = max(1024, SCAN_CHUNK // max(width, 1))  # (row, angle) points per evaluation
    total = b * n_angles
    slope = torch.empty(total, dtype=dtype, device=device)
    for start in tqdm(range(0, total, per_call), desc="scan", disable=not progress, leave=False):
        idx = torch.arange(start, min(total, start + per_call), device=device)
        rows = idx // n_angles
        slope[idx] = _tangent_slope(objective, rows, theta[idx % n_angles], e[rows])
    slope = slope.reshape(b, n_angles)
    positive = slope >= 0
    flat = (slope == 0).all(dim=1)

    change = positive != positive.roll(-1, dims=1)
    row_id, k = change.nonzero(as_tuple=True)
    kinds = ["minimum" if not bool(p) else "maximum" for p in positive[row_id, k].tolist()]
    step = 2 * math.pi / n_angles
    roots = _illinois(objective, row_id, theta[k], theta[k] + step, e, max_refine)

    out = []
    for r in range(b):
        sel = (row_id == r).nonzero(as_tuple=True)[0]
        th = roots[sel]
        gap = _min_gap(th) / step if th.numel() > 1 else None
        pts: list[CriticalPoint] = []
        if th.numel():
            delta = e[r] * torch.stack([torch.cos(th), torch.sin(th)], dim=1)
            obj_r = objective.select(torch.tensor([r], device=device))
            pts = _points(obj_r, delta, e[r], [0] * th.numel(), crit_rtol, eig_rtol,
                          exact=[kinds[i] for i in sel.tolist()])
        info = {"n_angles": n_angles, "grid_cell": step, "min_gap_cells": gap,
                "flat_circle": bool(flat[r]), "critical_rtol": crit_rtol, "eig_rtol": eig_rtol}
        unseen = {"method": "grid", "grid_cell_rad": step,
                  "note": "exact up to pairs of critical points closer than one grid cell"
                          + ("; dL/dθ vanishes on the whole grid (flat circle)"
                             if bool(flat[r]) else "")}
        out.append(_sorted_census(float(e[r]), pts, unseen=unseen, method="circle-scan",
                                  info=info))
    return out


def default_angles(objective: Objective, eps: float) -> int:
    r"""Angle grid of the d = 2 scan: ``4096``, or for a two-layer net finer when
    ``8π·ε·max_r‖w_r‖`` exceeds it (at least 4 grid points across the narrowest transition of a
    feature ``w_rᵀ(x+δ)`` around the circle, angular width ``~1/(ε‖w_r‖)``), rounded up to a power
    of 2 and at most ``2¹⁶`` (memory; ``info.min_gap_cells`` tells when the grid was tight)."""
    net = getattr(objective, "net", None)
    if net is None:
        return 4096
    want = 8 * math.pi * eps * float(net.W.norm(dim=1).max())
    return int(min(1 << 16, max(4096, 2 ** math.ceil(math.log2(max(want, 1.0))))))


def _min_gap(theta: torch.Tensor) -> float:
    s = torch.sort(torch.remainder(theta, 2 * math.pi)).values
    gaps = torch.diff(torch.cat([s, s[:1] + 2 * math.pi]))
    return float(gaps.min())


def _illinois(objective: Objective, rows: torch.Tensor, a: torch.Tensor, b: torch.Tensor,
              eps: torch.Tensor, iters: int) -> torch.Tensor:
    """Batched Illinois root finding of ``dL/dθ`` on brackets ``[a, b]`` (opposite signs)."""
    if rows.numel() == 0:
        return a
    e = eps[rows]

    def slope(th: torch.Tensor) -> torch.Tensor:
        return _tangent_slope(objective, rows, th, e)

    fa, fb = slope(a), slope(b)
    for it in range(iters):
        width = (b - a).abs()
        done = (width <= 2 * torch.finfo(a.dtype).eps * b.abs().clamp_min(1.0)) | (fb == 0)
        if bool(done.all()):
            break
        secant = (a * fb - b * fa) / (fb - fa)
        inside = (secant - torch.minimum(a, b)) * (torch.maximum(a, b) - secant) > 0
        c = torch.where(inside & (it % 8 != 7), secant, (a + b) / 2)
        c = torch.where(done, b, c)
        fc = slope(c)
        flip = (fc * fb < 0) | ((fc * fb == 0) & (fc != 0))
        a_new = torch.where(flip, b, a)
        fa_new = torch.where(flip, fb, fa / 2)
        a = torch.where(done, a, a_new)
        fa = torch.where(done, fa, fa_new)
        b = torch.where(done, b, c)
        fb = torch.where(done, fb, fc)
    return torch.where(fb.abs() <= fa.abs(), b, a)


# ---------------------------------------------------------------------------------------------
# any d: the multistart census


def _retract(delta: torch.Tensor, eps: float) -> torch.Tensor:
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
    assert ev.grad is not None
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
        cand = _retract(d - sign * per_row(t[idx] / n.clamp_min(1e-300), d) * gam, eps)
        evc = objective.select(idx).evaluate(cand)
        assert evc.grad is not None
        ok = (sign * evc.L < val[idx]) & (n > 0)
        sel = idx[ok]
        delta[sel], val[sel], grad[sel] = cand[ok], sign * evc.L[ok], evc.grad[ok]
        t[idx] = torch.where(ok, 1.5 * t[idx], 0.5 * t[idx])
        active[idx] = (t[idx] >= min_step * eps) & (n > 0)
        bar.update(1)
    bar.close()
    return delta


def newton_polish(objective: Objective, delta: torch.Tensor, eps: float, *, iters: int = 30,
                  max_step: float = 0.25) -> torch.Tensor:
    r"""Batched Riemannian Newton on ``Γ = 0``: ``(QᵀΞQ)ξ = -QᵀΓ``, ``δ ← ε(δ+Qξ)/‖δ+Qξ‖``.

    ``Q`` is the tangent basis at δ (:func:`advdyn.geometry.tangent_basis`); the step is capped at
    ``max_step·ε`` (a trust radius) and solved by least squares where ``QᵀΞQ`` is singular. A row
    stops once ``‖Γ‖ ≤ 4·ulp·‖∇L‖``. Converges quadratically to the nearest non-degenerate critical
    point of any type.
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
        rhs = -(q.transpose(1, 2) @ gam[:, :, None])
        sol = torch.linalg.lstsq(h, rhs).solution
        step = (q @ sol)[:, :, 0]
        n = row_norm(step)
        step = step * per_row(torch.clamp(max_step * eps / n.clamp_min(1e-300), max=1.0), step)
        new = _retract(d + step, eps)
        new = torch.where(conv[:, None], d, new)
        delta[idx] = new
        active[idx] = ~conv & (n > tiny * eps)
    return delta


def _dedup(delta: torch.Tensor, tol: float) -> tuple[torch.Tensor, torch.Tensor]:
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


def unseen_estimate(hits: list[int], samples: int) -> dict[str, Any]:
    r"""How many basins a sample of ``samples`` uniform starts may have missed.

    ``hits``: per observed point (found by the uniform starts or otherwise), how many of the
    starts ended there. With ``f₁``/``f₂`` the numbers hit exactly once/twice and ``S`` the
    number observed: bias-corrected Chao1 ``S + f₁(f₁-1)/(2(f₂+1))`` (a lower-bound style
    estimate of the total), and the Good–Turing estimate ``f₁/n`` of the probability that the
    next start lands in a basin not seen yet (``n`` the starts that reached this type).
    ``complete_likely`` only when no point was hit once and every point was hit by the sample
    (a point found only by another route shows that the sample misses basins).
    """
    observed = len(hits)
    f1 = sum(1 for h in hits if h == 1)
    f2 = sum(1 for h in hits if h == 2)
    n = sum(hits)
    chao1 = observed + f1 * (f1 - 1) / (2 * (f2 + 1))
    return {"observed": observed, "samples": int(samples), "samples_reached": int(n),
            "singletons": f1, "doubletons": f2,
            "found_by_other_routes": sum(1 for h in hits if h == 0),
            "chao1": chao1, "unseen_mass_good_turing": f1 / n if n else None,
            "complete_likely": bool(f1 == 0 and n > 0 and all(h > 0 for h in hits))}


@dataclass(frozen=True)
class CensusSettings:
    """The multistart settings (see :func:`census`)."""

    starts: int
    max_starts: int
    coverage: float
    seed: int
    pgd_starts: int
    saddle_starts: int
    descent_iters: int
    newton_iters: int
    dedup_rtol: float
    critical_rtol: float
    eig_rtol: float


def _default_starts(d: int) -> int:
    """Uniform starts per direction in the first round: 32·d, at least 256, at most 512."""
    return int(min(512, max(256, 32 * d)))


def census(objective: Objective, eps: float, *, starts: int | None = None,
           max_starts: int = 4096, coverage: float = 1e-3, seed: int = 0,
           pgd_starts: int | None = None, saddle_starts: int | None = None,
           descent_iters: int = 500, newton_iters: int = 30, dedup_rtol: float = 1e-6,
           n_angles: int | None = None, critical_rtol: float | None = None,
           eig_rtol: float | None = None, progress: bool = False) -> Census:
    r"""Census of the critical points of L on ``εS^{d-1}`` for a one-row objective.

    d = 2: :func:`scan_circle` (exact; ``n_angles``, default :func:`default_angles`). d ≥ 3,
    multistart in rounds:

    1. each round, ``k`` uniform sphere points descend and another ``k`` ascend
       (:func:`riemannian_descent`); in the first round (``k = starts``) also ``pgd_starts``
       normalised-PGD end points (uniform starts in the ball, step ``0.05ε``, 100 steps);
    2. every end point is polished by :func:`newton_polish` and classified (tangent eigenvalues
       of Ξ; critical when ``‖Γ‖ ≤ critical_rtol·‖∇L‖``); points closer than ``dedup_rtol·ε``
       are merged; ``hits`` counts the uniform descent (ascent) starts that reached each minimum
       (maximum);
    3. rounds double the number of starts until the Good–Turing estimate of the unseen basin
       mass, ``f₁/n``, is below ``coverage`` for minima and maxima, or ``max_starts`` starts per
       direction have been used (:func:`unseen_estimate` reports what may still be missing);
    4. saddle search: Newton from the retracted midpoints of pairs of found minima, of found
       maxima, and from ``saddle_starts`` uniform sphere points; then from every saddle found,
       descent (ascent) from ``±0.05ε`` along its most unstable (stable) tangent eigenvector, to
       the minima (maxima) it connects — minima with small basins beside the found ones. Points
       found only this way have ``hits = 0`` and mark the sample as incomplete.

    Defaults: ``starts = clip(32d, 256, 512)``, ``pgd_starts = starts/4``,
    ``saddle_starts = starts/8``. Same seed → same census.
    """
    if objective.rows != 1:
        raise fail("objective", f"census takes one problem (one row), got {objective.rows} rows",
                   "use scan_circle for a batch of d = 2 problems, or objective.select([i])")
    eps = check_number("eps", eps, positive=True)
    dim = int(np.prod(objective.shape))
    if dim < 2:
        raise fail("objective", "the sphere needs dimension ≥ 2")
    crit_default, eig_default = default_tolerances(objective.dtype)
    crit = crit_default if critical_rtol is None else check_number(
        "critical_rtol", critical_rtol, nonnegative=True)
    eig = eig_default if eig_rtol is None else check_number("eig_rtol", eig_rtol,
                                                            nonnegative=True)
    if dim == 2:
        n = default_angles(objective, eps) if n_angles is None else n_angles
        return scan_circle(objective, eps, n, critical_rtol=crit, eig_rtol=eig,
                           progress=progress)[0]
    n = _default_starts(dim) if starts is None else check_number("starts", starts,
                                                                 positive=True, integer=True)
    s = CensusSettings(
        starts=n, max_starts=max(n, check_number("max_starts", max_starts, positive=True,
                                                 integer=True)),
        coverage=check_number("coverage", coverage, nonnegative=True),
        seed=check_number("seed", seed, integer=True),
        pgd_starts=n // 4 if pgd_starts is None else check_number(
            "pgd_starts", pgd_starts, nonnegative=True, integer=True),
        saddle_starts=n // 8 if saddle_starts is None else check_number(
            "saddle_starts", saddle_starts, nonnegative=True, integer=True),
        descent_iters=check_number("descent_iters", descent_iters, positive=True, integer=True),
        newton_iters=check_number("newton_iters", newton_iters, positive=True, integer=True),
        dedup_rtol=check_number("dedup_rtol", dedup_rtol, positive=True),
        critical_rtol=crit, eig_rtol=eig)
    return _multistart(objective, eps, s, progress)


# provenance of an end point
UNIFORM_DESCENT, PGD_END, UNIFORM_ASCENT, SADDLE_SEARCH = range(4)


def _hits(ends: torch.Tensor, labels: list[str], source: torch.Tensor, kind: str,
          wanted: int, tol: float) -> list[int]:
    """Hit counts (starts of provenance ``wanted``) of the distinct points of type ``kind``."""
    idx = torch.tensor([i for i, k in enumerate(labels) if k == kind], dtype=torch.long)
    if not idx.numel():
        return []
    label, reps = _dedup(ends[idx], tol)
    return [int((source[idx[label == r]] == wanted).sum()) for r in range(reps.numel())]


def _multistart(objective: Objective, eps: float, s: CensusSettings, progress: bool) -> Census:
    gen = torch.Generator().manual_seed(s.seed)
    shape, dtype, device = objective.shape, objective.dtype, objective.device

    def sphere(k: int) -> torch.Tensor:
        return L2Ball.sample_sphere(k, shape, eps, gen, dtype).to(device).reshape(k, -1)

    flat_obj = _Flat(objective)
    first = sphere(s.starts)
    grad_scale = float(row_norm(flat_obj.gradient(first)).median())
    pgd_end = first[:0]
    if s.pgd_starts:
        res = run_pgd(objective, eps, 0.05 * eps, 100, rule="normalized", batch=s.pgd_starts,
                      generator=int(torch.randint(0, 2**31 - 1, (1,), generator=gen)))
        pgd_end = _retract(res.delta.reshape(s.pgd_starts, -1), eps)

    labels: list[str] = []
    ends, source = first[:0], torch.zeros(0, dtype=torch.long)
    used, k, rounds = 0, s.starts, 0
    while True:
        down = first if rounds == 0 else sphere(k)
        extra = pgd_end if rounds == 0 else pgd_end[:0]
        lo = riemannian_descent(flat_obj, torch.cat([down, extra]), eps, sign=1.0,
                                iters=s.descent_iters, progress=progress)
        hi = riemannian_descent(flat_obj, sphere(k), eps, sign=-1.0, iters=s.descent_iters,
                                progress=progress)
        e, lab = _polish_and_type(flat_obj, torch.cat([lo, hi]), eps, s, grad_scale,
                                  s.newton_iters)
        ends, labels = torch.cat([ends, e]), labels + lab
        source = torch.cat([source, torch.full((k,), UNIFORM_DESCENT),
                            torch.full((extra.shape[0],), PGD_END),
                            torch.full((k,), UNIFORM_ASCENT)])
        used, rounds = used + k, rounds + 1
        unseen = [unseen_estimate(_hits(ends, labels, source, kind, w, s.dedup_rtol * eps),
                                  used)["unseen_mass_good_turing"] or 0.0
                  for kind, w in (("minimum", UNIFORM_DESCENT), ("maximum", UNIFORM_ASCENT))]
        if max(unseen) <= s.coverage or used >= s.max_starts:
            break
        k = min(used, s.max_starts - used)

    mins = _unique(ends[[i for i, t in enumerate(labels) if t == "minimum"]], eps, s)
    maxs = _unique(ends[[i for i, t in enumerate(labels) if t == "maximum"]], eps, s)
    seeds = torch.cat([_pair_midpoints(mins, eps), _pair_midpoints(maxs, eps),
                       sphere(s.saddle_starts)])
    if seeds.shape[0]:
        sad, sad_labels = _polish_and_type(flat_obj, seeds, eps, s, grad_scale,
                                           2 * s.newton_iters)
        ends, labels = torch.cat([ends, sad]), labels + sad_labels
        source = torch.cat([source, torch.full((sad.shape[0],), SADDLE_SEARCH)])
        # follow each saddle's unstable (stable) directions down (up) to the minima (maxima)
        # it connects: minima with small basins next to found ones
        saddles = _unique(ends[[i for i, t in enumerate(labels) if t == "saddle"]], eps, s)
        for sign, starts in ((1.0, _saddle_exits(flat_obj, saddles, eps, lowest=True)),
                             (-1.0, _saddle_exits(flat_obj, saddles, eps, lowest=False))):
            if starts.shape[0]:
                e = riemannian_descent(flat_obj, starts, eps, sign=sign,
                                       iters=s.descent_iters)
                e, lab = _polish_and_type(flat_obj, e, eps, s, grad_scale, s.newton_iters)
                ends, labels = torch.cat([ends, e]), labels + lab
                source = torch.cat([source, torch.full((e.shape[0],), SADDLE_SEARCH)])

    unconverged = {"descent": 0, "ascent": 0, "saddle_search": 0}
    for i, t in enumerate(labels):
        if t == "not-critical":
            unconverged[("descent", "descent", "ascent", "saddle_search")[int(source[i])]] += 1
    reps_all: list[int] = []
    hits_all: list[int] = []
    merged = 0
    for kind in KINDS:  # merge per type: a minimum and a nearby saddle are never merged
        idx = torch.tensor([i for i, k in enumerate(labels) if k == kind], dtype=torch.long)
        if not idx.numel():
            continue
        tol = (DEGENERATE_MERGE if kind == "degenerate" else s.dedup_rtol) * eps
        label, reps = _dedup(ends[idx], tol)
        if kind == "degenerate":
            merged = reps.numel()
            reps = reps[:DEGENERATE_LISTED]
        wanted = {"minimum": UNIFORM_DESCENT, "maximum": UNIFORM_ASCENT}.get(kind, -1)
        for r, rep in enumerate(reps.tolist()):
            reps_all.append(int(idx[rep]))
            hits_all.append(int((source[idx[label == r]] == wanted).sum()))
    final = _points(objective, ends[reps_all].reshape(-1, *shape), eps, hits_all,
                    s.critical_rtol, s.eig_rtol, continuum=eps) if reps_all else []
    unseen_out = {
        "minima": unseen_estimate([p.hits for p in final if p.type == "minimum"], used),
        "maxima": unseen_estimate([p.hits for p in final if p.type == "maximum"], used),
        "saddles": {"observed": sum(p.type == "saddle" for p in final),
                    "note": "lower bound: Newton on Γ = 0 from midpoints of minima/maxima pairs "
                            "and uniform starts; no sampling estimate"},
        "degenerate": {"observed": merged, "listed": sum(p.type == "degenerate" for p in final),
                       "note": f"merged within {DEGENERATE_MERGE:g}·ε, at most "
                               f"{DEGENERATE_LISTED} listed; often samples of a continuum (e.g. "
                               "the level set u = y where the quadratic loss attains its "
                               "maximum L = 0)"},
    }
    info = {**s.__dict__, "starts_used": used, "rounds": rounds, "unconverged": unconverged,
            "grad_scale": grad_scale}
    return _sorted_census(eps, final, unseen=unseen_out, method="multistart", info=info)


def _polish_and_type(objective: Objective, ends: torch.Tensor, eps: float, s: CensusSettings,
                     grad_scale: float, iters: int) -> tuple[torch.Tensor, list[str]]:
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
    skip = (gn <= s.critical_rtol * grad_scale) & (row_norm(tangent_project(ends, g)) > 1e-3 * gn)
    moving = (~skip).nonzero(as_tuple=True)[0]
    if moving.numel():
        label, reps = _dedup(ends[moving], MERGE_RTOL * eps)
        out[moving] = newton_polish(objective, ends[moving[reps]], eps, iters=iters)[label]
    distinct, inverse = torch.unique(out, dim=0, return_inverse=True)
    dg = diagnose(objective, distinct, eps=eps, critical_rtol=s.critical_rtol,
                  eig_rtol=s.eig_rtol)
    kinds = _classify(dg, s.critical_rtol, s.eig_rtol, continuum=eps)
    return out, [kinds[i] for i in inverse.tolist()]


def _unique(delta: torch.Tensor, eps: float, s: CensusSettings) -> torch.Tensor:
    return delta[_dedup(delta, s.dedup_rtol * eps)[1]] if delta.shape[0] else delta


def _saddle_exits(objective: Objective, saddles: torch.Tensor, eps: float, *, lowest: bool,
                  size: float = 0.05) -> torch.Tensor:
    """``ε(δ ± size·ε·v)/‖·‖`` for each saddle δ, ``v`` the unit tangent eigenvector of the
    lowest (``lowest``) or highest tangent eigenvalue of Ξ: the two starts that leave the saddle
    downhill (uphill) along its most unstable (stable) direction."""
    if saddles.shape[0] == 0:
        return saddles
    dg = diagnose(objective, saddles, eps=eps)
    q = tangent_basis(saddles)
    vecs = torch.linalg.eigh(q.transpose(1, 2) @ dg.xi @ q).eigenvectors
    v = (q @ vecs[:, :, 0 if lowest else -1:][..., :1])[:, :, 0]
    return _retract(torch.cat([saddles + size * eps * v, saddles - size * eps * v]), eps)


def _pair_midpoints(delta: torch.Tensor, eps: float, limit: int = 24) -> torch.Tensor:
    """Retracted midpoints of all pairs among the first ``limit`` rows (antipodal pairs skipped)."""
    d = delta[:limit]
    if d.shape[0] < 2:
        return d[:0]
    i, j = torch.triu_indices(d.shape[0], d.shape[0], offset=1)
    mid = (d[i] + d[j]) / 2
    ok = row_norm(mid) > 1e-3 * eps
    return _retract(mid[ok], eps)


class _Flat(Objective):
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

    def select(self, rows: torch.Tensor) -> _Flat:
        return self
