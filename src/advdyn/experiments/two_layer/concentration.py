r"""The input scale and the concentration of the landscape (§1.1, §5.1.1), on the Figure 1 family
(d = 2, m = 256 Xavier network, bce with label 0, one direction per seed).

* **concentration** — per cell (input scale × ratio) and seed, from the exact circle scan: the
  local minima of L (maxima of ℓ) on the sphere, the spread of their ℓ values relative to the
  range of ℓ over the sphere (``(max − min of ℓ over the minima)/(max − min of ℓ over
  n_angles points of the circle)``, 0 with one minimum), and the largest angle between them.
  Control arm: a width-1 network (``f`` monotone in one direction: one minimum at every scale).
* **eps-only** — per (input scale, ε) cell with ``ratio = ε/scale``: ``1 − min cos∠[∂f(δ),
  ∂f(δ′)]`` over ``n_points`` points of the ball and of the sphere.
* **angle** — the same quantity along an ε grid at input scale ``angle_scale``; control arm:
  an even network at ``x = 0`` (``∂f(0) = 0``, so ``∂f`` turns with δ at every ε).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from advdyn.errors import check_number
from advdyn.experiments.base import Experiment, Job, config_dict, tuple_lists
from advdyn.experiments.simulated import check_grid
from advdyn.experiments.two_layer.common import (
    check_counts,
    even_problem,
    loss_slopes,
    problem,
    sphere_census,
    table,
)
from advdyn.geometry import L2Ball


@dataclass(frozen=True)
class Config:
    """``width``; ``scales`` × ``ratios`` the concentration grid; ``eps_scales`` × ``eps_values``
    the eps-only grid; ``angle_scale``, ``angle_eps`` the angle grid; ``n_angles`` circle points
    for the range of ℓ; ``n_points`` ball/sphere points for the gradient angle; ``seeds``."""

    width: int = 256
    scales: tuple[float, ...] = (0.01, 1.0, 100.0)
    ratios: tuple[float, ...] = (1.0, 10.0)
    eps_scales: tuple[float, ...] = (0.1, 1.0, 10.0, 100.0)
    eps_values: tuple[float, ...] = (0.1, 1.0, 10.0)
    angle_scale: float = 1.0
    angle_eps: tuple[float, ...] = (0.001, 0.01, 0.1, 1.0, 10.0)
    n_angles: int = 4096
    n_points: int = 400
    seeds: int = 10
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("scales", "ratios", "eps_scales", "eps_values", "angle_eps"):
            object.__setattr__(self, name, check_grid(name, getattr(self, name)))
        check_number("angle_scale", self.angle_scale, positive=True)
        check_counts(self, "width", "n_angles", "n_points", "seeds")
        check_number("seed", self.seed, integer=True)


def maxima_of_ell(objective: Any, eps: float, seed: int, n_angles: int) -> dict[str, Any]:
    """Minima of L on the circle: count, relative spread of ℓ over them, largest angle (spread
    and angle None where the scan finds no strict minimum: a saturated, flat landscape)."""
    found = sphere_census(objective, eps, seed)
    mins = found.minima
    if not mins:
        return {"minima": 0, "spread": None, "largest_angle": None,
                "degenerate": len(found.degenerate)}
    theta = torch.linspace(0, 2 * math.pi, n_angles + 1, dtype=torch.float64)[:-1]
    circle = eps * torch.stack([theta.cos(), theta.sin()], dim=1)
    ell = objective.select(torch.zeros(n_angles, dtype=torch.long)).evaluate(
        circle, grad=False).ell.numpy()
    values = np.array([-p.L for p in mins])  # ℓ = −L
    span = float(ell.max() - ell.min())
    spread = float((values.max() - values.min()) / span) if len(mins) > 1 and span > 0 else 0.0
    units = np.stack([p.delta / eps for p in mins])
    angle = float(np.arccos(np.clip((units @ units.T).min(), -1, 1))) if len(mins) > 1 else 0.0
    return {"minima": len(mins), "spread": spread, "largest_angle": angle,
            "degenerate": len(found.degenerate)}


def gradient_turn(objective: Any, eps: float, n: int, generator: torch.Generator) -> float:
    """``1 − min cos∠[∂f(δ), ∂f(δ′)]`` over ``n`` uniform ball and ``n`` sphere points."""
    d = objective.x.shape[1]
    pts = torch.cat([L2Ball.sample(n, (d,), eps, generator),
                     L2Ball.sample_sphere(n, (d,), eps, generator)])
    _, gf, _ = loss_slopes(objective.select(torch.zeros(2 * n, dtype=torch.long)), pts)
    unit = gf / gf.norm(dim=1, keepdim=True).clamp_min(1e-300)
    return float(1 - (unit @ unit.T).clamp(-1, 1).min())


def seed_job(**parameters: Any) -> dict[str, Any]:
    """One seed: the rows of all three measurements (both arms where there are two)."""
    run_seed = parameters.pop("run_seed")
    cfg = Config(**tuple_lists(parameters))
    gen = torch.Generator().manual_seed(10_000 + run_seed)
    conc, eps_only, angle = [], [], []
    for arm, width in (("main", cfg.width), ("control", 1)):
        for scale in cfg.scales:
            obj, _ = problem(2, width, scale, run_seed)
            for r in cfg.ratios:
                conc.append({"arm": arm, "seed": run_seed, "scale": scale, "ratio": r,
                             **maxima_of_ell(obj, r * scale, run_seed, cfg.n_angles)})
    for scale in cfg.eps_scales:
        obj, _ = problem(2, cfg.width, scale, run_seed)
        for e in cfg.eps_values:
            eps_only.append({"seed": run_seed, "scale": scale, "eps": e,
                             "turn": gradient_turn(obj, e, cfg.n_points, gen)})
    main, _ = problem(2, cfg.width, cfg.angle_scale, run_seed)
    even = even_problem(2, cfg.width, run_seed)
    for e in cfg.angle_eps:
        for arm, obj in (("main", main), ("control", even)):
            angle.append({"arm": arm, "seed": run_seed, "eps": e,
                          "turn": gradient_turn(obj, e, cfg.n_points, gen)})
    return {"concentration": conc, "eps_only": eps_only, "angle": angle}


def jobs(config: Config) -> list[Job]:
    """One job per seed."""
    base = {k: v for k, v in config_dict(config).items() if k not in ("seed", "seeds")}
    return [Job("advdyn.experiments.two_layer.concentration:seed_job", {**base, "run_seed": s})
            for s in range(config.seed, config.seed + config.seeds)]


def _mean(values: list[float | None]) -> float | None:
    finite = [v for v in values if v is not None]
    return float(np.mean(finite)) if finite else None


def cells(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (scale, ratio): ``mean_minima``, ``mean_spread`` and ``mean_largest_angle`` (over the
    seeds with a strict minimum), and ``flat_seeds`` (seeds without one)."""
    keys = sorted({(r["scale"], r["ratio"]) for r in rows})
    out = []
    for scale, ratio in keys:
        g = [r for r in rows if (r["scale"], r["ratio"]) == (scale, ratio)]
        out.append({"scale": scale, "ratio": ratio,
                    "mean_minima": float(np.mean([r["minima"] for r in g])),
                    "mean_spread": _mean([r["spread"] for r in g]),
                    "mean_largest_angle": _mean([r["largest_angle"] for r in g]),
                    "flat_seeds": sum(r["minima"] == 0 for r in g)})
    return out


