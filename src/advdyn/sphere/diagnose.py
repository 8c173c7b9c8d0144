r"""Second-order geometry of ``L`` on the sphere ``εS^{D-1}`` (docs/concepts.md, "The geometry on
the sphere").

With the constraint ``c(δ) = ‖δ‖² - ε²`` (``∇c = 2δ``, ``∇²c = 2I``) and δ ≠ 0:

* ``λ*(δ) = ⟨∇L, δ⟩/(2‖δ‖²)``, ``Γ(δ) = ∇L - 2λ*δ = P_T ∇L``;
* ``Ξ(δ) = ∇²L - 2λ* I`` (Hessian of the Lagrangian);
* the Riemannian Hessian ``Qᵀ Ξ Q`` with ``Q`` an orthonormal basis of the tangent space.

A point is critical on the sphere when ``Γ = 0``; it is a local minimum / maximum / saddle by the
signs of the ``D-1`` tangent eigenvalues (degenerate if one is within tolerance of 0). It is a
KKT point of the *ball* problem ``min_{‖δ‖≤ε} L`` when additionally ``λ* ≤ 0`` (``-∇L`` points
outward), and a strict local minimum of the ball problem when it is also a sphere minimum.

**With a box** (``diagnose(..., box=(lo, hi))``, the pixel box every image attack clips to) the
feasible set is ``{δ : ‖δ‖ ≤ ε, lo ≤ x + δ ≤ hi}`` with ``x`` the objective's clean inputs, and a
sphere classification no longer decides KKT: a point with clipped pixels has ``Γ ≠ 0`` and can
still be a KKT point, the box's multipliers taking up the rest. :func:`diagnose` then returns a
:class:`FeasibleDiagnosis`: the tangent-cone KKT residual of :mod:`advdyn.sphere.feasible`
(first order; ``ball="linf"`` for the l∞ ball, with FOSC), batched with one ε per row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import overload

import torch

from advdyn.errors import check_choice, fail
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
from advdyn.sphere.feasible import feasible_stationarity

TYPES = ("minimum", "maximum", "saddle", "degenerate", "not-critical")
BOX_TYPES = ("kkt-interior", "kkt-ball", "kkt-box", "kkt-ball+box", "not-kkt")


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
    """Everything docs/concepts.md defines on the sphere, at a batch of points δ (each on the
    sphere of radius ‖δ‖)."""

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


@dataclass
class FeasibleDiagnosis:
    """First-order stationarity on ``{‖δ‖ ≤ ε} ∩ {lo ≤ x + δ ≤ hi}`` at a batch of points, per
    row: ``L``, ``ell``, ``grad`` (= ∇L), ``kkt_residual`` (‖P_T ∇ℓ‖/‖∇ℓ‖, the tangent cone
    of the feasible set), ``mu`` (the ball's multiplier), ``fosc`` (l∞; NaN for l2),
    ``on_sphere`` (the ball active: ‖δ‖ within 1 % of ε, see :mod:`advdyn.sphere.feasible`),
    ``box_active`` (clipped coordinates), ``kkt``
    (``kkt_residual ≤ critical_rtol``) and ``types`` (:data:`BOX_TYPES`: ``kkt-`` and the
    active set, or ``not-kkt``); ``box`` and ``ball`` as given."""

    L: torch.Tensor
    ell: torch.Tensor
    grad: torch.Tensor
    kkt_residual: torch.Tensor
    mu: torch.Tensor
    fosc: torch.Tensor
    on_sphere: torch.Tensor
    box_active: torch.Tensor
    kkt: torch.Tensor
    types: list[str]
    box: tuple[float, float]
    ball: str


def as_points(objective: Objective, delta: torch.Tensor) -> torch.Tensor:
    """``delta`` in the objective's row shape: ``(B, D)`` flattened rows are reshaped to
    ``(B, *objective.shape)`` when the numbers of elements agree; otherwise both shapes are
    named."""
    delta = torch.as_tensor(delta)
    shape = objective.shape
    if delta.ndim >= 1 and tuple(delta.shape[1:]) == shape:
        return delta
    per_row = 1
    for n in shape:
        per_row *= n
    if delta.ndim == 2 and delta.shape[1] == per_row:
        return delta.reshape(delta.shape[0], *shape)
    raise fail("delta", f"shape {tuple(delta.shape)} does not fit the objective's rows of shape "
               f"{shape}", f"pass (B, *{shape}) or flattened (B, {per_row})")


@overload
def diagnose(objective: Objective, delta: torch.Tensor, eps: float | torch.Tensor | None = None,
             critical_rtol: float | None = None, eig_rtol: float | None = None, *,
             box: None = None, ball: str = "l2") -> SphereDiagnosis: ...


@overload
def diagnose(objective: Objective, delta: torch.Tensor, eps: float | torch.Tensor | None = None,
             critical_rtol: float | None = None, eig_rtol: float | None = None, *,
             box: tuple[float, float], ball: str = "l2") -> FeasibleDiagnosis: ...


def diagnose(objective: Objective, delta: torch.Tensor, eps: float | torch.Tensor | None = None,
             critical_rtol: float | None = None, eig_rtol: float | None = None, *,
             box: tuple[float, float] | None = None, ball: str = "l2"
             ) -> SphereDiagnosis | FeasibleDiagnosis:
    """λ*, Γ, Ξ, tangent eigenvalues (ascending), alignment ``cos∠[-∇L, δ]``, type and the KKT
    flag at every row of ``delta``. ``eps`` (default ``‖δ‖``; a scalar or one per row) decides
    ``on_sphere``; it is taken in the dtype of the computation (a float32 ε with a float64 δ is
    widened to the number it was written as, :func:`advdyn.geometry.in_dtype`: the same answer
    as float64). ``delta`` may be flattened to ``(B, D)``.

    With ``box=(lo, hi)``: the :class:`FeasibleDiagnosis` of the ball ∩ box around the
    objective's inputs ``x`` (``eps`` required; ``ball`` ``"l2"`` or ``"linf"``; pass
    ``box=(-math.inf, math.inf)`` for the l∞ ball alone); ``critical_rtol`` (default as for the
    sphere) bounds the relative KKT residual; ``eig_rtol`` is unused there."""
    delta = as_points(objective, delta)
    check_choice("ball", ball, ("l2", "linf"))
    if box is not None:
        return _diagnose_box(objective, delta, eps, critical_rtol, box, ball)
    if ball != "l2":
        raise fail("ball", "the sphere diagnosis is l2 only",
                   "pass box=(lo, hi) (or (-inf, inf)) for the l∞ ball's KKT residual")
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


def _diagnose_box(objective: Objective, delta: torch.Tensor, eps: float | torch.Tensor | None,
                  critical_rtol: float | None, box: tuple[float, float], ball: str
                  ) -> FeasibleDiagnosis:
    if eps is None:
        raise fail("eps", "the ball ∩ box diagnosis needs the radius", "pass eps")
    ev = objective.evaluate(delta)
    assert ev.grad is not None
    eps = in_dtype(eps, delta.dtype, delta.device)
    st = feasible_stationarity(-ev.grad, delta, objective.x, eps, ball=ball, box=box)
    tol = default_tolerances(delta.dtype)[0] if critical_rtol is None else critical_rtol
    kkt = st.relative <= tol
    types = [f"kkt-{a}" if k else "not-kkt" for a, k in zip(st.active, kkt.tolist(),
                                                            strict=True)]
    lo, hi = box
    return FeasibleDiagnosis(L=ev.L, ell=ev.ell, grad=ev.grad, kkt_residual=st.relative,
                             mu=st.mu, fosc=st.fosc, on_sphere=st.ball_active,
                             box_active=st.box_active, kkt=kkt, types=types,
                             box=(float(lo), float(hi)), ball=ball)
