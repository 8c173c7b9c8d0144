r"""Intervals and power of effects from t intervals (the training claims of experiment
``at_scale``; slopes and nil effects of the two-layer claims).

- **Two groups** (:func:`difference`): the mean of ``a`` minus the mean of ``b`` with a Welch
  t interval (``se² = s_a²/n_a + s_b²/n_b``, Welch–Satterthwaite degrees of freedom);
- **Equivalence** (:func:`flat_margin`): an effect claimed to be nil, as the margin
  ``bound − |effect|`` with the interval its own interval implies;
- **Paired** (:func:`paired`): the mean of the differences with a t interval on ``n − 1``
  degrees of freedom;
- **Detectable effect**: the true effect that puts the interval's low end beyond the minimum
  effect with probability 0.8 at this size, ``Δ_min + (t_{0.975} + z_{0.8})·se`` (``se``
  estimated); the rule is adequately powered when each group has at least ``MIN_UNITS`` units
  and the detectable effect is at most ``reach`` (the largest effect the units allow, e.g. 1
  for an accuracy).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats

from advdyn.claims.core import Effect, Power

LEVEL = 0.95
MIN_UNITS = 3
Z_POWER = float(stats.norm.ppf(0.8))


def t_power(n: int, se: float, df: float, min_effect: float, reach: float, unit: str,
            level: float = LEVEL) -> Power:
    """Power of the three-way decision on a t interval at ``level`` with standard error ``se``
    and ``df`` degrees of freedom over ``n`` units (module docstring)."""
    if n < MIN_UNITS or not df > 0:
        return Power(n, 1.0, math.inf, False, f"{n} {unit}: fewer than {MIN_UNITS}")
    t = float(stats.t.ppf(1 - (1 - level) / 2, df))
    detect = min_effect + (t + Z_POWER) * se
    ok = detect <= reach
    return Power(n, 0.0, float(detect), ok,
                 "" if ok else f"{n} {unit}: the smallest detectable effect {detect:.3g} "
                               f"exceeds the largest possible {reach:g}")


def t_interval(estimate: float, se: float, df: float, min_effect: float, units: str,
               level: float = LEVEL) -> Effect:
    """``estimate ± t_{(1+level)/2, df}·se`` as an :class:`Effect` (infinite when ``se > 0``
    and ``df ≤ 0``; the point itself when ``se = 0``)."""
    half = 0.0 if se == 0 or not df > 0 else float(stats.t.ppf(1 - (1 - level) / 2, df)) * se
    if se > 0 and not df > 0:
        half = math.inf
    return Effect(estimate, estimate - half, estimate + half, min_effect, units, level)


def difference(a: Sequence[float], b: Sequence[float], min_effect: float, units: str,
               reach: float, unit: str = "seeds per group", level: float = LEVEL
               ) -> tuple[Effect, Power]:
    """``mean(a) − mean(b)`` with its Welch interval at ``level``, and the power at these
    sizes."""
    x, y = np.asarray(a, float), np.asarray(b, float)
    va = x.var(ddof=1) / x.size if x.size > 1 else 0.0
    vb = y.var(ddof=1) / y.size if y.size > 1 else 0.0
    se = math.sqrt(va + vb)
    if se > 0 and x.size > 1 and y.size > 1:
        df = (va + vb) ** 2 / (va ** 2 / (x.size - 1) + vb ** 2 / (y.size - 1))
    else:
        df = float(min(x.size, y.size) - 1)
    est = float(x.mean() - y.mean())
    return (t_interval(est, se, df, min_effect, units, level),
            t_power(int(min(x.size, y.size)), se, df, min_effect, reach, unit, level))


def paired(d: Sequence[float], min_effect: float, units: str, reach: float,
           unit: str = "images", level: float = LEVEL) -> tuple[Effect, Power]:
    """The mean paired difference with its t interval at ``level`` (e.g. ``1 − α/k`` for one
    of ``k`` simultaneous intervals), and the power at this size."""
    x = np.asarray(d, float)
    if x.size == 0:
        return (Effect(0.0, -math.inf, math.inf, min_effect, units, level),
                Power(0, 1.0, math.inf, False, f"no {unit} usable in every arm"))
    se = float(x.std(ddof=1) / math.sqrt(x.size)) if x.size > 1 else 0.0
    df = float(x.size - 1)
    return (t_interval(float(x.mean()), se, df, min_effect, units, level),
            t_power(int(x.size), se, df, min_effect, reach, unit, level))


def flat_margin(effect: Effect, bound: float) -> Effect:
    """How far inside ``(−bound, bound)`` an effect ``b`` (a slope, a difference) lies,
    ``bound − |b|``, with the interval that ``b``'s interval ``[lo, hi]`` implies:
    ``[bound − max(|lo|, |hi|), bound − min_{b ∈ [lo, hi]} |b|]``, against the minimum 0 (the
    claimed direction — nil — larger): supported iff ``b``'s interval lies inside
    ``(−bound, bound)`` (an equivalence test), not supported iff it lies wholly outside."""
    lo, hi = effect.low, effect.high
    nearest = 0.0 if lo <= 0 <= hi else min(abs(lo), abs(hi))
    return Effect(bound - abs(effect.estimate), bound - max(abs(lo), abs(hi)), bound - nearest,
                  0.0, f"{bound:g} − |{effect.units}|", effect.level)
