r"""Trend tests the two-layer claims share (scipy.stats underneath; Holm across a claim's
comparisons is the caller's, via :func:`advdyn.claims.stats.holm`).

- :func:`slope_test`: least-squares slope of ``log y`` on ``log x`` (:func:`scipy.stats.
  linregress`) and the one-sided t-test of ``slope > bound`` (or ``< bound``), ``n - 2`` degrees
  of freedom.
- :func:`rank_trend`: Spearman's ρ of ``y`` against ``x`` with its one-sided permutation
  p-value (exact at small n), the test's floor and critical ρ; p = 1 where ``y`` is constant
  (no trend to see).
- :func:`fraction_at_least`: the Clopper–Pearson lower confidence bound of a proportion
  (:func:`scipy.stats.binomtest`).
"""

from __future__ import annotations

import itertools
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


def rank_trend(x: Sequence[float], y: Sequence[float], *, alternative: str = "greater",
               alpha: float = 0.05, n_resamples: int = 9999, seed: int = 0) -> dict[str, Any]:
    """Spearman's ρ of ``y`` against ``x`` (finite pairs) and its one-sided permutation p-value:
    ``ρ`` is Pearson's correlation of the average ranks, its null distribution that of ``ρ`` over
    re-pairings of ``y`` with ``x`` (exact when ``n! ≤ n_resamples``, else
    ``(1 + #{ρ* ≥ ρ})/(1 + N)`` over ``N`` random ones). Also returned: ``min_p``, the test's
    floor by design (``∏ c_i!/n!`` for ties ``c_i`` in ``x``, at least ``1/(1 + N)``
    when sampled), and ``critical``, the smallest ``ρ`` (sign-oriented) whose
    p is ≤ ``alpha`` under this null (``inf`` when none is)."""
    xa, ya = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ok = np.isfinite(xa) & np.isfinite(ya)
    n = int(ok.sum())
    exact = n < 13 and math.factorial(n) <= n_resamples
    ties = math.prod(math.factorial(c) for c in np.unique(xa[ok], return_counts=True)[1])
    floor = ties / math.factorial(n) if exact else max(ties / math.factorial(n),
                                                       1 / (1 + n_resamples))
    if n < 3 or np.ptp(ya[ok]) == 0 or np.ptp(xa[ok]) == 0:
        return {"rho": 0.0, "p": 1.0, "n": n, "min_p": floor, "critical": math.inf}
    sign = 1.0 if alternative == "greater" else -1.0
    rx, ry = stats.rankdata(xa[ok]), stats.rankdata(ya[ok])
    rx, ry = (rx - rx.mean()) / np.linalg.norm(rx - rx.mean()), ry - ry.mean()
    ry = ry / np.linalg.norm(ry)
    if exact:
        perms = np.array(list(itertools.permutations(range(n))))
    else:
        perms = np.argsort(np.random.default_rng(seed).random((n_resamples, n)), axis=1)
    rho = float(rx @ ry)
    null = sign * (ry[perms] @ rx)
    p = float(np.mean(null >= sign * rho - 1e-12)) if exact else float(
        (1 + np.sum(null >= sign * rho - 1e-12)) / (1 + n_resamples))
    ordered = np.sort(null)
    values = np.unique(ordered)
    at_least = ordered.size - np.searchsorted(ordered, values - 1e-12)
    tail = at_least / ordered.size if exact else (1 + at_least) / (1 + n_resamples)
    passing = values[tail <= alpha]
    critical = float(passing.min()) if passing.size else math.inf
    return {"rho": rho, "p": p, "n": n, "min_p": floor, "critical": critical}


def fraction_at_least(successes: int, trials: int) -> float:
    """The 95 % Clopper–Pearson lower confidence bound of ``successes/trials`` (0 with no
    trials)."""
    if trials == 0:
        return 0.0
    ci = stats.binomtest(int(successes), int(trials)).proportion_ci(0.95, method="exact")
    return float(ci.low)
