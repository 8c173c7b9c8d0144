"""Tracing other libraries' attacks (:mod:`advdyn.trace`).

Per peer (torchattacks PGDL2 and PGD, Foolbox 3 L2PGD, ART ProjectedGradientDescent): the
traced iterates, from the traced start, are the iterates of advdyn's own PGD with the peer's
rule, step for step up to the peer's own output; calls that are not iterates are told apart; the
start law is tested (torchattacks' l2 start is not uniform in the ball, torchattacks issue #161).
A peer that is not installed is skipped.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

from advdyn import AdvdynError
from advdyn.geometry import L2Ball, LinfBall
from advdyn.losses import CrossEntropy
from advdyn.models import ModuleObjective
from advdyn.pgd import Recorder, run_pgd
from advdyn.trace import TracedModel, start_uniformity, trace_attack

F32 = torch.float32
ATOL = 2e-6  # float32: a few ulp of inputs in [0, 1] after the steps (as in test_peers_agree)
B, STEPS, EPS, ALPHA = 64, 8, 0.1, 0.025


@pytest.fixture(scope="module")
def problem() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    """A small MLP and inputs whose ε-ball stays inside the box [0, 1]."""
    torch.manual_seed(3)
    model = nn.Sequential(nn.Flatten(), nn.Linear(36, 24), nn.ReLU(), nn.Linear(24, 5))
    model = model.float().eval().requires_grad_(False)
    g = torch.Generator().manual_seed(3)
    x = 0.3 + 0.4 * torch.rand(B, 1, 6, 6, generator=g, dtype=F32)
    return model, x, torch.randint(0, 5, (B,), generator=g)


def _ours(problem, delta0: np.ndarray, rule: str, ball: str) -> np.ndarray:
    """advdyn's PGD from the traced start: δ_0 … δ_T, float32."""
    model, x, y = problem
    res = run_pgd(ModuleObjective(model, CrossEntropy, x, y), EPS, ALPHA, STEPS, rule=rule,
                  ball=ball, start=torch.from_numpy(delta0).to(F32), box=(0.0, 1.0),
                  record=Recorder(fields=("delta",)))
    assert res.trajectory is not None and res.trajectory.delta is not None
    return res.trajectory.delta


def _agrees(problem, trace, rule: str = "normalized", ball: str = "l2") -> None:
    delta = trace.trajectory.delta
    assert delta.shape == (STEPS + 1, B, 1, 6, 6)
    assert trace.counts()["iterate"] == STEPS
    np.testing.assert_allclose(delta, _ours(problem, delta[0], rule, ball), rtol=0, atol=ATOL)
    assert trace.radius[-1].max() > 0.99  # the attack moved to the sphere: not a trivial match


def _torchattacks(kind: str, random_start: bool = True):
    ta = pytest.importorskip("torchattacks")
    if kind == "l2":
        return lambda m, x, y: ta.PGDL2(m, eps=EPS, alpha=ALPHA, steps=STEPS,
                                        random_start=random_start)(x, y)
    return lambda m, x, y: ta.PGD(m, eps=EPS, alpha=ALPHA, steps=STEPS,
                                  random_start=random_start)(x, y)


def test_torchattacks_pgdl2_traced_and_start_not_uniform(problem) -> None:
    model, x, y = problem
    torch.manual_seed(0)
    run = _torchattacks("l2")
    trace = trace_attack(model, x, y, EPS, lambda m: run(m, x, y))
    _agrees(problem, trace)
    assert trace.counts() == {"iterate": STEPS, "check": 0, "unmatched": 0}
    # ‖δ₀‖ = εU with U uniform: (‖δ₀‖/ε)^36 piles up at 0, far from U[0, 1]
    assert trace.start.pvalue < 1e-6, trace.start
    ours = run_pgd(ModuleObjective(model, CrossEntropy, x, y), EPS, ALPHA, 0, generator=0)
    assert start_uniformity(ours.delta, EPS).pvalue > 0.05


def test_torchattacks_pgd_linf_traced(problem) -> None:
    model, x, y = problem
    torch.manual_seed(1)
    run = _torchattacks("linf")
    trace = trace_attack(model, x, y, EPS, lambda m: run(m, x, y), ball="linf")
    _agrees(problem, trace, rule="sign", ball="linf")
    assert trace.start.pvalue > 0.01  # its l∞ start is uniform in the cube


def test_foolbox_l2pgd_traced_and_success_check_told_apart(problem) -> None:
    foolbox = pytest.importorskip("foolbox")
    model, x, y = problem
    torch.manual_seed(2)

    def attack(m: nn.Module) -> torch.Tensor:
        fmodel = foolbox.PyTorchModel(m, bounds=(0, 1))
        pgd = foolbox.attacks.L2PGD(abs_stepsize=ALPHA, steps=STEPS, random_start=True)
        return pgd(fmodel, x, foolbox.criteria.Misclassification(y), epsilons=EPS)[1]

    trace = trace_attack(model, x, y, EPS, attack)
    _agrees(problem, trace)
    assert trace.counts() == {"iterate": STEPS, "check": 1, "unmatched": 0}  # __call__'s check
    assert trace.start.pvalue > 0.01


