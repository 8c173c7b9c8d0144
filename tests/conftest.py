"""Shared fixtures: small two-layer problems in float64."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from advdyn.losses import BinaryCrossEntropy, Quadratic
from advdyn.models import Problem, TwoLayerNet, TwoLayerObjective

torch.set_default_dtype(torch.float64)


def make_objective(d: int, m: int, scale: float, loss: str = "quadratic", seed: int = 0,
                   rows: int = 1, dtype: torch.dtype = torch.float64) -> TwoLayerObjective:
    """A Xavier two-layer net and ``rows`` points of norm ``scale`` (labels drawn per loss)."""
    g = torch.Generator().manual_seed(seed)
    net = TwoLayerNet.xavier(d, m, generator=g, dtype=dtype)
    x = torch.randn((rows, d), generator=g, dtype=dtype)
    x = scale * x / x.norm(dim=1, keepdim=True)
    if loss == "bce":
        y = torch.randint(0, 2, (rows,), generator=g).to(dtype)
        return TwoLayerObjective(net, BinaryCrossEntropy, x, y)
    y = torch.randn(rows, generator=g, dtype=dtype)
    return TwoLayerObjective(net, Quadratic, x, y)


@pytest.fixture(scope="module")
def one_thread():
    """One intra-op thread for a module, as every job runs (on a shared machine more threads
    make many small tensor operations an order of magnitude slower); restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def problem_file(tmp_path):
    """Write a d = 3, m = 40 problem file and return its path."""
    g = torch.Generator().manual_seed(1)
    net = TwoLayerNet.xavier(3, 40, generator=g)
    x = np.array([1.0, 2.0, -0.5])
    p = Problem(net.W.numpy(), net.a.numpy(), x, 0.7, 0.5 * float(np.linalg.norm(x)))
    path = tmp_path / "problem.npz"
    p.save(path)
    return path
