"""The PGD engine: rules, per-row ε/η, ascent/descent, stopping, KKT fixed points, the
shrinking schedule of Corollary 3.1, recording and streaming."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from advdyn.errors import AdvdynError
from advdyn.geometry import L2Ball, row_norm
from advdyn.pgd import Recorder, Shrinking, load_trajectory, run_pgd
from advdyn.sphere import diagnose
from conftest import make_objective


def reference_pgd(obj, eps, eta, steps, delta, rule, sign=1.0):
    """A loop written from the definition, one row at a time."""
    out = []
    for b in range(delta.shape[0]):
        d = delta[b:b + 1].clone()
        sub = obj.select(torch.tensor([b])) if obj.rows > 1 else obj
        for _ in range(steps):
            g = sub.evaluate(d).grad
            v = g if rule == "raw" else g / g.norm() if rule == "normalized" else g.sign()
            d = d - sign * eta[b] * v
            n = d.norm()
            if n > eps[b]:
                d = d * eps[b] / n
        out.append(d)
    return torch.cat(out)


@pytest.mark.parametrize("rule", ["raw", "normalized", "sign"])
@pytest.mark.parametrize("direction", ["descent", "ascent"])
def test_engine_matches_definition_per_row(rule, direction):
    obj = make_objective(4, 60, 3.0, rows=5, seed=2)
    eps = torch.tensor([0.1, 0.5, 1.0, 3.0, 10.0])
    eta = 0.05 * eps if rule != "raw" else 0.2 * eps**2
    start = L2Ball.sample(5, (4,), eps, generator=torch.Generator().manual_seed(0))
    res = run_pgd(obj, eps, eta, 40, rule=rule, direction=direction, start=start)
    ref = reference_pgd(obj, eps, eta, 40, start, rule, 1.0 if direction == "descent" else -1.0)
    torch.testing.assert_close(res.delta, ref, rtol=1e-12, atol=1e-14)
    assert (res.steps == 40).all()
    torch.testing.assert_close(res.L, obj.evaluate(res.delta).L)


def test_descent_decreases_and_ascent_increases_L():
    obj = make_objective(5, 100, 1.0, rows=1)
    start = torch.zeros(1, 5)
    dn = run_pgd(obj, 0.5, 0.02, 200, rule="normalized", start=start, batch=1)
    up = run_pgd(obj, 0.5, 0.02, 200, rule="normalized", start=start, direction="ascent")
    l0 = float(obj.evaluate(start).L[0])
    assert float(dn.L[0]) < l0 < float(up.L[0])


def test_same_seed_same_result_and_starts():
    obj = make_objective(3, 20, 1.0)
    a = run_pgd(obj, 1.0, 0.1, 5, batch=7, generator=3)
    b = run_pgd(obj, 1.0, 0.1, 5, batch=7, generator=3)
    assert torch.equal(a.delta, b.delta)
    z = run_pgd(obj, 1.0, 0.1, 0, batch=4, start="zero")
    assert torch.equal(z.delta, torch.zeros(4, 3))
    s = run_pgd(obj, 2.0, 0.1, 0, batch=4, start="sphere", generator=1)
    torch.testing.assert_close(row_norm(s.delta), torch.full((4,), 2.0))


def test_kkt_points_are_exactly_the_fixed_points_of_raw_pgd():
    """On the sphere, δ = P_B(δ - η∇L) iff Γ(δ) = 0 and λ* ≤ 0 (the KKT conditions)."""
    obj = make_objective(2, 80, 1.0, seed=4)
    eps = 0.8
    theta = torch.linspace(0, 2 * math.pi, 20001)[:-1]
    ring = eps * torch.stack([theta.cos(), theta.sin()], 1)
    ev = obj.evaluate(ring)
    tang = ev.grad[:, 0] * -theta.sin() + ev.grad[:, 1] * theta.cos()
    crossings = torch.nonzero(tang.sign() != tang.roll(-1).sign()).flatten()
    assert len(crossings) >= 2
    crit = []
    for i in crossings.tolist():  # refine each critical angle by bisection
        lo, hi = float(theta[i]), float(theta[i]) + float(theta[1] - theta[0])
        for _ in range(60):
            mid = (lo + hi) / 2
            p = eps * torch.tensor([[math.cos(mid), math.sin(mid)]])
            gm = obj.evaluate(p).grad[0]
            t = float(-gm[0] * math.sin(mid) + gm[1] * math.cos(mid))
            p0 = eps * torch.tensor([[math.cos(lo), math.sin(lo)]])
            g0 = obj.evaluate(p0).grad[0]
            t0 = float(-g0[0] * math.sin(lo) + g0[1] * math.cos(lo))
            lo, hi = (mid, hi) if t * t0 > 0 else (lo, mid)
        crit.append(eps * torch.tensor([math.cos(lo), math.sin(lo)]))
    crit = torch.stack(crit)
    dg = diagnose(obj, crit, eps)
    step = run_pgd(obj, eps, 1e-3, 1, start=crit)
    moved = row_norm(step.delta - crit) / eps
    for i in range(len(crit)):
        if bool(dg.kkt[i]):
            assert float(moved[i]) < 1e-12
        else:
            assert float(dg.lam[i]) > 0 and float(moved[i]) > 1e-6
    assert dg.kkt.any() and (~dg.kkt).any()
    noncritical = ring[::997]
    moved = row_norm(run_pgd(obj, eps, 1e-3, 1, start=noncritical).delta - noncritical)
    assert (moved > 1e-8).all()


def test_tol_stops_rows_at_kkt_points_and_freezes_them():
    obj = make_objective(3, 50, 1.0, seed=5)
    res = run_pgd(obj, 0.6, 0.3, 3000, rule="raw", batch=16, generator=0, tol=1e-9)
    assert res.converged.all()
    assert (res.steps < 3000).all() and len(set(res.steps.tolist())) > 1
    dg = diagnose(obj, res.delta, 0.6)
    assert (dg.gamma_norm <= 1e-9).all() and dg.kkt.all()
    assert set(dg.types) == {"minimum"}


def test_ascent_finds_local_maxima():
    obj = make_objective(3, 80, 2.0, seed=6)
    res = run_pgd(obj, 1.5, 0.5, 3000, batch=24, start="sphere", generator=1,
                  direction="ascent", tol=1e-10)
    assert res.converged.all()
    dg = diagnose(obj, res.delta, 1.5)
    assert all(t == "maximum" for t in dg.types)
    assert (dg.lam >= 0).all()
    # each end point beats every nearby sphere point
    g = torch.Generator().manual_seed(0)
    for b in range(4):
        near = res.delta[b] + 1e-3 * torch.randn(200, 3, generator=g)
        near = 1.5 * near / row_norm(near)[:, None]
        assert (res.L[b] + 1e-12 >= obj.evaluate(near).L).all()


def test_shrinking_schedule_gives_D_s_of_order_one_over_z_plus_s():
    """Corollary 3.1 on a problem with a known minimum: D_s (z+s) stays bounded and D_s decays
    at the linearised rate (z+s)^{-4} (faster than the bound O(1/(z+s)))."""
    obj = make_objective(2, 60, 1.0, seed=7)
    eps = 0.7
    star = run_pgd(obj, eps, 0.01, 20000, batch=1, start="sphere", tol=1e-13).delta
    dg = diagnose(obj, star, eps)
    assert dg.types == ["minimum"]
    beta = float(dg.tangent_eigenvalues.min())
    eta0 = 0.5 / beta
    theta = math.atan2(float(star[0, 1]), float(star[0, 0])) + 0.05
    start = eps * torch.tensor([[math.cos(theta), math.sin(theta)]])
    sched = Shrinking(beta)
    res = run_pgd(obj, eps, eta0, 400, start=start, schedule=sched,
                  record=Recorder(fields=("delta", "eta", "gamma_norm"), dtype="float64"))
    tr = res.trajectory
    switched = int(np.argmax(tr.eta < eta0 * (1 - 1e-12))) - 1
    assert switched >= 0
    s = np.arange(len(tr.t) - switched)
    z = 2 / (beta * eta0)
    np.testing.assert_allclose(tr.eta[switched:, 0][1:], 2 / (beta * (s[1:] + z)), rtol=1e-12)
    D = ((tr.delta[switched:, 0] - star.numpy()) ** 2).sum(1)
    scaled = D * (z + s)
    assert scaled.max() <= scaled[0] * 1.0001
    # linearised: e_{s+1} = (1 - η_s μ) e_s with μ = β in d = 2, so D_s ∝ (z+s)^{-4}
    half = len(D) // 2
    slope = np.polyfit(np.log(z + s[half:]), np.log(D[half:]), 1)[0]
    assert -4.3 < slope < -3.7, slope


def test_recording_stride_rows_dtype():
    obj = make_objective(3, 20, 1.0)
    rec = Recorder(stride=7, rows=(0, 2), dtype="float64")
    res = run_pgd(obj, 1.0, 0.1, 30, batch=4, generator=0, record=rec)
    tr = res.trajectory
    assert tr.t.tolist() == [0, 7, 14, 21, 28, 30]
    assert tr.delta.shape == (6, 2, 3) and tr.L.shape == (6, 2)
    np.testing.assert_allclose(tr.delta[-1], res.delta[[0, 2]].numpy())
    np.testing.assert_allclose(tr.ell, -tr.L)
    assert tr.on_sphere.dtype == bool


def test_streamed_trajectory_equals_in_memory(tmp_path):
    obj = make_objective(4, 30, 1.0)
    mem = run_pgd(obj, 1.0, 0.05, 50, batch=5, generator=2, record=Recorder(dtype="float64"))
    disk = run_pgd(obj, 1.0, 0.05, 50, batch=5, generator=2,
                   record=Recorder(dtype="float64", path=tmp_path / "tr", chunk_bytes=1000))
    again = load_trajectory(tmp_path / "tr")
    for tr in (disk.trajectory, again):
        np.testing.assert_array_equal(tr.t, mem.trajectory.t)
        for f in ("delta", "L", "gamma_norm", "lam", "alignment", "on_sphere"):
            np.testing.assert_array_equal(np.asarray(getattr(tr, f)),
                                          getattr(mem.trajectory, f))


PEAK = textwrap.dedent("""
    import resource, sys, torch
    sys.path.insert(0, {tests!r})
    from conftest import make_objective
    from advdyn.pgd import Recorder, run_pgd
    obj = make_objective(32, 8, 1.0, dtype=torch.float32)
    run_pgd(obj, 1.0, 0.01, int(sys.argv[1]), batch=1000, generator=0,
            record=Recorder(path=sys.argv[2], chunk_bytes=4 << 20))
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
""")


def test_streaming_keeps_peak_memory_flat(tmp_path):
    """Peak RSS with 2,000 recorded steps (≈ 0.27 GB of trajectory) ≈ peak with 200 steps."""
    from pathlib import Path

    code = PEAK.format(tests=str(Path(__file__).parent))
    peaks = []
    for steps in (200, 2000):
        out = subprocess.run([sys.executable, "-c", code, str(steps), str(tmp_path / f"t{steps}")],
                             capture_output=True, text=True, check=True)
        peaks.append(int(out.stdout.strip()) / 1024)  # MiB
    size = sum(f.stat().st_size for f in (tmp_path / "t2000").iterdir()) / 2**20
    assert size > 250
    assert peaks[1] - peaks[0] < 40, peaks


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"eps": -1.0}, "eps"), ({"eta": float("nan")}, "eta"), ({"steps": -3}, "steps"),
    ({"rule": "adam"}, "rule"), ({"direction": "up"}, "direction"), ({"ball": "l1"}, "ball"),
    ({"start": "corner"}, "start"), ({"start": torch.ones(1, 3) * 5}, "start"),
    ({"eps": torch.ones(3)}, "batch"), ({"tol": -1.0}, "tol"), ({"box": (1.0, 0.0)}, "box"),
    ({"schedule": "cosine"}, "schedule"),
])
def test_bad_arguments_name_the_field(kwargs, field):
    obj = make_objective(3, 10, 1.0)
    args = {"eps": 1.0, "eta": 0.1, "steps": 2, "batch": 2} | kwargs
    with pytest.raises(AdvdynError, match=field):
        run_pgd(obj, args.pop("eps"), args.pop("eta"), args.pop("steps"), **args)


def test_linf_sign_with_box():
    obj = make_objective(6, 20, 0.5)
    x = torch.tensor([[0.0, 0.05, 0.5, 0.5, 0.97, 1.0]])
    obj = type(obj)(obj.net, obj.loss, x, obj.y)
    res = run_pgd(obj, 0.1, 0.02, 20, ball="linf", rule="normalized", batch=3, box=(0.0, 1.0))
    assert res.delta.abs().max() <= 0.1 + 1e-15
    z = x + res.delta
    assert z.min() >= 0 and z.max() <= 1
