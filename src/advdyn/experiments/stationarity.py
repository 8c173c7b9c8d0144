r"""Question 1 on a network: does PGD reach a local maximum of ℓ rapidly, and how alike are the
maxima it reaches?

* **Steps to stationarity.** From uniform starts in the ball, ascent on ℓ under each rule
  (:func:`advdyn.experiments.escape.ascend_ell`: ``normalized`` ``ρε``, ``raw_eps2`` ``cε²``,
  and ``random`` — steps of ``ρε`` in random directions, which follow no gradient: the negative
  control), recording the stationarity of every iterate; the time to stationarity at tolerance
  τ (:func:`advdyn.experiments.escape.stationary`) is censored at the budget when never reached.
* **Restarts** (Madry et al.'s observation). Per image, ``R`` normalised PGD runs of ``K``
  steps from independent uniform starts: the final ``ℓ`` of each; their coefficient of variation
  ``CV = sd(ℓ)/mean(ℓ)`` (computed from ``log ℓ`` by log-sum-exp, so it is exact at any
  magnitude); and the number of distinct end points — end points closer than ``merge·ε`` are
  one (single-linkage clusters of the final δ's).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy.cluster.hierarchy import fcluster, linkage
from torch import nn

from advdyn.errors import check_number
from advdyn.experiments.escape import ascend_ell, first_true, stationary
from advdyn.geometry import L2Ball
from advdyn.losses import LogCrossEntropy
from advdyn.models import ModuleObjective
from advdyn.pgd import run_pgd

Q1_RULES = ("normalized", "raw_eps2", "random")
WITHIN = (10, 40, 100)


#: One line per :class:`Q1Config` field, for command-line help.
Q1_HELP = {
    "q1_images": "Question 1: images whose PGD runs are followed step by step",
    "q1_steps": "Question 1: PGD steps followed (later stationarity is censored)",
    "q1_tol": "Question 1: stationarity tolerance on ‖Γ‖/‖∇ℓ‖ (inside: ‖∇ℓ_t‖/‖∇ℓ_0‖)",
    "rho": "normalised PGD step ρ (α = ρε) of the probes",
    "c": "raw PGD step η = cε² of the probes",
    "restart_images": "restarts: images",
    "restarts": "restarts: uniform starts per image",
    "restart_steps": "restarts: normalised PGD steps per start",
    "merge": "restarts: end points closer than merge·ε are one",
}


@dataclass(frozen=True)
class Q1Config:
    """Steps to stationarity: ``q1_images`` images, ``q1_steps`` steps, tolerance ``q1_tol``
    (on ‖Γ‖/‖∇ℓ‖, and on ‖∇ℓ_t‖/‖∇ℓ_0‖ inside the ball), step ``rho`` (ρε) and ``c`` (cε²).
    Restarts: ``restart_images`` images × ``restarts`` starts, ``restart_steps`` steps, end
    points merged within ``merge·ε``."""

    q1_images: int = 20
    q1_steps: int = 100
    q1_tol: float = 0.05
    rho: float = 0.05
    c: float = 1.0
    restart_images: int = 10
    restarts: int = 100
    restart_steps: int = 100
    merge: float = 0.1

    def __post_init__(self) -> None:
        for name in ("q1_images", "q1_steps", "restart_images", "restarts", "restart_steps"):
            check_number(name, getattr(self, name), positive=True, integer=True)
        for name in ("q1_tol", "rho", "c", "merge"):
            check_number(name, getattr(self, name), positive=True)


def steps_to_stationarity(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float,
                          cfg: Q1Config, seed: int) -> dict[str, dict[str, list]]:
    """Per rule of :data:`Q1_RULES`: ``times`` and ``hit`` per image (censored at
    ``q1_steps`` where not hit), the same uniform starts for every rule."""
    gen = torch.Generator().manual_seed(seed)
    n, shape = x.shape[0], tuple(x.shape[1:])
    start = L2Ball.sample(n, shape, eps, gen, x.dtype)
    k = len(Q1_RULES)
    modes = [m for m in Q1_RULES for _ in range(n)]
    e = torch.full((n * k,), eps, dtype=x.dtype)
    step = torch.cat([torch.full((n,), cfg.c * eps * eps if m == "raw_eps2" else cfg.rho * eps,
                                 dtype=x.dtype) for m in Q1_RULES])
    objective = ModuleObjective(model, LogCrossEntropy, x.repeat(k, 1, 1, 1), y.repeat(k))
    trace = ascend_ell(objective, e, start.repeat(k, 1, 1, 1), modes, step, cfg.q1_steps, gen)
    times, hit = first_true(stationary(trace, cfg.q1_tol))
    return {m: {"times": times[j * n:(j + 1) * n].tolist(), "hit": hit[j * n:(j + 1) * n].tolist()}
            for j, m in enumerate(Q1_RULES)}


def coefficient_of_variation(log_ell: np.ndarray) -> float:
    """``sd(ℓ)/mean(ℓ)`` (population sd) of ``ℓ = exp(log_ell)``, exact in log form:
    ``CV² = exp(LSE(2a) - 2 LSE(a) + log R) - 1``."""
    a = np.asarray(log_ell, dtype=np.float64)
    lse = np.logaddexp.reduce
    return float(math.sqrt(max(math.expm1(lse(2 * a) - 2 * lse(a) + math.log(a.size)), 0.0)))


def distinct_points(delta: np.ndarray, radius: float) -> int:
    """Number of single-linkage clusters of the rows of ``delta`` at distance ``radius``."""
    if delta.shape[0] < 2:
        return int(delta.shape[0])
    return int(fcluster(linkage(delta, method="single"), t=radius, criterion="distance").max())


def restart_spread(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float,
                   cfg: Q1Config, seed: int) -> dict[str, list]:
    """Per image: final ``log ℓ`` of every restart, their CV and the distinct end points."""
    n, r = x.shape[0], cfg.restarts
    objective = ModuleObjective(model, LogCrossEntropy, x.repeat_interleave(r, 0),
                                y.repeat_interleave(r))
    res = run_pgd(objective, eps, cfg.rho * eps, cfg.restart_steps, rule="normalized",
                  start="uniform", generator=seed)
    log_ell = res.ell.reshape(n, r).numpy()
    delta = res.delta.reshape(n, r, -1).numpy()
    return {"log_ell": log_ell.tolist(),
            "cv": [coefficient_of_variation(v) for v in log_ell],
            "distinct": [distinct_points(d, cfg.merge * eps) for d in delta]}
