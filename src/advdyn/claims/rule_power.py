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
- **Slopes as effects** (:func:`slope_effect`): a least-squares slope
  (:func:`~advdyn.claims.trends.slope_test`) with its two-sided t interval at level ``1 − α/k``
  (``k`` slopes in the claim, each end at ``α/2k``: the first Holm step) on ``n − 2`` degrees of
  freedom, against the claim's minimum slope; power as for any t interval
  (:func:`~advdyn.claims.calibrated.t_power`): detectable slope ``Δ_min + (t + z_{0.8})·se``,
  adequate from 3 points; fewer, or no spread in x: the interval is the whole line.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from scipy import optimize, stats

from advdyn.claims.calibrated import t_interval, t_power
from advdyn.claims.core import Effect, Power
from advdyn.claims.power import DETECTION_POWER
from advdyn.claims.trends import fraction_at_least

#: The family-wise error rate of every two-layer rule.
ALPHA = 0.05
#: "with high probability": the lower 95 % confidence bound of the success fraction.
HIGH = 0.9


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


def slope_effect(fit: Mapping[str, Any], min_effect: float, k: int, units: str, unit: str,
                 reach: float = math.inf) -> tuple[Effect, Power]:
    """The slope of ``fit`` (:func:`~advdyn.claims.trends.slope_test`) with its t interval at
    level ``1 − α/k`` against ``min_effect``, and the power at its size (module docstring);
    ``reach`` is the largest slope the units allow."""
    level = 1 - ALPHA / k
    n = int(fit["n"])
    if fit["slope"] is None:
        return (Effect(0.0, -math.inf, math.inf, min_effect, units, level),
                Power(n, 1.0, math.inf, False, f"{n} {unit}: fewer than 3 points to fit a slope"))
    se, df = float(fit["stderr"]), float(n - 2)
    return (t_interval(float(fit["slope"]), se, df, min_effect, units, level),
            t_power(n, se, df, min_effect, reach, unit, level))
