r"""Question 1 on a network as Madry et al. mean it, the restarts' concentration, and how affine
the network is over the ball.

All with the training's own attack: normalised ascent on ℓ, step ``ρε``, ``δ ← clip_box(P_B(δ +
ρε ∇ℓ/‖∇ℓ‖))`` (``clip_box`` keeps ``x + δ ∈ [lo, hi]`` when the box is on; it only shrinks
coordinates of δ, so the iterate stays in the ball).

* **Stationarity** (:func:`kkt_residual`). The feasible set is ``C = {‖δ‖ ≤ ε} ∩ {lo ≤ x + δ ≤
  hi}``. Its tangent cone at δ is ``T = {v : v_i ≥ 0 where x_i + δ_i = lo, v_i ≤ 0 where
  x_i + δ_i = hi, δ·v ≤ 0 if ‖δ‖ = ε}``; δ is a KKT point of ``max_C ℓ`` iff ``P_T(∇ℓ) = 0``.
  ``P_T(g)`` has the closed form ``v(μ) = P_K(g − μδ)`` (``K`` the box part of the cone, a
  coordinate-wise clip) with the multiplier ``μ ≥ 0`` of the sphere constraint: ``μ = 0`` if
  ``δ·v(0) ≤ 0``, else the root of the non-increasing ``μ ↦ δ·v(μ)`` (bisection). The residual is
  ``‖P_T(∇ℓ)‖/‖∇ℓ‖`` where a constraint is active, ``‖∇ℓ_t‖/‖∇ℓ_0‖`` in the interior (where
  ``P_T`` is the identity). Without the box this is ``‖Γ‖/‖∇ℓ‖`` on the sphere when ``cos∠[∇ℓ,
  δ] > 0`` (docs/concepts.md). A run is stationary at ``τ`` from the first step with residual
  ``≤ τ``.
* **Plateau.** Per image, the best ``ℓ*`` of ``restarts`` long runs (``restart_steps``
  steps); a run has reached the plateau at level ``q`` from the first step with ``ℓ_t ≥ (1 −
  q)ℓ*`` (compared in log form).
* **Concentration.** The spread of the restarts' final ℓ divided by the range of ℓ over the ball
  (``ℓ* − ℓ_min``, ``ℓ_min`` from as many descent runs), and the number of distinct maxima:
  single-linkage clusters of the end points at distance ``merge·ε``.
* **Affineness** (the paper's mechanism). At random δ on the sphere, the relative size of the
  second-order term ``|ℓ(δ) − ℓ(0) − ∇ℓ(0)·δ| / |∇ℓ(0)·δ|`` (0 for an affine ℓ).

Every tensor is made in the inputs' dtype and on their device; random draws come from the
CPU's generators (a seed gives the same numbers on every device) and are moved there.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy.cluster.hierarchy import fcluster, linkage
from torch import nn

from advdyn.errors import check_number
from advdyn.experiments.escape import first_true
from advdyn.geometry import L2Ball, clip_to_box, per_row, row_dot, row_norm
from advdyn.losses import LogCrossEntropy
from advdyn.models import ModuleObjective
from advdyn.sphere.feasible import feasible_stationarity

TAUS = (0.2, 0.1, 0.05, 0.01)
PLATEAUS = (0.01, 0.05)

#: One line per :class:`Q1Config` field, for command-line help.
Q1_HELP = {
    "q1_images": "Question 1: images (≥ 20 at the reference size)",
    "q1_runs": "Question 1: PGD runs per image followed step by step",
    "q1_steps": "Question 1: steps followed (later stationarity is censored)",
    "restarts": "restarts per image for the plateau and the concentration (≥ 20)",
    "restart_steps": "steps of each restart",
    "merge": "restarts: end points closer than merge·ε are one maximum",
    "affine_probes": "random sphere points per image for the affineness measure",
}


@dataclass(frozen=True)
class Q1Config:
    """Question 1 and the restarts (module docstring): ``q1_images`` × ``q1_runs`` runs of
    ``q1_steps`` steps; ``restarts`` long runs of ``restart_steps`` per image; maxima merged
    within ``merge·ε``; ``affine_probes`` sphere points per image."""

    q1_images: int = 20
    q1_runs: int = 4
    q1_steps: int = 60
    restarts: int = 20
    restart_steps: int = 100
    merge: float = 0.05
    affine_probes: int = 8

    def __post_init__(self) -> None:
        for name in ("q1_images", "q1_runs", "q1_steps", "restarts", "restart_steps",
                     "affine_probes"):
            check_number(name, getattr(self, name), positive=True, integer=True)
        check_number("merge", self.merge, positive=True)


Box = tuple[float, float] | None
ArmOf = Callable[[torch.Tensor], nn.Module]


def kkt_residual(g: torch.Tensor, delta: torch.Tensor, eps: float, x: torch.Tensor, box: Box,
                 g0_norm: torch.Tensor) -> torch.Tensor:
    """The stationarity residual of each row (module docstring): where a constraint of ``C`` is
    active, the relative KKT residual ``‖P_{T_C(δ)} g‖/‖g‖`` of the attack's feasible set
    (:func:`advdyn.sphere.feasible.feasible_stationarity`, the certificate ``diagnose(box=…)``
    reports); ``‖g‖/‖g₀‖`` in the interior."""
    st = feasible_stationarity(g, delta, x, eps, box=box)
    active = st.ball_active | (st.box_active > 0)
    gn = row_norm(g.reshape(g.shape[0], -1).to(torch.float64))
    return torch.where(active, st.relative, gn / g0_norm.to(torch.float64).clamp_min(1e-300)
                       ).to(g.dtype)


@dataclass
class Ascent:
    """Per step ``t = 0..T`` (``(T+1, B)``): ``log_ell`` and the KKT ``residual``; the end
    points ``delta``."""

    log_ell: np.ndarray
    residual: np.ndarray
    delta: torch.Tensor


def ascend(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, rho: float,
           steps: int, box: Box, start: torch.Tensor, *, descend: bool = False,
           residual: bool = True) -> Ascent:
    """``steps`` normalised steps of ``ρε`` on ℓ (ascent, or descent with ``descend``) from
    ``start``, projected on the ball then clipped to the box; every step's ``log ℓ`` recorded,
    and its KKT residual unless ``residual`` is false (then ``residual`` is empty)."""
    objective = ModuleObjective(model, LogCrossEntropy, x, y)
    delta, logs, res = start.clone(), [], []
    g0 = None
    for t in range(steps + 1):
        ev = objective.evaluate(delta)
        assert ev.grad is not None  # evaluate(grad=True) returns the gradient
        g = -ev.grad if not descend else ev.grad  # ∇log ℓ has the direction of ∇ℓ
        g0 = row_norm(g) if g0 is None else g0
        logs.append(ev.ell.cpu().numpy())
        if residual:
            res.append(kkt_residual(g, delta, eps, x, box, g0).cpu().numpy())
        if t == steps:
            break
        delta = L2Ball.project(delta + rho * eps * L2Ball.normalize(g), eps)
        if box is not None:
            delta = clip_to_box(x, delta, box[0], box[1])
    return Ascent(np.stack(logs), np.stack(res) if res else np.zeros((0, x.shape[0])), delta)


def _start(x: torch.Tensor, eps: float, box: Box, gen: torch.Generator) -> torch.Tensor:
    d = L2Ball.sample(x.shape[0], tuple(x.shape[1:]), eps, gen, x.dtype).to(x.device)
    return d if box is None else clip_to_box(x, d, box[0], box[1])


def distinct_points(delta: np.ndarray, radius: float) -> int:
    """Number of single-linkage clusters of the rows of ``delta`` at distance ``radius``."""
    if delta.shape[0] < 2:
        return int(delta.shape[0])
    return int(fcluster(linkage(delta, method="single"), t=radius, criterion="distance").max())


def restarts(arm_of: ArmOf, x: torch.Tensor, y: torch.Tensor, eps: float, rho: float,
             box: Box, cfg: Q1Config, seed: int) -> dict[str, Any]:
    """Per image: ``log ℓ*`` (best restart), the restarts' final ``log ℓ``, ``log ℓ_min``
    (best descent run), the normalised spread ``sd(ℓ_R)/(ℓ* − ℓ_min)`` and the distinct maxima."""
    n, r = x.shape[0], cfg.restarts
    xr, yr = x.repeat_interleave(r, 0), y.repeat_interleave(r)
    gen = torch.Generator().manual_seed(seed)
    model = arm_of(xr)
    up = ascend(model, xr, yr, eps, rho, cfg.restart_steps, box, _start(xr, eps, box, gen),
                residual=False)
    down = ascend(model, xr, yr, eps, rho, cfg.restart_steps, box, _start(xr, eps, box, gen),
                  descend=True, residual=False)
    top = up.log_ell.max(axis=0).reshape(n, r)  # best along each run
    final = up.log_ell[-1].reshape(n, r)
    bottom = down.log_ell.min(axis=0).reshape(n, r).min(axis=1)
    best = top.max(axis=1)
    ell = np.exp(final - best[:, None])  # ℓ/ℓ*, exact at any magnitude
    span = -np.expm1(bottom - best)      # (ℓ* − ℓ_min)/ℓ*
    spread = np.where(span > 0, ell.std(axis=1) / np.maximum(span, 1e-300), 0.0)
    ends = up.delta.reshape(n, r, -1).cpu().numpy()
    return {"log_best": best.tolist(), "log_final": final.tolist(), "log_min": bottom.tolist(),
            "spread": spread.tolist(),
            "distinct": [distinct_points(e, cfg.merge * eps) for e in ends]}


def q1_curves(arm_of: ArmOf, x: torch.Tensor, y: torch.Tensor, eps: float, rho: float,
              box: Box, cfg: Q1Config, log_best: np.ndarray, seed: int) -> dict[str, Any]:
    """Per run (``q1_runs`` per image, ``image`` its index): the first step stationary at each τ
    of :data:`TAUS` and at the plateau at each level of :data:`PLATEAUS` (censored at
    ``q1_steps``: ``hit`` false)."""
    k = cfg.q1_runs
    xr, yr = x.repeat_interleave(k, 0), y.repeat_interleave(k)
    gen = torch.Generator().manual_seed(seed + 1)
    a = ascend(arm_of(xr), xr, yr, eps, rho, cfg.q1_steps, box, _start(xr, eps, box, gen))
    out: dict[str, Any] = {"image": np.repeat(np.arange(x.shape[0]), k).tolist(),
                           "budget": cfg.q1_steps, "stationary": {}, "plateau": {}}
    for tau in TAUS:
        t, hit = first_true(a.residual <= tau)
        out["stationary"][f"{tau:g}"] = {"times": t.tolist(), "hit": hit.tolist()}
    best = np.repeat(np.asarray(log_best), k)
    for q in PLATEAUS:
        t, hit = first_true(a.log_ell >= best[None, :] + math.log1p(-q))
        out["plateau"][f"{q:g}"] = {"times": t.tolist(), "hit": hit.tolist()}
    return out


def affineness(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, probes: int,
               seed: int) -> list[float]:
    """Per image, the median over ``probes`` sphere points of ``|ℓ(δ) − ℓ(0) − ∇ℓ(0)·δ| /
    |∇ℓ(0)·δ|`` (module docstring), in float64."""
    n = x.shape[0]
    xr, yr = x.repeat_interleave(probes, 0), y.repeat_interleave(probes)
    gen = torch.Generator().manual_seed(seed + 2)
    delta = L2Ball.sample_sphere(xr.shape[0], tuple(x.shape[1:]), eps, gen, x.dtype
                                 ).to(x.device)
    objective = ModuleObjective(model, LogCrossEntropy, xr, yr)
    at0 = objective.evaluate(torch.zeros_like(xr))
    assert at0.grad is not None
    ell0 = torch.exp(at0.ell)
    linear = row_dot(-at0.grad * per_row(ell0, xr), delta)  # ∇ℓ = ℓ ∇log ℓ
    ell = torch.exp(objective.evaluate(delta, grad=False).ell)
    ratio = (ell - ell0 - linear).abs() / linear.abs().clamp_min(1e-300)
    return np.median(ratio.reshape(n, probes).cpu().numpy(), axis=1).tolist()


def measure(arm_of: ArmOf, x: torch.Tensor, y: torch.Tensor, eps: float, rho: float, box: Box,
            cfg: Q1Config, seed: int) -> dict[str, Any]:
    """Restarts (plateau and concentration) then the Question 1 curves, on the model that
    ``arm_of(batch_x)`` returns for each batch (the network itself, or its linearisation at
    the batch)."""
    rs = restarts(arm_of, x, y, eps, rho, box, cfg, seed)
    return {"restarts": rs, "q1": q1_curves(arm_of, x, y, eps, rho, box, cfg,
                                            np.asarray(rs["log_best"]), seed)}
