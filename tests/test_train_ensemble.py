"""``advdyn.train.fit_ensemble``: K models trained as one grouped network end where K separate
``fit`` runs with the same seeds end — weights and every per-epoch metric — to float32
tolerance, for Adam and SGD, with per-member seeds, learning rates, ε, step factors and input
scales; and what an ensemble cannot hold is refused, naming the field."""

from __future__ import annotations

import copy
import math
from typing import Any

import pytest
import torch
from torch import nn

from advdyn.errors import AdvdynError
from advdyn.models.cnn import ARCHITECTURES, build_cnn, scale_invisible
from advdyn.train import (
    Callback,
    GroupedNet,
    InnerPGD,
    Member,
    Optimiser,
    Recipe,
    Step,
    fit,
    fit_ensemble,
    groupable,
)

#: torch.testing's float32 tolerances (assert_close's defaults for float32).
RTOL, ATOL = 1.3e-6, 1e-5
#: (input scale, learning rate, ε, ρ, seed) of the three members.
SETTINGS = [(1.0, 1e-2, 1.0, 0.25, 3), (10.0, 3e-3, 8.0, 0.3, 4), (0.5, 2e-2, 0.4, 0.35, 5)]


def _data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return (torch.rand(48, 1, 28, 28, generator=g, dtype=torch.float32),
            torch.randint(0, 10, (48,), generator=g))


def _members(kind: str, rule: str = "normalized", box: tuple[float, float] | None = None
             ) -> list[Member]:
    return [Member(Recipe(InnerPGD(eps, 3, rho=rho, rule=rule, box=box), Optimiser(kind, lr),
                          16, seed), scale)
            for scale, lr, eps, rho, seed in SETTINGS]


class Steps(Callback):
    """Counts the steps a member's callback sees and the batch rows it is shown."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, int, int]] = []

    def on_step(self, step: Step) -> None:
        self.seen.append((step.epoch, step.index, step.x.shape[0]))

    def measure(self, epoch: int, model: nn.Module) -> dict[str, Any]:
        return {"steps_seen": len(self.seen)}


@pytest.mark.parametrize("kind, invisible, rule, box", [
    ("adam", False, "normalized", None), ("sgd", True, "normalized", None),
    ("sgd", False, "raw", (0.0, 10.0))])
def test_ensemble_equals_separate_runs(kind: str, invisible: bool, rule: str,
                                       box: tuple[float, float] | None) -> None:
    """Adam on plain softplus CNNs; SGD on the scale-invisible arm (each member behind its own
    ``x/scale``); SGD with raw steps (ℓ itself, step ρε²) in a shared pixel box. Accuracies are
    counts, so they must agree exactly."""
    x, y = _data()
    members = _members(kind, rule, box)
    models = [build_cnn("tiny", seed=k, activation="softplus", pool="avg") for k in range(3)]
    if invisible:
        models = [scale_invisible(m, s) for m, (s, *_) in zip(models, SETTINGS, strict=True)]
    alone = [copy.deepcopy(m) for m in models]
    logs = [[Steps()] for _ in members]
    together = fit_ensemble(models, x, y, members, 2, callbacks=logs)
    for k, (model, member) in enumerate(zip(alone, members, strict=True)):
        history = fit(model, x * member.scale, y, member.recipe, 2)
        for a, b in zip(models[k].state_dict().values(), model.state_dict().values(),
                        strict=True):
            torch.testing.assert_close(a, b, rtol=RTOL, atol=ATOL)
        assert [h["epoch"] for h in together[k]] == [0, 1, 2]
        for mine, theirs in zip(together[k][1:], history[1:], strict=True):
            assert math.isclose(mine["robust_train_loss"], theirs["robust_train_loss"],
                                rel_tol=RTOL, abs_tol=ATOL)
            assert mine["train_adv_acc"] == theirs["train_adv_acc"]
        assert logs[k][0].seen == [(e, i, 16) for e in (1, 2) for i in range(3)]
        assert [h["steps_seen"] for h in together[k]] == [0, 3, 6]


def test_grouped_net_is_every_member_on_its_rows() -> None:
    models = [scale_invisible(build_cnn("tiny", seed=k), 2.0 + k) for k in range(4)]
    x = torch.rand(4 * 5, 1, 28, 28, dtype=torch.float32)
    net = GroupedNet(models)
    with torch.no_grad():
        out = net(x, net.weights())
        expected = torch.cat([m(block) for m, block in zip(models, x.split(5), strict=True)])
    torch.testing.assert_close(out, expected, rtol=RTOL, atol=ATOL)


def test_every_architecture_runs_grouped() -> None:
    """The CNNs and the affine arm (``Flatten → Linear``), plain or behind ``x/scale``."""
    for arch in ARCHITECTURES:
        assert groupable(build_cnn(arch)) and groupable(scale_invisible(build_cnn(arch), 3.0))


def test_what_an_ensemble_cannot_hold_is_refused() -> None:
    x, y = _data()
    members = _members("sgd")
    models = [build_cnn("tiny", seed=k) for k in range(3)]
    other = Member(Recipe(InnerPGD(1.0, 3), Optimiser(), 8, 0))
    with pytest.raises(AdvdynError, match="batch_size"):
        fit_ensemble(models, x, y, [*members[:2], other], 1)
    with pytest.raises(AdvdynError, match="architecture"):
        GroupedNet([build_cnn("tiny"), build_cnn("small")])
    odd = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    assert not groupable(odd)
    with pytest.raises(AdvdynError, match="not supported"):
        GroupedNet([odd])
    with pytest.raises(AdvdynError, match="members"):
        fit_ensemble(models[:2], x, y, members, 1)
