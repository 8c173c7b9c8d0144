r"""Small-sample tests and their power: what a rule can show at the size it ran.

- **Floors.** The smallest p an exact test can reach: one-sided sign-flip (Wilcoxon
  signed-rank, paired) on ``n`` pairs: ``2^{-n}``; any two-group permutation test with ``n_a``
  and ``n_b`` units: ``1 / C(n_a + n_b, n_a)``; after Holm over ``k`` comparisons that must all
  pass: ``k`` times the floor (:func:`holm_floor`).
- **Paired sign-flip** (:func:`paired_sign_flip`): the mean of paired differences against its
  sign-flip null (:func:`scipy.stats.permutation_test`, exact up to 2^16 flips).
"""

from __future__ import annotations

from collections.abc import Sequence

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


