r"""L4.1 — inside the open ball every PGD step decreases L by Ω(η).

For each seed and input scale ``c`` (``ε = r c``) and each step size ``η = f·min(ε², 1/log m)``
(``f`` in ``eta_factors``, so always inside the paper's ``η < min{(log m)^{-1}, ε²}``), raw PGD
``δ ← P_B(δ - η∇L)`` runs ``steps`` steps from ``starts`` uniform points of the open ball. Every
step whose end point ``δ_{t+1}`` is inside the open ball is an *interior step*; for those we
measure ``ΔL = L(δ_{t+1}) - L(δ_t)``, the fraction with ``ΔL < 0`` and the normalised decrease
``-ΔL/η`` (its 1 % quantile and median). ``Ω(η)`` means ``-ΔL/η ≥ c > 0`` with ``c`` independent of
η: the verdict asks, in the paper's regime, for every interior step to decrease L and for the
1 % quantile of ``-ΔL/η`` to stay above half its value at the largest η as η shrinks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from advdyn.errors import check_number, fail
from advdyn.experiments.claims.common import regime, result, verdict
from advdyn.experiments.simulated import SimulatedSetup, check_grid
from advdyn.pgd import Recorder, run_pgd

CLAIM = "L4.1"


@dataclass(frozen=True)
class Config:
    """``dim``, ``width``, ``loss``, ``label``: the problem; ``scales`` input scales, ``ratio``
    ``r = ε/‖x‖``; ``eta_factors`` ``f`` in ``η = f·min(ε², 1/log m)``; ``starts`` uniform starts
    per setting, ``steps`` PGD steps, ``seeds`` networks (seeds ``seed …``)."""

    dim: int = 5
    width: int = 512
    loss: str = "bce"
    label: float = 0.0
    scales: tuple[float, ...] = (0.1, 1.0, 10.0)
    ratio: float = 0.1
    eta_factors: tuple[float, ...] = (0.5, 0.2, 0.05, 0.01)
    starts: int = 64
    steps: int = 200
    seeds: int = 3
    seed: int = 0

    def __post_init__(self) -> None:
        SimulatedSetup(self.dim, self.width, self.loss, self.label)
        object.__setattr__(self, "scales", check_grid("scales", self.scales))
        object.__setattr__(self, "eta_factors", check_grid("eta_factors", self.eta_factors))
        if max(self.eta_factors) >= 1:
            raise fail("eta_factors", "every factor must be < 1 (η below the paper's bound)")
        check_number("ratio", self.ratio, positive=True)
        for name in ("starts", "steps", "seeds"):
            check_number(name, getattr(self, name), positive=True, integer=True)
        check_number("seed", self.seed, integer=True)


QUICK: dict[str, Any] = {"scales": (0.1, 1.0, 10.0), "eta_factors": (0.5, 0.1, 0.02),
                         "starts": 32, "steps": 100, "seeds": 2}


def compute(**parameters: Any) -> dict[str, Any]:
    """Run the experiment (see the module docstring); JSON data, deterministic."""
    values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v
                              for k, v in parameters.items()}
    cfg = Config(**values)
    setup = SimulatedSetup(cfg.dim, cfg.width, cfg.loss, cfg.label)
    rows: list[dict[str, Any]] = []
    for s in range(cfg.seed, cfg.seed + cfg.seeds):
        net, u, _ = setup.draw(s)
        for scale in cfg.scales:
            obj = setup.objective(net, u, [scale])
            eps = cfg.ratio * scale
            base = min(eps * eps, 1 / math.log(cfg.width))
            for f in cfg.eta_factors:
                eta = f * base
                res = run_pgd(obj, eps, eta, cfg.steps, rule="raw", batch=cfg.starts,
                              generator=s, record=Recorder(fields=("L", "on_sphere"),
                                                           dtype="float64"))
                assert res.trajectory is not None
                L = np.asarray(res.trajectory.L, dtype=np.float64)
                inside = ~np.asarray(res.trajectory.on_sphere, dtype=bool)[1:]
                dl = (L[1:] - L[:-1])[inside]
                norm = -dl / eta
                reg = regime(CLAIM, cfg.dim, cfg.width, eps, eta)
                rows.append({
                    "seed": s, "scale": scale, "eps": eps, "eta_factor": f, "eta": eta,
                    "interior_steps": int(dl.size),
                    "frac_decrease": float((dl < 0).mean()) if dl.size else float("nan"),
                    "decrease_over_eta_q01": float(np.quantile(norm, 0.01)) if dl.size
                    else float("nan"),
                    "decrease_over_eta_median": float(np.median(norm)) if dl.size
                    else float("nan"),
                    "decrease_over_eta_min": float(norm.min()) if dl.size else float("nan"),
                    "in_regime": reg["inside"], "eps_over_bound": reg["eps_over_bound"]})
    return result(CLAIM, cfg, _verdict(rows), rows, _figure(rows))


def _verdict(rows: list[dict[str, Any]]) -> dict[str, Any]:
    inside = [r for r in rows if r["in_regime"] and r["interior_steps"] > 0]
    measured: dict[str, Any] = {
        "settings_in_regime": len(inside), "settings": len(rows),
        "interior_steps_in_regime": sum(r["interior_steps"] for r in inside),
        "min_frac_decrease_in_regime": min((r["frac_decrease"] for r in inside), default=None),
        "min_q01_decrease_over_eta_in_regime": min(
            (r["decrease_over_eta_q01"] for r in inside), default=None),
        "min_frac_decrease_outside": min((r["frac_decrease"] for r in rows
                                          if not r["in_regime"] and r["interior_steps"]),
                                         default=None)}
    if not inside:
        return verdict(CLAIM, "not testable here", "no interior steps in the paper's regime",
                       in_regime=False, measured=measured)
    stable = []
    for key in {(r["seed"], r["scale"]) for r in inside}:
        grp = sorted((r for r in inside if (r["seed"], r["scale"]) == key),
                     key=lambda r: r["eta"])
        stable.append(grp[0]["decrease_over_eta_q01"] >= 0.5 * grp[-1]["decrease_over_eta_q01"])
    measured["q01_stable_as_eta_shrinks"] = f"{sum(stable)}/{len(stable)}"
    ok = (measured["min_frac_decrease_in_regime"] == 1.0
          and measured["min_q01_decrease_over_eta_in_regime"] > 0 and all(stable))
    reason = (f"in the regime {measured['interior_steps_in_regime']} interior steps: fraction "
              f"decreasing L ≥ {measured['min_frac_decrease_in_regime']:.4f}, 1% quantile of "
              f"-ΔL/η ≥ {measured['min_q01_decrease_over_eta_in_regime']:.3g}, stable in η for "
              f"{measured['q01_stable_as_eta_shrinks']} (seed, scale)")
    return verdict(CLAIM, "held" if ok else "did not hold", reason, in_regime=True,
                   measured=measured)


def _figure(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per scale, against η: the mean over seeds of the 1 % quantile and median of -ΔL/η and of
    the fraction of interior steps that decrease L."""
    out: dict[str, Any] = {"scales": [], "eta": [], "q01": [], "median": [], "frac": [],
                           "in_regime": []}
    for scale in sorted({r["scale"] for r in rows}):
        grp = [r for r in rows if r["scale"] == scale]
        etas = sorted({r["eta"] for r in grp})

        def mean(key: str, eta: float, grp: list = grp) -> float:
            v = [r[key] for r in grp if r["eta"] == eta and r["interior_steps"]]
            return float(np.mean(v)) if v else float("nan")

        out["scales"].append(scale)
        out["eta"].append(etas)
        out["q01"].append([mean("decrease_over_eta_q01", e) for e in etas])
        out["median"].append([mean("decrease_over_eta_median", e) for e in etas])
        out["frac"].append([mean("frac_decrease", e) for e in etas])
        out["in_regime"].append(bool(grp[0]["in_regime"]))
    return out
