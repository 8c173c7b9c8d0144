"""The KKT residual on the ball ∩ box (advdyn.sphere.feasible, diagnose(..., box=...)).

The residual ``dist(∇ℓ, N_F(δ))`` is checked against an independent non-negative least-squares
solve over the normal cone's generators (δ for the ball, ±e_i for the active box faces), FOSC
against a linear program over the l∞ ∩ box set, and diagnose against the sphere path where no box
bound is active."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.optimize import linprog, nnls

import zoo
from advdyn import AdvdynError
from advdyn.geometry import L2Ball
from advdyn.losses import CrossEntropy
from advdyn.models import ModuleObjective
from advdyn.pgd import run_pgd
from advdyn.sphere import diagnose, feasible_stationarity

F64 = torch.float64


def _points(seed: int, b: int = 12, d: int = 10, eps: float = 0.6):
    """Rows of δ on the sphere, then clipped to the box [0, 1] (``x + δ`` feasible)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(b, d, generator=g, dtype=F64)
    delta = L2Ball.sample_sphere(b, (d,), eps, g)
    delta = (x + delta).clamp(0, 1) - x
    grad = torch.randn(b, d, generator=g, dtype=F64)
    return x, delta, grad, eps


def _nnls_residual(g, d, x, eps, rtol, lo=0.0, hi=1.0, atol=1e-12) -> float:
    z = x + d
    cols = []
    if np.linalg.norm(d) >= eps * (1 - rtol):
        cols.append(d)
    for i in range(len(d)):
        if z[i] >= hi - atol:
            cols.append(np.eye(len(d))[i])
        elif z[i] <= lo + atol:
            cols.append(-np.eye(len(d))[i])
    if not cols:
        return float(np.linalg.norm(g))
    return float(nnls(np.stack(cols, axis=1), g)[1])


@pytest.mark.parametrize("rtol", [1e-9, 1e-2, 0.3])
def test_l2_box_residual_equals_nnls(rtol: float) -> None:
    x, delta, grad, eps = _points(0)
    st = feasible_stationarity(grad, delta, x, eps, box=(0.0, 1.0), atol=1e-12, ball_rtol=rtol)
    for b in range(x.shape[0]):
        want = _nnls_residual(grad[b].numpy(), delta[b].numpy(), x[b].numpy(), eps, rtol)
        assert float(st.residual[b]) == pytest.approx(want, rel=1e-9, abs=1e-12)
    assert int(st.box_active.sum()) > 0
    if rtol == 1e-9:
        assert not st.ball_active.all()  # rows shrunk by the clip: both kinds


def test_kkt_point_with_clipped_pixels_has_zero_residual() -> None:
    """δ on the sphere with pixels clipped at 1 (coordinates 0, 1) and at 0 (coordinate 2), and
    g = μδ + ν with ν ≥ 0 at the upper bounds, ν ≤ 0 at the lower: a KKT point the sphere calls
    not critical (Γ ≠ 0); the inward gradient is not."""
    g = torch.Generator().manual_seed(1)
    b, d = 5, 9
    x = torch.full((b, d), 0.5, dtype=F64)
    x[:, :3] = torch.rand(b, 3, generator=g, dtype=F64) * 0.5 + 0.25
    delta = torch.zeros(b, d, dtype=F64)
    delta[:, :2] = 1 - x[:, :2]
    delta[:, 2] = -x[:, 2]
    free = torch.randn(b, d - 3, generator=g, dtype=F64)
    free = 0.3 * free / free.norm(dim=1, keepdim=True)  # |δ_i| < 0.5: inside the box
    delta[:, 3:] = free
    eps = delta.norm(dim=1)
    nu = torch.zeros(b, d, dtype=F64)
    nu[:, :2], nu[:, 2] = 0.7, -0.4
    grad = 2.0 * delta + nu
    st = feasible_stationarity(grad, delta, x, eps, box=(0.0, 1.0))
    assert (st.relative < 1e-12).all() and st.active == ["ball+box"] * b
    np.testing.assert_allclose(st.mu, 2.0, rtol=1e-9)
    sphere_gamma = (grad - ((grad * delta).sum(1) / eps**2)[:, None] * delta).norm(dim=1)
    assert (sphere_gamma > 0.1).all()
    assert (feasible_stationarity(-grad, delta, x, eps, box=(0.0, 1.0)).relative > 0.5).all()


