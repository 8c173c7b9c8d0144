r"""The power of the two-layer claims' rules at the size they ran (:class:`~advdyn.claims.core.
Power`), one function per kind of rule.

- **Fractions as effects** (:func:`fraction_effect`): ``k/n`` with its two-sided
  Clopper–Pearson interval at ``level`` against a minimum effect ``floor`` (:data:`HIGH` for "with
  high probability", :data:`EVERY` for a deterministic "for every" statement), for the
  three-way decision; :func:`fraction_cells`: one such fraction per cell of a claim, each at
  level ``1 − α/k`` (``k`` cells; Bonferroni, so that the cells hold together at ``1 − α``),
  with the power of the cell that limits the rule.
- **Power of a fraction's decision** (:func:`binomial_power`): supported needs the interval's
  lower end ``> floor``. The best case ``n/n`` has lower end ``((1 − level)/2)^{1/n}``, so the
  rule can pass only when that exceeds ``floor`` (``n ≥ 36`` for 0.9 at 95 %, ``n ≥ 368`` for
  0.99). ``min_p = floor^n``: the exact one-sided binomial p of ``n/n`` when the true fraction
  is ``floor``. Detectable effect: the smallest true fraction ``f`` with
  ``P(Binom(n, f) ≥ k*) ≥ 0.8``, ``k*`` the fewest successes that pass (exact).
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
#: "with high probability": the minimum success fraction (a lower confidence bound above it).
HIGH = 0.9
#: "for every δ" / "never" (a deterministic statement read on sampled units): the minimum
#: fraction of units that keep it; 1 % of the sampled measure is the most it may miss.
EVERY = 0.99


def binomial_power(n: int, unit: str, *, floor: float = HIGH, level: float = 0.95) -> Power:
    """Power of the three-way decision on a fraction of ``n`` units against ``floor`` with a
    Clopper–Pearson interval at ``level`` (module docstring)."""
    tail = (1 - level) / 2
    best = fraction_at_least(n, n, level) if n > 0 else 0.0
    if best <= floor:
        need = math.floor(math.log(tail) / math.log(floor)) + 1
        return Power(n, floor ** max(n, 0), math.inf, False,
                     f"{n} {unit}: even {n}/{n} gives a {100 * level:.4g} % lower bound "
                     f"{best:.4f} ≤ {floor} (≥ {need} needed)")
    low, high = 0, n                      # the fewest successes k* whose lower end passes
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (mid, high) if fraction_at_least(mid, n, level) <= floor else (low, mid)
    if high == n:
        detect = DETECTION_POWER ** (1 / n)
    else:
        detect = float(optimize.brentq(
            lambda f: stats.binom.sf(high - 1, n, f) - DETECTION_POWER, 1e-12, 1 - 1e-12))
    return Power(n, floor ** n, detect, True)


def fraction_effect(successes: int, trials: int, units: str, *, floor: float = HIGH,
                    level: float = 0.95) -> Effect:
    """The fraction ``successes/trials`` with its two-sided Clopper–Pearson interval at
    ``level``, against the minimum effect ``floor`` (for :func:`~advdyn.claims.core.three_way`;
    the whole of [0, 1] with no trials)."""
    if trials <= 0:
        return Effect(0.0, 0.0, 1.0, floor, units, level)
    ci = stats.binomtest(int(successes), int(trials)).proportion_ci(level, method="exact")
    return Effect(successes / trials, float(ci.low), float(ci.high), floor, units, level)


def fraction_cells(counts: Mapping[str, tuple[int, int]], units: str, unit: str, *,
                   floor: float, exists: bool = False) -> tuple[dict[str, Effect], Power]:
    """Per cell ``(successes, trials)`` the fraction's :func:`fraction_effect` at level
    ``1 − α/k`` (``k`` cells) against ``floor``, and the rule's power: where every cell must
    pass, the weakest cell's (the largest detectable fraction: one cell that cannot pass makes
    the rule inadequate); where some cell must (``exists``), the strongest cell's."""
    level = 1 - ALPHA / max(len(counts), 1)
    effects = {c: fraction_effect(k, n, units, floor=floor, level=level)
               for c, (k, n) in counts.items()}
    powers = [binomial_power(n, f"{unit} ({c})", floor=floor, level=level)
              for c, (_, n) in counts.items()]
    pick = min if exists else max
    return effects, pick(powers, key=lambda pw: pw.detectable_effect)


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
