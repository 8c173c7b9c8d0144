"""Self-checks of the independent NumPy reference (``reference.py``) and the problem generator.

The reference is validated on its own, against finite differences and the geometry of SPEC §3,
before it is used to judge the CLI.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit, log_expit

from problem_gen import Case, circle_extrema, held_out_cases, newton_polish
from reference import (
    L_grad,
    L_hess,
    L_value,
    Problem,
    diagnose,
    loss_terms,
    pgd,
    sigmoid,
    sigmoid_prime,
    softplus,
    tangent_basis,
)

CASES = held_out_cases()
IDS = [c.name for c in CASES]


def _rel(a: np.ndarray | float, b: np.ndarray | float) -> float:
    """``‖a - b‖ / ‖b‖``."""
    return float(np.linalg.norm(np.subtract(a, b)) / np.linalg.norm(b))


def _fd_close(fd: np.ndarray | float, exact: np.ndarray | float, size: float, h: float) -> bool:
    """``‖fd - exact‖ ≤ 1e-6‖exact‖ + 1e-13·size/h``: relative accuracy 1e-6 above the rounding
    floor ``~ε_mach·size/h`` of a central difference with step ``h`` of a function of size
    ``size`` (margin 1e3)."""
    err = float(np.linalg.norm(np.subtract(fd, exact)))
    return err <= 1e-6 * float(np.linalg.norm(exact)) + 1e-13 * size / h


def _fd_grad(fun, z: np.ndarray, h: float) -> np.ndarray:
    """Central differences ``(F(z + h e_i) - F(z - h e_i)) / 2h``, stacked along the last axis."""
    cols = [(fun(z + h * e) - fun(z - h * e)) / (2 * h) for e in np.eye(z.size)]
    return np.stack(cols, axis=-1)


def test_scalar_functions_are_stable_and_exact() -> None:
    h = np.concatenate([np.linspace(-50, 50, 1001), [-1e6, -800.0, 800.0, 1e6]])
    np.testing.assert_allclose(softplus(h), -log_expit(-h), rtol=1e-15, atol=0)
    np.testing.assert_allclose(sigmoid(h), expit(h), rtol=1e-15, atol=0)
    np.testing.assert_allclose(sigmoid_prime(h), expit(h) * expit(-h), rtol=1e-14, atol=0)
    assert softplus(np.array([1e6]))[0] == 1e6 and softplus(np.array([-1e6]))[0] == 0.0


@pytest.mark.parametrize("loss,y", [("quadratic", 0.3), ("bce", 0.0), ("bce", 1.0)])
def test_loss_terms(loss: str, y: float) -> None:
    """ℓ matches the SPEC formula; ℓ' and ℓ'' match central differences in u."""
    for u in (-7.0, -0.4, 0.0, 1.3, 9.0):
        ell, d1, d2 = loss_terms(loss, y, u)
        naive = (y - u) ** 2 if loss == "quadratic" else -y * np.log(expit(u)) - (1 - y) * np.log(
            expit(-u))
        assert ell == pytest.approx(naive, rel=1e-13)
        h = 1e-5
        assert d1 == pytest.approx((loss_terms(loss, y, u + h)[0] - loss_terms(loss, y, u - h)[0])
                                   / (2 * h), rel=1e-6)
        assert d2 == pytest.approx((loss_terms(loss, y, u + h)[1] - loss_terms(loss, y, u - h)[1])
                                   / (2 * h), rel=1e-6)


def test_bce_saturated_is_relatively_accurate() -> None:
    """y = 1, u = 60: ℓ = softplus(-60) ≈ e^{-60}, ℓ' = -s(-60), no cancellation to 0."""
    ell, d1, _ = loss_terms("bce", 1.0, 60.0)
    assert ell == pytest.approx(np.log1p(np.exp(-60.0)), rel=1e-14)
    assert d1 == pytest.approx(-expit(-60.0), rel=1e-14)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gradient_and_hessian_against_finite_differences(case: Case) -> None:
    p = case.problem
    for delta in (case.delta0, *case.points):
        g, H, h = L_grad(p, delta), L_hess(p, delta), 1e-5
        assert _fd_close(_fd_grad(lambda v: L_value(p, v), delta, h), g, abs(L_value(p, delta)), h)
        assert _fd_close(_fd_grad(lambda v: L_grad(p, v), delta, h), H, np.linalg.norm(g), h)
        assert _rel(H.T, H) < 1e-15


