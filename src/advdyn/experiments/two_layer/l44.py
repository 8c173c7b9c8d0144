r"""L4.4 — for δ on the sphere with ``cos∠[∂f(δ), δ]`` near ±1 the sign of ``⟨−∇L, δ⟩`` decides
the definiteness of Ξ on the tangent space, with a margin γ: no saddle points.

Per arm and seed the sample is ``n_points`` uniform sphere points plus every critical point of
the census (:func:`~advdyn.experiments.two_layer.common.sphere_census`). At each point:
``α = cos∠[−∇L, δ]`` (docs/concepts.md orientation; with bce and label 0 it equals ``cos∠[∇f, δ]``),
``s = sgn α`` and the smallest eigenvalue of ``s·P_T Ξ P_T`` on the tangent space (the margin).
For each φ of ``phis`` the result holds, per seed, the smallest margin over the points with
``|α| ≥ φ`` (raw, and in units of ``‖∇L‖/ε``, the size of ``2λ*``).

Arms: ``main`` ε inside ``(log m)^{-1}`` (input scale ``scale``, ``ratios``); ``below`` the same
with ``m < d^{5/2}``; ``control`` ε far above the regime (``control_scale·control_ratio``),
where the census finds saddles.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from advdyn.errors import check_number, fail
from advdyn.experiments.base import Experiment, Job, config_dict, tuple_lists
from advdyn.experiments.simulated import check_grid
from advdyn.experiments.two_layer.common import (
    check_counts,
    problem,
    regime,
    sphere_census,
    table,
)
from advdyn.geometry import L2Ball
from advdyn.sphere import diagnose

ARMS = ("main", "below", "control")


@dataclass(frozen=True)
class Config:
    """``dim`` (≥ 3), ``width`` (≥ d^2.5), ``below_width`` (< d^2.5); ``scale``, ``ratios``:
    the main ε = r·c; ``control_scale``, ``control_ratio``: the control's ε; ``phis`` the
    thresholds of ``|cos∠|``; ``n_points`` uniform sphere points; ``census_starts`` the census's
    first-round starts; ``seeds`` networks."""

    dim: int = 3
    width: int = 256
    below_width: int = 8
    scale: float = 1.0
    ratios: tuple[float, ...] = (0.01, 0.1)
    control_scale: float = 10.0
    control_ratio: float = 3.0
    phis: tuple[float, ...] = (0.5, 0.9, 0.99)
    n_points: int = 2000
    census_starts: int = 64
    seeds: int = 6
    seed: int = 0

    def __post_init__(self) -> None:
        if check_number("dim", self.dim, positive=True, integer=True) < 3:
            raise fail("dim", f"saddles need a sphere of dimension ≥ 2, i.e. d ≥ 3; got {self.dim}")
        if check_number("width", self.width, positive=True, integer=True) < self.dim**2.5:
            raise fail("width", f"must be ≥ d^2.5 = {self.dim**2.5:.3g}")
        if check_number("below_width", self.below_width, positive=True,
                        integer=True) >= self.dim**2.5:
            raise fail("below_width", f"must be < d^2.5 = {self.dim**2.5:.3g}")
        object.__setattr__(self, "ratios", check_grid("ratios", self.ratios))
        object.__setattr__(self, "phis", check_grid("phis", self.phis))
        if max(self.phis) >= 1:
            raise fail("phis", "every φ must lie in (0, 1)")
        for name in ("scale", "control_scale", "control_ratio"):
            check_number(name, getattr(self, name), positive=True)
        check_counts(self, "n_points", "census_starts", "seeds")
        check_number("seed", self.seed, integer=True)


def margins(objective: Any, eps: float, points: torch.Tensor, phis: tuple[float, ...]
            ) -> list[dict[str, Any]]:
    """Per φ: the smallest ``s·λ`` (``λ`` the tangent eigenvalues) over the points with
    ``|α| ≥ φ``, raw and in units of ``‖∇L‖/ε``, how many points qualified and how many of
    them have a positive margin (``s·P_TΞP_T`` definite)."""
    dg = diagnose(objective.select(torch.zeros(points.shape[0], dtype=torch.long)), points,
                  eps=eps)
    alpha = dg.alignment.numpy()
    eigs = dg.tangent_eigenvalues.numpy()
    margin = np.where(alpha >= 0, eigs[:, 0], -eigs[:, -1])
    unit = margin * eps / np.maximum(np.linalg.norm(dg.grad.numpy(), axis=1), 1e-300)
    out = []
    for phi in phis:
        near = np.abs(alpha) >= phi
        out.append({"phi": phi, "points": int(near.sum()),
                    "positive": int((margin[near] > 0).sum()),
                    "margin": float(margin[near].min()) if near.any() else None,
                    "margin_unit": float(unit[near].min()) if near.any() else None})
    return out


def arm_job(**parameters: Any) -> dict[str, Any]:
    """One arm: per seed and ε, the margins per φ and the census's counts."""
    arm = parameters.pop("arm")
    cfg = Config(**tuple_lists(parameters))
    width = cfg.below_width if arm == "below" else cfg.width
    settings = ([(cfg.control_scale, cfg.control_ratio)] if arm == "control"
                else [(cfg.scale, r) for r in cfg.ratios])
    rows = []
    for s in range(cfg.seed, cfg.seed + cfg.seeds):
        for scale, ratio in settings:
            obj, gen = problem(cfg.dim, width, scale, s)
            eps = scale * ratio
            c = sphere_census(obj, eps, s, starts=cfg.census_starts,
                              max_starts=2 * cfg.census_starts)
            crit = [p.delta for p in c.minima + c.maxima + c.saddles]
            pts = L2Ball.sample_sphere(cfg.n_points, (cfg.dim,), eps, gen)
            if crit:
                pts = torch.cat([pts, torch.tensor(np.stack(crit))])
            counts = c.counts
            rows += [{"seed": s, "eps": eps, **m, "saddles": counts["saddles"],
                      "minima": counts["minima"], "maxima": counts["maxima"],
                      "in_regime": regime("L4.4", cfg.dim, width, eps)["inside"]}
                     for m in margins(obj, eps, pts, cfg.phis)]
    return {"rows": rows}


def jobs(config: Config) -> list[Job]:
    """One job per arm."""
    base = config_dict(config)
    return [Job("advdyn.experiments.two_layer.l44:arm_job", {**base, "arm": a}) for a in ARMS]


def collect(config: Config, values: list[dict[str, Any]]) -> dict[str, Any]:
    """Rows per arm, each one (seed, ε, φ)."""
    arms = {a: v["rows"] for a, v in zip(ARMS, values, strict=True)}
    return {"text": f"d = {config.dim}, m = {config.width} (below: {config.below_width}), "
                    f"bce with label 0; {config.n_points} uniform sphere points plus the census's "
                    "critical points per seed and ε.",
            "tables": [table(f"margin of s·P_TΞP_T per seed, ε and φ ({a})", rows)
                       for a, rows in arms.items()],
            "arms": arms, "phis": list(config.phis)}


EXPERIMENT = Experiment(
    name="lemma44", title="Lemma 4.4: definiteness of Ξ near critical points", config=Config,
    jobs=jobs, collect=collect, quick={"n_points": 1000, "seeds": 4, "census_starts": 32},
    description="The smallest eigenvalue of sgn⟨−∇L, δ⟩·P_TΞP_T over sphere points with "
                "|cos∠| ≥ φ, inside the regime, below d^2.5 and far above the regime.")
