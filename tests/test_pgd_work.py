"""What a PGD run computes: the final iterate is evaluated only when read, scale-free rules get
``∇L`` up to a positive factor (no softplus pass), and every path takes the same step."""

from __future__ import annotations

import pytest
import torch

from advdyn.errors import AdvdynError
from advdyn.losses import BinaryCrossEntropy, CrossEntropy
from advdyn.models import ModuleObjective, Objective, TwoLayerObjective
from advdyn.pgd import Recorder, run_pgd
from conftest import make_objective


class Counting(Objective):
    """Counts the calls made to the wrapped objective, by kind."""

    def __init__(self, inner: Objective) -> None:
        self.inner, self.x, self.y = inner, inner.x, inner.y
        self.calls = {"evaluate": 0, "evaluate_no_grad": 0, "gradient": 0, "scale_free": 0}

    def evaluate(self, delta, grad=True):
        self.calls["evaluate" if grad else "evaluate_no_grad"] += 1
        return self.inner.evaluate(delta, grad)

    def gradient(self, delta, scale_free=False):
        self.calls["scale_free" if scale_free else "gradient"] += 1
        return self.inner.gradient(delta, scale_free)

    def hessian(self, delta):
        return self.inner.hessian(delta)

    def select(self, rows):
        return Counting(self.inner.select(rows))

    def state_key(self):
        return self.inner.state_key()


def test_final_iterate_is_evaluated_only_when_read():
    obj = Counting(make_objective(3, 20, 1.0, loss="bce", rows=4, seed=1))
    res = run_pgd(obj, 0.5, 0.05, 7, rule="normalized", generator=0)
    assert obj.calls == {"evaluate": 0, "evaluate_no_grad": 0, "gradient": 0, "scale_free": 7}
    ref = obj.inner.evaluate(res.delta)
    torch.testing.assert_close(res.L, ref.L, rtol=0, atol=0)  # one forward pass, no gradient
    assert obj.calls["evaluate_no_grad"] == 1 and obj.calls["evaluate"] == 0
    torch.testing.assert_close(res.grad, ref.grad, rtol=0, atol=0)
    torch.testing.assert_close(res.ell, ref.ell, rtol=0, atol=0)
    assert obj.calls["evaluate"] == 1 and obj.calls["evaluate_no_grad"] == 1  # then cached


def test_raw_rule_asks_for_the_exact_gradient_and_recording_evaluates_every_iterate():
    obj = Counting(make_objective(3, 20, 1.0, rows=2))
    run_pgd(obj, 0.5, 0.05, 5, rule="raw", generator=0)
    assert obj.calls["gradient"] == 5 and obj.calls["scale_free"] == 0
    rec = Counting(obj.inner)
    res = run_pgd(rec, 0.5, 0.05, 5, rule="raw", generator=0, record=Recorder())
    assert rec.calls["evaluate"] == 6 and rec.calls["gradient"] == 0
    _ = res.grad, res.L  # already evaluated by the run: no further call
    assert rec.calls["evaluate"] == 6 and rec.calls["evaluate_no_grad"] == 0


def test_lazy_read_after_the_model_changed_is_refused():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    obj = ModuleObjective(model, CrossEntropy, torch.randn(5, 4), torch.tensor([0, 1, 2, 0, 1]))
    res = run_pgd(obj, 0.5, 0.1, 3, rule="normalized", generator=0)
    before = res.L.clone()  # read before the change: fine, and cached
    with torch.no_grad():
        model[0].weight.add_(1.0)
    torch.testing.assert_close(res.L, before)
    fresh = run_pgd(obj, 0.5, 0.1, 3, rule="normalized", generator=0)
    torch.optim.SGD(model.parameters(), lr=0.1)  # constructing an optimiser changes nothing
    fresh.delta.add_(0)  # δ itself may be used freely
    with torch.no_grad():
        model[2].bias.mul_(2.0)
    with pytest.raises(AdvdynError, match="changed after run_pgd"):
        _ = fresh.grad


@pytest.mark.parametrize("labels", [[0.0, 1.0, 1.0, 0.0], [1.0]])
def test_scale_free_gradient_is_a_positive_multiple_of_the_gradient(labels):
    """bce with labels 0/1: ``-sign(ℓ')∇f`` = ∇L/|ℓ'(u)|, checked against autograd (float64)."""
    obj = make_objective(5, 40, 2.0, loss="bce", rows=4, seed=3)
    obj = TwoLayerObjective(obj.net, BinaryCrossEntropy, obj.x, torch.tensor(labels))
    delta = 0.3 * torch.randn(4, 5, generator=torch.Generator().manual_seed(0))
    z = (obj.x + delta).requires_grad_(True)
    ell = BinaryCrossEntropy.value(obj.net.as_module()(z), obj.y.expand(4))
    (g_auto,) = torch.autograd.grad(-ell.sum(), z)
    g = obj.gradient(delta, scale_free=True)
    factor = (g * g_auto).sum(1) / (g_auto * g_auto).sum(1)
    assert (factor > 0).all()
    torch.testing.assert_close(g, factor[:, None] * g_auto, rtol=1e-12, atol=1e-15)
    torch.testing.assert_close(obj.gradient(delta), g_auto, rtol=1e-12, atol=1e-15)


def test_soft_labels_and_quadratic_loss_get_the_exact_gradient():
    obj = make_objective(3, 20, 1.0, loss="bce", rows=2)
    soft = TwoLayerObjective(obj.net, BinaryCrossEntropy, obj.x, torch.tensor([0.3, 1.0]))
    quad = make_objective(3, 20, 1.0, rows=2)
    delta = torch.full((2, 3), 0.1)
    for o in (soft, quad):
        torch.testing.assert_close(o.gradient(delta, scale_free=True), o.evaluate(delta).grad,
                                   rtol=0, atol=0)


@pytest.mark.parametrize(("rule", "ball"), [("normalized", "l2"), ("sign", "l2"),
                                            ("normalized", "linf"), ("raw", "l2")])
def test_every_path_takes_the_same_step(rule, ball):
    """The unrecorded run (what the rule needs only) and the recorded run (full evaluation at
    every iterate) follow the same iterates, float64, up to rounding."""
    obj = make_objective(4, 50, 2.0, loss="bce", rows=6, seed=4)
    eta = 0.02 if rule == "raw" else 0.05
    args = (obj, 0.8, eta, 60)
    fast = run_pgd(*args, rule=rule, ball=ball, generator=2, box=(-1.5, 1.5))
    full = run_pgd(*args, rule=rule, ball=ball, generator=2, box=(-1.5, 1.5),
                   record=Recorder(fields=("delta",), dtype="float64"))
    torch.testing.assert_close(fast.delta, full.delta, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(torch.as_tensor(full.trajectory.delta[-1]), full.delta)
    assert (fast.steps == 60).all() and not fast.converged.any()
