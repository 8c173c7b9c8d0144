r"""What the two-layer claim experiments share: the paper's regime, the problem, sample bounds.

Each claim experiment is a module exposing ``EXPERIMENT`` (:class:`advdyn.experiments.base.
Experiment`): a frozen configuration dataclass (defaults: the full run; ``quick`` overrides for
``--quick``), ``jobs(config)`` (pure functions of JSON configurations) and ``collect(config,
values)`` returning the result its claims (:mod:`advdyn.claims.two_layer`) and its pictures read.
Experiments measure; they never judge.

**Regime.** The paper's scales are asymptotic (``m = Ω(d^{5/2})``, ``ε < Θ((log m)^{-k})``,
``η < min{Θ((log m)^{-k}), ε²}``) with unknown constants; :func:`regime` checks them with every
constant set to 1 (a convention, not a test), and every claim whose regime includes
``m = Ω(d^{5/2})`` also runs an arm with ``m < d^{5/2}``.

**Problem.** :class:`~advdyn.experiments.simulated.SimulatedSetup` (Xavier two-layer network,
``x = c·u`` with ``u`` a random unit direction, ``ε = r‖x‖``), by default binary cross-entropy
with label 0, so ``ℓ' = sigmoid(u) > 0`` on the whole ball (Assumption 3) and ``-∇L`` is a
positive multiple of ``∇f``. The paper's ``L`` (a number) is estimated as ``min |ℓ'|/2`` over
sampled points of the ball, ``B_l`` as ``min ‖∇f‖``: sample minima, so upper estimates of the
true infima.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from advdyn.errors import check_number, fail
from advdyn.experiments.simulated import SimulatedSetup
from advdyn.geometry import L2Ball
from advdyn.jsondata import plain
from advdyn.models import TwoLayerNet, TwoLayerObjective
from advdyn.sphere import Census
from advdyn.sphere.census import census as _census

# exponent k of the bound ε < (log m)^-k and of η < (log m)^-k, per claim
EPS_POWER = {"L4.1": 0.5, "L4.3": 1.0, "L4.4": 1.0, "T3.1": 2.0, "C3.1": 2.0, "T5.1": 2.0}
ETA_POWER = {"L4.1": 1.0, "T3.1": 2.0, "C3.1": 2.0}


def regime(claim: str, d: int, m: int, eps: float, eta: float | None = None) -> dict[str, Any]:
    """The paper's scale conditions of ``claim`` with all constants 1: the ratios (``< 1``
    inside) and ``inside`` (``m ≥ d^{5/2}`` and every ratio below 1)."""
    if claim not in EPS_POWER:
        raise fail("claim", f"no regime for {claim!r}", "choose one of " + ", ".join(EPS_POWER))
    log_m = math.log(m) if m > 1 else 1.0
    out: dict[str, Any] = {"m_over_d^2.5": m / d**2.5}
    out["eps_over_bound"] = eps * log_m ** EPS_POWER[claim]
    ok = m >= d**2.5 and out["eps_over_bound"] < 1
    if eta is not None and claim in ETA_POWER:
        out["eta_over_bound"] = eta / min(log_m ** -ETA_POWER[claim], eps * eps)
        ok = ok and out["eta_over_bound"] < 1
    out["inside"] = bool(ok)
    return out


def check_counts(config: Any, *names: str) -> None:
    """Every named field of ``config`` is a positive integer."""
    for name in names:
        check_number(name, getattr(config, name), positive=True, integer=True)


def check_widths(field: str, widths: Sequence[int]) -> tuple[int, ...]:
    """A non-empty tuple of distinct positive integers."""
    out = tuple(int(check_number(field, w, positive=True, integer=True)) for w in widths)
    if not out or len(set(out)) != len(out):
        raise fail(field, f"needs distinct positive widths, got {list(widths)}")
    return out


@dataclass(frozen=True)
class WidthSweepConfig:
    """The width sweep of Lemmas 4.1 and 4.3: ``dim``; ``widths`` (≥ d^2.5) and
    ``below_widths`` (< d^2.5) (:func:`width_arms`); ``scale``, ``ratio``: ``ε = r·c``;
    ``seeds`` networks (seeds ``seed …``)."""

    dim: int = 4
    widths: tuple[int, ...] = (32, 128, 512, 2048)
    below_widths: tuple[int, ...] = (4, 16)
    scale: float = 1.0
    ratio: float = 0.1
    seeds: int = 12
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "widths", check_widths("widths", self.widths))
        object.__setattr__(self, "below_widths", check_widths("below_widths",
                                                              self.below_widths))
        check_number("scale", self.scale, positive=True)
        check_number("ratio", self.ratio, positive=True)
        check_counts(self, "dim", "seeds")
        check_number("seed", self.seed, integer=True)
        width_arms(self.dim, self.widths, self.below_widths)


def problem(dim: int, width: int, scale: float, seed: int, *, loss: str = "bce",
            label: float = 0.0, gamma: float | None = None
            ) -> tuple[TwoLayerObjective, torch.Generator]:
    """The seed's Xavier problem at input scale ``scale`` (one row) and its generator after
    the draws (for reproducible further sampling)."""
    setup = SimulatedSetup(dim, width, loss, label, gamma=gamma)
    net, u, gen = setup.draw(seed)
    return setup.objective(net, u, [scale]), gen


def even_problem(dim: int, width: int, seed: int, *, sign: float = 1.0) -> TwoLayerObjective:
    r"""A control network with ``∇f(0) = 0`` at the point ``x = 0``: rows ``±w_r`` with equal
    output weights ``sign·|a_r|`` (so ``f`` is even); with ``sign = -1`` ``f`` is concave
    (``softplus(t) + softplus(-t)`` is convex), so ``L = -softplus(f)`` has its minimum over the
    ball at the centre. Binary cross-entropy, label 0."""
    half = TwoLayerNet.xavier(dim, max(1, width // 2), generator=torch.Generator().manual_seed(
        seed), dtype=torch.float64)
    a = sign * half.a.abs()
    net = TwoLayerNet(torch.cat([half.W, -half.W]), torch.cat([a, a]))
    setup = SimulatedSetup(dim, 2 * half.width)
    return setup.objective(net, torch.zeros(dim, dtype=torch.float64), [1.0])


def loss_slopes(objective: TwoLayerObjective, delta: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(|ℓ'(u)|/2, ∇f, ∇L)`` at every row of ``delta`` (the paper's ``|y-u|`` for the
    quadratic loss)."""
    u, gf = objective.net.value_and_grad(objective.x + delta)
    d1 = objective.loss.d1(u, objective.y)
    return d1.abs() / 2, gf, -d1[:, None] * gf


