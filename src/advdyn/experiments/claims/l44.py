r"""L4.4 — near critical points the sign of ``⟨-∇L, δ⟩`` decides the definiteness of Ξ: no saddle
points on the sphere for small ε.

For each seed and ratio ``r`` (``ε = r·c`` at input scale ``c``) the census
(:func:`advdyn.sphere.census.census`, d ≥ 3 so that saddles can exist at all) collects the
critical points of L on ``εS^{d-1}``. At each critical point we record ``α = cos∠[-∇L, δ]`` (at a
critical point ``±1``, the sign of ``⟨-∇L, δ⟩`` = the sign of ``-λ*``), its type by the tangent
eigenvalues of Ξ, and whether the full ``Ξ = ∇²L - 2λ*I`` is definite (the lemma's ``vᵀΞv`` for
all unit ``v``). The sign rule predicts: ``α > 0`` ⇒ Ξ positive definite (a local minimum of L),
``α < 0`` ⇒ negative definite (a local maximum). A saddle, or a minimum with ``α < 0`` (or a
maximum with ``α > 0``), violates it. Degenerate points (a zero tangent eigenvalue) are counted
apart. Verdict: held if no critical point found in the regime ``ε < (log m)^{-1}`` violates the
rule; the table also shows the saddle count as ε grows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from advdyn.errors import check_number, fail
from advdyn.experiments.claims.common import regime, result, verdict
from advdyn.experiments.simulated import SimulatedSetup, check_grid
from advdyn.sphere import diagnose
from advdyn.sphere.census import census

CLAIM = "L4.4"


@dataclass(frozen=True)
class Config:
    """``dim`` (≥ 3), ``width``, ``loss``, ``label``: the problem; ``scale`` the input scale;
    ``ratios`` ``r = ε/‖x‖``; ``seeds`` networks; ``starts`` the census's uniform starts per
    direction (first round) and ``max_starts`` its cap."""

    dim: int = 3
    width: int = 256
    loss: str = "bce"
    label: float = 0.0
    scale: float = 10.0
    ratios: tuple[float, ...] = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
    seeds: int = 4
    seed: int = 0
    starts: int = 256
    max_starts: int = 2048

    def __post_init__(self) -> None:
        SimulatedSetup(self.dim, self.width, self.loss, self.label)
        if self.dim < 3:
            raise fail("dim", f"saddles need a sphere of dimension ≥ 2, i.e. d ≥ 3; got {self.dim}")
        check_number("scale", self.scale, positive=True)
        object.__setattr__(self, "ratios", check_grid("ratios", self.ratios))
        for name in ("seeds", "starts", "max_starts"):
            check_number(name, getattr(self, name), positive=True, integer=True)
        check_number("seed", self.seed, integer=True)


QUICK: dict[str, Any] = {"ratios": (0.01, 0.1, 0.3, 1.0, 3.0), "seeds": 2, "starts": 96,
                         "max_starts": 384}


def compute(**parameters: Any) -> dict[str, Any]:
    """Run the experiment (see the module docstring); JSON data, deterministic."""
    values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v
                              for k, v in parameters.items()}
    cfg = Config(**values)
    setup = SimulatedSetup(cfg.dim, cfg.width, cfg.loss, cfg.label)
    rows: list[dict[str, Any]] = []
    points: dict[str, list] = {"eps": [], "alpha": [], "mu_min": [], "mu_max": [], "type": []}
    for s in range(cfg.seed, cfg.seed + cfg.seeds):
        net, u, _ = setup.draw(s)
        obj = setup.objective(net, u, [cfg.scale])
        for r in cfg.ratios:
            eps = r * cfg.scale
            c = census(obj, eps, starts=cfg.starts, max_starts=cfg.max_starts, seed=s)
            pts = c.minima + c.maxima + c.saddles
            violations = full_definite = 0
            if pts:
                delta = torch.tensor(np.stack([p.delta for p in pts]))
                xi_eigs = torch.linalg.eigvalsh(diagnose(obj, delta, eps=eps).xi)
                pd = (xi_eigs > 0).all(dim=1) | (xi_eigs < 0).all(dim=1)
                full_definite = int(pd.sum())
                for p in pts:
                    rule = "minimum" if p.alignment > 0 else "maximum"
                    violations += int(p.type != rule)
                    points["eps"].append(eps)
                    points["alpha"].append(p.alignment)
                    points["mu_min"].append(float(p.eigenvalues.min()))
                    points["mu_max"].append(float(p.eigenvalues.max()))
                    points["type"].append(p.type)
            reg = regime(CLAIM, cfg.dim, cfg.width, eps)
            rows.append({"seed": s, "ratio": r, "eps": eps, "minima": len(c.minima),
                         "maxima": len(c.maxima), "saddles": len(c.saddles),
                         "degenerate": len(c.degenerate), "critical_points": len(pts),
                         "sign_rule_violations": violations,
                         "full_xi_definite": full_definite,
                         "minima_chao1": c.unseen["minima"]["chao1"],
                         "in_regime": reg["inside"], "eps_over_bound": reg["eps_over_bound"]})
    fig = {"points": points, "ratios": list(cfg.ratios),
           "eps": [r * cfg.scale for r in cfg.ratios],
           "mean_counts": {k: [float(np.mean([row[k] for row in rows if row["ratio"] == r]))
                               for r in cfg.ratios]
                           for k in ("minima", "maxima", "saddles", "degenerate")}}
    return result(CLAIM, cfg, _verdict(rows), rows, fig)


def _verdict(rows: list[dict[str, Any]]) -> dict[str, Any]:
    inside = [r for r in rows if r["in_regime"]]
    with_saddles = sorted(r["eps"] for r in rows if r["saddles"])
    measured = {
        "settings_in_regime": len(inside), "settings": len(rows),
        "critical_points_in_regime": sum(r["critical_points"] for r in inside),
        "violations_in_regime": sum(r["sign_rule_violations"] for r in inside),
        "saddles_in_regime": sum(r["saddles"] for r in inside),
        "critical_points_all": sum(r["critical_points"] for r in rows),
        "violations_all": sum(r["sign_rule_violations"] for r in rows),
        "saddles_all": sum(r["saddles"] for r in rows),
        "smallest_eps_with_a_saddle": with_saddles[0] if with_saddles else None,
        "full_xi_definite_in_regime": sum(r["full_xi_definite"] for r in inside)}
    if not inside or measured["critical_points_in_regime"] == 0:
        return verdict(CLAIM, "not testable here", "no critical point found inside ε < (log m)^-1",
                       in_regime=False, measured=measured)
    ok = measured["violations_in_regime"] == 0
    reason = (f"in the regime {measured['critical_points_in_regime']} critical points, "
              f"{measured['violations_in_regime']} violate the sign rule "
              f"({measured['saddles_in_regime']} saddles); over all ε: "
              f"{measured['saddles_all']} saddles, first at ε = "
              f"{measured['smallest_eps_with_a_saddle']}")
    return verdict(CLAIM, "held" if ok else "did not hold", reason, in_regime=True,
                   measured=measured)
