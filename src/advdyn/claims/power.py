r"""Small-sample tests and their power: what a rule can show at the size it ran.

- **Floors.** The smallest p an exact test can reach: one-sided sign-flip (Wilcoxon
  signed-rank, paired) on ``n`` pairs: ``2^{-n}``; any two-group permutation test with ``n_a``
  and ``n_b`` units: ``1 / C(n_a + n_b, n_a)``; after Holm over ``k`` comparisons that must all
  pass: ``k`` times the floor (:func:`holm_floor`).
- **Paired sign-flip** (:func:`paired_sign_flip`): the mean of paired differences against its
  sign-flip null (:func:`scipy.stats.permutation_test`, exact up to 2^16 flips).
- **Exact shift interval** (:func:`shift_interval`): the interval for ``mean(a) − mean(b)``
  that inverts the two-group permutation test of the mean difference under a shift ``Δ``
  (``a − Δ`` against ``b``): the ``Δ`` whose one-sided p on either side exceeds ``(1 − level)/2``
  (bisection; p is monotone in ``Δ``). Exact when the relabellings are few, Monte Carlo
  otherwise; when the test's floor ``1/C(n_a + n_b, n_a)`` exceeds ``(1 − level)/2`` no ``Δ`` is
  excluded and the interval is the whole line.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import combinations

import numpy as np
from scipy import stats

from advdyn.errors import fail

#: The probability of passing at which an effect counts as detectable.
DETECTION_POWER = 0.8


def sign_flip_floor(n: int) -> float:
    """Smallest one-sided p of an exact paired sign-flip / signed-rank test on ``n`` pairs."""
    return 0.5 ** n if n > 0 else 1.0


def holm_floor(floor: float, k: int) -> float:
    """The smallest Holm-adjusted p when all ``k`` comparisons must pass, each at ``floor``."""
    return min(1.0, k * floor)


def _labellings(n: int, n_a: int, n_resamples: int, seed: int) -> tuple[np.ndarray, float]:
    """Group-A labellings ``(P, n)`` (every one when ``C(n, n_a) ≤ n_resamples``, else random)
    and the smallest p they allow."""
    total = math.comb(n, n_a)
    if total <= n_resamples:
        labels = np.zeros((total, n), bool)
        for row, idx in enumerate(combinations(range(n), n_a)):
            labels[row, list(idx)] = True
        return labels, 1.0 / total
    order = np.argsort(np.random.default_rng(seed).random((n_resamples, n)), axis=1)
    return order < n_a, max(1.0 / total, 1.0 / (1 + n_resamples))


def shift_interval(a: Sequence[float], b: Sequence[float], level: float, *,
                   n_resamples: int = 20000, seed: int = 0) -> tuple[float, float, float, float]:
    """``(estimate, low, high, floor)``: ``mean(a) − mean(b)`` with the exact permutation
    interval at ``level`` (module docstring) and the one-sided floor of the test."""
    x, y = np.asarray(a, float), np.asarray(b, float)
    if x.size == 0 or y.size == 0:
        raise fail("samples", "both groups need at least one unit")
    est = float(x.mean() - y.mean())
    labels, floor = _labellings(x.size + y.size, x.size, n_resamples, seed)
    tail = (1 - level) / 2
    if floor > tail:
        return est, -math.inf, math.inf, floor
    weights = labels / x.size - ~labels / y.size          # (P, n): mean of A minus mean of B

    def p_side(delta: float, sign: float) -> float:
        null = weights @ np.concatenate([x - delta, y])
        return float(np.mean(sign * null >= sign * (est - delta) - 1e-12))

    span = 2.0 * float(np.ptp(np.concatenate([x, y]))) + 1.0
    ends = []
    for sign in (1.0, -1.0):           # low end: p("difference > Δ") = tail; high end: mirrored
        out, inside = est - sign * span, est
        for _ in range(60):
            mid = (out + inside) / 2
            out, inside = (mid, inside) if p_side(mid, sign) <= tail else (out, mid)
        ends.append(inside)
    return est, min(ends[0], est), max(ends[1], est), floor


def paired_sign_flip(differences: Sequence[float], *, n_resamples: int = 65536,
                     seed: int = 0) -> dict[str, float]:
    """One-sided paired test that the mean difference is > 0, under the sign-flip null.
    Returns ``{"p", "mean", "min_p"}``; all-zero differences give p = 1."""
    d = np.asarray(differences, dtype=np.float64)
    if d.ndim != 1 or d.size == 0 or not np.all(np.isfinite(d)):
        raise fail("differences", "must be a non-empty list of finite numbers")
    if np.all(d == 0):
        return {"p": 1.0, "mean": 0.0, "min_p": sign_flip_floor(d.size)}
    res = stats.permutation_test((d,), np.mean, permutation_type="samples",
                                 alternative="greater", n_resamples=n_resamples,
                                 rng=np.random.default_rng(seed))
    return {"p": float(res.pvalue), "mean": float(d.mean()),
            "min_p": max(sign_flip_floor(d.size), 1.0 / (1 + n_resamples))}


