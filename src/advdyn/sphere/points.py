r"""What a census finds: critical points of ``L`` on the sphere ``εS^{d-1}`` and their types.

Critical points are the δ with ``‖δ‖ = ε`` and ``Γ(δ) = P_T ∇L(δ) = 0``; each is classified by
the eigenvalues ``μ`` of the Riemannian Hessian ``QᵀΞQ`` (``Ξ = ∇²L - 2λ*I``, docs/concepts.md): all
``μ > 0`` a local minimum of L on the sphere (a good adversary), all ``μ < 0`` a local maximum
(where the attack is weakest), mixed a saddle, and *degenerate* when some ``|μ|`` is within
``eig_rtol`` of 0 relative to the largest ``|μ|`` or to ``‖Ξ‖₂`` (the latter also covers d = 2,
where the tangent space has a single eigenvalue).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from advdyn.geometry import row_norm
from advdyn.models.objective import Objective
from advdyn.sphere.diagnose import SphereDiagnosis, classify, diagnose

KINDS = ("minimum", "maximum", "saddle", "degenerate")
LISTS = {"minimum": "minima", "maximum": "maxima", "saddle": "saddles",
          "degenerate": "degenerate"}
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
        return {name: len(getattr(self, name)) for name in LISTS.values()}

    @property
    def unseen_minima_mass(self) -> float:
        """The Good–Turing estimate ``f₁/n`` of the probability that a uniform start lands in
        the basin of a minimum the census has not seen (1 when no start reached a minimum);
        0 for the exact circle scan, whose ``unseen`` holds no such estimate."""
        est = self.unseen.get("minima")
        if not est:
            return 0.0
        mass = est.get("unseen_mass_good_turing")
        return 1.0 if mass is None else float(mass)

    def to_json(self) -> dict[str, Any]:
        """A plain JSON-able dict (points as lists of numbers)."""
        out: dict[str, Any] = {"eps": self.eps, "method": self.method, "counts": self.counts}
        for name in LISTS.values():
            out[name] = [p.to_json() for p in getattr(self, name)]
        out["unseen"] = self.unseen
        out["info"] = self.info
        return out


def classify_points(dg: SphereDiagnosis, crit_rtol: float, eig_rtol: float,
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


def critical_points(objective: Objective, delta: torch.Tensor, eps: float | torch.Tensor,
            hits: list[int], crit_rtol: float, eig_rtol: float,
            exact: list[str] | None = None, continuum: float | None = None
            ) -> list[CriticalPoint]:
    """Diagnose the rows of ``delta`` and wrap them as :class:`CriticalPoint` s (see
    :func:`classify_points` for ``exact``)."""
    dg = diagnose(objective, delta, eps=eps, critical_rtol=crit_rtol, eig_rtol=eig_rtol)
    pts = []
    for i, t in enumerate(classify_points(dg, crit_rtol, eig_rtol, exact, continuum)):
        pts.append(CriticalPoint(
            delta=delta[i].detach().cpu().numpy().astype(np.float64).reshape(-1),
            L=float(dg.L[i]), lam=float(dg.lam[i]),
            eigenvalues=dg.tangent_eigenvalues[i].detach().cpu().numpy().astype(np.float64),
            type=t, hits=int(hits[i]), gamma_norm=float(dg.gamma_norm[i]),
            alignment=float(dg.alignment[i]), kkt=bool(dg.lam[i] <= 0)))
    return pts


def sorted_census(eps: float, points: list[CriticalPoint], **kwargs: Any) -> Census:
    """A :class:`Census` of ``points`` by type, each list sorted by ``L`` (types outside
    :data:`KINDS`, e.g. not critical, are left out)."""
    c = Census(eps=eps, **kwargs)
    for p in sorted(points, key=lambda q: q.L):
        if p.type in LISTS:
            getattr(c, LISTS[p.type]).append(p)
    return c
