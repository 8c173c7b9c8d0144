"""Random held-out two-layer problems and test points for the reference checks.

Problems follow SPEC §1 (Xavier init: ``W ~ N(0, I/d)``, ``a = ±1/√m``), the input is a random
direction times a scale in {0.1, 1, 10, 100}, ``ε = r‖x‖`` with ``r`` in {0.1, 1, 10} (and 0.01).
Test points lie on the sphere ``‖δ‖ = ε`` and strictly inside. Critical points on the sphere are
found by Riemannian descent/ascent (or, for d = 2, a dense angle scan) and a Newton polish.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from reference import (
    DEGENERATE_RTOL,
    GRAD_FLOOR,
    LOSSES,
    Array,
    L_grad,
    L_value,
    Problem,
    diagnose,
    pgd_sensitivity,
    tangent_basis,
)

SCALES = (0.1, 1.0, 10.0, 100.0)
RATIOS = (0.1, 1.0, 10.0)
SEED = 20_201_021
N_CASES = 24
MAX_SENSITIVITY = 1e3
SEARCHES = 3  # random starts per kind of extremum (d > 2) before a case goes without one


@dataclass(frozen=True)
class Case:
    """One held-out problem with its PGD settings and diagnosis points."""

    name: str
    problem: Problem
    with_loss_key: bool
    delta0: Array
    steps: int
    eta_raw: float
    eta_normalized: float
    points: tuple[Array, ...]
    critical: tuple[tuple[Array, str], ...]


def random_problem(
    rng: np.random.Generator, d: int, m: int, scale: float, ratio: float, loss: str
) -> Problem:
    """Xavier two-layer net, ``x = scale·(unit direction)``, ``ε = ratio·‖x‖``."""
    W = rng.normal(0.0, d**-0.5, size=(m, d))
    a = rng.choice([-1.0, 1.0], size=m) / np.sqrt(m)
    u = rng.normal(size=d)
    x = scale * u / np.linalg.norm(u)
    y = float(rng.normal()) if loss == "quadratic" else float(rng.integers(0, 2))
    return Problem(W=W, a=a, x=x, y=y, eps=ratio * scale, loss=loss)


def sphere_point(rng: np.random.Generator, d: int, eps: float) -> Array:
    """Uniform point on ``εS^{d-1}``."""
    u = rng.normal(size=d)
    return eps * u / np.linalg.norm(u)


def interior_point(rng: np.random.Generator, d: int, eps: float) -> Array:
    """Uniform point of the open ball ``B°(0, ε)`` (radius ``ε U^{1/d}``, kept below 0.99ε)."""
    return sphere_point(rng, d, eps) * min(float(rng.uniform()) ** (1.0 / d), 0.99)


def _retract(delta: Array, eps: float) -> Array:
    """Back onto the sphere: ``ε v/‖v‖``."""
    return eps * delta / np.linalg.norm(delta)


def newton_polish(p: Problem, delta: Array, iters: int = 40) -> Array:
    """Riemannian Newton on the sphere: ``(QᵀΞQ)ξ = -QᵀΓ``, ``δ ← ε(δ+Qξ)/‖δ+Qξ‖``.

    The symmetric tangent Hessian ``QᵀΞQ = V diag(μ) Vᵀ`` is inverted in its eigenbasis,
    ``ξ = -V diag(1/μ) VᵀQᵀΓ``. Where it is (near-)singular, ``min|μ| ≤ 1e-8 max|μ|`` (the
    reference's degeneracy tolerance, far above rounding), there is no Newton step: polishing
    stops and :func:`critical_points` rejects the point. No solve ever divides by a pivot of
    rounding size, whose value (and whether LAPACK calls it singular) depends on the BLAS kernel.
    """
    for _ in range(iters):
        if not np.linalg.norm(L_grad(p, delta)) > GRAD_FLOOR:
            break
        diag = diagnose(p, delta)
        gamma, xi = diag["gamma"], diag["xi"]
        if np.linalg.norm(gamma) <= 1e-14 * np.linalg.norm(diag["grad"]):
            break
        Q = tangent_basis(delta)
        mu, V = np.linalg.eigh(Q.T @ xi @ Q)
        if not np.min(np.abs(mu)) > DEGENERATE_RTOL * np.max(np.abs(mu)):
            break
        step = Q @ (V @ (-(V.T @ (Q.T @ gamma)) / mu))
        n = float(np.linalg.norm(step))
        if n > 0.1 * p.eps:
            step *= 0.1 * p.eps / n
        delta = _retract(delta + step, p.eps)
    return delta


def riemannian_descent(p: Problem, delta: Array, sign: float, iters: int = 400) -> Array:
    """Backtracking steps along ``-sign·Γ/‖Γ‖`` on the sphere (+1 minimises L, -1 maximises)."""
    t = 0.2 * p.eps
    for _ in range(iters):
        g = L_grad(p, delta)
        gamma = g - (g @ delta) / (delta @ delta) * delta
        n = float(np.linalg.norm(gamma))
        if n == 0.0 or t < 1e-9 * p.eps:
            break
        cand = _retract(delta - sign * t * gamma / n, p.eps)
        if sign * L_value(p, cand) < sign * L_value(p, delta):
            delta, t = cand, 1.5 * t
        else:
            t *= 0.5
    return delta


def circle_extrema(p: Problem, n_grid: int = 4096) -> list[tuple[Array, str]]:
    """d = 2: discrete local minima/maxima of ``L(ε(cos θ, sin θ))`` on a dense angle grid."""
    theta = np.linspace(0.0, 2.0 * np.pi, n_grid, endpoint=False)
    pts = p.eps * np.stack([np.cos(theta), np.sin(theta)], axis=1)
    vals = np.array([L_value(p, q) for q in pts])
    prev, nxt = np.roll(vals, 1), np.roll(vals, -1)
    out = [(pts[i], "minimum") for i in np.flatnonzero((vals < prev) & (vals < nxt))]
    return out + [(pts[i], "maximum") for i in np.flatnonzero((vals > prev) & (vals > nxt))]


def _is_clean_extremum(p: Problem, delta: Array, kind: str) -> bool:
    """``‖Γ‖ ≤ 1e-12‖∇L‖``, the reference type is ``kind``, and every tangent eigenvalue
    satisfies ``|μ| ≥ 1e-3 max|μ|`` (so any sane degeneracy tolerance agrees)."""
    if not np.linalg.norm(L_grad(p, delta)) > GRAD_FLOOR:
        return False
    diag = diagnose(p, delta)
    eigs = np.abs(diag["tangent_eigenvalues"])
    return bool(diag["type"] == kind
                and np.linalg.norm(diag["gamma"]) <= 1e-12 * np.linalg.norm(diag["grad"])
                and eigs.min() >= 1e-3 * eigs.max())


def critical_points(p: Problem, rng: np.random.Generator) -> list[tuple[Array, str]]:
    """Well-separated, non-degenerate local minima/maxima of L on the sphere, polished.

    d = 2: the first four extrema of a dense angle scan, each polished and kept if clean
    (:func:`_is_clean_extremum`). d > 2: for each kind, Riemannian descent (ascent) from a
    random start, polished; a degenerate or unclean result is re-seeded from a new start, at most
    ``SEARCHES`` starts per kind (a quadratic loss's maximum ``L = 0`` on the level set
    ``f = y`` is degenerate from every start).
    """
    found: list[tuple[Array, str]] = []
    if p.d == 2:
        for guess, kind in circle_extrema(p)[:4]:
            delta = newton_polish(p, guess)
            if _is_clean_extremum(p, delta, kind):
                found.append((delta, kind))
        return found
    for kind, sign in (("minimum", 1.0), ("maximum", -1.0)):
        for _ in range(SEARCHES):
            start = sphere_point(rng, p.d, p.eps)
            delta = newton_polish(p, riemannian_descent(p, start, sign))
            if _is_clean_extremum(p, delta, kind):
                found.append((delta, kind))
                break
    return found


def well_conditioned_eta(
    p: Problem, delta0: Array, eta: float, steps: int, rule: str
) -> float | None:
    """Halve ``η`` until PGD amplifies step-``t`` rounding by at most ``MAX_SENSITIVITY``."""
    for _ in range(12):
        if pgd_sensitivity(p, delta0, eta, steps, rule) <= MAX_SENSITIVITY:
            return eta
        eta *= 0.5
    return None


def make_case(i: int, seed: int = SEED) -> Case:
    """The i-th held-out case: its (d, m, scale, ratio, loss) cycle through the grid.

    Draws are repeated (same stream) while ``∇L`` underflows at a test point or no
    well-conditioned PGD step size exists (saturated bce at large input scale).
    """
    rng = np.random.default_rng([seed, i])
    d = 2 if i % 4 == 0 else (30 if i == 1 else int(rng.integers(3, 31)))
    m = 700 if i == 1 else int(np.exp(rng.uniform(0.0, np.log(700.0))))
    scale = SCALES[i % 4]
    ratio = 0.01 if i % 8 == 7 else RATIOS[(i // 4) % 3]
    loss = LOSSES[(i // 2) % 2]
    steps = 100
    for _ in range(50):
        p = random_problem(rng, d, m, scale, ratio, loss)
        delta0 = interior_point(rng, d, p.eps)
        points = (sphere_point(rng, d, p.eps), sphere_point(rng, d, p.eps),
                  interior_point(rng, d, p.eps))
        if min(np.linalg.norm(L_grad(p, q)) for q in (delta0, *points)) <= GRAD_FLOOR:
            continue
        g0 = float(np.linalg.norm(L_grad(p, delta0)))
        eta_raw = well_conditioned_eta(p, delta0, 0.05 * p.eps / g0, steps, "raw")
        eta_norm = well_conditioned_eta(p, delta0, 0.05 * p.eps, steps, "normalized")
        if eta_raw is None or eta_norm is None:
            continue
        name = f"i{i}-d{d}-m{m}-s{scale:g}-r{ratio:g}-{loss}"
        return Case(name=name, problem=p, with_loss_key=not (loss == "quadratic" and i % 3 == 0),
                    delta0=delta0, steps=steps, eta_raw=eta_raw, eta_normalized=eta_norm,
                    points=points, critical=tuple(critical_points(p, rng)))
    raise RuntimeError(f"case {i}: no usable draw")


@lru_cache(maxsize=1)
def held_out_cases() -> tuple[Case, ...]:
    """The ``N_CASES`` held-out cases (deterministic, cached per process)."""
    return tuple(make_case(i) for i in range(N_CASES))
