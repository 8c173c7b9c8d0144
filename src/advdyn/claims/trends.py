r"""Trend tests the two-layer claims share (scipy.stats underneath; Holm across a claim's
comparisons is the caller's, via :func:`advdyn.claims.stats.holm`).

- :func:`slope_test`: least-squares slope of ``log y`` on ``log x`` (:func:`scipy.stats.
  linregress`) and the one-sided t-test of ``slope > bound`` (or ``< bound``), ``n - 2`` degrees
  of freedom.
- :func:`rank_trend`: Spearman's ρ of ``y`` against ``x`` with its one-sided p-value
  (:func:`scipy.stats.spearmanr`); p = 1 where ``y`` is constant (no trend to see).
- :func:`fraction_at_least`: the Clopper–Pearson lower confidence bound of a proportion
  (:func:`scipy.stats.binomtest`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats


def slope_test(x: Sequence[float], y: Sequence[float], bound: float, *,
               alternative: str = "greater") -> dict[str, Any]:
    """Slope of ``log y`` on ``log x`` over the finite positive pairs, its standard error, and
    the one-sided p-value of ``slope > bound`` (``alternative="greater"``) or ``slope < bound``
    (``"less"``). Fewer than three points, or no spread in ``x``: slope None and p = 1."""
    xa, ya = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ok = np.isfinite(xa) & np.isfinite(ya) & (xa > 0) & (ya > 0)
    n = int(ok.sum())
    if n < 3 or np.ptp(np.log(xa[ok])) == 0:
        return {"slope": None, "stderr": None, "p": 1.0, "n": n}
    fit = stats.linregress(np.log(xa[ok]), np.log(ya[ok]))
    if fit.stderr == 0:
        p = 0.0 if (fit.slope > bound) == (alternative == "greater") else 1.0
    else:
        t = (fit.slope - bound) / fit.stderr
        p = float(stats.t.sf(t, n - 2) if alternative == "greater" else stats.t.cdf(t, n - 2))
    return {"slope": float(fit.slope), "stderr": float(fit.stderr), "p": p, "n": n}


def rank_trend(x: Sequence[float], y: Sequence[float], *, alternative: str = "greater"
               ) -> dict[str, Any]:
    """Spearman's ρ of ``y`` against ``x`` (finite pairs) and its one-sided p-value."""
    xa, ya = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ok = np.isfinite(xa) & np.isfinite(ya)
    if ok.sum() < 3 or np.ptp(ya[ok]) == 0 or np.ptp(xa[ok]) == 0:
        return {"rho": 0.0, "p": 1.0, "n": int(ok.sum())}
    res = stats.spearmanr(xa[ok], ya[ok], alternative=alternative)
    p = float(res.pvalue)
    return {"rho": float(res.statistic), "p": 1.0 if math.isnan(p) else p, "n": int(ok.sum())}


def fraction_at_least(successes: int, trials: int) -> float:
    """The 95 % Clopper–Pearson lower confidence bound of ``successes/trials`` (0 with no
    trials)."""
    if trials == 0:
        return 0.0
    ci = stats.binomtest(int(successes), int(trials)).proportion_ci(0.95, method="exact")
    return float(ci.low)
