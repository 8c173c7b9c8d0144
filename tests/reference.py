"""Independent float64 NumPy reference for the two-layer adversarial problem (SPEC §1–3, §6).

Written only from ``SPEC.md``; it shares no code with ``advdyn`` and imports no torch.

Network ``f(z) = Σ_r a_r softplus(w_rᵀ z)`` at ``z = x + δ``; loss ``ℓ(y, u)`` with
``u = f(x + δ)``; minimisation form ``L(δ) = -ℓ(y, f(x + δ))`` on the ball ``‖δ‖ ≤ ε``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]

LOSSES = ("quadratic", "bce")
RULES = ("raw", "normalized")
CRITICAL_RTOL = 1e-6
DEGENERATE_RTOL = 1e-8
GRAD_FLOOR = 1e-200


@dataclass(frozen=True)
class Problem:
    """A two-layer problem: ``W`` (m×d), ``a`` (m), ``x`` (d), label ``y``, radius ``eps``."""

    W: Array
    a: Array
    x: Array
    y: float
    eps: float
    loss: str = "quadratic"

    @property
    def d(self) -> int:
        """Input dimension."""
        return int(self.W.shape[1])


def save_problem(path: Path, p: Problem, *, with_loss_key: bool = True) -> None:
    """Write ``p`` as the SPEC §6 ``.npz`` (``loss`` key optional; absent means quadratic)."""
    arrays: dict[str, np.ndarray] = {
        "W": p.W, "a": p.a, "x": p.x, "y": np.float64(p.y), "eps": np.float64(p.eps),
    }
    if with_loss_key:
        arrays["loss"] = np.array(p.loss)
    np.savez(path, **arrays)


def load_problem(path: Path) -> Problem:
    """Read a SPEC §6 ``.npz`` problem file."""
    with np.load(path) as z:
        loss = str(z["loss"]) if "loss" in z.files else "quadratic"
        return Problem(
            W=np.asarray(z["W"], np.float64), a=np.asarray(z["a"], np.float64),
            x=np.asarray(z["x"], np.float64), y=float(z["y"]), eps=float(z["eps"]), loss=loss,
        )


def softplus(h: Array) -> Array:
    """``log(1 + e^h) = max(h, 0) + log1p(e^{-|h|})``, stable for any ``|h|``."""
    return np.maximum(h, 0.0) + np.log1p(np.exp(-np.abs(h)))


def sigmoid(h: Array) -> Array:
    """``1/(1 + e^{-h})`` via ``e = e^{-|h|}``: ``1/(1+e)`` for ``h ≥ 0``, ``e/(1+e)`` else."""
    e = np.exp(-np.abs(h))
    return np.where(h >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def sigmoid_prime(h: Array) -> Array:
    """``s(1-s) = e/(1+e)²`` with ``e = e^{-|h|}`` (no cancellation in ``1-s``)."""
    e = np.exp(-np.abs(h))
    return e / (1.0 + e) ** 2


def f_value(p: Problem, delta: Array) -> float:
    """``f(x+δ) = Σ a_r softplus(w_rᵀ(x+δ))``."""
    return float(p.a @ softplus(p.W @ (p.x + delta)))


def f_grad(p: Problem, delta: Array) -> Array:
    """``∇f = Wᵀ(a ⊙ sigmoid(h))``, ``h = W(x+δ)``."""
    return p.W.T @ (p.a * sigmoid(p.W @ (p.x + delta)))


def f_hess(p: Problem, delta: Array) -> Array:
    """``∇²f = Wᵀ diag(a ⊙ s') W``."""
    c = p.a * sigmoid_prime(p.W @ (p.x + delta))
    return p.W.T @ (c[:, None] * p.W)


def loss_terms(loss: str, y: float, u: float) -> tuple[float, float, float]:
    """``(ℓ, ∂ℓ/∂u, ∂²ℓ/∂u²)``.

    quadratic: ``(y-u)², -2(y-u), 2``; bce on a logit: ``softplus(u) - y u``, ``s(u) - y``,
    ``s(u)(1-s(u))``, evaluated as ``(1-y)softplus(u) + y softplus(-u)`` and
    ``(1-y)s(u) - y s(-u)`` (algebraically equal, free of cancellation for ``y ∈ [0, 1]``).
    """
    if loss == "quadratic":
        return (y - u) ** 2, -2.0 * (y - u), 2.0
    if loss == "bce":
        uu = np.array([u, -u])
        sp, sg = softplus(uu), sigmoid(uu)
        ell = (1.0 - y) * sp[0] + y * sp[1]
        return float(ell), float((1.0 - y) * sg[0] - y * sg[1]), float(sigmoid_prime(uu)[0])
    raise ValueError(f"unknown loss {loss!r}")


def adv_loss(p: Problem, delta: Array) -> float:
    """The attacker's objective ``ℓ(y, f(x+δ))``."""
    return loss_terms(p.loss, p.y, f_value(p, delta))[0]


def L_value(p: Problem, delta: Array) -> float:
    """``L(δ) = -ℓ(y, f(x+δ))``."""
    return -adv_loss(p, delta)


def L_grad(p: Problem, delta: Array) -> Array:
    """``∇L = -ℓ'(u) ∇f``."""
    _, d1, _ = loss_terms(p.loss, p.y, f_value(p, delta))
    return -d1 * f_grad(p, delta)


def L_hess(p: Problem, delta: Array) -> Array:
    """``∇²L = -(ℓ'(u) ∇²f + ℓ''(u) ∇f ∇fᵀ)``."""
    _, d1, d2 = loss_terms(p.loss, p.y, f_value(p, delta))
    g = f_grad(p, delta)
    return -(d1 * f_hess(p, delta) + d2 * np.outer(g, g))


def project(v: Array, eps: float) -> Array:
    """``P_B(v) = v · min(1, ε/‖v‖)``."""
    n = float(np.linalg.norm(v))
    return v if n <= eps else v * (eps / n)


def pgd_step(p: Problem, delta: Array, eta: float, rule: str) -> Array:
    """One step ``P_B(δ - η∇L)`` (raw) or ``P_B(δ - η∇L/‖∇L‖)`` (normalized)."""
    g = L_grad(p, delta)
    if rule == "normalized":
        g = g / np.linalg.norm(g)
    elif rule != "raw":
        raise ValueError(f"unknown rule {rule!r}")
    return project(delta - eta * g, p.eps)


def pgd(p: Problem, delta0: Array, eta: float, steps: int, rule: str) -> Array:
    """Exactly ``steps`` PGD steps on ``L`` from ``δ₀``."""
    delta = np.asarray(delta0, np.float64)
    for _ in range(steps):
        delta = pgd_step(p, delta, eta, rule)
    return delta


def pgd_step_jacobian(p: Problem, delta: Array, eta: float, rule: str) -> Array:
    """``∂δ_{t+1}/∂δ_t``: ``DP_B(v)(I - η D(step direction))`` with ``v = δ - η·direction``.

    ``DP_B(v) = I`` inside, ``(ε/‖v‖)(I - v̂v̂ᵀ)`` outside; the normalized direction
    ``g/‖g‖`` has derivative ``(I - ĝĝᵀ)∇²L/‖g‖``.
    """
    g, H = L_grad(p, delta), L_hess(p, delta)
    eye = np.eye(p.d)
    if rule == "normalized":
        n = float(np.linalg.norm(g))
        gh = g / n
        step_jac, direction = (eye - np.outer(gh, gh)) @ H / n, gh
    else:
        step_jac, direction = H, g
    v = delta - eta * direction
    nv = float(np.linalg.norm(v))
    proj_jac = eye if nv <= p.eps else (p.eps / nv) * (eye - np.outer(v, v) / nv**2)
    return proj_jac @ (eye - eta * step_jac)


def pgd_sensitivity(p: Problem, delta0: Array, eta: float, steps: int, rule: str) -> float:
    """``max_t ‖∂δ_T/∂δ_t‖₂``: how much a rounding error made at step ``t`` is amplified.

    ``inf`` if ``∇L`` underflows (``‖∇L‖ ≤ 1e-200``) anywhere on the trajectory.
    """
    delta, jacs = np.asarray(delta0, np.float64), []
    for _ in range(steps):
        if not np.linalg.norm(L_grad(p, delta)) > GRAD_FLOOR:
            return np.inf
        jacs.append(pgd_step_jacobian(p, delta, eta, rule))
        delta = pgd_step(p, delta, eta, rule)
    m, worst = np.eye(p.d), 1.0
    for J in reversed(jacs):
        m = m @ J
        worst = max(worst, float(np.linalg.norm(m, 2)))
    return worst


def tangent_basis(delta: Array) -> Array:
    """Columns: an orthonormal basis (d×(d-1)) of ``{v : vᵀδ = 0}``, from the SVD of ``δᵀ``."""
    _, _, vt = np.linalg.svd(delta[None, :])
    return vt[1:].T


def classify(gamma_norm: float, grad_norm: float, eigs: Array) -> str:
    """Type of a sphere point from ``‖Γ‖``, ``‖∇L‖`` and the tangent eigenvalues.

    Critical iff ``‖Γ‖ ≤ 1e-6‖∇L‖``; then degenerate if some ``|μ| ≤ 1e-8 max|μ|``, else
    minimum (all ``μ > 0``), maximum (all ``μ < 0``) or saddle.
    """
    if gamma_norm > CRITICAL_RTOL * grad_norm:
        return "not-critical"
    scale = float(np.max(np.abs(eigs)))
    if scale == 0.0 or np.any(np.abs(eigs) <= DEGENERATE_RTOL * scale):
        return "degenerate"
    if np.all(eigs > 0):
        return "minimum"
    if np.all(eigs < 0):
        return "maximum"
    return "saddle"


def diagnose(p: Problem, delta: Array) -> dict[str, Any]:
    """Sphere diagnostics at ``δ ≠ 0`` (SPEC §3).

    ``λ = ⟨∇L,δ⟩/(2‖δ‖²)``, ``Γ = ∇L - 2λδ``, ``Ξ = ∇²L - 2λI``, the ascending eigenvalues of
    ``QᵀΞQ`` for a tangent basis ``Q``, ``alignment = cos∠[-∇L, δ]`` and the type.
    """
    delta = np.asarray(delta, np.float64)
    g, H = L_grad(p, delta), L_hess(p, delta)
    lam = float(g @ delta) / (2.0 * float(delta @ delta))
    gamma = g - 2.0 * lam * delta
    xi = H - 2.0 * lam * np.eye(p.d)
    Q = tangent_basis(delta)
    eigs = np.linalg.eigvalsh(Q.T @ xi @ Q)
    grad_norm = float(np.linalg.norm(g))
    alignment = -float(g @ delta) / (grad_norm * float(np.linalg.norm(delta)))
    return {
        "L": L_value(p, delta),
        "adv_loss": adv_loss(p, delta),
        "grad": g,
        "lambda": lam,
        "gamma": gamma,
        "xi": xi,
        "tangent_eigenvalues": eigs,
        "alignment": alignment,
        "type": classify(float(np.linalg.norm(gamma)), grad_norm, eigs),
    }
