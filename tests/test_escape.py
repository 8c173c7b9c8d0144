"""The escape probe: escape times against the landscape, the step conventions, certified starts,
stationarity, and the probe end to end on a small CNN (no ℓ = 0 at scale 1000)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from advdyn.errors import AdvdynError
from advdyn.experiments.escape import (
    ProbeConfig,
    Trace,
    ascend_ell,
    certify,
    escape_times,
    first_true,
    probe,
    stationary,
    survival,
)
from advdyn.geometry import row_norm
from advdyn.losses import LogCrossEntropy
from advdyn.models import ModuleObjective
from advdyn.models.cnn import build_cnn


def test_escape_time_is_a_fraction_of_the_gap_to_the_reference():
    # log ℓ along 4 steps for 3 runs; reference log ℓ per run
    log_ell = np.log(np.array([[1.0, 1.0, 5.0],
                               [1.5, 1.0, 5.0],
                               [2.2, 1.2, 5.0],
                               [3.0, 1.4, 5.0]]))
    ref = np.log(np.array([3.0, 3.0, 4.0]))
    times, escaped, gap = escape_times(log_ell, ref, 0.5)
    # level (1-q)ℓ0 + qℓ_ref = 2 for runs 0 and 1; run 2 starts above its reference
    assert gap.tolist() == [True, True, False]
    assert times[0] == 2 and escaped[0]
    assert times[1] == 3 and not escaped[1]  # censored at the budget
    assert not escaped[2]


def test_escape_level_is_exact_in_log_form_at_huge_margins():
    """ℓ₀ = e^-900 and ℓ_ref = e^3: the level ≈ e^3/2, found without underflow."""
    log_ell = np.array([[-900.0], [-10.0], [np.log(0.5) + 3 - 1e-9], [np.log(0.5) + 3 + 1e-9]])
    times, escaped, _ = escape_times(log_ell, np.array([3.0]), 0.5)
    assert escaped[0] and times[0] == 3


def test_first_true_and_survival_curve():
    flags = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0]], dtype=bool)
    t, hit = first_true(flags)
    assert t.tolist() == [1, 2, 2] and hit.tolist() == [True, True, False]
    s = survival(t, hit, 2)
    assert s["curve"] == pytest.approx([1.0, 2 / 3, 1 / 3])
    assert s["median"] == 2 and s["censored"] == 1
    assert math.isinf(survival([2, 2], [False, False], 2)["median"])


class _Linear(nn.Module):
    """Two logits ``(0, wᵀz)``: with label 0 the margin is ``wᵀz`` and ℓ = softplus(wᵀz)."""

    def __init__(self, w: torch.Tensor) -> None:
        super().__init__()
        self.w = w

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        u = z.flatten(1) @ self.w.flatten()
        return torch.stack([torch.zeros_like(u), u], dim=1)


def _linear_problem(n: int = 3):
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(1, 4, 4, generator=gen, dtype=torch.float64)
    x = torch.randn(n, 1, 4, 4, generator=gen, dtype=torch.float64)
    return ModuleObjective(_Linear(w), LogCrossEntropy, x, torch.zeros(n, dtype=torch.long)), w


def test_certificate_accepts_the_maximum_of_L_and_rejects_other_points():
    """max of L = -ℓ on the sphere: δ = -ε w/‖w‖ (ℓ increases along w)."""
    objective, w = _linear_problem()
    eps = torch.full((3,), 0.7, dtype=torch.float64)
    best = (-0.7 * w / w.norm()).expand(3, 1, 4, 4).clone()
    assert certify(objective, best, eps, 0.05)["certified"].all()
    tilted = best.clone()
    tilted[:, 0, 0, 0] += 0.3
    tilted = tilted * (0.7 / row_norm(tilted)).reshape(-1, 1, 1, 1)
    res = certify(objective, tilted, eps, 0.05)
    assert not res["certified"].any() and (res["tangent"] > 0.05).all()
    inside = certify(objective, best * 0.5, eps, 0.05)  # radial gradient, but off the sphere
    assert inside["tangent"] == pytest.approx(0.0, abs=1e-12) and not inside["certified"].any()


def test_each_convention_takes_its_step():
    objective, w = _linear_problem(1)
    obj4 = ModuleObjective(objective.model, LogCrossEntropy, objective.x.repeat(4, 1, 1, 1),
                           torch.zeros(4, dtype=torch.long))
    eps = torch.full((4,), 10.0, dtype=torch.float64)
    start = torch.zeros(4, 1, 4, 4, dtype=torch.float64)
    modes = ["normalized", "raw_fixed", "raw_eps2", "random"]
    step = torch.tensor([0.5, 0.3, 0.2, 0.5], dtype=torch.float64)
    trace = ascend_ell(obj4, eps, start, modes, step, 1, torch.Generator().manual_seed(1))
    d = trace.delta.reshape(4, -1)
    unit = w.flatten() / w.norm()
    ell0 = float(torch.exp(trace.log_ell[0, 0] * torch.ones(1)))
    grad_ell = torch.sigmoid(torch.tensor(float(np.log(np.expm1(ell0))))) * w.flatten()
    torch.testing.assert_close(d[0], 0.5 * unit)
    torch.testing.assert_close(d[1], 0.3 * grad_ell)
    torch.testing.assert_close(d[2], 0.2 * grad_ell)
    assert float(d[3].norm()) == pytest.approx(0.5)  # a unit random direction, not the gradient
    assert abs(float(d[3] @ unit)) < 0.99


def test_stationarity_flags_on_and_inside_the_sphere():
    trace = Trace(log_ell=np.zeros((2, 3)), on_sphere=np.array([[True, True, False]] * 2),
                  cosine=np.array([[1.0, -1.0, 0.0]] * 2),
                  tangent=np.array([[0.01, 0.01, 0.9]] * 2),
                  log_grad=np.log(np.array([[1.0, 1.0, 1.0], [1.0, 1.0, 0.01]])),
                  delta=torch.zeros(3))
    flags = stationary(trace, 0.05)
    # on the sphere: small tangent and outward gradient; inside: gradient down to 1 % of start
    assert flags[0].tolist() == [True, False, False]
    assert flags[1].tolist() == [True, False, True]


@pytest.mark.parametrize(("field", "value"), [("ratios", (0.1, 0.1)), ("images", 0),
                                              ("conventions", ("bogus",)), ("fraction", 1.0),
                                              ("kkt_tol", -1.0), ("dtype", "float16")])
def test_config_validation_names_the_field(field, value):
    with pytest.raises(AdvdynError, match=field):
        ProbeConfig(**{field: value})


@pytest.fixture(scope="module")
def scale_1000_probe():
    gen = torch.Generator().manual_seed(3)
    images = torch.rand(2, 1, 28, 28, generator=gen, dtype=torch.float64)
    labels = torch.tensor([1, 7])
    cfg = ProbeConfig(ratios=(0.001, 1.0), images=2, steps=15, ascent_steps=40,
                      reference_steps=15, conventions=("normalized", "raw_fixed", "raw_eps2"))
    net = build_cnn("tiny", activation="softplus", pool="avg", seed=0)
    return cfg, probe(net, images, labels, 1000.0, 9.3, cfg)


def test_probe_at_scale_1000_has_no_zero_loss_and_counts_every_start(scale_1000_probe):
    cfg, records = scale_1000_probe
    assert len(records) == len(cfg.ratios) * len(cfg.conventions)
    for r in records:
        assert np.isfinite(r["log_ell_min"]).all() and np.isfinite(r["log_ell_start"]).all()
        assert r["certified"].size == cfg.images  # certified or counted as rejected
        assert ((r["times"] >= 0) & (r["times"] <= cfg.steps)).all()
    # the large ratio reaches margins where F.cross_entropy would read exactly 0
    assert min(float(r["log_ell_min"].min()) for r in records) < -37


def test_probe_is_deterministic():
    gen = torch.Generator().manual_seed(4)
    images = torch.rand(1, 1, 28, 28, generator=gen, dtype=torch.float64)
    cfg = ProbeConfig(ratios=(0.1,), images=1, steps=5, ascent_steps=10, reference_steps=5)
    runs = [probe(build_cnn("tiny", activation="softplus", pool="avg"), images,
                  torch.tensor([2]), 1.0, 9.3, cfg) for _ in range(2)]
    for a, b in zip(*runs, strict=True):
        assert a["times"].tobytes() == b["times"].tobytes()
        assert np.asarray(a["curve"]).tobytes() == np.asarray(b["curve"]).tobytes()
