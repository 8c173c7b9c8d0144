r"""Trend tests the two-layer claims share (scipy.stats underneath; Holm across a claim's
comparisons is the caller's, via :func:`advdyn.claims.stats.holm`).

- :func:`slope_test`: least-squares slope of ``log₁₀ y`` (or, with ``log_y=False``, of ``y``:
  change per decade of ``x``) on ``log₁₀ x`` (:func:`scipy.stats.linregress`), its standard
  error and the one-sided t-test of ``slope > bound`` (or ``< bound``), ``n - 2`` degrees of
  freedom.
- :func:`fraction_at_least`: the Clopper–Pearson lower confidence bound of a proportion
  (:func:`scipy.stats.binomtest`) at a given level.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats


def slope_test(x: Sequence[float], y: Sequence[float], bound: float, *,
               alternative: str = "greater", log_y: bool = True) -> dict[str, Any]:
    """Slope of ``log₁₀ y`` (``log_y``; else of ``y``) on ``log₁₀ x`` over the finite pairs with
    ``x > 0`` (and ``y > 0`` when ``log_y``), its standard error, and the one-sided p-value of
    ``slope > bound`` (``alternative="greater"``) or ``slope < bound`` (``"less"``). Fewer than
    three points, or no spread in ``x``: slope None and p = 1."""
    xa, ya = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ok = np.isfinite(xa) & np.isfinite(ya) & (xa > 0) & ((ya > 0) | (not log_y))
    n = int(ok.sum())
    if n < 3 or np.ptp(np.log10(xa[ok])) == 0:
        return {"slope": None, "stderr": None, "p": 1.0, "n": n}
    yy = np.log10(ya[ok]) if log_y else ya[ok]
    fit = stats.linregress(np.log10(xa[ok]), yy)
    # a constant y is fitted exactly: slope 0, no residual (scipy's stderr is nan there)
    slope, stderr = (0.0, 0.0) if np.ptp(yy) == 0 else (float(fit.slope), float(fit.stderr))
    if stderr == 0:
        p = 0.0 if (slope > bound) == (alternative == "greater") else 1.0
    else:
        t = (slope - bound) / stderr
        p = float(stats.t.sf(t, n - 2) if alternative == "greater" else stats.t.cdf(t, n - 2))
    return {"slope": slope, "stderr": stderr, "p": p, "n": n}


def fraction_at_least(successes: int, trials: int, level: float = 0.95) -> float:
    """The lower end of the two-sided Clopper–Pearson interval of ``successes/trials`` at
    ``level`` (95 % by default; 0 with no trials)."""
    if trials == 0:
        return 0.0
    ci = stats.binomtest(int(successes), int(trials)).proportion_ci(level, method="exact")
    return float(ci.low)
