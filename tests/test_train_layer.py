"""``advdyn.train``: the adversarial-training layer on any module (callbacks per step and per
epoch, resume, identity checks), and the regression guard of its move out of the ``advtrain``
experiment — the same seeds give the same weights and history, to the last bit, as the loop of
commit 0c47c89 did."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
import torch
from torch import nn

from advdyn.errors import AdvdynError
from advdyn.experiments.advtrain import TrainConfig, train
from advdyn.geometry import row_norm
from advdyn.train import Callback, EpochHook, HeldOut, InnerPGD, Optimiser, Recipe, Step, fit
from test_advtrain import _data

BASE = {"arch": "tiny", "scale": 1.0, "ratio": 0.1, "pgd_steps": 2, "batch_size": 16,
        "eval_images": 16, "eval_restarts": 2, "lr": 3e-2}
COLUMNS = ("robust_train_loss", "train_adv_acc", "on_sphere", "radius_over_eps",
           "on_sphere_box", "clean_acc", "robust_acc")
#: Computed with the loop of commit 0c47c89 (``experiments/advtrain.py`` before the move), one
#: torch thread, float32 default dtype: sha256 of the weights after epoch 2 (first 16 hex
#: digits), and the epoch 1 and 2 rows as ``float.hex``: :data:`COLUMNS` with, at index
#: :data:`RETIRED`, the retired control ``start_on_sphere`` (uniform points of the ball).
RETIRED = 4
LEGACY = {
    "adam-normalized": ({}, "89e3e10109c5b7f5", [
        ("0x1.687f455555555p+2", "0x1.2aaaaaaaaaaabp-3", "0x1.0000000000000p+0",
         "0x1.000000eaca243p+0", "0x0.0p+0", "0x0.0p+0", "0x1.0000000000000p-2",
         "0x1.0000000000000p-2"),
        ("0x1.1e4a695555555p+1", "0x1.2aaaaaaaaaaabp-3", "0x1.0000000000000p+0",
         "0x1.0000008b6250fp+0", "0x1.5555555555555p-6", "0x0.0p+0", "0x1.0000000000000p-2",
         "0x1.0000000000000p-2")]),
    "sgd-raw-box": ({"optimizer": "sgd", "lr": 1e-2, "pgd_rule": "raw", "box": True,
                     "scale": 10.0}, "c9b81333e83f9605", [
        ("0x1.324cc8aaaaaabp+1", "0x1.0000000000000p-4", "0x0.0p+0", "0x1.6b3485fb6a500p-1",
         "0x0.0p+0", "0x0.0p+0", "0x0.0p+0", "0x0.0p+0"),
        ("0x1.1f5d56aaaaaabp+1", "0x1.d555555555555p-3", "0x0.0p+0", "0x1.689713c4fa81bp-1",
         "0x1.5555555555555p-6", "0x0.0p+0", "0x0.0p+0", "0x0.0p+0")]),
    "sign-invisible": ({"pgd_rule": "sign", "invisible": True, "scale": 1000.0, "seed": 2},
                       "c385a70ef499af93", [
        ("0x1.024ec35555555p+2", "0x1.0000000000000p-3", "0x1.0000000000000p+0",
         "0x1.000000452a619p+0", "0x0.0p+0", "0x0.0p+0", "0x1.0000000000000p-4",
         "0x1.0000000000000p-4"),
        ("0x1.2446740000000p+1", "0x1.5555555555555p-6", "0x1.0000000000000p+0",
         "0x1.000001088e600p+0", "0x0.0p+0", "0x0.0p+0", "0x0.0p+0", "0x0.0p+0")]),
}


@pytest.fixture
def as_the_commands_run() -> Iterator[None]:
    """The legacy numbers were taken as the commands run: one thread (the reduction order of the
    weight gradients, hence the last bits, depend on the thread count) and float32 as the
    default dtype (the suite's conftest makes it float64, which changes the initial weights)."""
    threads, dtype = torch.get_num_threads(), torch.get_default_dtype()
    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float32)
    yield
    torch.set_num_threads(threads)
    torch.set_default_dtype(dtype)


