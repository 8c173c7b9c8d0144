"""The calibration arms: the affine classifier and the input-linearised network."""

from __future__ import annotations

import pytest
import torch

from advdyn import AdvdynError
from advdyn.losses import LogCrossEntropy
from advdyn.models import ModuleObjective
from advdyn.models.calibration import JacobianLinearised, affine_classifier
from advdyn.models.cnn import build_cnn


def _net() -> torch.nn.Module:
    return build_cnn("tiny", activation="softplus", pool="avg", seed=0).double()


def test_linearised_is_the_first_order_taylor_model() -> None:
    gen = torch.Generator().manual_seed(1)
    net, x0 = _net(), torch.rand(3, 1, 28, 28, dtype=torch.float64, generator=gen)
    lin = JacobianLinearised.of(net, x0)
    assert torch.equal(lin(x0), net(x0))
    d = torch.randn(x0.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    for h in (1e-2, 1e-3):      # the gap to the network is second order in the step
        gap = (lin(x0 + h * d) - net(x0 + h * d)).abs().max()
        assert gap < 50 * h * h * d.abs().max() ** 2
    # affine in z: exactly linear along any line
    a, b = lin(x0 + d), lin(x0 + 2 * d)
    torch.testing.assert_close(b - a, a - lin(x0), rtol=1e-10, atol=1e-12)


def test_linearised_gradient_is_the_network_jacobian_at_the_anchor() -> None:
    net, x0 = _net(), torch.rand(1, 1, 28, 28, dtype=torch.float64)
    lin = JacobianLinearised.of(net, x0)
    jac = torch.autograd.functional.jacobian(lambda u: net(u)[0], x0).reshape(10, -1)
    z = (x0 + 0.1 * torch.randn_like(x0)).requires_grad_()
    g = torch.autograd.grad(lin(z)[0, 3], z)[0].reshape(-1)
    torch.testing.assert_close(g, jac[3], rtol=1e-9, atol=1e-12)
    # central finite differences of the arm itself, in float64
    e = torch.zeros_like(x0).reshape(-1)
    e[200] = 1.0
    e = e.reshape(x0.shape)
    fd = (lin(z.detach() + 1e-5 * e)[0, 3] - lin(z.detach() - 1e-5 * e)[0, 3]) / 2e-5
    assert float(fd) == pytest.approx(float(g[200]), rel=1e-6, abs=1e-10)


def test_linearised_weights_are_frozen_copies() -> None:
    net, x0 = _net(), torch.rand(2, 1, 28, 28, dtype=torch.float64)
    lin = JacobianLinearised.of(net, x0)
    before = lin(x0 + 0.1).clone()
    with torch.no_grad():
        for p in net.parameters():
            p.add_(1.0)
    torch.testing.assert_close(lin(x0 + 0.1), before)
    assert not any(b.requires_grad for b in lin.buffers()) and not list(lin.parameters())


def test_linearised_refuses_a_batch_of_another_shape() -> None:
    lin = JacobianLinearised.of(_net(), torch.rand(2, 1, 28, 28, dtype=torch.float64))
    with pytest.raises(AdvdynError, match="anchors"):
        lin(torch.rand(3, 1, 28, 28, dtype=torch.float64))


def test_both_arms_work_as_objectives() -> None:
    x = torch.rand(2, 1, 28, 28, dtype=torch.float64)
    y = torch.tensor([3, 7])
    for model in (affine_classifier(seed=0, dtype=torch.float64),
                  JacobianLinearised.of(_net(), x)):
        obj = ModuleObjective(model, LogCrossEntropy, x, y)
        ev = obj.evaluate(torch.zeros_like(x))
        assert ev.grad is not None and torch.isfinite(ev.grad).all()
    with pytest.raises(AdvdynError, match="classes"):
        affine_classifier(classes=1)


def test_linearised_selects_rows_and_keeps_the_network_gradient_at_the_anchor() -> None:
    """At δ = 0 the arm's loss and its gradient in the input are the network's (the objective
    of ``f̃`` at the anchors); ``rows`` re-selects anchors (repeats included) without
    recomputing."""
    gen = torch.Generator().manual_seed(3)
    net, x0 = _net(), 10 * torch.rand(3, 1, 28, 28, dtype=torch.float64, generator=gen)
    z = x0 + torch.randn(x0.shape, dtype=torch.float64, generator=gen)
    lin = JacobianLinearised.of(net, x0)
    y = torch.tensor([1, 4, 9])
    at0 = [ModuleObjective(m, LogCrossEntropy, x0, y).evaluate(torch.zeros_like(x0))
           for m in (net, lin)]
    torch.testing.assert_close(at0[1].ell, at0[0].ell, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(at0[1].grad, at0[0].grad, rtol=1e-10, atol=1e-14)
    pick = torch.tensor([2, 0, 2])
    torch.testing.assert_close(lin.rows(pick)(z[pick]), lin(z)[pick], rtol=1e-12, atol=1e-12)
    with pytest.raises(AdvdynError, match="anchors"):
        lin(z[:2])
