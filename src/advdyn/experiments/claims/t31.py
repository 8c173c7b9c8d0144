r"""T3.1 — in ``O(η^{-2})`` iterations PGD outputs a sphere point ``O(η^{1/2})`` close to a local
minimum.

For each seed: the census (:func:`advdyn.sphere.census.census`) gives the local minima ``δ*`` of
L on the sphere; raw PGD ``δ ← P_B(δ - η∇L)`` with ``η = f·min(ε², (log m)^{-2})`` (``f`` in
``eta_factors``, all ``< 1``: inside the theorem's ``η < min{Θ((log m)^{-2}), ε²}``) runs from
``starts`` uniform points of the open ball for at most ``max_steps`` steps (the same starts for
every η). Per trajectory:

* ``t_gamma``: the first step on the sphere with ``‖Γ(δ_t)‖ ≤ √η`` (the output rule of the
  proof, outside ``Δ⁺_η`` progress is at least ``Ω(η²)`` per step) and ``dist_gamma``, the
  distance from ``δ_{t_gamma}`` to the nearest local minimum;
* ``t_tol``: the first step on the sphere within ``tol·ε`` of a local minimum.

Medians over trajectories are fitted against η on log–log axes. The theorem bounds the time by
``C η^{-2}`` (slope ≥ -2 means the time grows no faster) and the distance by ``C η^{1/2}``
(slope ≥ 1/2 means it shrinks at least as fast). Verdict: held if every trajectory produced its
output within the budget, the fitted slope of ``t_gamma`` is ≥ -2.2 and that of ``dist_gamma``
≥ 0.4 (10 % of the exponents, fixed before the runs); not testable if no η gave an output.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from advdyn.errors import check_number, fail
from advdyn.experiments.claims.common import fit_loglog, regime, result, verdict
from advdyn.experiments.simulated import SimulatedSetup, check_grid
from advdyn.geometry import L2Ball
from advdyn.pgd import Recorder, run_pgd
from advdyn.sphere.census import census

CLAIM = "T3.1"


@dataclass(frozen=True)
class Config:
    """``dim``, ``width``, ``loss``, ``label``, ``scale``, ``ratio``: the problem (``ε = r·c``);
    ``eta_factors`` ``f``; ``starts`` trajectories per η; ``max_steps`` budget; ``stride``
    recording stride (the time resolution); ``tol`` the distance tolerance (units of ε);
    ``seeds`` networks."""

    dim: int = 5
    width: int = 512
    loss: str = "bce"
    label: float = 0.0
    scale: float = 0.2
    ratio: float = 0.1
    eta_factors: tuple[float, ...] = (0.8, 0.4, 0.2, 0.1, 0.05)
    starts: int = 16
    max_steps: int = 60000
    stride: int = 10
    tol: float = 1e-3
    seeds: int = 3
    seed: int = 0

    def __post_init__(self) -> None:
        SimulatedSetup(self.dim, self.width, self.loss, self.label)
        check_number("scale", self.scale, positive=True)
        check_number("ratio", self.ratio, positive=True)
        object.__setattr__(self, "eta_factors", check_grid("eta_factors", self.eta_factors))
        if max(self.eta_factors) >= 1:
            raise fail("eta_factors", "every factor must be < 1 (η below the paper's bound)")
        if len(self.eta_factors) < 2:
            raise fail("eta_factors", "a slope needs at least two step sizes")
        for name in ("starts", "max_steps", "stride", "seeds"):
            check_number(name, getattr(self, name), positive=True, integer=True)
        check_number("tol", self.tol, positive=True)
        check_number("seed", self.seed, integer=True)


QUICK: dict[str, Any] = {"eta_factors": (0.8, 0.4, 0.2, 0.1), "starts": 8,
                         "max_steps": 30000, "stride": 20, "seeds": 1}


def first_true(mask: np.ndarray) -> np.ndarray:
    """Index of the first ``True`` along axis 0 per column, ``-1`` where there is none."""
    return np.where(mask.any(axis=0), mask.argmax(axis=0), -1)


def compute(**parameters: Any) -> dict[str, Any]:
    """Run the experiment (see the module docstring); JSON data, deterministic."""
    values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v
                              for k, v in parameters.items()}
    cfg = Config(**values)
    setup = SimulatedSetup(cfg.dim, cfg.width, cfg.loss, cfg.label)
    eps = cfg.ratio * cfg.scale
    base = min(eps * eps, math.log(cfg.width) ** -2)
    rows: list[dict[str, Any]] = []
    for s in range(cfg.seed, cfg.seed + cfg.seeds):
        net, u, gen = setup.draw(s)
        obj = setup.objective(net, u, [cfg.scale])
        minima = np.stack([p.delta for p in census(obj, eps, seed=s).minima])
        etas = np.repeat([f * base for f in cfg.eta_factors], cfg.starts)
        start = L2Ball.sample(cfg.starts, (cfg.dim,), eps, gen).repeat(len(cfg.eta_factors), 1)
        res = run_pgd(obj, eps, torch.tensor(etas), cfg.max_steps, rule="raw", start=start,
                      record=Recorder(stride=cfg.stride, dtype="float64",
                                      fields=("delta", "gamma_norm", "on_sphere")))
        tr = res.trajectory
        assert tr is not None
        t = np.asarray(tr.t)
        delta = np.asarray(tr.delta, dtype=np.float64)
        dist = np.linalg.norm(delta[:, :, None, :] - minima[None, None], axis=-1).min(axis=-1)
        on = np.asarray(tr.on_sphere, dtype=bool)
        i_gamma = first_true(on & (np.asarray(tr.gamma_norm) <= np.sqrt(etas)[None]))
        i_tol = first_true(on & (dist <= cfg.tol * eps))
        for k, f in enumerate(cfg.eta_factors):
            sl = slice(k * cfg.starts, (k + 1) * cfg.starts)
            ig, it = i_gamma[sl], i_tol[sl]
            done_g, done_t = ig >= 0, it >= 0
            cols = np.arange(sl.start, sl.stop)
            reg = regime(CLAIM, cfg.dim, cfg.width, eps, f * base)
            rows.append({
                "seed": s, "eta_factor": f, "eta": f * base, "trajectories": cfg.starts,
                "reached_gamma": int(done_g.sum()), "reached_tol": int(done_t.sum()),
                "t_gamma_median": float(np.median(t[ig[done_g]])) if done_g.any()
                else float("nan"),
                "dist_gamma_median": float(np.median(dist[ig[done_g], cols[done_g]]))
                if done_g.any() else float("nan"),
                "t_tol_median": float(np.median(t[it[done_t]])) if done_t.any()
                else float("nan"),
                "minima": int(minima.shape[0]), "in_regime": reg["inside"],
                "eps_over_bound": reg["eps_over_bound"]})
    return result(CLAIM, cfg, _verdict(rows, eps), rows, _figure(rows, eps))


def _slopes(rows: list[dict[str, Any]]) -> dict[str, float | None]:
    eta = [r["eta"] for r in rows]
    return {"slope_t_gamma": fit_loglog(eta, [r["t_gamma_median"] for r in rows]),
            "slope_dist_gamma": fit_loglog(eta, [r["dist_gamma_median"] for r in rows]),
            "slope_t_tol": fit_loglog(eta, [r["t_tol_median"] for r in rows])}


def _verdict(rows: list[dict[str, Any]], eps: float) -> dict[str, Any]:
    slopes = _slopes(rows)
    complete = all(r["reached_gamma"] == r["trajectories"] for r in rows)
    measured = {**slopes, "bound_slope_t": -2.0, "bound_slope_dist": 0.5,
                "all_trajectories_reached_output": complete, "eps": eps,
                "in_regime": all(r["in_regime"] for r in rows),
                "max_dist_gamma_over_sqrt_eta": max(
                    (r["dist_gamma_median"] / math.sqrt(r["eta"]) for r in rows
                     if np.isfinite(r["dist_gamma_median"])), default=None)}
    if slopes["slope_t_gamma"] is None or slopes["slope_dist_gamma"] is None:
        return verdict(CLAIM, "not testable here", "fewer than two step sizes produced an output "
                       "within the budget", in_regime=bool(measured["in_regime"]),
                       measured=measured)
    ok = complete and slopes["slope_t_gamma"] >= -2.2 and slopes["slope_dist_gamma"] >= 0.4
    reason = (f"fitted slopes against η: time to output {slopes['slope_t_gamma']:.3g} "
              f"(bound -2), distance at output {slopes['slope_dist_gamma']:.3g} (bound 0.5), "
              f"time to within tol·ε of a minimum {_fmt(slopes['slope_t_tol'])}; all outputs "
              f"within budget: {complete}")
    return verdict(CLAIM, "held" if ok else "did not hold", reason,
                   in_regime=bool(measured["in_regime"]), measured=measured)


def _fmt(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.3g}"


def _figure(rows: list[dict[str, Any]], eps: float) -> dict[str, Any]:
    return {"eta": [r["eta"] for r in rows], "seed": [r["seed"] for r in rows],
            "t_gamma": [r["t_gamma_median"] for r in rows],
            "t_tol": [r["t_tol_median"] for r in rows],
            "dist_gamma": [r["dist_gamma_median"] for r in rows], "eps": eps,
            **_slopes(rows)}
