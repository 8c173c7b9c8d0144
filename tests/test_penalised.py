"""The penalised objective ``L + κ‖δ‖²`` (float64 against autograd and central differences) and
the interior probe built on it: the boxed attack's ruler with its maximum moved inside."""

from __future__ import annotations

import pytest
import torch

from advdyn import AdvdynError
from advdyn.experiments.advtrain import interior_probe
from advdyn.geometry import row_norm
from advdyn.losses import LogCrossEntropy
from advdyn.models import ModuleObjective
from advdyn.models.calibration import Penalised, affine_classifier
from advdyn.models.cnn import build_cnn
from advdyn.train import InnerPGD, perturb, stream


def _objective(rows: int = 3) -> ModuleObjective:
    g = torch.Generator().manual_seed(0)
    net = build_cnn("tiny", activation="softplus", pool="avg", seed=0).double().eval()
    x = torch.rand(rows, 1, 28, 28, generator=g, dtype=torch.float64)
    return ModuleObjective(net, LogCrossEntropy, x, torch.arange(rows) % 10)


KAPPA = torch.tensor([0.5, 2.0, 7.0], dtype=torch.float64)


def test_value_and_gradient_match_autograd_and_central_differences() -> None:
    base = _objective()
    pen = Penalised(base, KAPPA)
    delta = 0.1 * torch.randn(3, 1, 28, 28, dtype=torch.float64,
                              generator=torch.Generator().manual_seed(1))
    ev = pen.evaluate(delta)
    expected = base.evaluate(delta, grad=False).L + KAPPA * delta.flatten(1).square().sum(1)
    torch.testing.assert_close(ev.L, expected, rtol=1e-13, atol=0)
    torch.testing.assert_close(ev.ell, -expected, rtol=1e-13, atol=0)
    d = delta.clone().requires_grad_(True)
    direct = -LogCrossEntropy.value(base.model(base.x + d), base.y) + \
        KAPPA * d.flatten(1).square().sum(1)
    (auto,) = torch.autograd.grad(direct.sum(), d)
    assert ev.grad is not None
    torch.testing.assert_close(ev.grad, auto, rtol=1e-10, atol=1e-12)
    v = torch.randn(delta.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    h = 1e-5
    fd = (pen.evaluate(delta + h * v, grad=False).L - pen.evaluate(delta - h * v, grad=False).L
          ) / (2 * h)
    torch.testing.assert_close((ev.grad * v).flatten(1).sum(1), fd, rtol=1e-6, atol=1e-9)


def test_hessian_adds_twice_kappa_on_the_diagonal_and_rows_select() -> None:
    base = _objective(2)
    small = Penalised(base, KAPPA[:2])
    delta = torch.zeros(2, 1, 28, 28, dtype=torch.float64)
    diff = small.hessian(delta) - base.hessian(delta)
    eye = torch.eye(784, dtype=torch.float64)
    torch.testing.assert_close(diff, 2 * KAPPA[:2, None, None] * eye, rtol=1e-12, atol=1e-12)
    picked = Penalised(_objective(), KAPPA).select(torch.tensor([2, 0]))
    assert picked.kappa.tolist() == [7.0, 0.5] and picked.x.shape[0] == 2


def test_kappa_is_validated() -> None:
    base = _objective()
    with pytest.raises(AdvdynError, match="kappa"):
        Penalised(base, torch.ones(2, dtype=torch.float64))
    with pytest.raises(AdvdynError, match="kappa"):
        Penalised(base, -1.0)
    with pytest.raises(AdvdynError, match="kappa"):
        Penalised(base, float("nan"))


def test_interior_probe_keeps_the_ruler_and_moves_the_maximum_inside() -> None:
    """On the affine classifier (its maxima over the ball lie on the sphere) the boxed attack
    ends on the sphere; from the same starts, with the same step, box and budget, the interior
    probe settles near ε/2 (κ = ‖∇ log ℓ(x)‖/ε), never on the sphere."""
    g = torch.Generator().manual_seed(3)
    x, y = torch.rand(64, 1, 28, 28, generator=g), torch.randint(0, 10, (64,), generator=g)
    model = affine_classifier(seed=0).eval()
    eps = 0.5
    attack = InnerPGD(eps, 20, 0.1, "normalized", (-10.0, 10.0))
    plain = row_norm(perturb(model, x, y, attack, stream(0, 9)))
    inside = row_norm(interior_probe(model, x, y, attack, stream(0, 9)))
    assert bool((plain >= eps * (1 - 1e-5)).all())
    assert bool((inside < eps * 0.9).all())
    assert abs(float(inside.mean()) / eps - 0.5) < 0.1
