"""The census of critical points on the sphere against independent references.

* d = 2: an independent NumPy scan of ``θ ↦ L(ε(cos θ, sin θ))`` on 2¹⁶ angles (discrete local
  extrema of the values, no derivatives) gives the exact number of minima and maxima;
* d = 3, 6: a slow many-start reference — SciPy L-BFGS on ``v ↦ L(εv/‖v‖)`` (minimising for
  minima) from uniform starts, polished and classified by the NumPy reference of
  ``tests/reference.py``; every census minimum is re-classified by that reference (no false one).

The problems are held out: drawn from fixed seeds that were not used to develop the census.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from scipy.optimize import minimize

from advdyn.cli.main import main
from advdyn.errors import AdvdynError
from advdyn.losses import Quadratic
from advdyn.models import Problem as AdvProblem
from advdyn.models import TwoLayerNet, TwoLayerObjective
from advdyn.sphere.census import census, scan_circle
from problem_gen import newton_polish, random_problem
from reference import L_grad, L_value, Problem, diagnose, save_problem, softplus

HELD_OUT_SEED = 424_242


pytestmark = pytest.mark.usefixtures("one_thread")


def _adv(p: Problem) -> AdvProblem:
    return AdvProblem(p.W, p.a, p.x, p.y, p.eps, p.loss)


def _held_out(i: int, d: int) -> Problem:
    """Problem i of dimension d: scale 10 or 30, ratio 1 or 3, quadratic or bce, m ≤ 400."""
    rng = np.random.default_rng([HELD_OUT_SEED, d, i])
    m = int(rng.integers(50, 400))
    return random_problem(rng, d, m, (10.0, 30.0)[i % 2], (1.0, 3.0)[(i // 2) % 2],
                          ("quadratic", "bce")[(i // 4) % 2])


def _circle_reference(p: Problem, n: int = 1 << 16) -> tuple[np.ndarray, np.ndarray]:
    """Angles of the discrete local minima / maxima of L on an n-point grid (vectorised NumPy)."""
    th = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    z = p.x + p.eps * np.stack([np.cos(th), np.sin(th)], axis=1)
    u = softplus(z @ p.W.T) @ p.a
    if p.loss == "quadratic":
        L = -((p.y - u) ** 2)
    else:
        L = -((1 - p.y) * softplus(u) + p.y * softplus(-u))
    prev, nxt = np.roll(L, 1), np.roll(L, -1)
    return th[(prev > L) & (nxt > L)], th[(prev < L) & (nxt < L)]


def _angle_gap(a: float, b: np.ndarray) -> float:
    d = np.abs(np.angle(np.exp(1j * (b - a))))
    return float(d.min()) if d.size else np.inf


@pytest.mark.parametrize("i", range(8))
def test_circle_census_matches_dense_reference(i: int) -> None:
    p = _held_out(i, 2)
    c = census(_adv(p).objective(), p.eps)
    ref_min, ref_max = _circle_reference(p)
    assert c.method == "circle-scan" and not c.degenerate
    assert len(c.minima) == len(ref_min) and len(c.maxima) == len(ref_max)
    cell = 2 * np.pi / (1 << 16)
    # the gradient scale on the circle (∇L itself vanishes at the maxima u = y of the quadratic)
    scale = max(np.linalg.norm(L_grad(p, p.eps * np.array([np.cos(t), np.sin(t)])))
                for t in np.linspace(0, 2 * np.pi, 16))
    for pts, ref in ((c.minima, ref_min), (c.maxima, ref_max)):
        for q in pts:
            assert _angle_gap(np.arctan2(q.delta[1], q.delta[0]), ref) <= 2 * cell
            assert np.linalg.norm(q.delta) == pytest.approx(p.eps, rel=1e-14)
            assert q.gamma_norm <= 1e-9 * max(np.linalg.norm(L_grad(p, q.delta)), scale)


def test_scan_is_batched_over_rows_with_their_own_radius() -> None:
    """One call over B rows (x_b, y_b, ε_b) equals B single-row calls."""
    gen = torch.Generator().manual_seed(3)
    net = TwoLayerNet.xavier(2, 300, generator=gen)
    x = 10 * torch.randn(6, 2, generator=gen, dtype=torch.float64)
    y = torch.randn(6, generator=gen, dtype=torch.float64)
    eps = torch.tensor([0.5, 1.0, 5.0, 10.0, 20.0, 40.0], dtype=torch.float64)
    batch = scan_circle(TwoLayerObjective(net, Quadratic, x, y), eps)
    for b in range(6):
        one = scan_circle(TwoLayerObjective(net, Quadratic, x[b], float(y[b])), float(eps[b]))[0]
        assert batch[b].counts == one.counts
        for p1, p2 in zip(batch[b].minima + batch[b].maxima, one.minima + one.maxima,
                          strict=True):
            np.testing.assert_allclose(p1.delta, p2.delta, rtol=0, atol=1e-12 * float(eps[b]))


def test_scan_of_150_rows_alternates_minima_and_maxima() -> None:
    """150 rows in one batch (timing is ``advdyn bench``'s job): on a circle, local minima and
    maxima alternate, so every row has as many of each, at least one."""
    gen = torch.Generator().manual_seed(4)
    net = TwoLayerNet.xavier(2, 128, generator=gen)
    x = torch.randn(150, 2, generator=gen, dtype=torch.float64) * 10
    eps = torch.logspace(-1, 1.5, 150, dtype=torch.float64)
    out = scan_circle(TwoLayerObjective(net, Quadratic, x, 0.5), eps * 10, n_angles=4096)
    assert len(out) == 150 and all(len(c.minima) == len(c.maxima) >= 1 for c in out)


def _slow_reference_minima(p: Problem, starts: int, seed: int) -> list[np.ndarray]:
    """Many-start L-BFGS on v ↦ L(εv/‖v‖), reference Newton polish, reference classification."""
    rng = np.random.default_rng(seed)

    def fun(v: np.ndarray) -> tuple[float, np.ndarray]:
        n = np.linalg.norm(v)
        delta = p.eps * v / n
        g = L_grad(p, delta)
        return L_value(p, delta), p.eps / n * (g - (g @ v) / (n * n) * v)

    found: list[np.ndarray] = []
    for _ in range(starts):
        v0 = rng.normal(size=p.d)
        res = minimize(fun, v0 / np.linalg.norm(v0), jac=True, method="L-BFGS-B",
                       options={"gtol": 1e-12, "ftol": 1e-15, "maxiter": 2000})
        delta = newton_polish(p, p.eps * res.x / np.linalg.norm(res.x))
        r = diagnose(p, delta)
        if r["type"] == "minimum" and not any(np.linalg.norm(delta - q) <= 1e-6 * p.eps
                                              for q in found):
            found.append(delta)
    return found


@pytest.mark.parametrize("d,i", [(3, 0), (3, 1), (3, 5), (6, 0), (6, 3)])
def test_census_finds_every_reference_minimum_and_no_false_one(d: int, i: int) -> None:
    p = _held_out(i, d)
    c = census(_adv(p).objective(), p.eps, seed=1)
    ref = _slow_reference_minima(p, starts=100, seed=i)
    got = np.array([q.delta for q in c.minima])
    for q in ref:
        assert np.min(np.linalg.norm(got - q, axis=1)) <= 1e-6 * p.eps
    for q in c.minima:
        r = diagnose(p, q.delta)
        assert r["type"] == "minimum"
        assert np.linalg.norm(r["gamma"]) <= 1e-10 * np.linalg.norm(r["grad"])
    for q in c.maxima:
        assert diagnose(p, q.delta)["type"] == "maximum"
    for q in c.saddles:
        assert diagnose(p, q.delta)["type"] == "saddle"
    u = c.unseen["minima"]
    assert u["observed"] == len(c.minima) and u["chao1"] >= len(c.minima)


def _same(x: object, y: object) -> bool:
    """Equal structure, equal non-floats, floats equal to 1e-12 relative (PyTorch CPU kernels
    may round the last bit differently with the memory alignment of a batch)."""
    if isinstance(x, dict) and isinstance(y, dict):
        return x.keys() == y.keys() and all(_same(x[k], y[k]) for k in x)
    if isinstance(x, list) and isinstance(y, list):
        return len(x) == len(y) and all(_same(u, v) for u, v in zip(x, y, strict=True))
    if isinstance(x, float) and isinstance(y, float):
        return x == pytest.approx(y, rel=1e-12, abs=1e-300)
    return x == y


def test_census_is_deterministic_and_json_ready() -> None:
    p = _held_out(1, 3)
    a = census(_adv(p).objective(), p.eps, seed=5, starts=64)
    b = census(_adv(p).objective(), p.eps, seed=5, starts=64)
    assert a.counts == b.counts and _same(a.to_json(), b.to_json())
    j = a.to_json()
    json.dumps(j, allow_nan=False)
    assert set(j) >= {"minima", "maxima", "saddles", "degenerate", "unseen", "method"}
    assert j["info"]["starts"] == 64


@pytest.mark.slow
def test_census_d10_m4000_minima_are_reference_minima() -> None:
    """The benchmark's size (its time is measured by ``advdyn bench``, case 4): every minimum
    the census reports is a minimum for the NumPy reference."""
    rng = np.random.default_rng([HELD_OUT_SEED, 10])
    p = random_problem(rng, 10, 4000, 10.0, 1.0, "bce")
    c = census(_adv(p).objective(), p.eps)
    assert len(c.minima) >= 1
    for q in c.minima:
        assert diagnose(p, q.delta)["type"] == "minimum"


def test_census_rejects_bad_input() -> None:
    p = _held_out(0, 3)
    obj = _adv(p).objective()
    with pytest.raises(AdvdynError, match="eps"):
        census(obj, -1.0)
    with pytest.raises(AdvdynError, match="starts"):
        census(obj, p.eps, starts=0)
    with pytest.raises(AdvdynError, match="n_angles"):
        scan_circle(_adv(_held_out(0, 2)).objective(), 1.0, n_angles=4)
    with pytest.raises(AdvdynError, match="objective"):
        scan_circle(obj, 1.0)


def test_cli_census(tmp_path, capsys) -> None:
    p = _held_out(2, 3)
    path = tmp_path / "p.npz"
    save_problem(path, p)
    assert main(["census", str(path), "--starts", "64", "--seed", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"minima", "maxima", "saddles", "unseen"} <= set(out)
    assert all("delta" in q and "L" in q for q in out["minima"])
    with pytest.raises(SystemExit, match=r"^2$"):  # refused by the flag's type
        main(["census", str(path), "--starts", "-1", "--json"])
    assert main(["census", str(tmp_path / "missing.npz"), "--json"]) == 2
    err = capsys.readouterr()
    assert err.out == "" and len(err.err.strip().splitlines()) == 2