def _digest(state: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for name, value in state.items():
        h.update(name.encode())
        h.update(value.numpy().tobytes())
    return h.hexdigest()[:16]


@pytest.mark.usefixtures("as_the_commands_run")
@pytest.mark.parametrize("case", sorted(LEGACY))
def test_the_experiment_trains_bit_identically_to_the_legacy_loop(case: str) -> None:
    changes, digest, rows = LEGACY[case]
    weights: dict[int, dict[str, torch.Tensor]] = {}
    history = train(TrainConfig(**{**BASE, **changes}), _data(), 2,
                    on_epoch=lambda e, _m, s: weights.__setitem__(e, s["model"]))
    # the legacy columns, in their order (the interior control's columns came later)
    assert [tuple(k for k in h if k in COLUMNS) for h in history] == [COLUMNS] * 3
    assert [tuple(h[c].hex() for c in COLUMNS) for h in history[1:]] == \
        [r[:RETIRED] + r[RETIRED + 1:] for r in rows]
    assert _digest(weights[2]) == digest


# --- the layer on a module that is not a CNN --------------------------------------------------

def _problem() -> tuple[nn.Module, torch.Tensor, torch.Tensor, Recipe]:
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(40, 1, 6, 6, generator=g), torch.randint(0, 3, (40,), generator=g)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(36, 16), nn.Tanh(), nn.Linear(16, 3))
    return model, x, y, Recipe(InnerPGD(0.5, 3), Optimiser("sgd", 0.1), 16, 7)


class Log(Callback):
    """Records every step's position and ‖δ‖, adds the step count to each row."""

    def __init__(self) -> None:
        self.steps: list[tuple[int, int, int]] = []
        self.norms: list[torch.Tensor] = []

    def on_step(self, step: Step) -> None:
        self.steps.append((step.epoch, step.index, step.steps))
        self.norms.append(row_norm(step.delta))

    def measure(self, epoch: int, model: nn.Module) -> dict[str, Any]:
        return {"steps_so_far": len(self.steps)}


def test_callbacks_see_every_step_and_add_columns() -> None:
    model, x, y, recipe = _problem()
    log, states = Log(), {}
    history = fit(model, x, y, recipe, 2, callbacks=[
        log, HeldOut(x[:8], y[:8], recipe.inner, 2, 0),
        EpochHook(lambda e, _m, s: states.__setitem__(e, s))])
    assert log.steps == [(e, i, 3) for e in (1, 2) for i in range(3)]  # 40 rows, batches of 16
    assert all((n <= 0.5 * (1 + 1e-6)).all() and (n > 0).all() for n in log.norms)
    assert [list(h) for h in history] == [["epoch", "robust_train_loss", "train_adv_acc",
                                           "steps_so_far", "clean_acc", "robust_acc",
                                           "seconds"]] * 3
    assert [h["steps_so_far"] for h in history] == [0, 3, 6]
    assert history[0]["robust_train_loss"] is None and history[0]["seconds"] == 0.0
    assert all(0 <= h["robust_acc"] <= h["clean_acc"] <= 1 for h in history)
    assert sorted(states) == [0, 1, 2] and states[2]["history"] == history


def test_resume_repeats_the_uninterrupted_run_and_checks_identity() -> None:
    model, x, y, recipe = _problem()
    states: dict[int, dict[str, Any]] = {}
    straight = fit(model, x, y, recipe, 3, identity={"run": "a"},
                   callbacks=[EpochHook(lambda e, _m, s: states.__setitem__(e, s))])
    again, *_ = _problem()
    resumed = fit(again, x, y, recipe, 3, resume=states[1], identity={"run": "a"})
    strip = [{k: v for k, v in h.items() if k != "seconds"} for h in straight]
    assert [{k: v for k, v in h.items() if k != "seconds"} for h in resumed] == strip
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(),
                                                 again.state_dict().values(), strict=True))
    with pytest.raises(AdvdynError, match="resume"):
        fit(_problem()[0], x, y, recipe, 3, resume=states[1], identity={"run": "b"})
    with pytest.raises(AdvdynError, match="epochs"):
        fit(_problem()[0], x, y, recipe, 1, resume=states[2], identity={"run": "a"})


@pytest.mark.parametrize(("build", "field"), [
    (lambda: InnerPGD(0.0, 3), "eps"), (lambda: InnerPGD(1.0, -1), "pgd_steps"),
    (lambda: InnerPGD(1.0, 3, box=(1.0, 0.0)), "box"), (lambda: Optimiser("rmsprop"), "optimizer"),
    (lambda: Recipe(InnerPGD(1.0, 1), Optimiser(), 0, 0), "batch_size")])
def test_specs_name_the_field_at_fault(build: Any, field: str) -> None:
    with pytest.raises(AdvdynError, match=field):
        build()
