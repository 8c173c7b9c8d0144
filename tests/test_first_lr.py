"""The first weight's learning-rate factor (``Optimiser.first_lr``): it undoes the input scale's
reparameterisation ``W₁' = s·W₁`` of the first layer, so the at-scale comparison compares scales,
not learning rates."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from advdyn import AdvdynError
from advdyn.experiments import at_scale
from advdyn.experiments.advtrain import TrainConfig, recipe
from advdyn.train import InnerPGD, Optimiser, Recipe, fit


def _net(first_scale: float = 1.0) -> nn.Sequential:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(12, 8), nn.Tanh(), nn.Linear(8, 3)).double()
    with torch.no_grad():
        net[1].weight.mul_(first_scale)
    return net


def _data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return (torch.rand(24, 1, 3, 4, generator=g, dtype=torch.float64),
            torch.randint(0, 3, (24,), generator=g))


def test_the_first_weight_alone_moves_first_lr_times_as_far_with_adam() -> None:
    x, y = _data()
    moved = {}
    for factor in (1.0, 0.01):
        net = _net()
        before = [p.detach().clone() for p in net.parameters()]
        fit(net, x, y, Recipe(InnerPGD(0.1, 2), Optimiser("adam", 1e-2, first_lr=factor), 24,
                              0), 1)
        moved[factor] = [p.detach() - b for p, b in zip(net.parameters(), before, strict=True)]
    first, *rest = range(4)
    torch.testing.assert_close(moved[0.01][first], 0.01 * moved[1.0][first], rtol=1e-9,
                               atol=1e-15)
    for i in rest:  # one step: the other parameters see the same gradient
        torch.testing.assert_close(moved[0.01][i], moved[1.0][i], rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize("scale", [0.1, 30.0])
def test_sgd_with_first_lr_s_minus_2_at_scale_s_trains_the_scale_1_network(scale: float) -> None:
    """Inputs ``s·x``, radius ``s·ε``, first weight ``W``, ``first_lr = s⁻²`` trains exactly as
    inputs ``x``, radius ``ε``, first weight ``s·W`` at ``first_lr = 1`` (SGD with momentum):
    the outputs of the two networks agree after training (float64)."""
    x, y = _data()
    eps, lr = 0.3, 0.05
    scaled, plain = _net(), _net(first_scale=scale)
    fit(scaled, scale * x, y, Recipe(InnerPGD(scale * eps, 3), Optimiser(
        "sgd", lr, 0.9, first_lr=scale ** -2), 8, 4), 3)
    fit(plain, x, y, Recipe(InnerPGD(eps, 3), Optimiser("sgd", lr, 0.9), 8, 4), 3)
    with torch.no_grad():
        torch.testing.assert_close(scaled(scale * x), plain(x), rtol=1e-9, atol=1e-11)


def test_first_lr_is_validated_and_carried_by_the_training_configuration() -> None:
    with pytest.raises(AdvdynError, match="first_lr"):
        Optimiser(first_lr=0.0)
    with pytest.raises(AdvdynError, match="first_lr"):
        TrainConfig(first_lr=-1.0)
    assert recipe(TrainConfig(first_lr=0.5), 1.0).optimiser.first_lr == 0.5


def test_at_scale_compensates_the_first_weight_and_searches_one_grid() -> None:
    adam = at_scale.EXPERIMENT.make_config({"train_images": 100, "lr": 1e-3})
    grid = adam.lr_grid()
    assert len(grid) == 5 and grid[2] == pytest.approx(1e-3)
    assert grid[-1] / grid[0] == pytest.approx(1e4)
    assert adam.training(10.0, 0, 1e-3).first_lr == pytest.approx(0.1)
    sgd = at_scale.EXPERIMENT.make_config({"train_images": 100, "lr": 1e-3, "optimizer": "sgd"})
    assert sgd.training(10.0, 0, 1e-3).first_lr == pytest.approx(0.01)
