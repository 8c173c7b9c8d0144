r"""The power of the two-layer claims' rules at the size they ran (:class:`~advdyn.claims.core.
Power`), one function per kind of rule.

- **Counting rules** (:func:`binomial_power`): the rule needs the two-sided 95 %
  Clopper–Pearson lower bound of ``k/n`` to reach ``HIGH`` (or, with ``all_pass``, every one of
  the ``n`` units to pass, read as the same bound at ``n/n``). The best case ``n/n`` has lower
  bound ``0.025^{1/n}``, so the rule can pass only when ``0.025^{1/n} ≥ HIGH`` (``n ≥ 36`` for
  0.9). ``min_p = HIGH^n``: the exact one-sided binomial p of ``n/n`` when the true fraction is
  ``HIGH``. Detectable effect: the smallest true fraction ``f`` with
  ``P(Binom(n, f) ≥ k*) ≥ 0.8``, ``k*`` the fewest successes that pass (exact).
- **Fractions as effects** (:func:`fraction_effect`): ``k/n`` with its Clopper–Pearson interval
  against the minimum effect ``HIGH``, for the three-way decision.
- **Permutation tests** (:func:`floor_power`): the smallest Holm-adjusted p when all ``k``
  comparisons must pass is ``k`` times the test's floor (:func:`~advdyn.claims.power.
  holm_floor`); the rule can pass only when that is ≤ α.
- **Slope t-tests** (:func:`slope_power`): continuous p (``min_p = 0``); the smallest excess of
  the slope over its bound the test detects with probability 0.8 is
  ``(t_{1−α/k, n−2} + t_{0.8, n−2})·se``; fewer than 3 points: the test cannot run.
- **Log-rank** (:func:`logrank_detectable`): the smallest hazard ratio on a grid at which the
  permutation log-rank (:func:`~advdyn.claims.power.permutation_logrank`) passes at α/k in 80 %
  of simulated exponential runs of these group sizes (:func:`~advdyn.claims.power.
  detectable_effect`).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from scipy import optimize, stats

from advdyn.claims.core import Effect, Power
from advdyn.claims.power import (
    DETECTION_POWER,
    detectable_effect,
    holm_floor,
    permutation_logrank,
)
from advdyn.claims.trends import fraction_at_least

#: The family-wise error rate of every two-layer rule.
ALPHA = 0.05
#: "with high probability": the lower 95 % confidence bound of the success fraction.
HIGH = 0.9
#: Hazard ratios tried by :func:`logrank_detectable`.
HAZARD_RATIOS = (1.5, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0)


def binomial_power(n: int, unit: str, *, all_pass: bool = False) -> Power:
    """Power of a counting rule on ``n`` units (module docstring)."""
    best = fraction_at_least(n, n)
    if n <= 0 or best < HIGH:
        need = math.ceil(math.log(0.025) / math.log(HIGH))
        return Power(n, HIGH ** max(n, 0), math.inf, False,
                     f"{n} {unit}: even {n}/{n} gives a 95 % lower bound {best:.3f} < {HIGH} "
                     f"(≥ {need} needed)")
    k_need = n if all_pass else next(k for k in range(n + 1) if fraction_at_least(k, n) >= HIGH)
    if k_need == n:
        detect = DETECTION_POWER ** (1 / n)
    else:
        detect = float(optimize.brentq(
            lambda f: stats.binom.sf(k_need - 1, n, f) - DETECTION_POWER, 1e-12, 1 - 1e-12))
    return Power(n, HIGH ** n, detect, True)


def fraction_effect(successes: int, trials: int, units: str) -> Effect:
    """The fraction ``successes/trials`` with its two-sided 95 % Clopper–Pearson interval,
    against the minimum effect :data:`HIGH` (for :func:`~advdyn.claims.core.three_way`)."""
    if trials <= 0:
        return Effect(0.0, 0.0, 1.0, HIGH, units)
    ci = stats.binomtest(int(successes), int(trials)).proportion_ci(0.95, method="exact")
    return Effect(successes / trials, float(ci.low), float(ci.high), HIGH, units)


def floor_power(n: int, floor: float, k: int, detectable: float, unit: str) -> Power:
    """Power of ``k`` permutation tests that must all pass, each with smallest p ``floor``."""
    min_p = holm_floor(floor, k)
    ok = min_p <= ALPHA
    return Power(n, min_p, detectable if ok else math.inf, ok,
                 "" if ok else f"{n} {unit}: smallest Holm p {min_p:.3g} over {k} "
                               f"comparison(s) > α = {ALPHA}")


def slope_power(n: int, stderr: float | None, k: int, unit: str) -> Power:
    """Power of ``k`` one-sided slope t-tests on ``n`` points (module docstring)."""
    if n < 3 or stderr is None or not math.isfinite(stderr):
        return Power(n, 1.0, math.inf, False, f"{n} {unit}: fewer than 3 points to fit a slope")
    df = n - 2
    detect = (float(stats.t.ppf(1 - ALPHA / k, df)) + float(stats.t.ppf(DETECTION_POWER, df))
              ) * stderr
    return Power(n, 0.0, detect, True)


@lru_cache(maxsize=64)
def logrank_detectable(n_a: int, n_b: int, k: int) -> float:
    """The smallest hazard ratio of :data:`HAZARD_RATIOS` the permutation log-rank detects at
    α/k with probability 0.8 for groups of ``n_a`` and ``n_b`` uncensored exponential runs
    (``inf`` when none)."""

    def passes(ratio: float, rng: np.random.Generator) -> bool:
        a, b = rng.exponential(1 / ratio, n_a), rng.exponential(1.0, n_b)
        res = permutation_logrank(a.tolist(), [True] * n_a, b.tolist(), [True] * n_b,
                                  n_resamples=400, seed=int(rng.integers(1 << 31)))
        return res["p"] <= ALPHA / k

    return detectable_effect(passes, HAZARD_RATIOS, reps=60, seed=n_a * 1000 + n_b)
