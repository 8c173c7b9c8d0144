r"""L4.3 — away from critical points ``‖Γ‖ ≥ √(1−β²)‖∂f‖ > L·B_l√(1−β²)``, "where ``B_l`` is of
order Θ(1)".

Since ``Γ = -ℓ'(u) P_T∇f``, ``‖Γ‖ = |ℓ'|‖∇f‖√(1−α²)``: the first inequality is algebra, so the
lemma's content is the size of ``B_l`` (a lower bound of ``‖∇f‖`` over the ball) as the width
grows. Per width ``m`` (arms ``main`` ``m ≥ d^{5/2}``, ``below`` ``m < d^{5/2}``, ``control``
``γ = 1/m``) and seed: ``B̂_l = min ‖∇f‖`` and ``L̂ = min |ℓ'|/2`` over ``n_points`` uniform
points of the ball and as many of the sphere.

The literal one-sided reading (``cos∠[∂f(δ), δ] ≤ β``, which admits points where ``∂f`` is
nearly antiparallel to δ) is measured at ``n_points`` sphere points per setting: the smallest
``‖P_T∇f‖/(√(1−β²)‖∇f‖)`` over the points with ``cos∠ ≤ β`` and the fraction of sphere points
where the inequality fails, at the main setting and at a large input scale (``literal_scale``,
``literal_ratio``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from advdyn.errors import check_number, fail
from advdyn.experiments.base import Experiment, Job, config_dict, tuple_lists
from advdyn.experiments.simulated import check_grid
from advdyn.experiments.two_layer.common import (
    WidthSweepConfig,
    ball_bounds,
    check_counts,
    group_arms,
    loss_slopes,
    problem,
    regime,
    table,
    width_arms,
)
from advdyn.geometry import L2Ball, alignment, row_norm, tangent_project


@dataclass(frozen=True)
class Config(WidthSweepConfig):
    """The width sweep (:class:`WidthSweepConfig`: ``dim``, ``widths`` ≥ d^2.5,
    ``below_widths`` < d^2.5, ``scale``, ``ratio``: ``ε = r·c``, ``seeds``); ``n_points`` sample
    points (ball and sphere each); ``betas`` the β of the literal reading; ``literal_scale``,
    ``literal_ratio``: its large-scale setting (at the first main width)."""

    n_points: int = 2000
    betas: tuple[float, ...] = (0.5, 0.9)
    literal_scale: float = 10.0
    literal_ratio: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "betas", check_grid("betas", self.betas))
        if max(self.betas) >= 1:
            raise fail("betas", "every β must lie in (0, 1)")
        for name in ("literal_scale", "literal_ratio"):
            check_number(name, getattr(self, name), positive=True)
        check_counts(self, "n_points")


def literal_rows(objective: Any, eps: float, n: int, betas: tuple[float, ...],
                 generator: torch.Generator) -> list[dict[str, Any]]:
    """Per β: the smallest ``‖P_T∇f‖/(√(1−β²)‖∇f‖)`` over sphere points with
    ``cos∠[∇f, δ] ≤ β``, how many of those points keep it ≥ 1 (``holding``) and the fraction
    of all sphere points where it is below 1."""
    delta = L2Ball.sample_sphere(n, (objective.x.shape[1],), eps, generator)
    _, gf, _ = loss_slopes(objective, delta)
    c = alignment(gf, delta)
    ratio = row_norm(tangent_project(delta, gf)) / gf.norm(dim=1)
    out = []
    for b in betas:
        held = c <= b
        r = ratio[held] / (1 - b * b) ** 0.5
        out.append({"beta": b, "points": int(held.sum()), "holding": int((r >= 1).sum()),
                    "min_ratio": float(r.min()) if r.numel() else None,
                    "frac_failing": float((r < 1).sum()) / n, "min_cos": float(c.min())})
    return out


def width_job(**parameters: Any) -> dict[str, Any]:
    """One width (and ``γ``): per seed ``B̂_l``, ``L̂``, ``B̂_u``; at the first main width also the
    literal one-sided rows at the main and at the large-scale setting."""
    gamma, width, literal = (parameters.pop(k) for k in ("gamma", "width", "literal"))
    cfg = Config(**tuple_lists(parameters))
    eps = cfg.ratio * cfg.scale
    rows, lit = [], []
    for s in range(cfg.seed, cfg.seed + cfg.seeds):
        obj, gen = problem(cfg.dim, width, cfg.scale, s, gamma=gamma)
        b = ball_bounds(obj, eps, cfg.n_points, gen)
        rows.append({"seed": s, **b, "L_times_B_l": b["L_hat"] * b["B_l"],
                     "in_regime": regime("L4.3", cfg.dim, width, eps)["inside"]})
        if literal:
            lit += [{"setting": "main", "seed": s, **r}
                    for r in literal_rows(obj, eps, cfg.n_points, cfg.betas, gen)]
            big, g2 = problem(cfg.dim, width, cfg.literal_scale, s)
            lit += [{"setting": "large scale", "seed": s, **r}
                    for r in literal_rows(big, cfg.literal_scale * cfg.literal_ratio,
                                          cfg.n_points, cfg.betas, g2)]
    return {"rows": rows, "literal": lit}


def _arms(config: Config) -> list[tuple[str, int, float | None]]:
    return width_arms(config.dim, config.widths, config.below_widths)


def jobs(config: Config) -> list[Job]:
    """One job per (arm, width)."""
    base = config_dict(config)
    return [Job("advdyn.experiments.two_layer.l43:width_job",
                {**base, "width": m, "gamma": g, "literal": k == 0})
            for k, (_, m, g) in enumerate(_arms(config))]


def collect(config: Config, values: list[dict[str, Any]]) -> dict[str, Any]:
    """Rows per arm (one per width and seed) and the literal reading's rows per setting."""
    arms = group_arms(_arms(config), values)
    literal = [r for v in values for r in v["literal"]]
    return {"text": f"d = {config.dim}, ε = {config.ratio * config.scale:g} (input scale "
                    f"{config.scale:g}), bce with label 0; B̂_l = min ‖∇f‖ and L̂ = min |ℓ'|/2 "
                    f"over {config.n_points} ball and {config.n_points} sphere points.",
            "tables": [table(f"B̂_l per width and seed ({arm})", rows)
                       for arm, rows in arms.items()]
            + [table("the literal one-sided reading cos∠ ≤ β", literal)],
            "arms": arms,
            "literal": {"main": [r for r in literal if r["setting"] == "main"],
                        "control": [r for r in literal if r["setting"] == "large scale"]},
            "dim": config.dim}


EXPERIMENT = Experiment(
    name="lemma43", title="Lemma 4.3: the gradient bound B_l as the width grows", config=Config,
    jobs=jobs, collect=collect, quick={"n_points": 500, "seeds": 8},
    description="The lower bound B_l of ‖∇f‖ over the ball from m = d^2.5 to 64·d^2.5, below "
                "d^2.5 and with output weights 1/m; and the literal one-sided reading.")
