r"""First-order stationarity on an attack's actual feasible set: the ball, or the ball ∩ a box.

An image attack maximises ``ℓ`` over ``F = {δ : ‖δ‖ ≤ ε, lo ≤ x + δ ≤ hi}`` (the pixel box
``[lo, hi]``), i.e. minimises ``L = −ℓ`` there. With ``g = ∇ℓ`` (the ascent direction), δ is a
KKT point of the problem iff ``g`` lies in the normal cone of ``F`` at δ,

``N_F(δ) = {μ δ + ν : μ ≥ 0 (μ = 0 if ‖δ‖ < ε), ν_i ≥ 0 where x_i + δ_i = hi,
ν_i ≤ 0 where x_i + δ_i = lo, ν_i = 0 elsewhere}``  (l2),

and the KKT residual is ``r = dist(g, N_F(δ)) = ‖P_{T_F(δ)} g‖`` (Moreau: the norm of ``g``
projected onto the tangent cone ``T_F(δ)``, the polar of ``N_F``). Given μ, the best box
multipliers are explicit: the residual's coordinate is ``g_i − μδ_i`` on a free coordinate,
``min(g_i − μδ_i, 0)`` at the upper bound, ``max(g_i − μδ_i, 0)`` at the lower one; ``r(μ)²`` is
convex and piecewise quadratic in μ and its minimum over ``μ ≥ 0`` is found by bisection on its
derivative (monotone), in float64, to machine precision. Without active box coordinates this is
``‖Γ‖``-like: ``r = ‖g − μ*δ‖`` with ``μ* = max(⟨g, δ⟩/‖δ‖², 0)`` on the sphere.

For the l∞ ball, ``F`` is itself a box, ``a_i = max(−ε, lo − x_i) ≤ δ_i ≤ b_i = min(ε, hi − x_i)``;
the residual is the same coordinate rule with μ = 0, and the first-order stationarity condition
of Wang et al. (ICML 2019), FOSC ``= max_{δ' ∈ F} ⟨δ' − δ, g⟩ = Σ_i (b_i − δ_i) g_i⁺ +
(δ_i − a_i) g_i⁻`` (≥ 0, zero exactly at KKT points), is reported too.

Everything is batched, one ε per row. A box bound is *active* when it holds to ``atol``
(default a few units in the last place of the data's dtype times ``max(1, |lo|, |hi|)``; clipped
pixels are exactly at the bound) and the ball when ``‖δ‖ ≥ ε(1 − ball_rtol)``, default
:data:`BALL_RTOL` = 1 %: PGD with a box clips *after* projecting onto the ball, and the clip
shrinks the norm, so its end points with clipped pixels sit just inside the sphere (0.9987 ε to
0.9999 ε for PGD-l2 on an MNIST CNN). With an exact tolerance the ball would count as inactive
there and no such point could be certified; with 1 % the certificate is that of an approximate
KKT point (the ε-active set of constrained optimisation), and ``ball_rtol`` makes it stricter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from advdyn.errors import check_choice, fail
from advdyn.geometry import BALLS, row_norm

ACTIVE_SETS = ("interior", "ball", "box", "ball+box")
BISECTIONS = 200
BALL_RTOL = 1e-2


@dataclass
class FeasibleStationarity:
    """Per row ``(B,)``: ``residual`` = ‖P_T ∇ℓ‖, ``relative`` = residual/‖∇ℓ‖ (0 at a KKT
    point, 1 when no multiplier helps; 0 where ∇ℓ = 0), ``mu`` the ball's multiplier,
    ``fosc`` (l∞ only, else NaN), ``ball_active``, ``box_active`` (active coordinates) and
    ``active`` (one of :data:`ACTIVE_SETS`)."""

    residual: torch.Tensor
    relative: torch.Tensor
    mu: torch.Tensor
    fosc: torch.Tensor
    ball_active: torch.Tensor
    box_active: torch.Tensor
    active: list[str]


def check_box(box: tuple[float, float] | None) -> tuple[float, float] | None:
    """``(lo, hi)`` with ``lo < hi`` (infinite bounds allowed), or ``None``."""
    if box is None:
        return None
    try:
        lo, hi = (float(v) for v in box)
    except (TypeError, ValueError):
        raise fail("box", f"expected (lo, hi), got {box!r}") from None
    if math.isnan(lo) or math.isnan(hi) or not lo < hi:
        raise fail("box", f"expected (lo, hi) with lo < hi, got {box!r}")
    return lo, hi


def _residual(g: torch.Tensor, d: torch.Tensor, mu: torch.Tensor, upper: torch.Tensor,
              lower: torch.Tensor) -> torch.Tensor:
    """The residual vector ``(B, D)`` for the ball multiplier ``mu`` ``(B,)``."""
    v = g - mu[:, None] * d
    return torch.where(upper, v.clamp_max(0), torch.where(lower, v.clamp_min(0), v))


def feasible_stationarity(grad_ell: torch.Tensor, delta: torch.Tensor, x: torch.Tensor,
                          eps: float | torch.Tensor, *, ball: str = "l2",
                          box: tuple[float, float] | None = None,
                          atol: float | None = None, ball_rtol: float | None = None
                          ) -> FeasibleStationarity:
    """The KKT residual of ``max ℓ`` over ``{‖δ‖ ≤ ε} ∩ {lo ≤ x + δ ≤ hi}`` at every row (see the
    module docstring). ``grad_ell`` = ∇ℓ (the attacker's gradient, = −∇L), ``delta`` and ``x`` of
    one shape ``(B, *shape)`` (``x`` may be one row); ``eps`` a scalar or one per row; ``atol``
    and ``ball_rtol`` the activity tolerances of the box and of the ball."""
    ball_cls = BALLS[check_choice("ball", ball, BALLS)]
    bounds = check_box(box)
    b = delta.shape[0]
    d = delta.reshape(b, -1).to(torch.float64)
    g = grad_ell.reshape(b, -1).to(torch.float64)
    if x.numel() not in (d.shape[1], d.numel()):
        raise fail("x", f"shape {tuple(x.shape)} does not match δ of shape {tuple(delta.shape)}")
    z = (x.reshape(-1, d.shape[1]).to(torch.float64) + d)
    e = torch.as_tensor(eps, dtype=torch.float64, device=d.device).reshape(-1).expand(b)
    radius = ball_cls.radius(d)
    rtol = BALL_RTOL if ball_rtol is None else ball_rtol
    ball_active = radius >= e * (1 - rtol)
    lo, hi = bounds if bounds is not None else (-math.inf, math.inf)
    if atol is None:
        finite = [abs(v) for v in (lo, hi) if math.isfinite(v)]
        atol = 4 * torch.finfo(x.dtype if x.is_floating_point() else torch.float64).eps * max(
            [1.0, *finite])
    upper = z >= hi - atol
    lower = z <= lo + atol
    box_active = (upper | lower).sum(1)  # the cube's faces (l∞) count as the ball's
    if ball_cls.name == "linf":
        at_ball = d.abs() >= e[:, None] * (1 - rtol)
        upper = upper | (at_ball & (d > 0))
        lower = lower | (at_ball & (d < 0))
        mu = torch.zeros(b, dtype=torch.float64, device=d.device)
        a = torch.maximum(-e[:, None], lo - (z - d))
        top = torch.minimum(e[:, None], hi - (z - d))
        fosc = ((top - d) * g.clamp_min(0) - (d - a) * g.clamp_max(0)).sum(1)
    else:
        mu = _ball_multiplier(g, d, ball_active, upper, lower)
        fosc = torch.full((b,), math.nan, dtype=torch.float64, device=d.device)
    res = row_norm(_residual(g, d, mu, upper, lower))
    gnorm = row_norm(g)
    relative = torch.where(gnorm > 0, res / gnorm.clamp_min(torch.finfo(torch.float64).tiny),
                           torch.zeros_like(res))
    names = [ACTIVE_SETS[int(ba) + 2 * int(bx > 0)]
             for ba, bx in zip(ball_active.tolist(), box_active.tolist(), strict=True)]
    return FeasibleStationarity(residual=res, relative=relative, mu=mu, fosc=fosc,
                                ball_active=ball_active, box_active=box_active, active=names)


def _ball_multiplier(g: torch.Tensor, d: torch.Tensor, ball_active: torch.Tensor,
                     upper: torch.Tensor, lower: torch.Tensor) -> torch.Tensor:
    """``argmin_{μ ≥ 0} ‖residual(μ)‖²`` (0 where the ball is inactive), by bisection on the
    monotone derivative ``−2⟨residual(μ), δ⟩``. On ``μ ≥ max_i g_i/δ_i`` every coordinate's
    residual has the sign of ``−δ_i`` (or is 0), so the derivative is ≥ 0 there: the bracket."""
    b = d.shape[0]
    ratio = torch.where(d != 0, g / torch.where(d != 0, d, torch.ones_like(d)),
                        torch.zeros_like(d))
    hi = ratio.amax(dim=1).clamp_min(0)
    lo = torch.zeros(b, dtype=d.dtype, device=d.device)
    for _ in range(BISECTIONS):
        mid = (lo + hi) / 2
        slope = -(_residual(g, d, mid, upper, lower) * d).sum(1)
        lo, hi = torch.where(slope < 0, mid, lo), torch.where(slope < 0, hi, mid)
        if bool((hi - lo <= 1e-15 * hi.clamp_min(1e-300)).all()):
            break
    mu = (lo + hi) / 2
    return torch.where(ball_active, mu, torch.zeros_like(mu))
