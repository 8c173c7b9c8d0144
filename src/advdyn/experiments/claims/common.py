r"""What every claim experiment shares: the verdict record, the paper's regime, the problem.

A claim experiment is a module with a frozen ``Config`` dataclass (every field a parameter; the
defaults are the full run), a dict ``QUICK`` of overrides for a run of well under two minutes,
and a pure ``compute(**parameters) -> dict`` (JSON data only; same parameters → same result).
The result holds ``verdict`` (:func:`verdict`), ``config``, ``table`` (columns + rows, the CSV)
and ``figure`` (the arrays its plot in :mod:`advdyn.plots.claims` draws).

**Regime.** The paper's scales are asymptotic (``m = Ω(d^{5/2})``, ``ε < Θ((log m)^{-k})``,
``η < min{Θ((log m)^{-k}), ε²}``) with unknown constants; :func:`regime` checks them with every
constant set to 1 and says so.

**Problem.** :class:`~advdyn.experiments.simulated.SimulatedSetup` (Xavier two-layer network,
``x = c·u`` with ``u`` a random unit direction, ``ε = r‖x‖``), by default binary cross-entropy
with label 0, so ``ℓ' = sigmoid(u) > 0`` on the whole ball (Assumption 3: ``|ℓ'|`` bounded away
from 0). The paper's ``L`` (a number) is estimated as ``min |ℓ'|/2`` over sampled points of the
ball (SPEC §3: a lower bound of ``|ℓ'|/2``), ``B_l`` as ``min ‖∇f‖``; both are sample minima, so
upper estimates of the true infima.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import numpy as np
import torch

from advdyn.errors import check_choice
from advdyn.geometry import L2Ball
from advdyn.models import TwoLayerObjective

VERDICTS = ("held", "did not hold", "not testable here")
# the report's vocabulary (advdyn.report.data.VERDICTS)
REPORT_VERDICT = {"held": "supported", "did not hold": "not supported",
                  "not testable here": "inconclusive"}

STATEMENTS = {
    "L4.1": "inside the open ball every PGD step decreases L by Ω(η)",
    "L4.3": "away from critical points on the sphere ‖Γ‖ ≥ sqrt(1-β²)‖∇f‖·L (≥ L·B_l·sqrt(1-β²))",
    "L4.4": "near critical points on the sphere the sign of ⟨-∇L, δ⟩ decides the definiteness of "
            "Ξ: there are no saddle points on the sphere for small ε",
    "L4.5": "under condition (6) a trajectory started uniformly in the open ball never reaches "
            "Δ⁻_η, and once in Δ⁺_η it stays there",
    "T3.1": "in O(η^-2) iterations PGD outputs a sphere point O(η^1/2) close to a local minimum",
    "C3.1": "with η_s = 2/(β(s+z)) after reaching the sphere, D_s = ‖δ_s - δ*‖² = O(1/(z+s))",
    "T5.1": "below a threshold τ_ε there is exactly one local minimum of L on the sphere",
}
PAPER_SCALE = {
    "L4.1": "m = Ω(d^5/2), ε < Θ((log m)^-1/2), η < min{Θ((log m)^-1), ε²}",
    "L4.3": "m = Ω(d^5/2), ε < Θ((log m)^-1)",
    "L4.4": "m = Ω(d^5/2), ε < Θ((log m)^-1)",
    "L4.5": "condition (6), η < min{1, L·B_l}",
    "T3.1": "m = Ω(d^5/2), ε < Θ((log m)^-2), η < min{Θ((log m)^-2), ε²}",
    "C3.1": "as T3.1; β a local strong-convexity constant on the sphere",
    "T5.1": "as T3.1",
}
# exponent k of the bound ε < (log m)^-k and of η < (log m)^-k, per claim (None: no such bound)
_EPS_POWER = {"L4.1": 0.5, "L4.3": 1.0, "L4.4": 1.0, "T3.1": 2.0, "C3.1": 2.0, "T5.1": 2.0}
_ETA_POWER = {"L4.1": 1.0, "T3.1": 2.0, "C3.1": 2.0}


def regime(claim: str, d: int, m: int, eps: float, eta: float | None = None) -> dict[str, Any]:
    """The paper's scale conditions of ``claim`` checked with all constants 1.

    Returns the ratios (``< 1`` inside) and ``inside`` (all of them below 1)."""
    check_choice("claim", claim, STATEMENTS)
    log_m = math.log(m)
    out: dict[str, Any] = {"m_over_d^2.5": m / d**2.5}
    ok = m >= d**2.5
    if claim in _EPS_POWER:
        bound = log_m ** -_EPS_POWER[claim]
        out["eps_over_bound"] = eps / bound
        ok = ok and eps < bound
    if eta is not None and claim in _ETA_POWER:
        bound = min(log_m ** -_ETA_POWER[claim], eps * eps)
        out["eta_over_bound"] = eta / bound
        ok = ok and eta < bound
    out["inside"] = bool(ok)
    return out


def verdict(claim: str, outcome: str, reason: str, *, in_regime: bool | None,
            measured: dict[str, Any], regime_note: str = "") -> dict[str, Any]:
    """The verdict record of a claim: what was seen, in which setting, with the numbers."""
    check_choice("verdict", outcome, VERDICTS)
    return {"claim": claim, "statement": STATEMENTS[claim], "paper_scale": PAPER_SCALE[claim],
            "verdict": outcome, "report_verdict": REPORT_VERDICT[outcome], "reason": reason,
            "in_regime": in_regime,
            "regime_note": regime_note or "Θ/Ω constants of the paper are unknown; the regime "
                                          "is checked with every constant equal to 1",
            "measured": measured}


def table(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Rows of dicts (same keys) as ``{"columns": [...], "rows": [[...], ...]}``."""
    if not rows:
        return {"columns": [], "rows": []}
    cols = list(rows[0])
    return {"columns": cols, "rows": [[_plain(r[c]) for c in cols] for r in rows]}


