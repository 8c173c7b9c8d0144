r"""T3.1 — in ``O(η^{-2})`` iterations PGD outputs a sphere point ``O(η^{1/2})`` close to a local
minimum.

Per arm (``main``: ``m ≥ d^{5/2}``; ``below``: ``m < d^{5/2}``), seed and ε (input scale
``scale``, ``ratios``): the census gives the true local minima of L on the sphere.
Raw PGD ``δ ← P_B(δ − η∇L)`` with ``η = f·min(ε², (log m)^{-2})`` (``f`` in ``eta_factors``, all
``< 1``) runs from ``starts`` uniform points of the open ball (the same starts for every η) for
the budget ``C·η^{-2}`` steps, ``C = base_steps·η_max²`` (``η_max`` the largest η of that ε).
Along each trajectory (recorded every ``stride`` steps) the distance to the nearest census
minimum is measured — independent of any output rule on ``‖Γ‖`` — and, for the control, the
distance to the nearest census minimum of an independent problem (seed ``run_seed + OTHER``,
same d, m, scale and ε): the same trajectories and sphere, targets of the same kind, only
they are not this L's minima (the mechanism removed). Per trajectory and target set:
``t_reach``, the first recorded step on the sphere within ``c·√η`` (``c`` = ``closeness``) of
a target (censored at the budget), and ``dist_end``, the distance at the budget.
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
    check_counts,
    first_true,
    problem,
    regime,
    sphere_census,
    table,
)
from advdyn.geometry import L2Ball
from advdyn.pgd import Recorder, run_pgd

ARMS = ("main", "below")
#: The seed offset of the control's independent problem.
OTHER = 10_000


@dataclass(frozen=True)
class Config:
    """``dim``, ``width`` (≥ d^2.5), ``below_width`` (< d^2.5); ``scale``, ``ratios``: the ε
    grid; ``eta_factors`` ``f``; ``base_steps`` the budget at the largest η; ``closeness`` ``c``;
    ``starts`` trajectories; ``stride`` recording stride; ``seeds`` networks."""

    dim: int = 3
    width: int = 256
    below_width: int = 8
    scale: float = 1.0
    ratios: tuple[float, ...] = (0.02, 0.03)
    eta_factors: tuple[float, ...] = (0.8, 0.4, 0.2)
    base_steps: int = 2000
    closeness: float = 0.1
    starts: int = 8
    stride: int = 10
    seeds: int = 3
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "ratios", check_grid("ratios", self.ratios))
        object.__setattr__(self, "eta_factors", check_grid("eta_factors", self.eta_factors))
        if max(self.eta_factors) >= 1 or len(self.eta_factors) < 2:
            raise fail("eta_factors", "needs at least two factors, all < 1")
        check_number("scale", self.scale, positive=True)
        check_number("closeness", self.closeness, positive=True)
        check_counts(self, "dim", "width", "below_width", "base_steps", "starts", "stride",
                     "seeds")
        check_number("seed", self.seed, integer=True)


def distances(delta: np.ndarray, points: list[np.ndarray]) -> np.ndarray:
    """Distance of every recorded iterate ``(T, B, d)`` to the nearest of ``points``."""
    p = np.stack(points)
    return np.linalg.norm(delta[:, :, None, :] - p[None, None], axis=-1).min(axis=-1)


def seed_job(**parameters: Any) -> dict[str, Any]:
    """One (arm, seed): per ε, η and trajectory the reach times and end distances."""
    arm, run_seed = parameters.pop("arm"), parameters.pop("run_seed")
    cfg = Config(**tuple_lists(parameters))
    width = cfg.width if arm == "main" else cfg.below_width
    obj, gen = problem(cfg.dim, width, cfg.scale, run_seed)
    eps = np.array([r * cfg.scale for r in cfg.ratios])
    found = [sphere_census(obj, float(e), run_seed, starts=64, max_starts=128) for e in eps]
    other_obj = problem(cfg.dim, width, cfg.scale, run_seed + OTHER)[0]
    other = [sphere_census(other_obj, float(e), run_seed, starts=64, max_starts=128).minima
             for e in eps]
    # one row per (ε, η, start), all in one batched run: the same starts for every η of an ε
    grid = [(i, f * min(e * e, math.log(width) ** -2)) for i, e in enumerate(eps)
            for f in cfg.eta_factors]
    top = {i: max(eta for j, eta in grid if j == i) for i in range(len(eps))}
    budgets = [round(cfg.base_steps * (top[i] / eta) ** 2) for i, eta in grid]
    starts = [L2Ball.sample(cfg.starts, (cfg.dim,), float(e), gen) for e in eps]
    start = torch.cat([starts[i] for i, _ in grid])
    row_eps = torch.tensor(np.repeat([eps[i] for i, _ in grid], cfg.starts))
    row_eta = torch.tensor(np.repeat([eta for _, eta in grid], cfg.starts))
    res = run_pgd(obj.select(torch.zeros(start.shape[0], dtype=torch.long)), row_eps, row_eta,
                  max(budgets), rule="raw", start=start,
                  record=Recorder(stride=cfg.stride, dtype="float64",
                                  fields=("delta", "on_sphere")))
    t = np.asarray(res.recorded().t)
    delta = np.asarray(res.recorded().delta, dtype=np.float64)
    on = np.asarray(res.recorded().on_sphere, dtype=bool)
    out = []
    for k, ((i, eta), budget) in enumerate(zip(grid, budgets, strict=True)):
        cols = slice(k * cfg.starts, (k + 1) * cfg.starts)
        last = int(np.searchsorted(t, budget, side="right")) - 1
        for target, pts in (("minima", found[i].minima), ("other", other[i])):
            if not pts:
                continue
            dist = distances(delta[: last + 1, cols], [p.delta for p in pts])
            near = dist <= cfg.closeness * math.sqrt(eta)
            hit = first_true(on[: last + 1, cols] & near)
            for b in range(cfg.starts):
                out.append({"target": target, "seed": run_seed, "eps": float(eps[i]),
                            "eta": eta, "budget": budget, "reached": bool(hit[b] >= 0),
                            "t_reach": int(t[hit[b]]) if hit[b] >= 0 else int(t[last]),
                            "dist_end": float(dist[-1, b]),
                            "close_end": bool(on[last, cols][b] and near[-1, b]),
                            "minima": len(found[i].minima),
                            "unseen_mass": found[i].unseen_minima_mass,
                            "in_regime": regime("T3.1", cfg.dim, width, float(eps[i]),
                                                eta)["inside"]})
    return {"rows": out}


def _jobs(config: Config) -> list[tuple[str, int]]:
    return [(a, s) for a in ARMS for s in range(config.seed, config.seed + config.seeds)]


def jobs(config: Config) -> list[Job]:
    """One job per (arm, seed)."""
    base = {k: v for k, v in config_dict(config).items() if k not in ("seed", "seeds")}
    return [Job("advdyn.experiments.two_layer.t31:seed_job", {**base, "arm": a, "run_seed": s})
            for a, s in _jobs(config)]


def collect(config: Config, values: list[dict[str, Any]]) -> dict[str, Any]:
    """Trajectory rows per arm and target: ``main`` (minima, m ≥ d^2.5), ``control`` (the
    same trajectories measured against an independent problem's minima), ``below`` (minima,
    m < d^2.5)."""
    rows = {a: [r for (arm, _), v in zip(_jobs(config), values, strict=True) if arm == a
                for r in v["rows"]] for a in ARMS}
    arms = {"main": [r for r in rows["main"] if r["target"] == "minima"],
            "control": [r for r in rows["main"] if r["target"] == "other"],
            "below": [r for r in rows["below"] if r["target"] == "minima"]}
    return {"text": f"d = {config.dim}, m = {config.width} (below: {config.below_width}), "
                    f"bce with label 0, ε = {[r * config.scale for r in config.ratios]}; raw PGD "
                    f"from {config.starts} uniform starts, budget C·η⁻² with C = "
                    f"{config.base_steps}·η_max², closeness c = {config.closeness:g}.",
            "tables": [table(f"trajectories ({a})", arms[a]) for a in ("main", "control",
                                                                       "below")],
            "arms": arms}


EXPERIMENT = Experiment(
    name="theorem31", title="Theorem 3.1: distance to the nearest local minimum", config=Config,
    jobs=jobs, collect=collect,
    quick={"eta_factors": (0.8, 0.4), "seeds": 1, "starts": 12, "stride": 20},
    description="Raw PGD's distance to the census's nearest local minimum against η: the time "
                "to come within c·√η and the distance after C·η⁻² steps, over ε and seeds.")