def test_art_pgd_traced_numpy_in_and_out(problem) -> None:
    pytest.importorskip("art")
    from art.attacks.evasion import ProjectedGradientDescent
    from art.estimators.classification import PyTorchClassifier

    model, x, y = problem
    np.random.seed(4)

    def attack(m: nn.Module) -> np.ndarray:
        clf = PyTorchClassifier(model=m, loss=nn.CrossEntropyLoss(), input_shape=(1, 6, 6),
                                nb_classes=5, clip_values=(0.0, 1.0), device_type="cpu")
        pgd = ProjectedGradientDescent(clf, norm=2, eps=EPS, eps_step=ALPHA, max_iter=STEPS,
                                       num_random_init=1, batch_size=B, verbose=False)
        return pgd.generate(x.numpy(), y.numpy())

    trace = trace_attack(model, x, y, EPS, attack)
    _agrees(problem, trace)
    counts = trace.counts()
    assert counts["iterate"] == STEPS and counts["check"] >= 1  # its success-rate predictions
    assert trace.start.pvalue > 0.01


def test_partial_batches_rejected(problem) -> None:
    pytest.importorskip("art")
    from art.attacks.evasion import ProjectedGradientDescent
    from art.estimators.classification import PyTorchClassifier

    model, x, y = problem

    def attack(m: nn.Module) -> np.ndarray:
        clf = PyTorchClassifier(model=m, loss=nn.CrossEntropyLoss(), input_shape=(1, 6, 6),
                                nb_classes=5, clip_values=(0.0, 1.0), device_type="cpu")
        return ProjectedGradientDescent(clf, norm=2, eps=EPS, eps_step=ALPHA, max_iter=2,
                                        batch_size=B // 2, verbose=False).generate(
            x.numpy(), y.numpy())

    with pytest.raises(AdvdynError, match="batch_size"):
        trace_attack(model, x, y, EPS, attack)


def test_call_kinds_and_diagnostics_against_autograd(problem) -> None:
    """A hand-written attack: one loss evaluation that is never differentiated, one check under
    no_grad, two gradient steps. Diagnostics equal an independent float64 autograd computation
    with ∇ℓ (the attacker's gradient, not ∇L)."""
    model, x, y = problem
    d = L2Ball.sample(B, (1, 6, 6), EPS, torch.Generator().manual_seed(5), F32)

    def attack(m: nn.Module) -> torch.Tensor:
        z = (x + d).requires_grad_(True)
        for _ in range(2):
            nn.functional.cross_entropy(m(z), y).backward()
            assert z.grad is not None
            z = (z + ALPHA * z.grad / z.grad.norm()).detach().requires_grad_(True)
        m(z)  # evaluated with a graph but never differentiated
        with torch.no_grad():
            m(z)
        return z.detach()

    trace = trace_attack(model, x, y, EPS, attack)
    assert [c.kind for c in trace.calls] == ["iterate", "iterate", "unmatched", "check"]
    last = torch.from_numpy(trace.trajectory.delta[-1])
    z = (x.double() + last).requires_grad_(True)
    ell = nn.functional.cross_entropy(copy.deepcopy(model).double()(z), y, reduction="none")
    (grad,) = torch.autograd.grad(ell.sum(), z)
    g, dl = grad.flatten(1), last.flatten(1)
    cos = (g * dl).sum(1) / (g.norm(dim=1) * dl.norm(dim=1))
    tangent = g - ((g * dl).sum(1) / dl.norm(dim=1) ** 2)[:, None] * dl
    np.testing.assert_allclose(trace.stationarity[-1], 1 - cos.numpy(), atol=1e-5)
    np.testing.assert_allclose(trace.gamma_ratio[-1], (tangent.norm(dim=1) / g.norm(dim=1))
                               .numpy(), atol=1e-5)
    np.testing.assert_allclose(trace.trajectory.ell[-1], ell.detach().numpy(), rtol=1e-5)
    np.testing.assert_allclose(trace.radius[0], d.double().flatten(1).norm(dim=1).numpy() / EPS,
                               rtol=1e-5)


def test_start_uniformity_is_calibrated() -> None:
    """Exact uniform starts pass, sphere starts and torchattacks-style radii εU are rejected."""
    g = torch.Generator().manual_seed(6)
    shape = (1, 6, 6)
    passes = [start_uniformity(L2Ball.sample(200, shape, EPS, g), EPS).pvalue for _ in range(20)]
    assert 0 <= sum(p < 0.05 for p in passes) <= 4  # about 1 in 20 at the 5 % level
    assert start_uniformity(LinfBall.sample(200, shape, EPS, g), EPS, "linf").pvalue > 0.01
    assert start_uniformity(L2Ball.sample_sphere(200, shape, EPS, g), EPS).pvalue < 1e-10
    direction = L2Ball.sample_sphere(200, shape, 1.0, g)
    radii = EPS * torch.rand(200, generator=g, dtype=torch.float64)
    assert start_uniformity(direction * radii[:, None, None, None], EPS).pvalue < 1e-10


def test_bad_input_named(problem) -> None:
    model, x, y = problem
    with pytest.raises(AdvdynError, match="eps"):
        trace_attack(model, x, y, -1.0, lambda m: x)
    with pytest.raises(AdvdynError, match="attack"):
        trace_attack(model, x, y, EPS, lambda m: x[:3])
    with pytest.raises(AdvdynError, match="no iterate"):
        trace_attack(model, x, y, EPS, lambda m: (m(x), x)[1])  # a check only
    with pytest.raises(AdvdynError, match="model"):
        TracedModel(lambda z: z)  # type: ignore[arg-type]
