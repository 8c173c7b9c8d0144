r"""L4.5 — under condition (6) a trajectory started uniformly in the open ball never reaches
``Δ⁻_η``, and once in ``Δ⁺_η`` it stays there.

For each seed, input scale ``c`` and ratio ``r`` (``ε = r·c``):

* condition (6), estimated: the angle spread ``A = max_{δ,δ'} arccos cos∠[∇f(δ), ∇f(δ')]`` over
  ``n_points`` uniform sphere points (a sample maximum: a lower estimate of the true spread), the
  sample bounds ``L̂`` (``min |ℓ'|/2``) and ``B̂_l`` (``min ‖∇f‖``) over the ball, and
  ``A + arccos(sqrt(((L̂B̂_l)² - η)/(L̂B̂_l)²)) ≤ π/4`` (false when ``η ≥ (L̂B̂_l)²``);
* trajectories: raw PGD ``δ ← P_B(δ - η∇L)`` with ``η = f·(L̂B̂_l)²`` (so the threshold below is
  ``θ = √f`` and the second term of (6) is ``arcsin √f``; ``η < min{1, L̂B̂_l}`` as the lemma
  asks) from ``starts`` uniform points of the open ball, ``steps`` steps, recording
  ``α_t = cos∠[-∇L(δ_t), δ_t]`` and whether ``δ_t`` is on the sphere. With the threshold
  ``θ = √η/(L̂B̂_l)``, ``δ_t ∈ Δ⁻_η`` iff on the sphere and ``α_t ≤ -1 + θ``; ``δ_t ∈ Δ⁺_η`` iff on
  the sphere and ``α_t ≥ 1 - θ`` (SPEC §3 orientation). We count trajectories that ever enter
  ``Δ⁻_η`` and those that leave ``Δ⁺_η`` after entering it. Such small raw steps cross a large
  ball slowly: the table reports how many trajectories reached the sphere within the budget;
  only those can say anything.

Verdict: held if in every setting where (6) holds no trajectory entered ``Δ⁻_η`` and none left
``Δ⁺_η``; not testable if (6) holds nowhere or no trajectory reached the sphere there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from advdyn.errors import check_number, fail
from advdyn.experiments.claims.common import ball_bounds, loss_slopes, result, verdict
from advdyn.experiments.simulated import SimulatedSetup, check_grid
from advdyn.geometry import L2Ball
from advdyn.pgd import Recorder, run_pgd

CLAIM = "L4.5"


@dataclass(frozen=True)
class Config:
    """``dim``, ``width``, ``loss``, ``label``: the problem; ``scales`` × ``ratios`` the settings;
    ``eta_factor`` ``f`` in ``η = f·(L̂B̂_l)²``; ``starts``, ``steps``: the trajectories;
    ``n_points``: sphere/ball samples for the estimates; ``seeds`` networks; ``plot_rows``
    trajectories kept per setting for the figure."""

    dim: int = 5
    width: int = 512
    loss: str = "bce"
    label: float = 0.0
    scales: tuple[float, ...] = (0.1, 1.0, 10.0)
    ratios: tuple[float, ...] = (0.1, 1.0)
    eta_factor: float = 0.01
    starts: int = 64
    steps: int = 3000
    n_points: int = 1000
    seeds: int = 3
    seed: int = 0
    plot_rows: int = 8

    def __post_init__(self) -> None:
        SimulatedSetup(self.dim, self.width, self.loss, self.label)
        object.__setattr__(self, "scales", check_grid("scales", self.scales))
        object.__setattr__(self, "ratios", check_grid("ratios", self.ratios))
        if not 0 < check_number("eta_factor", self.eta_factor, positive=True) < 1:
            raise fail("eta_factor", f"must lie in (0, 1), got {self.eta_factor}")
        for name in ("starts", "steps", "n_points", "seeds", "plot_rows"):
            check_number(name, getattr(self, name), positive=True, integer=True)
        check_number("seed", self.seed, integer=True)


QUICK: dict[str, Any] = {"starts": 32, "steps": 1500, "n_points": 400, "seeds": 2}


def angle_spread(objective: Any, eps: float, n: int, generator: torch.Generator) -> float:
    """``max arccos cos∠[∇f(δ), ∇f(δ')]`` over ``n`` uniform sphere points (radians)."""
    delta = L2Ball.sample_sphere(n, (objective.x.shape[1],), eps, generator)
    _, gf, _ = loss_slopes(objective, delta)
    unit = gf / gf.norm(dim=1, keepdim=True).clamp_min(1e-300)
    return float(torch.arccos((unit @ unit.T).clamp(-1, 1).min()))


def compute(**parameters: Any) -> dict[str, Any]:
    """Run the experiment (see the module docstring); JSON data, deterministic."""
    values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v
                              for k, v in parameters.items()}
    cfg = Config(**values)
    setup = SimulatedSetup(cfg.dim, cfg.width, cfg.loss, cfg.label)
    rows: list[dict[str, Any]] = []
    fig: dict[str, Any] = {"label": [], "alpha": [], "theta": [], "cond6": []}
    for s in range(cfg.seed, cfg.seed + cfg.seeds):
        net, u, gen = setup.draw(s)
        for scale in cfg.scales:
            obj = setup.objective(net, u, [scale])
            for r in cfg.ratios:
                eps = r * scale
                b = ball_bounds(obj, eps, cfg.n_points, gen)
                spread = angle_spread(obj, eps, cfg.n_points, gen)
                lb = b["L_hat"] * b["B_l"]
                eta = cfg.eta_factor * lb * lb
                term2 = math.acos(math.sqrt((lb * lb - eta) / (lb * lb)))
                lhs = spread + term2
                cond6 = bool(np.isfinite(lhs) and lhs <= math.pi / 4)
                theta = math.sqrt(eta) / lb if lb > 0 else float("inf")
                res = run_pgd(obj, eps, eta, cfg.steps, rule="raw", batch=cfg.starts,
                              generator=s, record=Recorder(fields=("alignment", "on_sphere"),
                                                           dtype="float64"))
                assert res.trajectory is not None
                alpha = np.asarray(res.trajectory.alignment, dtype=np.float64)
                on = np.asarray(res.trajectory.on_sphere, dtype=bool)
                minus = on & (alpha <= -1 + theta)
                plus = on & (alpha >= 1 - theta)
                entered = plus.any(axis=0)
                first = np.where(entered, plus.argmax(axis=0), plus.shape[0])
                after = np.arange(plus.shape[0])[:, None] >= first[None, :]
                left = (after & ~plus).any(axis=0)
                rows.append({"seed": s, "scale": scale, "ratio": r, "eps": eps, "eta": eta,
                             "angle_spread": spread, **b, "L_times_B_l": lb, "term2": term2,
                             "cond6_lhs": lhs, "cond6": cond6, "theta": theta,
                             "eta_below_1_and_LB": bool(eta < min(1.0, lb)),
                             "entered_minus": int(minus.any(axis=0).sum()),
                             "entered_plus": int(entered.sum()), "left_plus": int(left.sum()),
                             "trajectories": cfg.starts,
                             "reached_sphere": int(on.any(axis=0).sum()),
                             "final_alpha_median": float(np.median(alpha[-1]))})
                if s == cfg.seed:
                    keep = alpha[:, :cfg.plot_rows] * np.where(on[:, :cfg.plot_rows], 1, np.nan)
                    fig["label"].append(f"c={scale:g}, r={r:g}")
                    fig["alpha"].append(keep.T.tolist())
                    fig["theta"].append(theta)
                    fig["cond6"].append(cond6)
    fig["cond6_lhs"] = [row["cond6_lhs"] for row in rows]
    fig["cond6_label"] = [f"s{row['seed']} c={row['scale']:g} r={row['ratio']:g}" for row in rows]
    return result(CLAIM, cfg, _verdict(rows), rows, fig)


def _verdict(rows: list[dict[str, Any]]) -> dict[str, Any]:
    holds = [r for r in rows if r["cond6"]]
    fails = [r for r in rows if not r["cond6"]]
    measured = {
        "settings": len(rows), "settings_with_cond6": len(holds),
        "entered_minus_under_cond6": sum(r["entered_minus"] for r in holds),
        "left_plus_under_cond6": sum(r["left_plus"] for r in holds),
        "trajectories_under_cond6": sum(r["trajectories"] for r in holds),
        "reached_sphere_under_cond6": sum(r["reached_sphere"] for r in holds),
        "entered_minus_without_cond6": sum(r["entered_minus"] for r in fails),
        "left_plus_without_cond6": sum(r["left_plus"] for r in fails),
        "min_cond6_lhs": min((r["cond6_lhs"] for r in rows if np.isfinite(r["cond6_lhs"])),
                             default=None),
        "max_angle_spread": max(r["angle_spread"] for r in rows)}
    if not holds or measured["reached_sphere_under_cond6"] == 0:
        return verdict(CLAIM, "not testable here", "condition (6) held in no sampled setting, "
                       "or no trajectory reached the sphere where it held",
                       in_regime=bool(holds), measured=measured)
    ok = measured["entered_minus_under_cond6"] == 0 and measured["left_plus_under_cond6"] == 0
    reason = (f"(6) held in {len(holds)}/{len(rows)} settings; there "
              f"{measured['entered_minus_under_cond6']} of "
              f"{measured['trajectories_under_cond6']} trajectories "
              f"({measured['reached_sphere_under_cond6']} reached the sphere) entered Δ⁻_η and "
              f"{measured['left_plus_under_cond6']} left Δ⁺_η; where (6) failed: "
              f"{measured['entered_minus_without_cond6']} entered Δ⁻_η, "
              f"{measured['left_plus_without_cond6']} left Δ⁺_η")
    return verdict(CLAIM, "held" if ok else "did not hold", reason, in_regime=True,
                   measured=measured,
                   regime_note="the regime of this lemma is condition (6) itself, estimated from "
                               "samples (spread: a sample maximum; L, B_l: sample minima)")
