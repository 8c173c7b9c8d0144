"""The cross-entropy that does not saturate: log ℓ exact at any margin, its gradient."""

from __future__ import annotations

import mpmath
import pytest
import torch
import torch.nn.functional as F

from advdyn.losses import LogCrossEntropy, cross_entropy_margin, log_softplus

MARGINS = [-1e4, -1e3, -745.0, -104.0, -37.0, -20.0, -19.9, -1.0, 0.0, 3.0, 50.0, 1e3, 1e4]


def _logits(margin: float, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits of 3 classes whose cross-entropy margin is ``margin`` exactly (two equal others:
    m = log 2 + u_other - u_true)."""
    other = margin - float(mpmath.log(2))
    return torch.tensor([[0.0, other, other]], dtype=dtype), torch.tensor([0])


def _reference(margin: float) -> float:
    """log log(1 + e^m) in 60-digit arithmetic."""
    with mpmath.workdps(60):
        return float(mpmath.log(mpmath.log1p(mpmath.exp(margin))))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("margin", MARGINS)
def test_log_loss_is_finite_and_exact_at_every_margin(margin, dtype):
    u, y = _logits(margin, dtype)
    log_ell = LogCrossEntropy.value(u, y)
    assert torch.isfinite(log_ell).all()
    rtol = 1e-5 if dtype == torch.float32 else 1e-12
    ref = _reference(margin)
    assert float(log_ell) == pytest.approx(ref, rel=rtol, abs=rtol)
    # ℓ = exp(log ℓ) is positive wherever the format can hold it
    if ref > torch.log(torch.tensor(torch.finfo(dtype).tiny, dtype=torch.float64)):
        assert float(torch.exp(log_ell)) > 0


def test_standard_cross_entropy_saturates_where_this_one_does_not():
    u, y = _logits(-40.0, torch.float64)  # the true logit leads by 40
    assert float(F.cross_entropy(u, y)) == 0.0
    assert float(LogCrossEntropy.value(u, y)) == pytest.approx(-40.0, rel=1e-12)


@pytest.mark.parametrize("margin", [-1e4, -300.0, -30.0, -20.0, -5.0, 0.5, 40.0])
def test_gradient_matches_finite_differences_in_float64(margin):
    u, y = _logits(margin, torch.float64)
    u = u + torch.tensor([[0.0, 0.3, -0.2]], dtype=torch.float64)  # unequal others
    assert torch.autograd.gradcheck(lambda v: LogCrossEntropy.value(v, y), (u.requires_grad_(),),
                                    eps=1e-5, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("margin", [-1e4, -60.0, -1.0, 2.0])
def test_gradient_has_the_closed_form(margin, dtype):
    """∂ log ℓ/∂u = σ(m)/softplus(m) · ∂m/∂u, ∂m/∂u_k = softmax over the others (k ≠ y),
    ∂m/∂u_y = -1; σ(m)/softplus(m) → 1 as m → -∞."""
    u, y = _logits(margin, dtype)
    u = (u + torch.tensor([[0.0, 0.3, -0.2]], dtype=dtype)).requires_grad_()
    (g,) = torch.autograd.grad(LogCrossEntropy.value(u, y).sum(), u)
    with torch.no_grad():
        m = cross_entropy_margin(u, y).double()
        factor = torch.sigmoid(m) / torch.exp(log_softplus(m)) if float(m) > -700 else 1.0
        soft = torch.softmax(u[:, 1:].double(), dim=1)
        expected = torch.cat([-torch.ones(1, 1, dtype=torch.float64), soft], dim=1) * factor
    assert torch.isfinite(g).all()
    # logit differences carry the format's rounding of |u| ≈ |margin|: 10 ulp of it
    tol = 10 * torch.finfo(dtype).eps * max(1.0, abs(margin))
    torch.testing.assert_close(g.double(), expected, rtol=tol, atol=tol)


def test_margin_is_logsumexp_of_others_minus_true():
    u = torch.tensor([[1.0, 2.0, -0.5], [0.0, 0.0, 0.0]], dtype=torch.float64)
    y = torch.tensor([1, 2])
    expected = torch.stack([torch.logsumexp(u[0, [0, 2]], 0) - u[0, 1],
                            torch.logsumexp(u[1, [0, 1]], 0) - u[1, 2]])
    torch.testing.assert_close(cross_entropy_margin(u, y), expected)
    # and softplus(m) is the cross-entropy
    torch.testing.assert_close(torch.exp(LogCrossEntropy.value(u, y)),
                               F.cross_entropy(u, y, reduction="none"))
