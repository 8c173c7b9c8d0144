"""Closed forms = autograd = central finite differences (float64); problem files; adapters."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from advdyn.errors import AdvdynError
from advdyn.losses import BinaryCrossEntropy, CrossEntropy, Quadratic, softplus
from advdyn.models import ModuleObjective, Problem, TwoLayerNet, TwoLayerObjective
from conftest import make_objective

CASES = [(d, m, s, loss) for d, m, s in [(2, 30, 0.1), (5, 100, 1.0), (12, 400, 10.0),
                                         (30, 700, 100.0)] for loss in ("quadratic", "bce")]


def fd_grad(fn, z, h):
    """Central differences of a row-wise scalar function, (B, D)."""
    cols = []
    for i in range(z.shape[1]):
        e = torch.zeros_like(z)
        e[:, i] = h
        cols.append((fn(z + e) - fn(z - e)) / (2 * h))
    return torch.stack(cols, dim=1)


@pytest.mark.parametrize(("d", "m", "scale", "loss"), CASES)
def test_grad_and_hessian_closed_form_vs_autograd_vs_fd(d, m, scale, loss):
    obj = make_objective(d, m, scale, loss, seed=d, rows=3)
    g = torch.Generator().manual_seed(11)
    delta = 0.3 * scale * torch.randn(3, d, generator=g) / d**0.5
    ev = obj.evaluate(delta)
    ad = ModuleObjective(obj.net.as_module(), obj.loss, obj.x, obj.y)
    ev_ad = ad.evaluate(delta)
    torch.testing.assert_close(ev.L, ev_ad.L, rtol=1e-12, atol=0)
    torch.testing.assert_close(ev.grad, ev_ad.grad, rtol=1e-10, atol=1e-13)
    hess = obj.hessian(delta)
    torch.testing.assert_close(hess, ad.hessian(delta), rtol=1e-9, atol=1e-12)
    h = 1e-5 * max(scale, 1.0)
    fd = fd_grad(lambda z: obj.evaluate(z, grad=False).L, delta, h)
    torch.testing.assert_close(ev.grad, fd, rtol=1e-5, atol=1e-8 * ev.grad.abs().max())
    fd_h = torch.stack([fd_grad(lambda z, i=i: obj.evaluate(z).grad[:, i], delta, h)
                        for i in range(d)], dim=1)
    torch.testing.assert_close(hess, fd_h, rtol=1e-4, atol=1e-6 * hess.abs().max())


def test_network_closed_forms_vs_autograd():
    g = torch.Generator().manual_seed(2)
    net = TwoLayerNet.xavier(4, 50, generator=g)
    z = torch.randn(5, 4, generator=g, requires_grad=True)
    u = net.as_module()(z)
    (gr,) = torch.autograd.grad(u.sum(), z)
    u2, g2 = net.value_and_grad(z.detach())
    torch.testing.assert_close(u2, u.detach())
    torch.testing.assert_close(g2, gr)
    hf = torch.func.vmap(torch.func.hessian(lambda zz: net.forward(zz[None])[0]))(z.detach())
    torch.testing.assert_close(net.hessian(z.detach()), hf)


@pytest.mark.parametrize("loss", [Quadratic, BinaryCrossEntropy])
def test_loss_derivatives(loss):
    u = torch.linspace(-30, 30, 101, requires_grad=True)
    y = torch.full_like(u, 0.3)
    (d1,) = torch.autograd.grad(loss.value(u, y).sum(), u, create_graph=True)
    (d2,) = torch.autograd.grad(d1.sum(), u)
    torch.testing.assert_close(loss.d1(u.detach(), y), d1.detach())
    torch.testing.assert_close(loss.d2(u.detach(), y), d2)


def test_bce_matches_definition_and_keeps_tiny_losses():
    u = torch.linspace(-5, 5, 11)
    for y in (0.0, 0.3, 1.0):
        s = torch.sigmoid(u)
        ref = -y * torch.log(s) - (1 - y) * torch.log(1 - s)
        torch.testing.assert_close(BinaryCrossEntropy.value(u, torch.tensor(y)), ref)
    big = torch.tensor([40.0, 60.0])  # confidently right: ℓ = softplus(-u) ≈ e^{-u}
    one = torch.tensor(1.0)
    torch.testing.assert_close(BinaryCrossEntropy.value(big, one), torch.exp(-big), rtol=1e-12,
                               atol=0)
    torch.testing.assert_close(BinaryCrossEntropy.d1(big, one), -torch.exp(-big), rtol=1e-12,
                               atol=0)
    torch.testing.assert_close(BinaryCrossEntropy.d2(big, one), torch.exp(-big), rtol=1e-12,
                               atol=0)


def test_softplus_stable_far_out():
    h = torch.tensor([-1e6, -50.0, 0.0, 50.0, 1e6])
    out = softplus(h)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out[[0, 2, 4]], torch.tensor([0.0, np.log(2.0), 1e6]))


@pytest.mark.parametrize("loss", ["quadratic", "bce"])
def test_float32_finite_at_input_scale_1e4(loss):
    obj = make_objective(20, 300, 1e4, loss, rows=4, dtype=torch.float32)
    g = torch.Generator().manual_seed(0)
    delta = torch.randn(4, 20, generator=g, dtype=torch.float32) * 1e3
    ev = obj.evaluate(delta)
    assert torch.isfinite(ev.L).all() and torch.isfinite(ev.grad).all()
    assert torch.isfinite(obj.hessian(delta)).all()


def test_module_objective_cross_entropy():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3))
    x = torch.randn(4, 6)
    y = torch.tensor([0, 2, 1, 1])
    obj = ModuleObjective(model, CrossEntropy, x, y)
    delta = 0.1 * torch.randn(4, 6)
    ev = obj.evaluate(delta)
    ref = -torch.nn.functional.cross_entropy(model(x + delta), y, reduction="none")
    torch.testing.assert_close(ev.L, ref.detach())
    fd = fd_grad(lambda z: obj.evaluate(z, grad=False).L, delta, 1e-6)
    torch.testing.assert_close(ev.grad, fd, rtol=1e-6, atol=1e-9)
    hess = obj.hessian(delta)
    fd_h = torch.stack([fd_grad(lambda z, i=i: obj.evaluate(z).grad[:, i], delta, 1e-5)
                        for i in range(6)], dim=1)
    torch.testing.assert_close(hess, fd_h, rtol=1e-5, atol=1e-7)


def test_select_rows():
    obj = make_objective(3, 10, 1.0, rows=5)
    sub = obj.select(torch.tensor([1, 3]))
    delta = torch.zeros(2, 3)
    torch.testing.assert_close(sub.evaluate(delta).L, obj.evaluate(torch.zeros(5, 3)).L[[1, 3]])


def test_problem_roundtrip_and_objective(tmp_path, problem_file):
    p = Problem.load(problem_file)
    p.save(tmp_path / "copy.npz")
    q = Problem.load(tmp_path / "copy.npz")
    assert np.array_equal(p.W, q.W) and p.eps == q.eps and q.loss == "quadratic"
    ev = q.objective().evaluate(torch.zeros(1, 3))
    u = softplus(torch.tensor(p.x) @ torch.tensor(p.W).T) @ torch.tensor(p.a)
    torch.testing.assert_close(ev.ell, (p.y - u).pow(2)[None])


@pytest.mark.parametrize(("change", "field"), [
    ({"eps": -1.0}, "eps"), ({"W": np.full((4, 3), np.nan)}, "W"), ({"a": np.ones(5)}, "a"),
    ({"x": np.ones(4)}, "x"), ({"loss": "hinge"}, "loss"), ({"loss": "bce", "y": 3.0}, "y"),
])
def test_problem_validation_names_field(tmp_path, change, field):
    base = {"W": np.ones((4, 3)), "a": np.ones(4), "x": np.ones(3), "y": 0.0, "eps": 1.0}
    base.update(change)
    np.savez(tmp_path / "bad.npz", **base)
    with pytest.raises(AdvdynError, match=field):
        Problem.load(tmp_path / "bad.npz")


def test_problem_missing_key_and_unreadable(tmp_path):
    np.savez(tmp_path / "p.npz", W=np.ones((2, 2)), a=np.ones(2))
    with pytest.raises(AdvdynError, match="missing key"):
        Problem.load(tmp_path / "p.npz")
    (tmp_path / "junk.npz").write_text("not a zip")
    with pytest.raises(AdvdynError, match="readable"):
        Problem.load(tmp_path / "junk.npz")
    with pytest.raises(AdvdynError, match="no such file"):
        Problem.load(tmp_path / "absent.npz")


def test_pickled_problem_is_refused(tmp_path):
    np.savez(tmp_path / "p.npz", W=np.array([object()], dtype=object), a=np.ones(1),
             x=np.ones(1), y=0.0, eps=1.0)
    with pytest.raises(AdvdynError):
        Problem.load(tmp_path / "p.npz")


def test_twolayer_validation():
    with pytest.raises(AdvdynError, match="a"):
        TwoLayerNet(torch.ones(3, 2), torch.ones(4))
    with pytest.raises(AdvdynError, match="W"):
        TwoLayerNet(torch.full((3, 2), float("nan")), torch.ones(3))
    net = TwoLayerNet(torch.ones(3, 2), torch.ones(3))
    with pytest.raises(AdvdynError, match="x"):
        TwoLayerObjective(net, Quadratic, torch.ones(5), 0.0)


def test_xavier_scales():
    net = TwoLayerNet.xavier(400, 900, generator=torch.Generator().manual_seed(0))
    assert abs(float(net.W.std()) - 400**-0.5) < 0.002
    assert torch.allclose(net.a.abs(), torch.tensor(900**-0.5, dtype=net.a.dtype))
    assert abs(float((net.a > 0).double().mean()) - 0.5) < 0.05
