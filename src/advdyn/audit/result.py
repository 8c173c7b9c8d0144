"""What an audit returns: per-row indicators and certificates, fractions, verdicts, a table."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from advdyn.audit.indicators import INDICATORS
from advdyn.models.checks import Finding
from advdyn.trace import StartTest, Trace


@dataclass
class Audit:
    """An audited attack on ``B`` rows. ``indicators``: name → ``(B,)`` bool (only on rows the
    attack failed on); ``success``: the returned point is adversarial; ``first_adversarial``:
    the first step at which the row was adversarial (−1: never); ``kkt_residual``: the relative
    tangent-cone KKT residual on the attack's feasible set (ball ∩ box) at the end point,
    ``certified`` where it is ≤ ``certificate_tol``; ``fosc`` (l∞; NaN for l2); ``active`` the
    active set (``interior``/``ball``/``box``/``ball+box``); ``sphere_stationarity``:
    1 − cos∠[∇ℓ, δ] where the ball alone is active (NaN elsewhere); ``checks``: the model checks'
    findings; ``start``: the start-law test; ``trace``: the traced run; ``rules``: each
    indicator's rule with its thresholds."""

    indicators: dict[str, np.ndarray]
    success: np.ndarray
    first_adversarial: np.ndarray
    kkt_residual: np.ndarray
    certified: np.ndarray
    fosc: np.ndarray
    active: list[str]
    sphere_stationarity: np.ndarray
    checks: list[Finding]
    start: StartTest
    trace: Trace
    eps: float
    norm: str
    box: tuple[float, float] | None
    certificate_tol: float
    rules: dict[str, str]

    @property
    def rows(self) -> int:
        return int(self.success.shape[0])

    def fractions(self) -> dict[str, float]:
        """The fraction of all rows on which each indicator fired."""
        return {k: float(v.mean()) for k, v in self.indicators.items()}

    def verdicts(self) -> list[str]:
        """Per row: ``"sound"``, or the indicators that fired joined by ``", "``."""
        fired = [[k for k in INDICATORS if self.indicators[k][b]] for b in range(self.rows)]
        return [", ".join(f) if f else "sound" for f in fired]

    def flagged(self) -> np.ndarray:
        """The rows on which some indicator fired."""
        return np.flatnonzero(np.any([v for v in self.indicators.values()], axis=0))

    def summary(self) -> str:
        """A plain-text table: each indicator's fraction and rule, then the attack's success,
        the certificate and the start-law test."""
        lines = [f"{'indicator':<25} {'fraction':>8}  rule"]
        for k, frac in self.fractions().items():
            lines.append(f"{k:<25} {frac:8.3f}  {self.rules[k]}")
        lines.append(f"{'success rate':<25} {float(self.success.mean()):8.3f}")
        lines.append(f"{'kkt certified':<25} {float(self.certified.mean()):8.3f}  relative "
                     f"tangent-cone residual <= {self.certificate_tol:g}")
        lines.append(f"{'start law KS p-value':<25} {self.start.pvalue:8.3g}  (u = "
                     "(|d0|/eps)^D ~ U[0,1])")
        lines += [f"check {f.name}: {f.message}" for f in self.checks]
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        """Plain data: ``indicators: {name: {fraction, rows, rule}}``, ``samples`` (one dict per
        row), ``checks``, ``start``, and the attack's settings."""

        def num(v: float) -> float | None:
            return float(v) if math.isfinite(float(v)) else None

        verdicts = self.verdicts()
        samples = [{"row": b, "verdict": verdicts[b], "success": bool(self.success[b]),
                    "first_adversarial_step": int(self.first_adversarial[b]),
                    "kkt_residual": num(self.kkt_residual[b]),
                    "certified": bool(self.certified[b]), "fosc": num(self.fosc[b]),
                    "active": self.active[b],
                    "sphere_stationarity": num(self.sphere_stationarity[b]),
                    "indicators": [k for k in INDICATORS if self.indicators[k][b]]}
                   for b in range(self.rows)]
        return {
            "indicators": {k: {"fraction": float(v.mean()),
                               "rows": np.flatnonzero(v).tolist(), "rule": self.rules[k]}
                           for k, v in self.indicators.items()},
            "samples": samples,
            "checks": [{"name": f.name, "message": f.message} for f in self.checks],
            "start": {"statistic": self.start.statistic, "pvalue": self.start.pvalue},
            "success_rate": float(self.success.mean()),
            "certified_fraction": float(self.certified.mean()),
            "eps": self.eps, "norm": self.norm,
            "box": list(self.box) if self.box is not None else None,
            "steps": self.trace.steps,
        }
