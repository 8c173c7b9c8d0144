r"""L4.5 — under condition (6) a trajectory started uniformly in the open ball never reaches
``Δ⁻_η``, and once in ``Δ⁺_η`` it stays there.

Per seed and setting (input scale ``c``, ratio ``r``, ``ε = r·c``):

* condition (6), estimated: the angle spread ``A = max arccos cos∠[∇f(δ), ∇f(δ')]`` over
  ``n_points`` uniform sphere points (a sample maximum), the sample bounds ``L̂``, ``B̂_l`` and
  ``A + arccos(√(((L̂B̂_l)² − η)/(L̂B̂_l)²)) ≤ π/4``;
* raw PGD with ``η = f·(L̂B̂_l)²`` (so ``η < min{1, L̂B̂_l}``) for ``steps`` steps, recording
  ``α_t = cos∠[−∇L(δ_t), δ_t]`` and whether ``δ_t`` is on the sphere; with
  ``θ = √η/(L̂B̂_l)``, ``δ_t ∈ Δ⁻_η`` iff on the sphere and ``α_t ≤ −1 + θ``, ``δ_t ∈ Δ⁺_η`` iff
  on the sphere and ``α_t ≥ 1 − θ`` (docs/concepts.md orientation).

One arm, ``main``: starts uniform in the open ball (the lemma's hypothesis), in every setting;
the claim's control is the same arm's settings where (6) fails (:data:`advdyn.claims.lemmas.L45`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from advdyn.errors import check_number, fail
from advdyn.experiments.base import Experiment, Job, config_dict, tuple_lists
from advdyn.experiments.simulated import check_grid
from advdyn.experiments.two_layer.common import (
    ball_bounds,
    check_counts,
    loss_slopes,
    problem,
    table,
)
from advdyn.geometry import L2Ball
from advdyn.pgd import Recorder, run_pgd


@dataclass(frozen=True)
class Config:
    """``dim``, ``width``; ``scales`` × ``ratios`` the settings; ``eta_factor`` ``f`` in
    ``η = f·(L̂B̂_l)²``; ``starts``, ``steps`` the uniform trajectories (96 starts: more than
    the 368 trajectories on the sphere where (6) holds that the claim's 0.99 floor needs);
    ``n_points`` samples for the estimates; ``seeds`` networks."""

    dim: int = 3
    width: int = 256
    scales: tuple[float, ...] = (0.1, 1.0)
    ratios: tuple[float, ...] = (0.1, 1.0)
    eta_factor: float = 0.01
    starts: int = 96
    steps: int = 2000
    n_points: int = 1000
    seeds: int = 3
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "scales", check_grid("scales", self.scales))
        object.__setattr__(self, "ratios", check_grid("ratios", self.ratios))
        if not 0 < check_number("eta_factor", self.eta_factor, positive=True) < 1:
            raise fail("eta_factor", f"must lie in (0, 1), got {self.eta_factor}")
        check_counts(self, "dim", "width", "starts", "steps", "n_points", "seeds")
        check_number("seed", self.seed, integer=True)


def angle_spread(objective: Any, eps: float, n: int, generator: torch.Generator) -> float:
    """``max arccos cos∠[∇f(δ), ∇f(δ')]`` over ``n`` uniform sphere points (radians)."""
    delta = L2Ball.sample_sphere(n, (objective.x.shape[1],), eps, generator)
    _, gf, _ = loss_slopes(objective, delta)
    unit = gf / gf.norm(dim=1, keepdim=True).clamp_min(1e-300)
    return float(torch.arccos((unit @ unit.T).clamp(-1, 1).min()))


def visits(objective: Any, eps: float, eta: float, theta: float, start: torch.Tensor,
           steps: int) -> dict[str, int]:
    """Raw PGD from ``start``: trajectories that reach the sphere, enter Δ⁻_η, enter Δ⁺_η and
    later leave it, and those that do neither of the two things the lemma forbids (``kept``:
    never in Δ⁻_η, never out of Δ⁺_η once in it)."""
    res = run_pgd(objective.select(torch.zeros(start.shape[0], dtype=torch.long)), eps, eta,
                  steps, rule="raw", start=start,
                  record=Recorder(fields=("alignment", "on_sphere"), dtype="float64"))
    alpha = np.asarray(res.recorded().alignment, dtype=np.float64)
    on = np.asarray(res.recorded().on_sphere, dtype=bool)
    plus = on & (alpha >= 1 - theta)
    first = np.where(plus.any(axis=0), plus.argmax(axis=0), plus.shape[0])
    left = ((np.arange(plus.shape[0])[:, None] >= first[None]) & ~plus).any(axis=0)
    minus = (on & (alpha <= -1 + theta)).any(axis=0)
    return {"trajectories": int(start.shape[0]), "reached_sphere": int(on.any(axis=0).sum()),
            "entered_minus": int(minus.sum()), "entered_plus": int(plus.any(axis=0).sum()),
            "left_plus": int(left.sum()), "kept": int((~minus & ~left).sum())}


def seed_job(**parameters: Any) -> dict[str, Any]:
    """One seed: every setting's condition (6) and the visit counts of its uniform starts."""
    run_seed = parameters.pop("run_seed")
    cfg = Config(**tuple_lists(parameters))
    rows = []
    for scale in cfg.scales:
        obj, gen = problem(cfg.dim, cfg.width, scale, run_seed)
        for r in cfg.ratios:
            eps = r * scale
            b = ball_bounds(obj, eps, cfg.n_points, gen)
            spread = angle_spread(obj, eps, cfg.n_points, gen)
            lb = b["L_hat"] * b["B_l"]
            eta = cfg.eta_factor * lb * lb
            lhs = spread + math.acos(math.sqrt(1 - cfg.eta_factor))
            start = L2Ball.sample(cfg.starts, (cfg.dim,), eps, gen)
            rows.append({"seed": run_seed, "scale": scale, "ratio": r, "eps": eps, "eta": eta,
                         "angle_spread": spread, "cond6_lhs": lhs,
                         "cond6": bool(lhs <= math.pi / 4),
                         **visits(obj, eps, eta, math.sqrt(cfg.eta_factor), start, cfg.steps)})
    return {"main": rows}


def jobs(config: Config) -> list[Job]:
    """One job per seed."""
    base = {k: v for k, v in config_dict(config).items() if k not in ("seed", "seeds")}
    return [Job("advdyn.experiments.two_layer.l45:seed_job", {**base, "run_seed": s})
            for s in range(config.seed, config.seed + config.seeds)]


def collect(config: Config, values: list[dict[str, Any]]) -> dict[str, Any]:
    """Rows (one per seed and setting)."""
    rows = [r for v in values for r in v["main"]]
    return {"text": f"d = {config.dim}, m = {config.width}, bce with label 0; raw PGD with "
                    f"η = {config.eta_factor:g}·(L̂B̂_l)², {config.steps} steps.",
            "tables": [table("condition (6) and visits of Δ⁻_η, Δ⁺_η", rows)],
            "arms": {"main": rows}}


EXPERIMENT = Experiment(
    name="lemma45", title="Lemma 4.5: trajectories and the sets Δ⁻_η, Δ⁺_η", config=Config,
    jobs=jobs, collect=collect, quick={"steps": 500, "n_points": 200, "starts": 16, "seeds": 2},
    description="Whether PGD trajectories from uniform starts reach the near-maximum set Δ⁻_η "
                "per setting, with condition (6) estimated, and whether they leave Δ⁺_η.")
