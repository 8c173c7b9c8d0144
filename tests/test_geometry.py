"""Samplers (statistically, fixed seeds), projections (property-based), tangent maps."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from advdyn.errors import AdvdynError
from advdyn.geometry import (
    L2Ball,
    LinfBall,
    clip_to_box,
    lagrange_multiplier,
    row_norm,
    tangent_basis,
    tangent_project,
)


@pytest.mark.parametrize("d", [2, 10, 784])
def test_l2_ball_radius_law_ks(d):
    """‖δ‖/ε has CDF r^d: (‖δ‖/ε)^d ~ U[0,1] (KS test), and every sample is strictly inside."""
    g = torch.Generator().manual_seed(d)
    eps = torch.linspace(0.5, 3.0, 4000)
    delta = L2Ball.sample(4000, (d,), eps, generator=g)
    r = (row_norm(delta) / eps).numpy()
    assert (r < 1).all()
    assert stats.kstest(r**d, "uniform").pvalue > 0.01


def test_l2_ball_direction_is_isotropic():
    g = torch.Generator().manual_seed(3)
    delta = L2Ball.sample(20000, (3,), 1.0, generator=g)
    u = delta / row_norm(delta)[:, None]
    assert u.mean(0).abs().max() < 0.03
    cov = (u.T @ u / len(u)).numpy()
    np.testing.assert_allclose(cov, np.eye(3) / 3, atol=0.02)


def test_linf_ball_uniform_coordinates():
    g = torch.Generator().manual_seed(4)
    delta = LinfBall.sample(5000, (7,), 2.0, generator=g)
    assert delta.abs().max() < 2.0
    assert stats.kstest(((delta + 2) / 4).flatten().numpy(), "uniform").pvalue > 0.01


def test_sphere_samples_have_norm_eps():
    eps = torch.tensor([0.1, 1.0, 1e4])
    d = L2Ball.sample_sphere(3, (5,), eps, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(row_norm(d), eps)


def test_same_seed_same_samples():
    a = L2Ball.sample(10, (4,), 1.0, generator=torch.Generator().manual_seed(7))
    b = L2Ball.sample(10, (4,), 1.0, generator=torch.Generator().manual_seed(7))
    assert torch.equal(a, b)


vectors = st.lists(st.floats(-1e4, 1e4, allow_nan=False), min_size=2, max_size=12)


@settings(max_examples=200, deadline=None)
@given(v=vectors, eps=st.floats(1e-3, 1e3))
def test_l2_projection_idempotent_feasible_and_nearest(v, eps):
    t = torch.tensor([v], dtype=torch.float64)
    p = L2Ball.project(t, eps)
    assert float(row_norm(p)[0]) <= eps * (1 + 1e-12)
    torch.testing.assert_close(L2Ball.project(p, eps), p)
    if float(row_norm(t)[0]) <= eps:
        assert torch.equal(p, t)
    else:  # on the boundary, along v
        assert abs(float(row_norm(p)[0]) - eps) <= 1e-12 * eps
        cos = float((p * t).sum() / (row_norm(p) * row_norm(t))[0])
        assert cos > 1 - 1e-12


@settings(max_examples=200, deadline=None)
@given(v=vectors, eps=st.floats(1e-3, 1e3))
def test_linf_projection_idempotent_feasible(v, eps):
    t = torch.tensor([v], dtype=torch.float64)
    p = LinfBall.project(t, eps)
    assert float(p.abs().max()) <= eps
    assert torch.equal(LinfBall.project(p, eps), p)


def test_projection_per_row_eps():
    v = torch.ones(3, 4) * 10
    eps = torch.tensor([1.0, 2.0, 100.0])
    torch.testing.assert_close(row_norm(L2Ball.project(v, eps)), torch.tensor([1.0, 2.0, 20.0]))
    assert LinfBall.project(v, eps)[1].max() == 2.0


def test_box_clip_is_separate_from_ball():
    x = torch.tensor([[0.9, 0.1]])
    delta = torch.tensor([[0.5, -0.5]])
    torch.testing.assert_close(clip_to_box(x, delta, 0.0, 1.0), torch.tensor([[0.1, -0.1]]))


def test_tangent_maps():
    g = torch.Generator().manual_seed(5)
    delta = torch.randn(6, 5, generator=g)
    v = torch.randn(6, 5, generator=g)
    pv = tangent_project(delta, v)
    assert (pv * delta).sum(1).abs().max() < 1e-12
    torch.testing.assert_close(tangent_project(delta, pv), pv)
    q = tangent_basis(delta)
    eye = torch.eye(4).expand(6, 4, 4)
    torch.testing.assert_close(q.transpose(1, 2) @ q, eye)
    assert (delta[:, None, :] @ q).abs().max() < 1e-12
    lam = lagrange_multiplier(v, delta)
    torch.testing.assert_close(v - 2 * lam[:, None] * delta, pv)


def test_bad_eps_is_named():
    with pytest.raises(AdvdynError, match="eps"):
        L2Ball.sample(3, (2,), -1.0)
    with pytest.raises(AdvdynError, match="eps"):
        L2Ball.sample(3, (2,), torch.tensor([1.0, 2.0]))


def test_normalize_is_unit_even_for_tiny_gradients():
    g = torch.tensor([[3e-200, 4e-200], [0.0, 0.0], [3.0, 4.0]])
    n = L2Ball.normalize(g)
    torch.testing.assert_close(n, torch.tensor([[0.6, 0.8], [0.0, 0.0], [0.6, 0.8]]))
    g32 = torch.tensor([[3e-38, 4e-38]], dtype=torch.float32)
    torch.testing.assert_close(L2Ball.normalize(g32),
                               torch.tensor([[0.6, 0.8]], dtype=torch.float32))


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_normalize_and_project_keep_the_layout_and_the_flat_rows_formula(layout):
    """On images (B, C, H, W) in either memory layout: the results are the formulas on the
    flattened rows, ``ĝ/‖ĝ‖`` with ``ĝ = g/max|g|`` and ``v·min(1, ε/‖v‖)`` (bit for bit in
    the contiguous layout, whose reductions run in the same order), in the input's layout."""
    g = torch.Generator().manual_seed(5)
    v = (torch.randn(6, 3, 4, 5, generator=g) * torch.logspace(-3, 3, 6)[:, None, None, None]
         ).contiguous(memory_format=layout)
    v[2] = 0
    eps = torch.linspace(0.5, 40.0, 6)
    flat = v.reshape(6, -1)
    hat = flat / flat.abs().amax(dim=1, keepdim=True).clamp_min(torch.finfo(v.dtype).tiny)
    unit = hat / torch.linalg.vector_norm(hat, dim=1, keepdim=True).clamp_min(1e-30)
    projected = flat * (eps[:, None] / torch.linalg.vector_norm(flat, dim=1, keepdim=True)
                        ).clamp_max(1)
    for got, want in ((L2Ball.normalize(v), unit), (L2Ball.project(v, eps), projected)):
        assert got.is_contiguous(memory_format=layout)
        if layout == torch.contiguous_format:
            assert torch.equal(got.reshape(6, -1), want)
        else:
            torch.testing.assert_close(got.reshape(6, -1), want)
    assert row_norm(v, keepdim=True).shape == (6, 1, 1, 1)
    assert torch.equal(row_norm(v, keepdim=True).reshape(6), row_norm(v))


def test_atomic_files_are_world_readable(tmp_path):
    import os
    import stat

    from advdyn.atomic import write_text

    write_text(tmp_path / "a.txt", "x")
    mode = stat.S_IMODE(os.stat(tmp_path / "a.txt").st_mode)
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask
