"""The indicator rules of advdyn.audit.indicators on hand-made arrays (exact thresholds), and the
unbounded radius of the unconstrained attack."""

from __future__ import annotations

import math

import numpy as np

from advdyn.audit import unbounded_radius
from advdyn.audit.indicators import (
    first_adversarial,
    incomplete_optimisation,
    silent_success,
    unavailable,
    unstable,
)


def test_silent_success_and_first_step() -> None:
    adv = np.array([[0, 0, 0, 1],
                    [1, 0, 0, 1],
                    [1, 0, 1, 0],
                    [0, 0, 1, 1]], dtype=bool)  # (T+1, B) = (4, 4)
    np.testing.assert_array_equal(silent_success(adv), [True, False, False, False])
    np.testing.assert_array_equal(first_adversarial(adv), [1, -1, 2, 0])


def test_incomplete_optimisation_threshold() -> None:
    """T = 10, window 0.2 → k = 2: compares the running best at steps 8 and 10."""
    flat = np.ones(11)
    rising = np.linspace(1, 2, 11)  # best rises by 0.1/step: +0.2 over k = 2 steps (> 1 %)
    just_under = flat.copy()
    just_under[9:] = 1.0099  # +0.99 % < 1 %
    peaked = flat.copy()
    peaked[3] = 5.0  # the running best settled at step 3, the loss fell after
    ell = np.stack([flat, rising, just_under, peaked], axis=1)
    np.testing.assert_array_equal(incomplete_optimisation(ell, 0.2, 0.01),
                                  [False, True, False, False])
    assert not incomplete_optimisation(ell[:1], 0.2, 0.01).any()  # no step: nothing to judge


def test_unstable_and_unavailable() -> None:
    losses = np.array([[1.0, 1e-4, 2.0], [1.0, 3e-4, 2.5], [1.0, 2e-4, 1.5]])  # (m, B)
    # row 1: spread ~8e-5 over the floor 1e-3 → 0.08, not unstable; row 2: 0.41/2 → unstable
    np.testing.assert_array_equal(unstable(losses, 0.1), [False, False, True])
    norms = np.array([[1.0, 0.0, math.nan, 1.0], [2.0, 1.0, 1.0, 1e-11]])
    np.testing.assert_array_equal(unavailable(norms, 1e-10), [False, True, True, True])


def test_unbounded_radius() -> None:
    assert unbounded_radius("l2", 784, (0.0, 1.0), 1.5) == 28.0
    assert unbounded_radius("linf", 784, (0.0, 1.0), 0.3) == 1.0
    assert unbounded_radius("l2", 784, None, 1.5) == 1500.0