def test_linf_fosc_equals_linear_program() -> None:
    g = torch.Generator().manual_seed(2)
    b, d, eps = 6, 8, 0.2
    x = torch.rand(b, d, generator=g, dtype=F64)
    delta = ((2 * torch.rand(b, d, generator=g, dtype=F64) - 1) * eps)
    delta = (x + delta).clamp(0, 1) - x
    grad = torch.randn(b, d, generator=g, dtype=F64)
    st = feasible_stationarity(grad, delta, x, eps, ball="linf", box=(0.0, 1.0))
    for r in range(b):
        lo = np.maximum(-eps, -x[r].numpy())
        hi = np.minimum(eps, 1 - x[r].numpy())
        lp = linprog(-grad[r].numpy(), bounds=list(zip(lo, hi, strict=True)))
        want = -lp.fun - float(grad[r] @ delta[r])
        assert float(st.fosc[r]) == pytest.approx(want, abs=1e-9)


def _cnn_objective():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 5)).double().eval()
    g = torch.Generator().manual_seed(3)
    x = torch.rand(4, 1, 4, 4, generator=g, dtype=F64)
    return ModuleObjective(model, CrossEntropy, x, torch.tensor([0, 1, 2, 3])), x


def test_diagnose_box_agrees_with_sphere_where_no_bound_is_active() -> None:
    """An unclipped point on the sphere: the box diagnosis is KKT exactly where the sphere
    diagnosis is, and its residual is ‖Γ‖/‖∇L‖ when λ* ≤ 0; flattened δ is reshaped."""
    obj, x = _cnn_objective()
    ev = obj.evaluate(torch.zeros_like(x))
    assert ev.grad is not None
    eps = 0.05
    delta = -eps * ev.grad / ev.grad.flatten(1).norm(dim=1)[:, None, None, None]  # along ∇ℓ
    sphere = diagnose(obj, delta, eps=eps)
    box = diagnose(obj, delta.flatten(1), eps=torch.full((4,), eps), box=(0.0, 1.0))
    assert (box.box_active == 0).all() and box.on_sphere.all()
    lam_ok = sphere.lam <= 0
    ratio = sphere.gamma_norm / sphere.grad.flatten(1).norm(dim=1)
    np.testing.assert_allclose(box.kkt_residual[lam_ok], ratio[lam_ok], rtol=1e-8, atol=1e-15)
    assert box.types == ["kkt-ball" if k else "not-kkt" for k in box.kkt.tolist()]
    assert box.box == (0.0, 1.0) and box.ball == "l2"


def test_diagnose_box_bad_input() -> None:
    obj, x = _cnn_objective()
    d = torch.full_like(x, 0.01)
    with pytest.raises(AdvdynError, match="eps"):
        diagnose(obj, d, box=(0.0, 1.0))
    with pytest.raises(AdvdynError, match="box"):
        diagnose(obj, d, eps=0.1, box=(1.0, 0.0))
    with pytest.raises(AdvdynError, match="ball"):
        diagnose(obj, d, eps=0.1, ball="linf")
    linf = diagnose(obj, d, eps=0.01, box=(-math.inf, math.inf), ball="linf")
    assert linf.on_sphere.all() and torch.isfinite(linf.fosc).all()


def test_pgd_with_the_pixel_box_on_a_cnn() -> None:
    """The case of issue 22: PGD-l2 ε = 1.5 in the box [0, 1] on a small MNIST CNN. The clip
    after the projection leaves every end point just inside the sphere, so with an exact ball
    tolerance none has the ball active; with the default 1 % all do, and the KKT residual falls
    as the attack runs longer."""
    model, x, y = zoo.trained()
    obj = ModuleObjective(model, CrossEntropy, x[:16], y[:16])
    medians = []
    for steps in (50, 300):
        res = run_pgd(obj, 1.5, 0.05, steps, rule="normalized", box=(0.0, 1.0), generator=0)
        dg = diagnose(obj, res.delta, eps=torch.full((16,), 1.5), box=(0.0, 1.0))
        assert (dg.box_active > 0).all() and dg.on_sphere.all()
        ev = obj.evaluate(res.delta)
        assert ev.grad is not None
        exact = feasible_stationarity(-ev.grad, res.delta, obj.x, 1.5, box=(0.0, 1.0),
                                      ball_rtol=1e-9)
        assert not exact.ball_active.any()
        medians.append(float(dg.kkt_residual.median()))
    assert medians[1] < 0.8 * medians[0], medians
