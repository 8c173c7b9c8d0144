r"""Small-sample tests and their power: what a rule can show at the size it ran.

- **Floors.** The smallest p an exact test can reach: one-sided sign-flip (Wilcoxon
  signed-rank, paired) on ``n`` pairs: ``2^{-n}``; rank-sum or any two-group permutation test
  with ``n_a`` and ``n_b`` units: ``1 / C(n_a + n_b, n_a)``; after Holm over ``k`` comparisons
  that must all pass: ``k`` times the floor (:func:`holm_floor`).
- **Permutation log-rank** (:func:`permutation_logrank`): the log-rank statistic
  ``Z = (O_A − E_A)/√V`` (observed minus expected escapes in group A over the distinct escape
  times, hypergeometric variance), its null distribution by relabelling the units (exact when the
  relabellings are few, Monte Carlo otherwise). Valid at any size, unlike the asymptotic
  log-rank (3 vs 3: asymptotic smallest p 0.0127 against the exact floor 0.05).
- **Paired sign-flip** (:func:`paired_sign_flip`): the mean of paired differences against its
  sign-flip null (:func:`scipy.stats.permutation_test`, exact up to 2^16 flips).
- **Exact shift interval** (:func:`shift_interval`): the interval for ``mean(a) − mean(b)``
  that inverts the two-group permutation test of the mean difference under a shift ``Δ``
  (``a − Δ`` against ``b``): the ``Δ`` whose one-sided p on either side exceeds ``(1 − level)/2``
  (bisection; p is monotone in ``Δ``). Exact when the relabellings are few, Monte Carlo
  otherwise; when the test's floor ``1/C(n_a + n_b, n_a)`` exceeds ``(1 − level)/2`` no ``Δ`` is
  excluded and the interval is the whole line.
- **Intervals** (:func:`bootstrap_interval`): percentile bootstrap of a statistic
  (:func:`scipy.stats.bootstrap`), degenerate samples giving the point itself.
- **Detectable effect** (:func:`detectable_effect`): the smallest effect on a grid at which the
  rule passes in at least 80 % of simulated runs of its own test at this size.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from itertools import combinations
from typing import Any

import numpy as np
from scipy import stats

from advdyn.errors import fail

#: The probability of passing at which an effect counts as detectable.
DETECTION_POWER = 0.8


def sign_flip_floor(n: int) -> float:
    """Smallest one-sided p of an exact paired sign-flip / signed-rank test on ``n`` pairs."""
    return 0.5 ** n if n > 0 else 1.0


def two_group_floor(n_a: int, n_b: int) -> float:
    """Smallest one-sided p of an exact two-group permutation (rank-sum, log-rank) test."""
    return 1.0 / math.comb(n_a + n_b, n_a) if n_a > 0 and n_b > 0 else 1.0


def holm_floor(floor: float, k: int) -> float:
    """The smallest Holm-adjusted p when all ``k`` comparisons must pass, each at ``floor``."""
    return min(1.0, k * floor)


def _logrank_z(times: np.ndarray, events: np.ndarray, in_a: np.ndarray) -> np.ndarray:
    """Log-rank Z for group A, for each labelling in the rows of ``in_a`` (P, n)."""
    grid = np.unique(times[events])
    if grid.size == 0:
        return np.zeros(in_a.shape[0])
    risk = (times[None, :] >= grid[:, None]).astype(np.float64)        # (J, n)
    died = ((times[None, :] == grid[:, None]) & events[None, :]).astype(np.float64)
    a = in_a.astype(np.float64)
    n_j, d_j = risk.sum(1), died.sum(1)                                 # (J,)
    n_aj, d_aj = a @ risk.T, a @ died.T                                 # (P, J)
    frac = n_aj / n_j
    o_minus_e = (d_aj - d_j * frac).sum(1)
    var = (d_j * frac * (1 - frac) * (n_j - d_j) / np.maximum(n_j - 1, 1)).sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(var > 0, o_minus_e / np.sqrt(var), 0.0)
    return z


def permutation_logrank(times_a: Sequence[float], escaped_a: Sequence[bool],
                        times_b: Sequence[float], escaped_b: Sequence[bool], *,
                        n_resamples: int = 20000, seed: int = 0) -> dict[str, float]:
    """One-sided permutation log-rank test of "A escapes sooner than B" (A's hazard is higher).

    Returns ``{"p", "z", "min_p"}``: the p-value ``P(Z* ≥ Z)`` over relabellings of the units
    (exact enumeration when ``C(n, n_a) ≤ n_resamples``, else ``(1 + #{Z* ≥ Z})/(1 + N)`` over
    ``N`` random relabellings), the observed ``Z`` and the test's floor at this size."""
    t = np.concatenate([np.asarray(times_a, float), np.asarray(times_b, float)])
    e = np.concatenate([np.asarray(escaped_a, bool), np.asarray(escaped_b, bool)])
    n_a, n = len(times_a), t.size
    if n_a == 0 or n_a == n or t.shape != e.shape:
        raise fail("times", "both groups need at least one run, with one flag per time")
    observed = np.zeros((1, n), bool)
    observed[0, :n_a] = True
    z0 = float(_logrank_z(t, e, observed)[0])
    total = math.comb(n, n_a)
    if total <= n_resamples:
        labels = np.zeros((total, n), bool)
        for row, idx in enumerate(combinations(range(n), n_a)):
            labels[row, list(idx)] = True
        z = _logrank_z(t, e, labels)
        p = float(np.mean(z >= z0 - 1e-12))
        floor = 1.0 / total
    else:
        rng = np.random.default_rng(seed)
        order = np.argsort(rng.random((n_resamples, n)), axis=1)
        labels = order < n_a
        z = _logrank_z(t, e, labels)
        p = float((1 + np.sum(z >= z0 - 1e-12)) / (1 + n_resamples))
        floor = max(1.0 / total, 1.0 / (1 + n_resamples))
    return {"p": p, "z": z0, "min_p": floor}


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


def bootstrap_interval(samples: Sequence[Sequence[float]] | Sequence[float],
                       statistic: Callable[..., Any] = np.mean, *, level: float = 0.95,
                       paired: bool = False, n_resamples: int = 4000,
                       seed: int = 0) -> tuple[float, float, float]:
    """``(estimate, low, high)``: the statistic and its percentile-bootstrap interval.

    ``samples`` is one sample (a list of numbers) or several (a list of lists; ``statistic``
    then takes one array per sample, and ``paired`` resamples their units together)."""
    arrays = [np.asarray(s, dtype=np.float64) for s in
              (samples if np.ndim(samples[0]) > 0 else [samples])]
    if any(a.ndim != 1 or a.size == 0 for a in arrays):
        raise fail("samples", "each sample must be a non-empty list of numbers")
    estimate = float(statistic(*arrays))
    if all(np.ptp(a) == 0 for a in arrays) or min(a.size for a in arrays) < 2:
        return estimate, estimate, estimate
    res = stats.bootstrap(tuple(arrays), statistic, paired=paired, vectorized=False,
                          confidence_level=level, n_resamples=n_resamples, method="percentile",
                          rng=np.random.default_rng(seed))
    low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
    return estimate, min(low, estimate), max(high, estimate)


def detectable_effect(passes: Callable[[float, np.random.Generator], bool],
                      effects: Sequence[float], *, reps: int = 200,
                      seed: int = 0) -> float:
    """The smallest effect of ``effects`` (increasing) at which ``passes(effect, rng)`` — one
    simulated run of the claim's own rule at this size — is true in at least
    :data:`DETECTION_POWER` of ``reps`` runs; ``inf`` when none is."""
    rng = np.random.default_rng(seed)
    for effect in effects:
        if np.mean([passes(float(effect), rng) for _ in range(reps)]) >= DETECTION_POWER:
            return float(effect)
    return math.inf
