"""The across-scales experiment trains through the ensemble: ``at_scale.train_runs`` on
configurations that can share one (the lr search, the other seeds) gives, for every run, the
history, the per-epoch held-out accuracies and the weights at every epoch that ``train`` gives
for it alone — to float32 tolerance, counts exactly — for the CNN and the affine arm; what cannot
share an ensemble is trained one run after the other."""

from __future__ import annotations

import copy
import math
from dataclasses import replace
from typing import Any

import pytest
import torch
from torch import nn

from advdyn.errors import AdvdynError
from advdyn.experiments.advtrain import (
    TrainConfig,
    accuracies,
    prepare,
    shareable,
    train,
    train_together,
)
from advdyn.experiments.at_scale import train_runs
from test_advtrain import CFG, _data
from test_train_ensemble import ATOL, RTOL

#: History columns that are counts over the data (exact), and the seconds (wall time, not
#: compared); every other number is a float32 mean compared to float32 tolerance.
COUNTS = ("train_adv_acc", "on_sphere", "on_sphere_box", "clean_acc",
          "robust_acc")

Seen = dict[tuple[int, int], tuple[tuple[float, float], dict[str, torch.Tensor]]]


def _configs(arch: str) -> list[TrainConfig]:
    """An lr search and other seeds in one: learning rates, seeds and ratios all differ."""
    return [replace(CFG, arch=arch, lr=lr, seed=seed, ratio=ratio)
            for lr, seed, ratio in ((3e-3, 0, 0.1), (1e-2, 1, 0.1), (1e-3, 2, 0.2))]


def _recorder(cfgs: list[TrainConfig], seen: Seen) -> Any:
    """at_scale's hook: test accuracies per epoch and a state-dict snapshot."""
    p = prepare(cfgs[0], _data())

    def on_epoch(i: int, epoch: int, model: nn.Module) -> None:
        seen[(i, epoch)] = (accuracies(model, p.x_eval, p.y_eval, p.eps, cfgs[i]),
                            copy.deepcopy(model.state_dict()))
    return on_epoch


@pytest.mark.parametrize("arch", ["tiny", "affine"])
def test_train_runs_through_the_ensemble_are_the_runs_one_by_one(arch: str) -> None:
    cfgs = _configs(arch)
    assert shareable(cfgs)
    together: Seen = {}
    alone: Seen = {}
    mine = train_runs(cfgs, _data(), 2, _recorder(cfgs, together), "cpu")
    hook = _recorder(cfgs, alone)
    theirs = [train(c, _data(), 2, on_epoch=lambda e, m, _s, i=i: hook(i, e, m))
              for i, c in enumerate(cfgs)]
    assert sorted(together) == sorted(alone) == [(i, e) for i in range(3) for e in range(3)]
    for a, b in zip(mine, theirs, strict=True):
        assert [list(row) for row in a] == [list(row) for row in b]
        for row_a, row_b in zip(a, b, strict=True):
            for key, value in row_a.items():
                if key == "seconds":
                    continue
                if key in COUNTS or value is None or key == "epoch":
                    assert value == row_b[key], key
                else:
                    assert math.isclose(value, row_b[key], rel_tol=RTOL, abs_tol=ATOL), key
    for key, (acc, state) in together.items():
        assert acc == alone[key][0], key
        for w, v in zip(state.values(), alone[key][1].values(), strict=True):
            torch.testing.assert_close(w, v, rtol=RTOL, atol=ATOL)


def test_what_cannot_share_an_ensemble_trains_alone() -> None:
    """A lone configuration, or one with another batch size, is not shareable; ``train_runs``
    then trains one after the other (the histories of ``train``, bit for bit) and
    ``train_together`` refuses, naming the configurations."""
    cfgs = [CFG, replace(CFG, batch_size=8, seed=1)]
    assert not shareable(cfgs) and not shareable(cfgs[:1])
    for other in ({"scale": 2.0}, {"box": True}, {"pgd_rule": "raw"}, {"arch": "small"}):
        assert not shareable([CFG, replace(CFG, **other)]), other
    assert shareable([CFG, replace(CFG, lr=0.1, seed=3, ratio=0.2, pgd_rho=0.5)])
    runs = train_runs(cfgs, _data(), 1, lambda i, e, m: None, "cpu")
    for run, cfg in zip(runs, cfgs, strict=True):
        expected = train(cfg, _data(), 1)
        assert [{k: v for k, v in r.items() if k != "seconds"} for r in run] == \
            [{k: v for k, v in r.items() if k != "seconds"} for r in expected]
    with pytest.raises(AdvdynError, match="cfgs"):
        train_together(cfgs, _data(), 1)