def collect(config: Config, values: list[dict[str, Any]]) -> dict[str, Any]:
    """The three measurements, per arm, with per-cell means for the concentration grid."""
    conc = [r for v in values for r in v["concentration"]]
    eps_only = [r for v in values for r in v["eps_only"]]
    angle = [r for v in values for r in v["angle"]]
    by_arm = {a: [r for r in conc if r["arm"] == a] for a in ("main", "control")}
    return {"text": f"Figure 1 family: d = 2, m = {config.width}, bce with label 0, "
                    f"{config.seeds} seeds; exact circle scan.",
            "tables": [table("concentration of the minima of L (main)", cells(by_arm["main"])),
                       table("1 − min cos∠[∂f(δ), ∂f(δ′)] per input scale and ε", eps_only),
                       table("1 − min cos∠[∂f(δ), ∂f(δ′)] along ε", angle)],
            "concentration": {a: {"rows": rows, "cells": cells(rows)}
                              for a, rows in by_arm.items()},
            "eps_only": {"main": {"rows": eps_only, "group": "eps", "level": "scale"},
                         "control": {"rows": eps_only, "group": "scale", "level": "eps"}},
            "angle": {a: [r for r in angle if r["arm"] == a] for a in ("main", "control")}}


EXPERIMENT = Experiment(
    name="concentration", title="Input scale and the concentration of the landscape",
    config=Config, jobs=jobs, collect=collect, quick={"seeds": 5, "n_points": 200},
    description="How the minima of L (maxima of the adversarial loss) concentrate, and how the "
                "gradient's direction turns over the ball, as input scale, ratio and ε vary.")
