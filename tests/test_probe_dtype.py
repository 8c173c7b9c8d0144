"""The escape probe and Question 1's measures make every tensor in the input's dtype (and, by
the same code, on its device): run in float32 and in float64, a tensor created in another dtype
would either stop the network (a float64 perturbation of float32 images meets float32 weights)
or promote what they return; so what they return carries the dtype they were given."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from advdyn.experiments import stationarity as st
from advdyn.experiments.escape import ProbeConfig, probe
from advdyn.models.calibration import JacobianLinearised
from advdyn.models.cnn import build_cnn

DTYPES = {"float32": torch.float32, "float64": torch.float64}


def _inputs(dtype: torch.dtype) -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(5)
    net = build_cnn("tiny", activation="softplus", pool="avg", seed=1).to(dtype)
    return (net.eval().requires_grad_(False),
            torch.rand(2, 1, 28, 28, generator=gen, dtype=dtype), torch.tensor([3, 8]))


@pytest.mark.parametrize("name", sorted(DTYPES))
@pytest.mark.parametrize("linearise", [False, True])
def test_the_escape_probe_computes_in_its_dtype(name: str, linearise: bool) -> None:
    """Every convention (the random one draws fresh directions inside the loop), the network
    and its linearisation."""
    net, images, labels = _inputs(torch.float64)
    cfg = ProbeConfig(ratios=(0.1, 1.0), images=2, steps=4, ascent_steps=10, reference_steps=4,
                      conventions=("normalized", "raw_fixed", "raw_eps2", "random"), dtype=name)
    records = probe(net, images, labels, 10.0, 9.3, cfg, linearise=linearise)
    assert len(records) == 8
    for r in records:
        for key in ("log_ell_start", "log_ell_ref", "log_ell_min", "tangent", "one_minus_cos"):
            assert r[key].dtype == np.dtype(name), key
            assert np.isfinite(r[key]).all(), key


@pytest.mark.parametrize("name", sorted(DTYPES))
def test_question_one_measures_compute_in_their_dtype(name: str) -> None:
    """The restarts' starts, the ascent and its KKT residuals, in the pixel box; the
    affineness probes; the whole measurement on the network and on its linearisation."""
    dtype = DTYPES[name]
    net, x, y = _inputs(dtype)
    box = (0.0, 1.0)
    start = st._start(x, 0.5, box, torch.Generator().manual_seed(0))
    assert start.dtype == dtype and start.device == x.device
    ascent = st.ascend(net, x, y, 0.5, 0.25, 3, box, start)
    assert ascent.delta.dtype == dtype
    assert ascent.log_ell.dtype == ascent.residual.dtype == np.dtype(name)
    assert np.isfinite(st.affineness(net, x, y, 0.5, 2, 0)).all()
    cfg = st.Q1Config(q1_images=2, q1_runs=2, q1_steps=3, restarts=2, restart_steps=3,
                      affine_probes=2)
    for arm in (lambda _x: net, lambda bx: JacobianLinearised.of(net, bx)):
        out = st.measure(arm, x, y, 0.5, 0.25, box, cfg, 0)
        assert np.isfinite(out["restarts"]["log_best"]).all()
        assert len(out["q1"]["image"]) == 4

