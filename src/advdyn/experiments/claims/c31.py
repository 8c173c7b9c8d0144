r"""C3.1 — shrinking steps after reaching the sphere: ``D_s = ‖δ_{t̃+s} - δ*‖² = O(1/(z+s))``.

For each seed: the census gives the local minima of L on the sphere. Raw PGD with the constant
step ``η = f·min(ε², (log m)^{-2})`` runs ``pre_steps`` steps from ``starts`` uniform points of
the open ball; the minimum ``δ*`` a trajectory converges to is the census minimum nearest to its
end point, and its ``β`` the smallest tangent eigenvalue of Ξ at ``δ*`` (the local
strong-convexity constant on the sphere, SPEC §4). The same starts are then run with the
schedule :class:`advdyn.pgd.Shrinking` (per-row ``β``; ``z = 2/(βη)`` so the schedule starts at
η): constant η until the step ``t̃`` at which the iterate is on the sphere with ``‖Γ‖ < √η``,
then ``η_s = 2/(β(s+z))`` for ``post_steps`` more steps. We record ``D_s`` and fit the slope of
``log D_s`` against ``log(z+s)`` over ``s ≥ 1`` while ``D_s > 10⁻²⁴ε²`` (rounding floor). The
corollary's bound ``O(1/(z+s))`` holds if ``D_s`` decays at least that fast: verdict held if
every trajectory has ``D_s → 0`` (``D_S ≤ 10⁻³ D_0``) and a fitted slope ≤ -0.9 (-1 with 10 %
slack fixed before the runs).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from advdyn.errors import check_number, fail
from advdyn.experiments.claims.common import fit_loglog, regime, result, verdict
from advdyn.experiments.claims.t31 import first_true
from advdyn.experiments.simulated import SimulatedSetup
from advdyn.geometry import L2Ball
from advdyn.pgd import Recorder, Shrinking, run_pgd
from advdyn.sphere.census import census

CLAIM = "C3.1"
FLOOR = 1e-24


@dataclass(frozen=True)
class Config:
    """``dim``, ``width``, ``loss``, ``label``, ``scale``, ``ratio``: the problem (``ε = r·c``);
    ``eta_factor`` ``f``; ``starts`` trajectories; ``pre_steps`` the constant-step budget (to
    find t̃ and δ*), ``post_steps`` shrinking steps after t̃; ``seeds`` networks."""

    dim: int = 5
    width: int = 512
    loss: str = "bce"
    label: float = 0.0
    scale: float = 0.2
    ratio: float = 0.1
    eta_factor: float = 0.5
    starts: int = 8
    pre_steps: int = 20000
    post_steps: int = 40000
    seeds: int = 3
    seed: int = 0

    def __post_init__(self) -> None:
        SimulatedSetup(self.dim, self.width, self.loss, self.label)
        check_number("scale", self.scale, positive=True)
        check_number("ratio", self.ratio, positive=True)
        if not 0 < check_number("eta_factor", self.eta_factor, positive=True) < 1:
            raise fail("eta_factor", f"must lie in (0, 1), got {self.eta_factor}")
        for name in ("starts", "pre_steps", "post_steps", "seeds"):
            check_number(name, getattr(self, name), positive=True, integer=True)
        check_number("seed", self.seed, integer=True)


QUICK: dict[str, Any] = {"starts": 4, "pre_steps": 10000, "post_steps": 20000, "seeds": 1}


def compute(**parameters: Any) -> dict[str, Any]:
    """Run the experiment (see the module docstring); JSON data, deterministic."""
    cfg = Config(**parameters)
    setup = SimulatedSetup(cfg.dim, cfg.width, cfg.loss, cfg.label)
    eps = cfg.ratio * cfg.scale
    eta = cfg.eta_factor * min(eps * eps, math.log(cfg.width) ** -2)
    rows: list[dict[str, Any]] = []
    curves: list[dict[str, Any]] = []
    for s in range(cfg.seed, cfg.seed + cfg.seeds):
        net, u, gen = setup.draw(s)
        obj = setup.objective(net, u, [cfg.scale])
        mins = census(obj, eps, seed=s).minima
        points = np.stack([p.delta for p in mins])
        start = L2Ball.sample(cfg.starts, (cfg.dim,), eps, gen)
        const = run_pgd(obj, eps, eta, cfg.pre_steps, rule="raw", start=start,
                        record=Recorder(fields=("gamma_norm", "on_sphere"), dtype="float64"))
        assert const.trajectory is not None
        t_switch = first_true(np.asarray(const.trajectory.on_sphere, dtype=bool)
                              & (np.asarray(const.trajectory.gamma_norm) < math.sqrt(eta)))
        nearest = np.linalg.norm(const.delta.numpy()[:, None] - points[None], axis=-1)
        star = nearest.argmin(axis=1)
        beta = torch.tensor([float(mins[k].eigenvalues.min()) for k in star])
        reached = t_switch >= 0
        if not reached.any():
            continue
        total = int(t_switch.max()) + cfg.post_steps
        sched = Shrinking(beta)
        shrink = run_pgd(obj, eps, eta, total, rule="raw", start=start, schedule=sched,
                         record=Recorder(fields=("delta",), dtype="float64"))
        assert shrink.trajectory is not None and sched.switched_at is not None
        traj = np.asarray(shrink.trajectory.delta, dtype=np.float64)
        switched = sched.switched_at.numpy().astype(int)
        for b in range(cfg.starts):
            if switched[b] < 0:
                rows.append(_row(s, b, float(beta[b]), eta, -1, None, cfg, eps))
                continue
            d_s = np.sum((traj[switched[b]:switched[b] + cfg.post_steps + 1, b]
                          - points[star[b]]) ** 2, axis=1)
            z = 2 / (float(beta[b]) * eta)
            rows.append(_row(s, b, float(beta[b]), eta, int(switched[b]), (d_s, z), cfg, eps))
            if b < 4:
                keep = np.unique(np.geomspace(1, d_s.size - 1, 200).astype(int))
                curves.append({"seed": s, "row": b, "z_plus_s": (z + keep).tolist(),
                               "D": (d_s[keep] / eps**2).tolist(), "z": z})
    return result(CLAIM, cfg, _verdict(rows, cfg, eps), rows, {"curves": curves, "eps": eps})


def _row(seed: int, b: int, beta: float, eta: float, t_switch: int,
         curve: tuple[np.ndarray, float] | None, cfg: Config, eps: float) -> dict[str, Any]:
    reg = regime(CLAIM, cfg.dim, cfg.width, eps, eta)
    out: dict[str, Any] = {"seed": seed, "trajectory": b, "beta": beta, "eta": eta,
                           "t_switch": t_switch, "in_regime": reg["inside"]}
    if curve is None:
        return {**out, "z": None, "D0_over_eps2": None, "DS_over_D0": None, "slope": None,
                "max_D_times_zs_over_D0_z": None}
    d_s, z = curve
    s = np.arange(d_s.size)
    ok = (s >= 1) & (d_s > FLOOR * eps**2)
    return {**out, "z": z, "D0_over_eps2": float(d_s[0] / eps**2),
            "DS_over_D0": float(d_s[-1] / d_s[0]) if d_s[0] > 0 else None,
            "slope": fit_loglog(z + s[ok], d_s[ok]),
            "max_D_times_zs_over_D0_z": float(np.max(d_s * (z + s)) / (d_s[0] * z))
            if d_s[0] > 0 else None}


def _verdict(rows: list[dict[str, Any]], cfg: Config, eps: float) -> dict[str, Any]:
    fitted = [r for r in rows if r["slope"] is not None]
    measured = {"trajectories": len(rows), "switched": sum(r["t_switch"] >= 0 for r in rows),
                "max_slope": max((r["slope"] for r in fitted), default=None),
                "min_slope": min((r["slope"] for r in fitted), default=None),
                "max_DS_over_D0": max((r["DS_over_D0"] for r in fitted
                                       if r["DS_over_D0"] is not None), default=None),
                "beta_range": [min((r["beta"] for r in rows), default=None),
                               max((r["beta"] for r in rows), default=None)],
                "bound_slope": -1.0, "in_regime": all(r["in_regime"] for r in rows), "eps": eps}
    if not fitted:
        return verdict(CLAIM, "not testable here", "no trajectory reached the sphere with "
                       "‖Γ‖ < √η within pre_steps", in_regime=measured["in_regime"],
                       measured=measured)
    ok = (measured["switched"] == len(rows) and measured["max_slope"] <= -0.9
          and measured["max_DS_over_D0"] is not None and measured["max_DS_over_D0"] <= 1e-3)
    reason = (f"{measured['switched']}/{len(rows)} trajectories switched to η_s = 2/(β(s+z)); "
              f"fitted slopes of log D_s against log(z+s) in [{measured['min_slope']:.3g}, "
              f"{measured['max_slope']:.3g}] (bound -1), D_S/D_0 ≤ "
              f"{measured['max_DS_over_D0']:.3g} after {cfg.post_steps} steps")
    return verdict(CLAIM, "held" if ok else "did not hold", reason,
                   in_regime=measured["in_regime"], measured=measured)