def _plain(v: Any) -> Any:
    if isinstance(v, (np.generic,)):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def result(claim: str, config: Any, verdict_record: dict[str, Any], rows: list[dict[str, Any]],
           figure: dict[str, Any]) -> dict[str, Any]:
    """A claim experiment's result: JSON data only."""
    return {"claim": claim, "verdict": verdict_record, "config": asdict(config),
            "table": table(rows), "figure": _json(figure)}


def _json(o: Any) -> Any:
    if isinstance(o, dict):
        return {str(k): _json(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_json(v) for v in o]
    if isinstance(o, torch.Tensor):
        return _json(o.detach().cpu().numpy())
    if isinstance(o, np.ndarray):
        return _json(o.tolist())
    return _plain(o)


def loss_slopes(objective: TwoLayerObjective, delta: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(|ℓ'(u)|/2, ∇f, ∇L)`` at every row of ``delta`` (the paper's ``|y-u|`` for the
    quadratic loss)."""
    u, gf = objective.net.value_and_grad(objective.x + delta)
    d1 = objective.loss.d1(u, objective.y)
    return d1.abs() / 2, gf, -d1[:, None] * gf


def ball_bounds(objective: TwoLayerObjective, eps: float, n: int, generator: torch.Generator
                ) -> dict[str, float]:
    """Sample estimates over ``n`` uniform points of the ball and ``n`` of the sphere:
    ``L_hat = min |ℓ'|/2``, ``U_hat = max |ℓ'|/2``, ``B_l = min ‖∇f‖``, ``B_u = max ‖∇f‖``."""
    shape = (objective.x.shape[1],)
    pts = torch.cat([L2Ball.sample(n, shape, eps, generator),
                     L2Ball.sample_sphere(n, shape, eps, generator)])
    half, gf, _ = loss_slopes(objective, pts)
    gn = gf.norm(dim=1)
    return {"L_hat": float(half.min()), "U_hat": float(half.max()), "B_l": float(gn.min()),
            "B_u": float(gn.max())}


def fit_loglog(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> float | None:
    """Least-squares slope of ``log y`` against ``log x`` over the finite positive pairs."""
    xa, ya = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ok = np.isfinite(xa) & np.isfinite(ya) & (xa > 0) & (ya > 0)
    if ok.sum() < 2 or np.ptp(np.log(xa[ok])) == 0:
        return None
    return float(np.polyfit(np.log(xa[ok]), np.log(ya[ok]), 1)[0])
