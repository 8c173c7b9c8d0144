"""The census's robustness and its one angle rule.

* Riemannian Newton with a singular or near-singular tangent Hessian (a continuum of critical
  points, a flat sphere): no crash, finite, on the sphere, converged in the non-degenerate
  directions; its step is the truncated pseudo-inverse step (checked against NumPy's pinv).
* ``census(starts < 8)``: the saddle search gets no uniform starts and must not crash.
* ``advdyn census`` on a problem file and the census experiment on the same problem use the same
  angle rule and count the same critical points.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from advdyn.cli.main import main
from advdyn.experiments.census import census_job
from advdyn.experiments.simulated import SimulatedSetup
from advdyn.geometry import row_norm, tangent_project
from advdyn.models import Problem
from advdyn.models.objective import Evaluation, Objective
from advdyn.sphere.census import census
from advdyn.sphere.descent import newton_polish, tangent_newton_step
from advdyn.sphere.scan import ScanGrid


class Quadratic(Objective):
    """``L(δ) = ½ δᵀAδ`` (one broadcast row): on the sphere its critical points are the
    eigenvectors of ``A``; a repeated eigenvalue makes a circle of them, where the tangent
    Hessian ``QᵀΞQ`` (eigenvalues ``a_j - a_k``) is singular."""

    def __init__(self, diag: list[float]) -> None:
        self.A = torch.diag(torch.tensor(diag, dtype=torch.float64))
        self.x = torch.zeros(1, len(diag), dtype=torch.float64)
        self.y = torch.zeros(1, dtype=torch.float64)

    def evaluate(self, delta: torch.Tensor, grad: bool = True) -> Evaluation:
        g = delta @ self.A
        L = 0.5 * (delta * g).sum(dim=1)
        return Evaluation(L, -L, g if grad else None)

    def hessian(self, delta: torch.Tensor) -> torch.Tensor:
        return self.A.expand(delta.shape[0], -1, -1).clone()

    def select(self, rows: torch.Tensor) -> Quadratic:
        return self


def _starts(eps: float) -> torch.Tensor:
    """Points near the circle ``δ₃ = 0`` (off it by up to 0.2 rad), and on it."""
    v = torch.tensor([[1.0, 0.0, 0.1], [0.6, 0.8, -0.2], [0.0, 1.0, 0.0], [0.7, -0.7, 0.05]],
                     dtype=torch.float64)
    return eps * v / row_norm(v)[:, None]


@pytest.mark.parametrize("diag", [[1.0, 1.0, 3.0], [1.0, 1.0 + 1e-14, 3.0], [2.0, 2.0, 2.0]])
def test_newton_polish_with_a_singular_tangent_hessian(diag: list[float]) -> None:
    obj, eps = Quadratic(diag), 2.0
    start = _starts(eps)
    end = newton_polish(obj, start, eps)
    assert torch.isfinite(end).all()
    assert row_norm(end).numpy() == pytest.approx(eps, rel=1e-12)
    gamma = row_norm(tangent_project(end, obj.evaluate(end).grad))
    assert (gamma <= 1e-10).all()
    if diag[2] != diag[0]:  # converged onto the circle of critical points δ₃ = 0
        assert end[:, 2].abs().max() <= 1e-10
    else:  # every point is critical: nothing moves
        assert torch.equal(end, start)


def test_tangent_newton_step_is_the_truncated_pseudo_inverse() -> None:
    gen = np.random.default_rng(5)
    hs, rhs = [], []
    for rank in (0, 1, 3, 4):
        q, _ = np.linalg.qr(gen.normal(size=(4, 4)))
        mu = np.concatenate([gen.normal(size=rank) * 3, np.zeros(4 - rank)])
        hs.append(q @ np.diag(mu) @ q.T)
        rhs.append(gen.normal(size=4))
    h, b = np.stack(hs), np.stack(rhs)
    got = tangent_newton_step(torch.tensor(h), torch.tensor(b)).numpy()
    want = np.stack([np.linalg.pinv(hi, rcond=1e-12, hermitian=True) @ bi
                     for hi, bi in zip(h, b, strict=True)])
    assert np.allclose(got, want, atol=1e-10)
    bad = tangent_newton_step(torch.full((1, 2, 2), float("nan"), dtype=torch.float64),
                              torch.ones(1, 2, dtype=torch.float64))
    assert torch.equal(bad, torch.zeros(1, 2, dtype=torch.float64))


@pytest.mark.parametrize("starts", [1, 4, 7])
def test_census_with_fewer_than_eight_starts(starts: int) -> None:
    """``saddle_starts = starts // 8 = 0``: an empty batch of uniform saddle starts."""
    setup = SimulatedSetup(dim=3, width=8)
    net, u, _ = setup.draw(0)
    obj = setup.objective(net, u, [1.0])
    c = census(obj, 1.0, starts=starts, max_starts=starts, seed=0)
    assert c.method == "multistart" and c.info["saddle_starts"] == 0
    assert c.counts["minima"] >= 1 and c.info["starts_used"] == starts


def test_cli_and_experiment_count_the_same_problem_the_same(tmp_path, capsys) -> None:
    scale, ratio, seed, width = 100.0, 1.0, 1, 32
    value = census_job(scale=scale, ratio=ratio, seed=seed, width=width)
    net, u, _ = SimulatedSetup(width=width).draw(seed)
    path = tmp_path / "p.npz"
    np.savez(path, W=net.W.numpy(), a=net.a.numpy(), x=(scale * u).numpy(), y=0.0,
             eps=scale * ratio, loss="bce")
    assert Problem.load(path).eps == value["eps"]
    assert main(["census", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    n = int(ScanGrid().angles(scale * ratio, net)[0])
    assert out["info"]["n_angles"] == value["unseen"]["n_angles"] == n > ScanGrid().lo
    assert out["counts"] == value["census"]["counts"]
    assert [q["L"] for q in out["minima"]] == pytest.approx(
        [q["L"] for q in value["census"]["minima"]], rel=1e-12)
