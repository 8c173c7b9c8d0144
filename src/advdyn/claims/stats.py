r"""The statistics every judge shares: one multiple-comparison correction, survival summaries of
censored times, and their comparison.

- **Multiple comparisons**: Holm's step-down correction (family-wise error rate α, valid under
  any dependence): with sorted p-values ``p_(1) ≤ … ≤ p_(k)``, the adjusted value is
  ``max_{j ≤ i} min(1, (k − j + 1) p_(j))``. Every claim with several comparisons uses it.
- **Censored times** (a run that never escapes within the budget is censored at the budget, not
  given the budget as its time): the Kaplan–Meier estimate of the survival function
  (:func:`scipy.stats.ecdf` on :class:`scipy.stats.CensoredData`), its median (the first time
  at which ``S(t) ≤ 1/2``; ``inf`` when more than half never escape) and the log-rank test
  (:func:`scipy.stats.logrank`, one-sided).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats

from advdyn.errors import fail


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values, in the input order (reject where ``adjusted ≤ α``)."""
    p = np.asarray(pvalues, dtype=np.float64)
    if p.ndim != 1 or np.any(~np.isfinite(p)) or np.any((p < 0) | (p > 1)):
        raise fail("pvalues", "must be a list of numbers in [0, 1]")
    k = p.size
    order = np.argsort(p, kind="stable")
    scaled = np.minimum(1.0, (k - np.arange(k)) * p[order])
    adjusted = np.empty(k)
    adjusted[order] = np.maximum.accumulate(scaled)
    return adjusted.tolist()


def censored(times: Sequence[float], escaped: Sequence[bool]) -> stats.CensoredData:
    """Times as :class:`scipy.stats.CensoredData`: observed where ``escaped``, else
    right-censored at the recorded time (the budget)."""
    t = np.asarray(times, dtype=np.float64)
    e = np.asarray(escaped, dtype=bool)
    if t.shape != e.shape or t.ndim != 1 or t.size == 0:
        raise fail("times", "times and escaped must be 1-D of the same non-zero length")
    return stats.CensoredData(uncensored=t[e], right=t[~e])


def kaplan_meier(times: Sequence[float], escaped: Sequence[bool]) -> dict[str, Any]:
    """Kaplan–Meier summary: ``median`` (``inf`` if S never falls to 1/2), ``n``,
    ``censored`` (count), and ``survival_at_end`` (S at the largest time)."""
    data = censored(times, escaped)
    n = int(np.asarray(times).size)
    n_censored = int(n - np.asarray(escaped, dtype=bool).sum())
    if n_censored == n:
        return {"median": math.inf, "n": n, "censored": n_censored, "survival_at_end": 1.0}
    sf = stats.ecdf(data).sf
    below = np.nonzero(sf.probabilities <= 0.5)[0]
    median = float(sf.quantiles[below[0]]) if below.size else math.inf
    return {"median": median, "n": n, "censored": n_censored,
            "survival_at_end": float(sf.probabilities[-1])}


def escapes_sooner(times_a: Sequence[float], escaped_a: Sequence[bool],
                   times_b: Sequence[float], escaped_b: Sequence[bool]) -> float:
    """One-sided log-rank p-value for "A escapes sooner than B" (A's escape hazard is greater:
    scipy's ``alternative="greater"``). Returns 1 when no run of either group escapes (nothing
    to compare)."""
    if not (np.any(escaped_a) or np.any(escaped_b)):
        return 1.0
    res = stats.logrank(censored(times_a, escaped_a), censored(times_b, escaped_b),
                        alternative="greater")
    return float(res.pvalue)
