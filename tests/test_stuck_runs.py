"""Which PGD runs never move (the ``saturated_*`` statistics of Figure 1 and the phase diagram).

Normalised steps divide by ``max|∇L|`` before ``‖∇L‖``, so a gradient of any nonzero size gives a
unit step: the old criterion ``‖∇L‖ ≤ 1e-30`` ("cannot move") counted runs that do move.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from advdyn.experiments.simulated import stuck_rows
from advdyn.geometry import row_norm
from advdyn.losses import BinaryCrossEntropy
from advdyn.models import TwoLayerNet, TwoLayerObjective
from advdyn.pgd import Recorder, run_pgd


def _saturated_objective() -> TwoLayerObjective:
    """``f(z) = -softplus(z₁)``, bce with label 0, at ``x = (300, 0)`` (``u ≈ -300``:
    ``∇L ≈ e^{-300}e₁``, tiny but nonzero) and ``x = (800, 0)`` (``sigmoid(-800) = 0`` in
    float64: ``∇L = 0`` exactly)."""
    net = TwoLayerNet(torch.tensor([[1.0, 0.0]], dtype=torch.float64),
                      torch.tensor([-1.0], dtype=torch.float64))
    x = torch.tensor([[300.0, 0.0], [800.0, 0.0]], dtype=torch.float64)
    return TwoLayerObjective(net, BinaryCrossEntropy, x, torch.zeros(2, dtype=torch.float64))


START = torch.tensor([[0.1, 0.2], [0.1, 0.2]], dtype=torch.float64)


def _trajectory(rule: str, steps: int) -> np.ndarray:
    res = run_pgd(_saturated_objective(), 1.0, 0.05, steps, rule=rule, start=START,
                  record=Recorder(fields=("delta",), dtype="float64"))
    return np.asarray(res.trajectory.delta)


def test_gradients_are_tiny_and_zero() -> None:
    g = _saturated_objective().evaluate(START).grad
    norms = row_norm(g)
    assert 0 < float(norms[0]) < 1e-100 and float(norms[1]) == 0.0


def test_normalised_steps_move_wherever_the_gradient_is_nonzero() -> None:
    traj = _trajectory("normalized", 5)
    assert np.linalg.norm(traj[1, 0] - traj[0, 0]) == pytest.approx(0.05, rel=1e-12)
    assert np.array_equal(traj[-1, 1], traj[0, 1])
    assert stuck_rows(traj).tolist() == [False, True]


def test_raw_steps_below_the_rounding_of_delta_are_stuck() -> None:
    traj = _trajectory("raw", 5)
    assert np.array_equal(traj[-1], traj[0])
    assert stuck_rows(traj).tolist() == [True, True]


def test_no_step_no_stuck_row() -> None:
    assert stuck_rows(_trajectory("normalized", 0)).tolist() == [False, False]
