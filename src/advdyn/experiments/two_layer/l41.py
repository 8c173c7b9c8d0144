r"""L4.1 — inside the open ball every PGD step decreases L by Ω(η), the constant independent of
the width m and of η.

Per width ``m`` (arm ``main``: ``m ≥ d^{5/2}``; arm ``below``: ``m < d^{5/2}``; arm
``control``: the main widths with output weights ``γ = 1/m``), seed and step size
``η = f·min(ε², 1/log m)`` (``f`` in ``eta_factors``, all ``< 1``), raw PGD
``δ ← P_B(δ - η∇L)`` runs ``steps`` steps from ``starts`` uniform points of the open ball. A step
whose end point is inside the open ball is an *interior step*; for those we record
``-ΔL/η = (L(δ_t) - L(δ_{t+1}))/η``: its 1 % quantile ``q01``, its median, and the fraction of
interior steps that decrease L. Since ``-ΔL ≈ η‖∇L‖² = η ℓ'²‖∇f‖²``, the constant of ``Ω(η)``
is set by ``‖∇f‖``, which is ``Θ(1)`` at Xavier scale and ``Θ(m^{-1/2})`` with ``γ = 1/m``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from advdyn.errors import fail
from advdyn.experiments.base import Experiment, Job, config_dict, tuple_lists
from advdyn.experiments.simulated import check_grid
from advdyn.experiments.two_layer.common import (
    WidthSweepConfig,
    check_counts,
    group_arms,
    problem,
    regime,
    table,
    width_arms,
)
from advdyn.pgd import Recorder, run_pgd


@dataclass(frozen=True)
class Config(WidthSweepConfig):
    """The width sweep (:class:`WidthSweepConfig`: ``dim``, ``widths`` ≥ d^2.5,
    ``below_widths`` < d^2.5, ``scale``, ``ratio``: ``ε = r·c``, ``seeds``); ``eta_factors``
    ``f`` in ``η = f·min(ε², 1/log m)``; ``starts`` uniform starts, ``steps`` PGD steps."""

    eta_factors: tuple[float, ...] = (0.5, 0.1)
    starts: int = 64
    steps: int = 100

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "eta_factors", check_grid("eta_factors", self.eta_factors))
        if max(self.eta_factors) >= 1:
            raise fail("eta_factors", "every factor must be < 1 (η below the paper's bound)")
        check_counts(self, "starts", "steps")


def width_job(**parameters: Any) -> dict[str, Any]:
    """One width (and ``γ``): per seed and η the statistics of ``-ΔL/η`` over interior steps."""
    gamma = parameters.pop("gamma")
    width = parameters.pop("width")
    cfg = Config(**tuple_lists(parameters))
    eps = cfg.ratio * cfg.scale
    rows = []
    for s in range(cfg.seed, cfg.seed + cfg.seeds):
        obj, _ = problem(cfg.dim, width, cfg.scale, s, gamma=gamma)
        for f in cfg.eta_factors:
            eta = f * min(eps * eps, 1 / math.log(width))
            res = run_pgd(obj, eps, eta, cfg.steps, rule="raw", batch=cfg.starts, generator=s,
                          record=Recorder(fields=("L", "on_sphere"), dtype="float64"))
            L = np.asarray(res.recorded().L, dtype=np.float64)
            inside = ~np.asarray(res.recorded().on_sphere, dtype=bool)[1:]
            norm = -(L[1:] - L[:-1])[inside] / eta
            rows.append({"seed": s, "eta_factor": f, "eta": eta, "interior_steps": int(norm.size),
                         "frac_decrease": float((norm > 0).mean()) if norm.size else None,
                         "q01": float(np.quantile(norm, 0.01)) if norm.size else None,
                         "median": float(np.median(norm)) if norm.size else None,
                         "in_regime": regime("L4.1", cfg.dim, width, eps, eta)["inside"]})
    return {"rows": rows}


def jobs(config: Config) -> list[Job]:
    """One job per (arm, width)."""
    base = config_dict(config)
    return [Job("advdyn.experiments.two_layer.l41:width_job", {**base, "width": m, "gamma": g})
            for _, m, g in width_arms(config.dim, config.widths, config.below_widths)]


def collect(config: Config, values: list[dict[str, Any]]) -> dict[str, Any]:
    """Rows per arm (``main``, ``below``, ``control``), each row one (width, seed, η)."""
    arms = group_arms(width_arms(config.dim, config.widths, config.below_widths), values)
    eps = config.ratio * config.scale
    return {"text": f"Raw PGD from {config.starts} uniform starts in the open ball, "
                    f"{config.steps} steps, d = {config.dim}, ε = {eps:g} (input scale "
                    f"{config.scale:g}), bce with label 0; η = f·min(ε², 1/log m).",
            "tables": [table(f"-ΔL/η over interior steps ({arm})", rows)
                       for arm, rows in arms.items()],
            "arms": arms, "eps": eps, "dim": config.dim}


EXPERIMENT = Experiment(
    name="lemma41", title="Lemma 4.1: descent inside the ball", config=Config, jobs=jobs,
    collect=collect,
    quick={"starts": 32, "steps": 60, "seeds": 8},
    description="The decrease of L per interior PGD step relative to η, across widths m "
                "from d^2.5 to 64·d^2.5, below d^2.5, and with output weights 1/m.")
