r"""L4.2 — ``‖P_B(δ₀ + ηv̂) − (δ₀ + ηP_T v̂)‖ ≤ 4η²/ε`` for δ₀ on the sphere and unit v̂.

Pure geometry of the ball: at ``points`` uniform sphere points δ₀ of ``εS^{d-1}`` and as many
uniform unit directions v̂ (plus the extreme ones ``±δ̂₀``), for each step ``η = q·ε`` (``q`` in
``step_fractions``): the error ``E = ‖P_B(δ₀+ηv̂) − δ₀ − ηP_T v̂‖``, the ratio ``E/(4η²/ε)`` and
whether it is ≤ 1 (the bound kept),
split by the sign of ``⟨v̂, δ₀⟩``: outward directions (the projection is active) and inward ones
(``δ₀ + ηv̂`` is inside the ball, so ``E = η|⟨v̂, δ̂₀⟩|``: an error of order η).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from advdyn.errors import check_number, fail
from advdyn.experiments.base import Experiment, Job, config_dict, tuple_lists
from advdyn.experiments.simulated import check_grid
from advdyn.experiments.two_layer.common import check_counts, table
from advdyn.geometry import L2Ball, row_dot, row_norm, tangent_project


@dataclass(frozen=True)
class Config:
    """``dims``; ``eps`` the radius; ``step_fractions`` ``η/ε``; ``points`` per setting."""

    dims: tuple[int, ...] = (2, 5, 20)
    eps: float = 1.0
    step_fractions: tuple[float, ...] = (1e-3, 1e-2, 1e-1)
    points: int = 20000
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "dims", tuple(int(check_number("dims", d, integer=True))
                                               for d in check_grid("dims", self.dims)))
        if min(self.dims) < 2:
            raise fail("dims", "the sphere needs d ≥ 2")
        object.__setattr__(self, "step_fractions", check_grid("step_fractions",
                                                              self.step_fractions))
        check_number("eps", self.eps, positive=True)
        check_counts(self, "points")
        check_number("seed", self.seed, integer=True)


def errors_job(**parameters: Any) -> dict[str, Any]:
    """Per (d, η, side): the worst ratio ``E/(4η²/ε)``, the number of directions and how many
    of them keep the bound (``E ≤ 4η²/ε``)."""
    cfg = Config(**tuple_lists(parameters))
    gen = torch.Generator().manual_seed(cfg.seed)
    rows = []
    for d in cfg.dims:
        d0 = L2Ball.sample_sphere(cfg.points, (d,), cfg.eps, gen)
        v = L2Ball.sample_sphere(cfg.points, (d,), 1.0, gen)
        unit = d0 / cfg.eps
        d0, v = torch.cat([d0, d0[:2]]), torch.cat([v, unit[:1], -unit[1:2]])
        side = row_dot(v, d0) >= 0
        for q in cfg.step_fractions:
            eta = q * cfg.eps
            err = row_norm(L2Ball.project(d0 + eta * v, cfg.eps) - d0
                           - eta * tangent_project(d0, v))
            ratio = err / (4 * eta * eta / cfg.eps)
            for name, mask in (("outward", side), ("inward", ~side)):
                rows.append({"dim": d, "eta_over_eps": q, "side": name,
                             "directions": int(mask.sum()),
                             "within_bound": int((ratio[mask] <= 1).sum()),
                             "max_ratio": float(ratio[mask].max()),
                             "max_error_over_eta": float((err[mask] / eta).max())})
    return {"rows": rows}


def jobs(config: Config) -> list[Job]:
    """One job."""
    return [Job("advdyn.experiments.two_layer.l42:errors_job", config_dict(config))]


def collect(config: Config, values: list[dict[str, Any]]) -> dict[str, Any]:
    """Rows per side (``outward``, ``inward``)."""
    rows = values[0]["rows"]
    arms = {s: [r for r in rows if r["side"] == s] for s in ("outward", "inward")}
    return {"text": f"{config.points} uniform sphere points and directions per dimension (plus "
                    f"±δ̂₀), ε = {config.eps:g}, η/ε in {list(config.step_fractions)}.",
            "tables": [table("worst E/(4η²/ε) per dimension, η and side", rows)], "arms": arms}


EXPERIMENT = Experiment(
    name="lemma42", title="Lemma 4.2: PGD on the sphere as a tangent step", config=Config,
    jobs=jobs, collect=collect, quick={"points": 4000},
    description="The error of the tangent-step approximation of a projected step, for outward "
                "and inward directions.")
