r"""The input scale and the concentration of the landscape (§1.1, §5.1.1), on the Figure 1 family
(d = 2, m = 256 Xavier network, bce with label 0, one direction per seed).

* **concentration** — per cell (input scale × ratio) and seed, from the exact circle scan: the
  local minima of L (maxima of ℓ) on the sphere, the spread of their ℓ values relative to the
  range of ℓ over the sphere (``(max − min of ℓ over the minima)/(max − min of ℓ over
  n_angles points of the circle)``, 0 with one minimum), and the largest angle between them.
  Control arm: a width-1 network (``f`` monotone in one direction: one minimum at every scale).
* **eps-only** — per (input scale, ε) cell with ``ratio = ε/scale`` and per seed (``eps_seeds``
  networks, paired across cells): ``1 − min cos∠[∂f(δ), ∂f(δ′)]`` over ``n_points`` points of
  the ball and of the sphere, the same points ``δ/ε`` in every cell and arm. Control arm: the
  seed's network with softplus's curvature scale moved with the input scale,
  ``f_c(z) = c·f(z/c)`` (:func:`scale_free_control`): its turn depends on the ratio alone.
* **angle** — the same quantity along an ε grid at input scale ``angle_scale``; control arm:
  an even network at ``x = 0`` (``∂f(0) = 0``, so ``∂f`` turns with δ at every ε).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from advdyn.errors import check_number, fail
from advdyn.experiments.base import Experiment, Job, config_dict, tuple_lists
from advdyn.experiments.simulated import SimulatedSetup, check_grid
from advdyn.experiments.two_layer.common import (
    check_counts,
    even_problem,
    loss_slopes,
    problem,
    sphere_census,
    table,
)
from advdyn.geometry import L2Ball
from advdyn.models import TwoLayerNet

#: Seeds per eps-only job.
EPS_CHUNK = 250


@dataclass(frozen=True)
class Config:
    """``width``; ``scales`` × ``ratios`` the concentration grid; ``eps_scales`` × ``eps_values``
    the eps-only grid; ``angle_scale``, ``angle_eps`` the angle grid; ``n_angles`` circle points
    for the range of ℓ; ``n_points`` ball/sphere points for the gradient angle; ``seeds`` (the
    concentration and angle measurements) and ``eps_seeds`` (eps-only) networks, seeds
    ``seed, seed + 1, …``."""

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
    eps_seeds: int = 5000
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("scales", "ratios", "eps_scales", "eps_values", "angle_eps"):
            object.__setattr__(self, name, check_grid(name, getattr(self, name)))
        check_number("angle_scale", self.angle_scale, positive=True)
        check_counts(self, "width", "n_angles", "n_points", "seeds", "eps_seeds")
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


def largest_turn(grad: torch.Tensor) -> torch.Tensor:
    r"""``1 − min_{i,j} cos∠[g_i, g_j]`` over the ``n`` vectors of each row of ``grad``
    ``(B, n, 2)`` (d = 2), exactly and in ``O(n log n)``: with the directions' angles θ sorted,
    the widest pair's angle is ``π − D``, ``D`` the smallest circular distance from some
    ``θ_i + π`` to some ``θ_j`` (one of the two neighbours of ``θ_i + π`` in the sorted order),
    so the statistic is ``1 − cos(π − D) = 1 + cos D``. Returns ``(B,)``."""
    if grad.ndim != 3 or grad.shape[-1] != 2:
        raise fail("grad", f"needs shape (B, n, 2), got {tuple(grad.shape)}",
                   "the exact turn is for d = 2")
    theta = torch.atan2(grad[..., 1], grad[..., 0]).sort(dim=-1).values.contiguous()
    n = theta.shape[-1]
    opposite = torch.remainder(theta, 2 * math.pi) - math.pi          # θ + π, in [−π, π)
    at = torch.searchsorted(theta, opposite.contiguous())
    far = math.pi * torch.ones_like(theta)
    for j in (at % n, (at - 1) % n):
        gap = torch.remainder(theta.gather(-1, j) - opposite + math.pi, 2 * math.pi) - math.pi
        far = torch.minimum(far, gap.abs())
    return 1 + torch.cos(far.amin(dim=-1))


def gradient_turn(objective: Any, eps: float, n: int, generator: torch.Generator) -> float:
    """``1 − min cos∠[∂f(δ), ∂f(δ′)]`` over ``n`` uniform ball and ``n`` sphere points
    (:func:`largest_turn`; d = 2)."""
    d = objective.x.shape[1]
    pts = torch.cat([L2Ball.sample(n, (d,), eps, generator),
                     L2Ball.sample_sphere(n, (d,), eps, generator)])
    _, gf, _ = loss_slopes(objective.select(torch.zeros(2 * n, dtype=torch.long)), pts)
    return float(largest_turn(gf[None])[0])


def scale_free_control(net: TwoLayerNet, scale: float) -> TwoLayerNet:
    r"""``f_c(z) = c·f(z/c)`` (rows ``w_r/c``, output weights ``c·a_r``): the network with
    softplus's curvature scale moved with the input scale ``c``. Its gradient
    ``∂f_c(c·u + δ) = ∂f(u + δ/c)`` over ``B(c·u, ε)`` is ``∂f`` over ``B(u, ε/c)``, so every
    turn of ``∂f_c`` is a function of the ratio ``ε/c`` alone: at fixed ε it moves with ``c``
    wherever the turn is not constant in the ratio."""
    return TwoLayerNet(net.W / scale, net.a * scale)


def eps_turns(cfg: Config, seed: int) -> dict[str, list[float]]:
    """One seed's eps-only cells (scale-major over ``eps_scales`` × ``eps_values``), per arm
    (``main``: the seed's Xavier network; ``control``: :func:`scale_free_control`), from one
    sample of ``n_points`` unit-ball and ``n_points`` unit-sphere points ``δ/ε`` shared by every
    cell and both arms."""
    net, u, _ = SimulatedSetup(2, cfg.width).draw(seed)
    gen = torch.Generator().manual_seed(20_000 + seed)
    unit = torch.cat([L2Ball.sample(cfg.n_points, (2,), 1.0, gen),
                      L2Ball.sample_sphere(cfg.n_points, (2,), 1.0, gen)])
    eps = torch.tensor(cfg.eps_values, dtype=torch.float64)[:, None, None]
    out: dict[str, list[float]] = {}
    for arm in ("main", "control"):
        turns = []
        for c in cfg.eps_scales:
            model = net if arm == "main" else scale_free_control(net, c)
            g = model.grad((c * u + eps * unit).reshape(-1, 2))
            turns.append(largest_turn(g.reshape(len(cfg.eps_values), -1, 2)))
        out[arm] = torch.cat(turns).tolist()
    return out


def eps_job(first: int, count: int, **parameters: Any) -> dict[str, Any]:
    """Job entry point: :func:`eps_turns` for seeds ``first … first + count − 1``."""
    cfg = Config(**tuple_lists(parameters))
    seeds = list(range(first, first + count))
    per_seed = [eps_turns(cfg, s) for s in seeds]
    return {"seeds": seeds, **{arm: [t[arm] for t in per_seed] for arm in ("main", "control")}}


def seed_job(**parameters: Any) -> dict[str, Any]:
    """One seed: the rows of the concentration and angle measurements (both arms)."""
    run_seed = parameters.pop("run_seed")
    cfg = Config(**tuple_lists(parameters))
    gen = torch.Generator().manual_seed(10_000 + run_seed)
    conc, angle = [], []
    for arm, width in (("main", cfg.width), ("control", 1)):
        for scale in cfg.scales:
            obj, _ = problem(2, width, scale, run_seed)
            for r in cfg.ratios:
                conc.append({"arm": arm, "seed": run_seed, "scale": scale, "ratio": r,
                             **maxima_of_ell(obj, r * scale, run_seed, cfg.n_angles)})
    main, _ = problem(2, cfg.width, cfg.angle_scale, run_seed)
    even = even_problem(2, cfg.width, run_seed)
    for e in cfg.angle_eps:
        for arm, obj in (("main", main), ("control", even)):
            angle.append({"arm": arm, "seed": run_seed, "eps": e,
                          "turn": gradient_turn(obj, e, cfg.n_points, gen)})
    return {"concentration": conc, "angle": angle}


def jobs(config: Config) -> list[Job]:
    """One job per seed of the concentration and angle measurements, then one per
    :data:`EPS_CHUNK` seeds of eps-only."""
    base = {k: v for k, v in config_dict(config).items()
            if k not in ("seed", "seeds", "eps_seeds")}
    end = config.seed + config.eps_seeds
    return ([Job("advdyn.experiments.two_layer.concentration:seed_job", {**base, "run_seed": s})
             for s in range(config.seed, config.seed + config.seeds)]
            + [Job("advdyn.experiments.two_layer.concentration:eps_job",
                   {**base, "first": s, "count": min(EPS_CHUNK, end - s)})
               for s in range(config.seed, end, EPS_CHUNK)])


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


def eps_cells(config: Config, chunks: list[dict[str, Any]]) -> tuple[dict[str, Any], np.ndarray]:
    """The eps-only grid from the :func:`eps_job` values: ``seeds`` and the cells (``scale``,
    ``eps``, and the mean turn per arm), and the turns ``(arm, cell, seed)`` (arms ``main``,
    ``control``; the seeds paired across cells), kept out of the result's JSON."""
    seeds = [s for c in chunks for s in c["seeds"]]
    turn = np.array([[t for ch in chunks for t in ch[arm]] for arm in ("main", "control")])
    turn = turn.transpose(0, 2, 1)                                  # (arm, cell, seed)
    cells = [{"scale": c, "eps": e, "mean_turn": float(turn[0, i].mean()),
              "mean_turn_control": float(turn[1, i].mean())}
             for i, (c, e) in enumerate((c, e) for c in config.eps_scales
                                        for e in config.eps_values)]
    return {"seeds": seeds, "cells": cells}, turn


def collect(config: Config, values: list[dict[str, Any]]) -> dict[str, Any]:
    """The three measurements, per arm, with per-cell means for the concentration grid and the
    eps-only grid (its per-seed turns as the array ``eps_only_turn``, :func:`eps_cells`)."""
    per_seed, chunks = values[:config.seeds], values[config.seeds:]
    conc = [r for v in per_seed for r in v["concentration"]]
    angle = [r for v in per_seed for r in v["angle"]]
    by_arm = {a: [r for r in conc if r["arm"] == a] for a in ("main", "control")}
    eps_only, turn = eps_cells(config, chunks)
    return {"text": f"Figure 1 family: d = 2, m = {config.width}, bce with label 0, "
                    f"{config.seeds} seeds ({config.eps_seeds} for eps-only); exact circle "
                    "scan.",
            "tables": [table("concentration of the minima of L (main)", cells(by_arm["main"])),
                       table("1 − min cos∠[∂f(δ), ∂f(δ′)] per input scale and ε (mean over "
                             f"{config.eps_seeds} seeds; control: f_c(z) = c·f(z/c))",
                             eps_only["cells"]),
                       table("1 − min cos∠[∂f(δ), ∂f(δ′)] along ε", angle)],
            "concentration": {a: {"rows": rows, "cells": cells(rows)}
                              for a, rows in by_arm.items()},
            "eps_only": eps_only, "eps_only_turn": turn,
            "angle": {a: [r for r in angle if r["arm"] == a] for a in ("main", "control")}}


EXPERIMENT = Experiment(
    name="concentration", title="Input scale and the concentration of the landscape",
    config=Config, jobs=jobs, collect=collect,
    quick={"seeds": 5, "n_points": 200, "eps_seeds": 40},
    description="How the minima of L (maxima of the adversarial loss) concentrate, and how the "
                "gradient's direction turns over the ball, as input scale, ratio and ε vary.")
