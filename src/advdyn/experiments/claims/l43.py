r"""L4.3 — away from critical points on the sphere, ``‖Γ‖ ≥ sqrt(1-β²)‖∇f‖·L ≥ L·B_l·sqrt(1-β²)``.

At ``n_points`` uniform points δ of the sphere ``εS^{d-1}`` we measure ``α(δ) = cos∠[-∇L, δ]``,
``‖Γ(δ)‖``, ``‖∇f(δ)‖`` and form the ratio ``R_β(δ) = ‖Γ‖/(sqrt(1-β²)‖∇f‖·L̂)`` with ``L̂`` the
sample estimate of ``L`` (:func:`~advdyn.experiments.claims.common.ball_bounds`). The lemma's
hypothesis "away from critical points" is read two ways: two-sided ``|α| ≤ β`` (away from minima
*and* maxima), and the literal one-sided ``α ≤ β`` (the paper writes ``∠[∂f, δ] ≤ β``; oriented
by the descent direction as SPEC §3 does), which also admits points near local maxima.

Since ``Γ = -ℓ'(u) P_T∇f``, ``‖Γ‖ = |ℓ'|‖∇f‖ sqrt(1-α²)``: the first inequality is algebra once
``L ≤ |ℓ'|/2``, and the two-sided minimum of ``R_β`` is ``≥ 2`` by construction. The content of
the lemma is that ``L̂·B_l`` stays bounded away from 0 (``B_l = Θ(1)``) in its regime
``ε < (log m)^{-1}``, which the table reports per input scale. Verdict: held if, in the regime,
the two-sided ``min R_β ≥ 1`` for every β and ``L̂·B̂_l > 0``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from advdyn.errors import check_number, fail
from advdyn.experiments.claims.common import ball_bounds, loss_slopes, regime, result, verdict
from advdyn.experiments.simulated import SimulatedSetup, check_grid
from advdyn.geometry import L2Ball, alignment, row_norm, tangent_project

CLAIM = "L4.3"


@dataclass(frozen=True)
class Config:
    """``dim``, ``width``, ``loss``, ``label``: the problem; ``scales``, ``ratio``: ``ε = r·c``;
    ``n_points`` sphere points per setting (and as many ball points for ``L̂``, ``B̂_l``);
    ``betas`` the β of the lemma; ``seeds`` networks; ``plot_points`` points kept per setting
    for the figure."""

    dim: int = 5
    width: int = 512
    loss: str = "bce"
    label: float = 0.0
    scales: tuple[float, ...] = (0.1, 1.0, 10.0)
    ratio: float = 0.1
    n_points: int = 4000
    betas: tuple[float, ...] = (0.5, 0.9, 0.99)
    seeds: int = 3
    seed: int = 0
    plot_points: int = 400

    def __post_init__(self) -> None:
        SimulatedSetup(self.dim, self.width, self.loss, self.label)
        object.__setattr__(self, "scales", check_grid("scales", self.scales))
        object.__setattr__(self, "betas", check_grid("betas", self.betas))
        if max(self.betas) >= 1:
            raise fail("betas", "every β must lie in (0, 1)")
        check_number("ratio", self.ratio, positive=True)
        for name in ("n_points", "seeds", "plot_points"):
            check_number(name, getattr(self, name), positive=True, integer=True)
        check_number("seed", self.seed, integer=True)


QUICK: dict[str, Any] = {"n_points": 1000, "seeds": 2, "plot_points": 200}


def compute(**parameters: Any) -> dict[str, Any]:
    """Run the experiment (see the module docstring); JSON data, deterministic."""
    values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v
                              for k, v in parameters.items()}
    cfg = Config(**values)
    setup = SimulatedSetup(cfg.dim, cfg.width, cfg.loss, cfg.label)
    rows: list[dict[str, Any]] = []
    fig: dict[str, Any] = {"scale": [], "alpha": [], "ratio": [], "in_regime": []}
    for s in range(cfg.seed, cfg.seed + cfg.seeds):
        net, u, gen = setup.draw(s)
        for scale in cfg.scales:
            obj = setup.objective(net, u, [scale])
            eps = cfg.ratio * scale
            bounds = ball_bounds(obj, eps, cfg.n_points, gen)
            delta = L2Ball.sample_sphere(cfg.n_points, (cfg.dim,), eps, gen)
            _, gf, grad = loss_slopes(obj, delta)
            gamma = row_norm(tangent_project(delta, grad))
            alpha = alignment(grad, delta)
            base = gamma / (gf.norm(dim=1) * bounds["L_hat"])
            reg = regime(CLAIM, cfg.dim, cfg.width, eps)
            row: dict[str, Any] = {"seed": s, "scale": scale, "eps": eps, **bounds,
                                   "L_times_B_l": bounds["L_hat"] * bounds["B_l"],
                                   "alpha_min": float(alpha.min()),
                                   "alpha_max": float(alpha.max())}
            for beta in cfg.betas:
                f = (1 - beta * beta) ** 0.5
                two = alpha.abs() <= beta
                one = alpha <= beta
                row[f"min_ratio_two_sided_b{beta:g}"] = _min(base[two] / f)
                row[f"min_ratio_one_sided_b{beta:g}"] = _min(base[one] / f)
                row[f"n_two_sided_b{beta:g}"] = int(two.sum())
            row["in_regime"] = reg["inside"]
            row["eps_over_bound"] = reg["eps_over_bound"]
            rows.append(row)
            keep = slice(0, cfg.plot_points)
            fig["scale"].append(scale)
            fig["alpha"].append(alpha[keep].tolist())
            fig["ratio"].append(base[keep].tolist())
            fig["in_regime"].append(reg["inside"])
    fig["betas"] = list(cfg.betas)
    return result(CLAIM, cfg, _verdict(rows, cfg.betas), rows, fig)


def _min(v: torch.Tensor) -> float:
    return float(v.min()) if v.numel() else float("nan")


def _verdict(rows: list[dict[str, Any]], betas: tuple[float, ...]) -> dict[str, Any]:
    inside = [r for r in rows if r["in_regime"]]
    two = [r[f"min_ratio_two_sided_b{b:g}"] for r in inside for b in betas
           if np.isfinite(r[f"min_ratio_two_sided_b{b:g}"])]
    one = [r[f"min_ratio_one_sided_b{b:g}"] for r in rows for b in betas
           if np.isfinite(r[f"min_ratio_one_sided_b{b:g}"])]
    lb = [r["L_times_B_l"] for r in inside]
    measured = {"settings_in_regime": len(inside), "settings": len(rows),
                "min_ratio_two_sided_in_regime": min(two, default=None),
                "min_ratio_one_sided_all_settings": min(one, default=None),
                "min_L_times_B_l_in_regime": min(lb, default=None),
                "max_L_times_B_l_in_regime": max(lb, default=None),
                "min_L_times_B_l_outside": min((r["L_times_B_l"] for r in rows
                                                if not r["in_regime"]), default=None)}
    if not inside or not two:
        return verdict(CLAIM, "not testable here", "no sampled setting inside ε < (log m)^-1",
                       in_regime=False, measured=measured)
    ok = min(two) >= 1 and min(lb) > 0
    reason = (f"in the regime: min ‖Γ‖/(sqrt(1-β²)‖∇f‖L̂) over |α| ≤ β is {min(two):.3g} (≥ 2 "
              f"by the identity ‖Γ‖ = |ℓ'|‖∇f‖sqrt(1-α²)); L̂·B̂_l ∈ [{min(lb):.3g}, "
              f"{max(lb):.3g}]; the literal one-sided reading α ≤ β has min ratio "
              f"{min(one, default=float('nan')):.3g} (points near local maxima of L)")
    return verdict(CLAIM, "held" if ok else "did not hold", reason, in_regime=True,
                   measured=measured)