def ball_bounds(objective: TwoLayerObjective, eps: float, n: int, generator: torch.Generator
                ) -> dict[str, float]:
    """Sample estimates over ``n`` uniform points of the ball and ``n`` of the sphere:
    ``L_hat = min |ℓ'|/2``, ``B_l = min ‖∇f‖``, ``B_u = max ‖∇f‖``."""
    shape = (objective.x.shape[1],)
    pts = torch.cat([L2Ball.sample(n, shape, eps, generator),
                     L2Ball.sample_sphere(n, shape, eps, generator)])
    half, gf, _ = loss_slopes(objective, pts)
    gn = gf.norm(dim=1)
    return {"L_hat": float(half.min()), "B_l": float(gn.min()), "B_u": float(gn.max())}


def sphere_census(objective: TwoLayerObjective, eps: float, seed: int, *,
                  starts: int | None = None, max_starts: int = 512) -> Census:
    """The census of the critical points of L on ``εS^{d-1}`` (exact scan for d = 2)."""
    return _census(objective, eps, starts=starts, max_starts=max_starts, seed=seed)


def first_true(mask: np.ndarray) -> np.ndarray:
    """Index of the first ``True`` along axis 0 per column, ``-1`` where there is none."""
    return np.where(mask.any(axis=0), mask.argmax(axis=0), -1)


def fit_loglog(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> float | None:
    """Least-squares slope of ``log y`` against ``log x`` over the finite positive pairs."""
    xa, ya = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ok = np.isfinite(xa) & np.isfinite(ya) & (xa > 0) & (ya > 0)
    if ok.sum() < 2 or np.ptp(np.log(xa[ok])) == 0:
        return None
    return float(np.polyfit(np.log(xa[ok]), np.log(ya[ok]), 1)[0])


def table(title: str, rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Rows of dicts as a result table ``{"title", "columns", "rows"}``: the columns are every
    key of any row, in the order first seen; a row without a column holds None there (e.g. a
    trajectory that never switched has no ``t_switch``)."""
    cols = list(dict.fromkeys(c for r in rows for c in r))
    return {"title": title, "columns": cols,
            "rows": [[plain(r.get(c)) for c in cols] for r in rows]}


#: The arms of a width sweep: the paper's width regime, widths below it, and the control with
#: output weights ``γ = 1/m`` (``‖∇f‖`` then shrinks like ``m^{-1/2}``).
WIDTH_ARMS = ("main", "below", "control")


def width_arms(dim: int, widths: Sequence[int], below: Sequence[int]
               ) -> list[tuple[str, int, float | None]]:
    """``(arm, m, γ)`` for every job of a width sweep: ``widths`` (all ``≥ d^{5/2}``) at Xavier
    ``γ = m^{-1/2}`` (``None``), ``below`` (all ``< d^{5/2}``) likewise, and ``widths`` again
    with ``γ = 1/m`` (the control)."""
    if min(widths) < dim**2.5:
        raise fail("widths", f"every width must be ≥ d^2.5 = {dim**2.5:.3g}, got {list(widths)}",
                   "put smaller widths in below_widths")
    if below and max(below) >= dim**2.5:
        raise fail("below_widths", f"every width must be < d^2.5 = {dim**2.5:.3g}")
    return ([("main", m, None) for m in widths] + [("below", m, None) for m in below]
            + [("control", m, 1.0 / m) for m in widths])


def group_arms(jobs: Sequence[tuple[str, int, float | None]],
               values: Sequence[Mapping[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The jobs' row lists gathered per arm (each row tagged with its width)."""
    out: dict[str, list[dict[str, Any]]] = {a: [] for a in WIDTH_ARMS}
    for (arm, m, _), value in zip(jobs, values, strict=True):
        out[arm] += [{"width": m, **row} for row in value["rows"]]
    return out
