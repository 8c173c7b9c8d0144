r"""§3.1 — "the minimizer is located on the sphere with high probability"; PGD "will end up on
the sphere for most samples".

Per seed (network and direction) and setting (input scale × ratio): PGD from ``starts``
uniform points of the open ball for ``steps`` steps with the normalised rule (``α = ρε``) and
the raw rule (``η = ρε²``); a run *ends on the sphere* when ``‖δ_T‖ ≥ (1 − 10⁻⁹)ε``. Arms:
``main`` the Xavier problems; ``control`` a concave network at ``x = 0`` (rows ``±w_r`` with equal
negative output weights: ``L = −softplus(f)`` has its minimum at the centre of the ball), where
the attack should end inside.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from advdyn.errors import check_number
from advdyn.experiments.base import Experiment, Job, config_dict, tuple_lists
from advdyn.experiments.simulated import check_grid
from advdyn.experiments.two_layer.common import (
    check_counts,
    even_problem,
    problem,
    table,
)
from advdyn.geometry import row_norm
from advdyn.pgd import run_pgd

RULES = ("normalized", "raw")


@dataclass(frozen=True)
class Config:
    """``dim``, ``width``; ``scales`` × ``ratios`` the settings; ``rho`` the relative step;
    ``starts``, ``steps``; ``seeds`` networks."""

    dim: int = 5
    width: int = 256
    scales: tuple[float, ...] = (0.1, 1.0, 10.0)
    ratios: tuple[float, ...] = (0.1, 1.0)
    rho: float = 0.05
    starts: int = 16
    steps: int = 300
    seeds: int = 10
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "scales", check_grid("scales", self.scales))
        object.__setattr__(self, "ratios", check_grid("ratios", self.ratios))
        check_number("rho", self.rho, positive=True)
        check_counts(self, "dim", "width", "starts", "steps", "seeds")
        check_number("seed", self.seed, integer=True)


def ends(objective: Any, eps: float, rho: float, starts: int, steps: int, seed: int
         ) -> dict[str, int]:
    """Per rule: how many of ``starts`` runs end on the sphere."""
    out = {}
    rows = objective.select(torch.zeros(starts, dtype=torch.long))
    for rule in RULES:
        step = rho * (eps * eps if rule == "raw" else eps)
        res = run_pgd(rows, eps, step, steps, rule=rule, batch=starts, generator=seed)
        out[rule] = int((row_norm(res.delta) >= (1 - 1e-9) * eps).sum())
    return out


def seed_job(**parameters: Any) -> dict[str, Any]:
    """One seed: per setting and rule, runs that end on the sphere, for both arms."""
    run_seed = parameters.pop("run_seed")
    cfg = Config(**tuple_lists(parameters))
    rows = []
    for arm in ("main", "control"):
        for scale in cfg.scales:
            obj = (problem(cfg.dim, cfg.width, scale, run_seed)[0] if arm == "main"
                   else even_problem(cfg.dim, cfg.width, run_seed, sign=-1.0))
            for r in cfg.ratios:
                eps = r * scale
                for rule, n in ends(obj, eps, cfg.rho, cfg.starts, cfg.steps, run_seed).items():
                    rows.append({"arm": arm, "seed": run_seed, "scale": scale, "ratio": r,
                                 "rule": rule, "runs": cfg.starts, "on_sphere": n})
    return {"rows": rows}


def jobs(config: Config) -> list[Job]:
    """One job per seed."""
    base = {k: v for k, v in config_dict(config).items() if k not in ("seed", "seeds")}
    return [Job("advdyn.experiments.two_layer.on_sphere:seed_job", {**base, "run_seed": s})
            for s in range(config.seed, config.seed + config.seeds)]


def collect(config: Config, values: list[dict[str, Any]]) -> dict[str, Any]:
    """Rows per arm (one per seed, setting and rule)."""
    rows = [r for v in values for r in v["rows"]]
    arms = {a: [r for r in rows if r["arm"] == a] for a in ("main", "control")}
    return {"text": f"d = {config.dim}, m = {config.width}, bce with label 0; {config.starts} "
                    f"uniform starts, {config.steps} steps, ρ = {config.rho:g} (normalised α = "
                    "ρε, raw η = ρε²).",
            "tables": [table("runs ending on the sphere", rows)], "arms": arms}


EXPERIMENT = Experiment(
    name="on_sphere", title="§3.1: where the attack ends", config=Config, jobs=jobs,
    collect=collect, quick={"seeds": 4, "steps": 150},
    description="The fraction of problems and PGD runs whose end point lies on the sphere.")