def _geodesic_slope(p: Problem, delta: np.ndarray, v: np.ndarray, s: float) -> float:
    """``d/ds L(δ(s))`` on the geodesic ``δ(s) = δ cos(s/ε) + εv sin(s/ε)`` (v ⟂ δ unit)."""
    c, sn = np.cos(s / p.eps), np.sin(s / p.eps)
    return float(L_grad(p, delta * c + p.eps * v * sn) @ (v * c - delta * sn / p.eps))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_sphere_diagnostics_geometry(case: Case) -> None:
    """Γ ⟂ δ, λ from ∇L = Γ + 2λδ, tangent eigenvalues ∪ {0} = spec(P_T Ξ P_T), and the extreme
    eigenvalues are second derivatives of L along geodesics in their eigen-directions."""
    p = case.problem
    for delta in case.points[:2]:
        r = diagnose(p, delta)
        g = L_grad(p, delta)
        assert abs(r["gamma"] @ delta) <= 1e-12 * np.linalg.norm(g) * p.eps
        assert _rel(r["gamma"] + 2 * r["lambda"] * delta, g) < 1e-13
        assert r["alignment"] == pytest.approx(-(g @ delta) / np.linalg.norm(g) / p.eps, rel=1e-12)
        P = np.eye(p.d) - np.outer(delta, delta) / (delta @ delta)
        full = np.sort(np.append(r["tangent_eigenvalues"], 0.0))
        scale = np.linalg.norm(r["xi"], 2)
        assert np.max(np.abs(full - np.linalg.eigvalsh(P @ r["xi"] @ P))) <= 1e-12 * scale
        Q = tangent_basis(delta)
        mu, V = np.linalg.eigh(Q.T @ r["xi"] @ Q)
        for k in (0, -1):
            v, t = Q @ V[:, k], 1e-5 * min(p.eps, 1.0)
            second = (_geodesic_slope(p, delta, v, t) - _geodesic_slope(p, delta, v, -t)) / (2 * t)
            assert _fd_close(second, mu[k], np.linalg.norm(g), t)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_critical_points_are_critical(case: Case) -> None:
    """Polished points: Γ ≈ 0 and the eigenvalue signs give the requested type."""
    for delta, kind in case.critical:
        r = diagnose(case.problem, delta)
        assert np.linalg.norm(delta) == pytest.approx(case.problem.eps, rel=1e-14)
        assert np.linalg.norm(r["gamma"]) <= 1e-12 * np.linalg.norm(r["grad"])
        assert r["type"] == kind


def test_newton_polish_stops_at_a_singular_tangent_hessian() -> None:
    """``f = softplus(z₁)`` (d = 3, x = 0) at ``δ = (0, ε, 0)``: ``∇L ∥ e₁`` so ``λ = 0``, and
    ``QᵀΞQ = QᵀHQ`` with ``H ∝ e₁e₁ᵀ`` has the exact null direction ``e₃``. The polish must
    neither solve with it (LAPACK raised "Singular matrix" on some BLAS kernels) nor move."""
    p = Problem(W=np.array([[1.0, 0.0, 0.0]]), a=np.array([1.0]), x=np.zeros(3), y=0.0,
                eps=1.0)
    delta = np.array([0.0, 1.0, 0.0])
    r = diagnose(p, delta)
    assert np.linalg.norm(r["grad"]) > 0.1 and r["lambda"] == 0.0
    assert np.min(np.abs(r["tangent_eigenvalues"])) <= 1e-15 * np.max(
        np.abs(r["tangent_eigenvalues"]))
    assert np.array_equal(newton_polish(p, delta), delta)


def test_enough_critical_points() -> None:
    kinds = [k for c in CASES for _, k in c.critical]
    assert kinds.count("minimum") >= 15 and kinds.count("maximum") >= 10


@pytest.mark.parametrize("case", [c for c in CASES if c.problem.d == 2], ids=lambda c: c.name)
def test_circle_has_as_many_minima_as_maxima(case: Case) -> None:
    kinds = [k for _, k in circle_extrema(case.problem)]
    assert kinds.count("minimum") == kinds.count("maximum") >= 1


def test_pgd_fixed_points_are_kkt() -> None:
    """PGD stays in the ball and its first step from the interior does not increase L; a PGD
    limit on the sphere (``δ_T = δ_{T+1}``) has Γ = 0, λ ≤ 0 (−∇L points outward) and is not a
    maximum on the sphere. Most runs converge within T = 1500 steps."""
    converged = 0
    for case in CASES:
        p = case.problem
        for rule, eta in (("raw", case.eta_raw), ("normalized", case.eta_normalized)):
            delta = pgd(p, case.delta0, eta, 1500, rule)
            assert np.linalg.norm(delta) <= p.eps * (1 + 1e-14)
            assert L_value(p, pgd(p, case.delta0, eta, 1, rule)) <= L_value(p, case.delta0)
            if np.linalg.norm(pgd(p, delta, eta, 1, rule) - delta) > 1e-12 * p.eps:
                continue
            converged += 1
            r = diagnose(p, delta)
            assert np.linalg.norm(delta) == pytest.approx(p.eps, rel=1e-14)
            assert np.linalg.norm(r["gamma"]) <= 1e-6 * np.linalg.norm(r["grad"])
            assert r["lambda"] <= 0
            assert r["type"] in ("minimum", "degenerate")
    assert converged >= 30
