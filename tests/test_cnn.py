"""The MNIST CNNs: architecture, seeded standard init, use as an objective of δ."""

from __future__ import annotations

import copy

import pytest
import torch

from advdyn.errors import AdvdynError
from advdyn.losses import CrossEntropy
from advdyn.models import ModuleObjective
from advdyn.models.cnn import build_cnn, parameter_count


@pytest.mark.parametrize(("arch", "params"), [("small", 215_370), ("madry", 3_274_634)])
def test_shapes_and_sizes(arch, params):
    model = build_cnn(arch)
    assert parameter_count(model) == params
    out = model(torch.rand(3, 1, 28, 28, dtype=torch.float32))
    assert out.shape == (3, 10) and out.dtype == torch.float32


def test_madry_layout():
    convs = [m for m in build_cnn("madry") if isinstance(m, torch.nn.Conv2d)]
    linears = [m for m in build_cnn("madry") if isinstance(m, torch.nn.Linear)]
    assert [(c.in_channels, c.out_channels, c.kernel_size) for c in convs] == [
        (1, 32, (5, 5)), (32, 64, (5, 5))]
    assert [(m.in_features, m.out_features) for m in linears] == [(3136, 1024), (1024, 10)]


def test_seeded_init_leaves_global_rng_alone():
    state = torch.random.get_rng_state()
    a, b, c = build_cnn(seed=1), build_cnn(seed=1), build_cnn(seed=2)
    assert torch.equal(torch.random.get_rng_state(), state)
    for pa, pb, pc in zip(a.parameters(), b.parameters(), c.parameters(), strict=True):
        assert torch.equal(pa, pb)
        assert not torch.equal(pa, pc)
    # PyTorch's standard init: the first conv's biases lie in ±1/sqrt(fan_in), fan_in = 25
    assert float(a[0].bias.detach().abs().max()) <= 1 / 5


def test_same_weights_in_any_dtype_and_default_dtype():
    w32 = build_cnn(seed=3)[0].weight
    w64 = build_cnn(seed=3, dtype=torch.float64)[0].weight
    assert w64.dtype == torch.float64
    assert torch.equal(w64.float(), w32)


def test_rows_are_independent_objectives():
    """∇_δ of a batch = the batch of per-row gradients (no cross-row coupling)."""
    model = build_cnn(activation="softplus", dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(4, 1, 28, 28, generator=g, dtype=torch.float64)
    y = torch.tensor([0, 3, 7, 9])
    delta = 0.1 * torch.randn(4, 1, 28, 28, generator=g, dtype=torch.float64)
    full = ModuleObjective(model, CrossEntropy, x, y).evaluate(delta)
    for i in range(4):
        one = ModuleObjective(model, CrossEntropy, x[i:i + 1], y[i:i + 1]).evaluate(
            delta[i:i + 1])
        torch.testing.assert_close(one.grad[0], full.grad[i])
        assert float(one.ell[0]) == pytest.approx(float(full.ell[i]), rel=1e-12)
    assert torch.all(-full.ell == full.L)


@pytest.mark.parametrize(("kwargs", "field"), [({"arch": "vgg"}, "arch"),
                                               ({"activation": "tanh"}, "activation"),
                                               ({"seed": 1.5}, "seed")])
def test_bad_choices_name_the_field(kwargs, field):
    with pytest.raises(AdvdynError, match=field):
        build_cnn(**kwargs)


def _layout_pair(model, layout):
    g = torch.Generator().manual_seed(1)
    x = torch.rand(6, 1, 28, 28, generator=g, dtype=torch.float32)
    y = torch.randint(0, 10, (6,), generator=g)
    delta = 0.05 * torch.randn(6, 1, 28, 28, generator=g, dtype=torch.float32)
    return (ModuleObjective(model, CrossEntropy, x, y, layout=layout),
            ModuleObjective(model, CrossEntropy, x, y, layout="contiguous"), delta)


def test_channels_last_is_chosen_for_float32_conv_nets_only():
    f32 = build_cnn(dtype=torch.float32)
    auto, _, _ = _layout_pair(f32, "auto")
    assert auto.channels_last_weights == ("0.weight", "3.weight")
    x64 = torch.rand(2, 1, 28, 28, dtype=torch.float64)
    y = torch.tensor([1, 2])
    f64 = ModuleObjective(build_cnn(dtype=torch.float64), CrossEntropy, x64, y)
    assert f64.channels_last_weights == ()
    mlp = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10)).float()
    assert ModuleObjective(mlp, CrossEntropy, x64.float(), y).channels_last_weights == ()
    with pytest.raises(AdvdynError, match="layout"):
        ModuleObjective(f32, CrossEntropy, x64.float(), y, layout="nhwc")


def _gradient_error(model, objective, delta):
    """The largest per-row ``‖g − g₆₄‖/‖g₆₄‖`` of ``objective``'s float32 gradient against the
    float64 computation. (Not against torch's NCHW float32 path: its convolution backward is
    itself off by up to 0.7 % on some CPUs — AMD EPYC, AVX2, torch 2.13 — while the
    channels-last one is within 4e-7.)"""
    exact = ModuleObjective(copy.deepcopy(model).double(), CrossEntropy, objective.x.double(),
                            objective.y, layout="contiguous").evaluate(delta.double())
    g = objective.evaluate(delta).grad.double()
    return float(((g - exact.grad).flatten(1).norm(dim=1)
                  / exact.grad.flatten(1).norm(dim=1)).max())


@pytest.mark.parametrize("layout", ["auto", "channels_last"])
def test_channels_last_gives_the_same_results_and_leaves_the_module_alone(layout):
    model = build_cnn(activation="softplus", dtype=torch.float32)
    before = {k: (v.clone(), v.stride()) for k, v in model.state_dict().items()}
    fast, plain, delta = _layout_pair(model, layout)
    a, b = fast.evaluate(delta), plain.evaluate(delta)
    torch.testing.assert_close(a.L, b.L, rtol=1e-5, atol=1e-6)
    assert _gradient_error(model, fast, delta) <= 1e-4
    assert a.grad.is_contiguous()
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k][0]) and v.stride() == before[k][1], k
    with torch.no_grad():  # the objective follows in-place changes of the user's weights
        model[3].weight.mul_(1.5)
    assert _gradient_error(model, fast, delta) <= 1e-4
    assert not torch.allclose(fast.evaluate(delta).L, -CrossEntropy.value(
        build_cnn(activation="softplus")(fast.x + delta), fast.y))


class _ViewNet(torch.nn.Module):
    """A conv net that flattens with ``.view`` (fails on channels-last activations)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 4, 3, padding=1, dtype=torch.float32)
        self.fc = torch.nn.Linear(4 * 28 * 28, 10, dtype=torch.float32)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.conv(z))
        return self.fc(h.view(h.shape[0], -1))


def test_auto_layout_falls_back_when_the_module_needs_its_own():
    model = _ViewNet()
    auto, plain, delta = _layout_pair(model, "auto")
    assert auto.channels_last_weights == ("conv.weight",)
    torch.testing.assert_close(auto.evaluate(delta).grad, plain.evaluate(delta).grad)
    assert auto.channels_last_weights == ()
    forced, _, _ = _layout_pair(model, "channels_last")
    with pytest.raises(RuntimeError, match="view"):
        forced.evaluate(delta)
