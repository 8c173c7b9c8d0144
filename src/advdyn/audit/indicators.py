r"""The indicators of attack failure (Pintor et al., NeurIPS 2022) as rules on per-row arrays.

Every indicator but one is evaluated on the rows the attack **failed** on (the final point is
not adversarial: ``argmax f(x + δ_T) = y``): it explains a failure, so a row the attack fooled
fires none of them. ``unstable_predictions`` is evaluated on every row (:data:`ANY_ROW`): an
unstable end point makes the success itself a matter of chance. Arrays are NumPy, rows last
(``(T+1, B)`` per step, ``(B,)`` per row).

* ``silent_success``: an earlier iterate ``t < T`` was adversarial, the returned one is not;
* ``incomplete_optimisation``: the running best loss ``ℓ*_t = max_{s ≤ t} ℓ_s`` still rises over
  the last ``k = max(1, ⌈w T⌉)`` steps by more than ``tol`` relative:
  ``ℓ*_T − ℓ*_{T−k} > tol · max(|ℓ*_{T−k}|, 10⁻¹²)`` (defaults ``w = 0.2``, ``tol = 0.01``);
* ``unavailable_gradients``: ``∇_x ℓ`` is zero (``‖∇ℓ‖ ≤ atol``, default 1e-10), NaN/inf or
  disconnected from the input, at the first iterate or at the end point;
* ``unstable_predictions``: the loss at ``m`` random points ``x + δ_T + u`` (``u`` uniform in the
  ball of radius ``r ε``, clipped to the box; defaults ``m = 8``, ``r = 0.01``) spreads:
  ``std_j ℓ_j / max(|mean_j ℓ_j|, 10⁻³) > 0.1``;
* ``transfer_failure`` (with a surrogate): the attack run on the surrogate fools the surrogate
  but not the model;
* ``unconstrained_failure``: the same attack with an unbounded radius (the ball around the whole
  box, ``√D (hi − lo)`` for l2 and ``hi − lo`` for l∞; ``10³ ε`` without a box) still fails;
* ``bad_initialisation`` (advdyn's): a restart of the attack (a new random start) fools the
  model where the first run did not.
"""

from __future__ import annotations

import math

import numpy as np

INDICATORS = ("silent_success", "incomplete_optimisation", "unavailable_gradients",
              "unstable_predictions", "transfer_failure", "unconstrained_failure",
              "bad_initialisation")
ANY_ROW = ("unstable_predictions",)


def rules(window: float = 0.2, improve_tol: float = 0.01, grad_atol: float = 1e-10,
          noise_samples: int = 8, noise_radius: float = 0.01, unstable_tol: float = 0.1
          ) -> dict[str, str]:
    """Each indicator's rule in words, with the thresholds it runs under."""
    return {
        "silent_success": "an iterate t < T was adversarial, the returned point is not",
        "incomplete_optimisation": f"running best loss rose by > {improve_tol:g} (relative) "
                                   f"over the last max(1, ceil({window:g} T)) steps",
        "unavailable_gradients": f"input gradient norm <= {grad_atol:g}, non-finite or "
                                 "disconnected at the first iterate or the end point",
        "unstable_predictions": f"loss at {noise_samples} points within {noise_radius:g} eps of "
                                f"the end point: std/max(|mean|, 1e-3) > {unstable_tol:g}",
        "transfer_failure": "the attack on the surrogate fools the surrogate, not the model",
        "unconstrained_failure": "the same attack with an unbounded radius still fails",
        "bad_initialisation": "a restart fools the model where the first run did not",
    }


RULES = rules()


def first_adversarial(adversarial: np.ndarray) -> np.ndarray:
    """The first step ``t`` at which each row was adversarial ``(T+1, B) → (B,)``; −1: never."""
    hit = adversarial.any(axis=0)
    return np.where(hit, adversarial.argmax(axis=0), -1)


def silent_success(adversarial: np.ndarray) -> np.ndarray:
    """``(T+1, B)`` adversarial flags → an earlier iterate was adversarial, the last is not."""
    return adversarial[:-1].any(axis=0) & ~adversarial[-1]


def incomplete_optimisation(ell: np.ndarray, window: float, tol: float) -> np.ndarray:
    """``(T+1, B)`` losses ``ℓ_t`` → the running best still rises over the last window."""
    steps = ell.shape[0] - 1
    if steps < 1:
        return np.zeros(ell.shape[1], dtype=bool)
    best = np.maximum.accumulate(np.nan_to_num(ell, nan=-np.inf), axis=0)
    k = max(1, math.ceil(window * steps))
    before, after = best[steps - k], best[steps]
    return after - before > tol * np.maximum(np.abs(before), 1e-12)


def unstable(losses: np.ndarray, tol: float) -> np.ndarray:
    """``(m, B)`` losses at random points around the end point → their relative spread > tol."""
    spread = losses.std(axis=0) / np.maximum(np.abs(losses.mean(axis=0)), 1e-3)
    return spread > tol


def unavailable(grad_norms: np.ndarray, atol: float) -> np.ndarray:
    """``(k, B)`` gradient norms (NaN: non-finite or disconnected) → any is zero or missing."""
    return (~np.isfinite(grad_norms) | (grad_norms <= atol)).any(axis=0)
