"""λ*, Γ, Ξ and the Riemannian Hessian against autograd and finite differences; classification."""

from __future__ import annotations

import math

import pytest
import torch

from advdyn.geometry import row_norm, tangent_basis
from advdyn.models import ModuleObjective
from advdyn.pgd import run_pgd
from advdyn.sphere import classify, diagnose
from conftest import make_objective


@pytest.mark.parametrize("loss", ["quadratic", "bce"])
def test_lagrangian_quantities_vs_autograd(loss):
    obj = make_objective(5, 70, 2.0, loss, seed=3)
    eps = 1.3
    delta = run_pgd(obj, eps, 0.0, 0, batch=4, start="sphere", generator=0).delta
    dg = diagnose(obj, delta, eps)
    lam_ref, xi_ref = [], []
    for b in range(4):
        d = delta[b].clone().requires_grad_(True)
        L = obj.evaluate(d[None], grad=False).L[0]
        ad = ModuleObjective(obj.net.as_module(), obj.loss, obj.x, obj.y)
        (g,) = torch.autograd.grad(ad._ell(d[None])[0] * -1, d)
        lam = (g @ d) / (2 * d @ d)
        lam = lam.detach()
        lam_ref.append(lam)
        lagrangian = lambda z, ad=ad, lam=lam: -ad._ell(z[None])[0] - lam * (z @ z - eps**2)  # noqa: E731
        hess = torch.autograd.functional.hessian(lagrangian, d.detach())
        xi_ref.append(hess)
        assert torch.isclose(L, dg.L[b])
    torch.testing.assert_close(dg.lam, torch.stack(lam_ref))
    torch.testing.assert_close(dg.xi, torch.stack(xi_ref))
    assert (row_norm(dg.gamma) > 0).all() and ((dg.gamma * delta).sum(1).abs() < 1e-12).all()
    assert dg.on_sphere.all()
    assert dg.types == ["not-critical"] * 4


def test_riemannian_hessian_is_second_derivative_along_geodesics():
    """At a critical point, v ↦ d²/dt² L(cos(t)δ + sin(t)ε v) at 0 equals vᵀ(QᵀΞQ)v."""
    obj = make_objective(4, 90, 1.5, seed=8)
    eps = 1.0
    star = run_pgd(obj, eps, 0.3, 4000, batch=3, start="sphere", generator=2, tol=1e-12).delta
    dg = diagnose(obj, star, eps)
    q = tangent_basis(star)
    h = 1e-4
    for b in range(3):
        hess_t = q[b].T @ dg.xi[b] @ q[b]
        for k in range(3):
            v = q[b, :, k]
            pts = torch.stack([math.cos(t) * star[b] + math.sin(t) * eps * v
                               for t in (-h / eps, 0.0, h / eps)])
            L = obj.evaluate(pts, grad=False).L
            second = float((L[0] - 2 * L[1] + L[2]) / h**2)
            assert abs(second - float(hess_t[k, k])) < 1e-5 * max(1.0, abs(second))
    assert set(dg.types) == {"minimum"} and (dg.tangent_eigenvalues > 0).all()


def test_classify_rules():
    eig = torch.tensor([[1.0, 2.0], [-1.0, -3.0], [-1.0, 2.0], [0.0, 2.0], [1.0, 1.0]])
    gam = torch.tensor([0.0, 1e-9, 0.0, 0.0, 0.5])
    grad = torch.ones(5)
    assert classify(gam, grad, eig, 1e-6, 1e-8) == [
        "minimum", "maximum", "saddle", "degenerate", "not-critical"]


def test_diagnose_module_equals_closed_form():
    obj = make_objective(3, 25, 1.0, "bce", seed=9)
    delta = torch.tensor([[0.3, -0.2, 0.5]])
    a = diagnose(obj, delta)
    b = diagnose(ModuleObjective(obj.net.as_module(), obj.loss, obj.x, obj.y), delta)
    for f in ("lam", "gamma", "xi", "tangent_eigenvalues", "alignment"):
        torch.testing.assert_close(getattr(a, f), getattr(b, f))
    assert a.types == b.types


def test_alignment_sign_convention():
    """At a minimum of L on the sphere reached by the attack, -∇L points outward: α = +1."""
    obj = make_objective(3, 40, 1.0, seed=10)
    res = run_pgd(obj, 0.5, 0.2, 3000, batch=2, start="sphere", generator=0, tol=1e-12)
    dg = diagnose(obj, res.delta, 0.5)
    assert dg.kkt.all()
    torch.testing.assert_close(dg.alignment, torch.ones(2, dtype=dg.alignment.dtype))
