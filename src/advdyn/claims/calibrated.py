r"""Intervals and power of the training claims' effects (experiment ``at_scale``).

- **Two groups** (:func:`difference`): the mean of ``a`` minus the mean of ``b`` with a Welch
  t interval (``se² = s_a²/n_a + s_b²/n_b``, Welch–Satterthwaite degrees of freedom);
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


def _power(n: int, se: float, df: float, min_effect: float, reach: float, unit: str,
           level: float = LEVEL) -> Power:
    if n < MIN_UNITS or not df > 0:
        return Power(n, 1.0, math.inf, False, f"{n} {unit} per group: fewer than {MIN_UNITS}")
    t = float(stats.t.ppf(1 - (1 - level) / 2, df))
    detect = min_effect + (t + Z_POWER) * se
    ok = detect <= reach
    return Power(n, 0.0, float(detect), ok,
                 "" if ok else f"{n} {unit}: the smallest detectable effect {detect:.3g} "
                               f"exceeds the largest possible {reach:g}")


def _effect(estimate: float, se: float, df: float, min_effect: float, units: str,
            level: float = LEVEL) -> Effect:
    half = 0.0 if se == 0 or not df > 0 else float(stats.t.ppf(1 - (1 - level) / 2, df)) * se
    if se > 0 and not df > 0:
        half = math.inf
    return Effect(estimate, estimate - half, estimate + half, min_effect, units, level)


def difference(a: Sequence[float], b: Sequence[float], min_effect: float, units: str,
               reach: float, unit: str = "seeds") -> tuple[Effect, Power]:
    """``mean(a) − mean(b)`` with its Welch interval, and the power at these sizes."""
    x, y = np.asarray(a, float), np.asarray(b, float)
    va = x.var(ddof=1) / x.size if x.size > 1 else 0.0
    vb = y.var(ddof=1) / y.size if y.size > 1 else 0.0
    se = math.sqrt(va + vb)
    if se > 0 and x.size > 1 and y.size > 1:
        df = (va + vb) ** 2 / (va ** 2 / (x.size - 1) + vb ** 2 / (y.size - 1))
    else:
        df = float(min(x.size, y.size) - 1)
    est = float(x.mean() - y.mean())
    return (_effect(est, se, df, min_effect, units),
            _power(int(min(x.size, y.size)), se, df, min_effect, reach, unit))


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
    return (_effect(float(x.mean()), se, df, min_effect, units, level),
            _power(int(x.size), se, df, min_effect, reach, unit, level))
