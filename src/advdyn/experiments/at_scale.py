r"""Question 2 (and Figure 3, and Question 1 along training): Madry adversarial training at
several input scales at a fixed ratio, each scale at its own learning rate.

**Why a per-layer learning rate and a search.** Input scale ``s`` is a reparameterisation of
the first weight (``W₁' = s·W₁``, docs/experiments/at_scale.md): at one learning rate its
effective rate grows ``∝ s`` with Adam and ``∝ s²`` with SGD, while every later layer sees the
same thing at every scale. So the first weight trains at ``lr · s^{-1}`` (Adam) or
``lr · s^{-2}`` (SGD) (:class:`advdyn.train.Optimiser`'s ``first_lr``), every other parameter at
``lr``, and what is left of the scale is what the paper asks about: the first layer's larger
or smaller effective weights and the landscape they make. Per scale ``lr`` is searched over
``lr_points`` values spaced evenly in log over ``lr_decades`` decades centred at the
configuration's ``lr`` (the same grid at every scale).

**Splits.** Training on the first ``train_images`` training images; **validation** on the next
``validation`` training images (the lr is selected there: the best final robust validation
accuracy of the first seed, ties to the higher clean accuracy); **test** on the first
``eval_images`` held-out images (reported). The other seeds are trained at the selected lr.

**Arms.** ``plain``: the CNN of ``arch``; ``affine``: ``Flatten → Linear`` trained with the same
search, data, attack and budget (a model whose loss over the ball has one maximum: the paper's
mechanism is absent, every artifact of the ruler is kept — Q2's control).

**Probes** of the first seed at the selected lr, at each of ``probe_epochs`` (float64 copies):
the Figure 2 escape probe (normalised convention) and Question 1's curves, the restarts'
plateau, spread and distinct maxima with the training's own step ``pgd_rho`` and box
(:mod:`advdyn.experiments.stationarity`) — each on the network and, for ``plain``, on the
network linearised at each input (:class:`advdyn.models.calibration.JacobianLinearised`); and
how affine ℓ is over the ball.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
import torch
from torch import nn

from advdyn.data import MnistData, scale_images
from advdyn.errors import check_number, fail
from advdyn.experiments import stationarity as st
from advdyn.experiments.advtrain import (
    DATA_HELP,
    TRAIN_HELP,
    DataChoices,
    TrainConfig,
    TrainingChoices,
    accuracies,
    check_data_fields,
    network,
    prepare,
    shareable,
    train,
    train_together,
)
from advdyn.experiments.at_scale_collect import at_scale_collect
from advdyn.experiments.base import Experiment, Job, config_dict, tuple_lists
from advdyn.experiments.escape import ProbeConfig, probe
from advdyn.experiments.fig2 import load_data, plain_record, probe_images
from advdyn.models.calibration import JacobianLinearised
from advdyn.models.checks import check_device

TRAIN_FIELDS = tuple(f.name for f in fields(TrainingChoices))
Q1_FIELDS = tuple(f.name for f in fields(st.Q1Config))
ARMS = ("plain", "affine")

#: One line per :class:`AtScaleConfig` field, for command-line help.
AT_SCALE_HELP = {
    **TRAIN_HELP, **st.Q1_HELP, **DATA_HELP,
    "lr": "learning rate at the centre of the scale-1 grid (other scales: ∝ 1/s Adam, 1/s² SGD)",
    "lr_points": "learning rates searched per scale (≥ 5)",
    "lr_decades": "decades the lr grid spans (≥ 3)",
    "validation": "training images after the first train_images, for selecting the lr",
    "scales": "input scales trained: pixels in [0, scale]",
    "seeds": "training seeds (the first searches the lr; all are trained at the selected lr)",
    "epochs": "training epochs",
    "probe_epochs": "epochs at which the network is probed (0 = untrained)",
    "probe_images": "Figure 3 probe: held-out images",
    "probe_ratios": "Figure 3 probe: ratios",
    "probe_steps": "Figure 3 probe: attack step budget",
    "probe_ascent_steps": "Figure 3 probe: ascent step budget",
    "probe_reference_steps": "Figure 3 probe: reference attack steps",
    "robust_level": "at-scale: robust test accuracy whose first epoch is the convergence time",
}


@dataclass(frozen=True)
class AtScaleConfig(DataChoices, st.Q1Config, TrainingChoices):
    """Scales, seeds, epochs, the lr grid (``lr`` its centre at scale 1, ``lr_points`` over
    ``lr_decades``), the ``validation`` split, probe epochs; training (:class:`TrainingChoices`);
    the Figure 3 probe (``probe_*``); Question 1 (:class:`~advdyn.experiments.stationarity.
    Q1Config`); the data."""

    train_images: int | None = 3000
    scales: tuple[float, ...] = (0.1, 1.0, 10.0, 1000.0)
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    epochs: int = 10
    lr_points: int = 5
    lr_decades: float = 4.0
    validation: int = 500
    probe_epochs: tuple[int, ...] = (0, 1, 2, 5, 10)
    probe_images: int = 20
    probe_ratios: tuple[float, ...] = (0.1,)
    probe_steps: int = 100
    probe_ascent_steps: int = 300
    probe_reference_steps: int = 100
    robust_level: float = 0.5

    def __post_init__(self) -> None:
        super().__post_init__()
        scales = tuple(sorted(check_number("scales", s, positive=True) for s in self.scales))
        if len(scales) < 2 or len(set(scales)) != len(scales):
            raise fail("scales", f"needs at least two distinct values, got {self.scales}")
        object.__setattr__(self, "scales", scales)
        seeds = tuple(check_number("seeds", s, nonnegative=True, integer=True)
                      for s in self.seeds)
        if not seeds or len(set(seeds)) != len(seeds):
            raise fail("seeds", f"needs distinct seeds, got {self.seeds}")
        check_number("epochs", self.epochs, positive=True, integer=True)
        for name in ("lr_points", "validation"):
            check_number(name, getattr(self, name), positive=True, integer=True)
        check_number("lr_decades", self.lr_decades, nonnegative=True)
        probes = tuple(sorted({check_number("probe_epochs", e, nonnegative=True, integer=True)
                               for e in self.probe_epochs}))
        if not probes or probes[-1] > self.epochs:
            raise fail("probe_epochs", f"need values in 0..epochs ({self.epochs}), got "
                                       f"{self.probe_epochs}")
        object.__setattr__(self, "probe_epochs", probes)
        if not 0 < self.robust_level < 1:
            raise fail("robust_level", f"must lie in (0, 1), got {self.robust_level}")
        if self.train_images is None:
            raise fail("train_images", "must be set: the validation split follows it")
        check_data_fields(self)
        for name in ("probe_images", "probe_steps", "probe_ascent_steps",
                     "probe_reference_steps"):
            check_number(name, getattr(self, name), positive=True, integer=True)
        for r in self.probe_ratios:
            check_number("probe_ratios", r, positive=True)
        self.training(self.scales[0], seeds[0], self.lr)
        self.probe_config()

    def lr_grid(self) -> list[float]:
        """The learning rates searched at every scale (module docstring)."""
        offsets = np.linspace(-self.lr_decades / 2, self.lr_decades / 2, self.lr_points) \
            if self.lr_points > 1 else np.zeros(1)
        return [float(self.lr * 10 ** o) for o in offsets]

    def first_lr(self, scale: float) -> float:
        """The first weight's learning-rate factor at ``scale``: ``s⁻¹`` (Adam) or ``s⁻²``
        (SGD), which keeps its effective rate (module docstring)."""
        return float(scale ** -(1 if self.optimizer == "adam" else 2))

    def training(self, scale: float, seed: int, lr: float, arch: str | None = None
                 ) -> TrainConfig:
        """The training configuration of one (scale, seed, lr[, arch])."""
        chosen = {n: getattr(self, n) for n in TRAIN_FIELDS}
        return TrainConfig(**{**chosen, "lr": lr, "arch": arch or self.arch}, scale=scale,
                           seed=seed, first_lr=self.first_lr(scale))

    def probe_config(self) -> ProbeConfig:
        """The Figure 3 probe: normalised convention only, the ``probe_*`` budgets."""
        return ProbeConfig(ratios=self.probe_ratios, images=self.probe_images,
                           conventions=("normalized",), steps=self.probe_steps,
                           ascent_steps=self.probe_ascent_steps,
                           reference_steps=self.probe_reference_steps)

    def q1(self) -> st.Q1Config:
        """The Question 1 measurements' configuration."""
        return st.Q1Config(**{n: getattr(self, n) for n in Q1_FIELDS})


EpochCall = Callable[[int, int, nn.Module], None]


def train_runs(configs: list[TrainConfig], data: MnistData, epochs: int,
               on_epoch: EpochCall, device: str) -> list[list[dict[str, Any]]]:
    """The one place this experiment trains: every configuration for ``epochs`` on ``device``,
    calling ``on_epoch(index, epoch, model)``; the histories. Configurations that can share one
    ensemble (:func:`~advdyn.experiments.advtrain.shareable`: the lr search, the other seeds)
    train at once (:func:`~advdyn.experiments.advtrain.train_together`, the same runs up to
    float32 rounding), others one after the other."""
    def hook(i: int) -> Callable[[int, nn.Module, dict[str, Any]], None]:
        return lambda epoch, model, _state: on_epoch(i, epoch, model)
    hooks = [hook(i) for i in range(len(configs))]
    if shareable(configs):
        return train_together(configs, data, epochs, on_epoch=hooks, device=device)
    return [train(c, data, epochs, on_epoch=h, device=device)
            for c, h in zip(configs, hooks, strict=True)]


def splits(config: AtScaleConfig, data: MnistData) -> MnistData:
    """The data ``train`` sees: training images first, the validation split as its held-out
    part (its per-epoch accuracies are validation accuracies)."""
    n, v = int(config.train_images or 0), config.validation
    if n + v > data.train_images.shape[0]:
        raise fail("validation", f"train_images + validation = {n + v} exceeds the "
                                 f"{data.train_images.shape[0]} training images")
    return replace(data, test_images=data.train_images[n:n + v],
                   test_labels=data.train_labels[n:n + v])


def _select(search: list[dict[str, Any]]) -> int:
    """Index of the selected lr: best final validation robust accuracy, then clean."""
    keys = [(r["history"][-1]["robust_acc"], r["history"][-1]["clean_acc"]) for r in search]
    return max(range(len(keys)), key=lambda i: keys[i])


def _probe(config: AtScaleConfig, arm: str, model: nn.Module, scale: float, unit: float,
           eps: float, images: torch.Tensor, labels: torch.Tensor, seed: int
           ) -> dict[str, Any]:
    """The probes of one checkpoint (module docstring) on a float64 copy of ``model``."""
    net = copy.deepcopy(model).double().eval().requires_grad_(False)
    cfg = config.q1()
    x, y = scale * images[:cfg.q1_images], labels[:cfg.q1_images]
    box = (0.0, scale) if config.box else None
    out = {"escape": [plain_record(r) for r in probe(net, images, labels, scale, unit,
                                                     config.probe_config())],
           "affineness": st.affineness(net, x, y, eps, cfg.affine_probes, seed),
           "net": st.measure(lambda _x: net, x, y, eps, config.pgd_rho, box, cfg, seed)}
    if arm == "plain":  # one maximum: two restarts find ℓ* and ℓ_min
        out["linearised"] = st.measure(lambda bx: JacobianLinearised.of(net, bx), x, y, eps,
                                       config.pgd_rho, box, replace(cfg, restarts=2), seed)
        out["escape_linearised"] = [plain_record(r) for r in probe(
            net, images, labels, scale, unit, config.probe_config(), linearise=True)]
    return out


def train_job(arm: str, scale: float, device: str = "cpu", **parameters: Any
              ) -> dict[str, Any]:
    """One job: the lr search of one (arm, scale), the other seeds at the selected lr, test
    accuracies per epoch, and the probes of the first seed's checkpoints; networks and data on
    ``device`` (checked where the job runs)."""
    device = str(check_device("device", device))
    config = AtScaleConfig(**tuple_lists(parameters))
    arch = None if arm == "plain" else "affine"
    data = load_data(config)
    seen = splits(config, data)
    grid = config.lr_grid()
    first, rest = config.seeds[0], config.seeds[1:]
    search_cfgs = [config.training(scale, first, lr, arch) for lr in grid]
    prepared = prepare(search_cfgs[0], seen)
    x_test = scale_images(data.test_images[:config.eval_images], scale).to(device)
    y_test = torch.as_tensor(data.test_labels[:config.eval_images]).to(device)
    tests: dict[tuple[str, int], dict[int, tuple[float, float]]] = {}
    snapshots: dict[tuple[int, int], dict[str, Any]] = {}

    def hook(tag: str, cfgs: list[TrainConfig], keep: bool) -> EpochCall:
        def on_epoch(i: int, epoch: int, model: nn.Module) -> None:
            tests.setdefault((tag, i), {})[epoch] = accuracies(model, x_test, y_test,
                                                               prepared.eps, cfgs[i])
            if keep and epoch in config.probe_epochs:
                snapshots[(i, epoch)] = copy.deepcopy(model.state_dict())
        return on_epoch

    def runs(tag: str, cfgs: list[TrainConfig], histories: list[list[dict[str, Any]]]
             ) -> list[dict[str, Any]]:
        return [{"lr": c.lr, "seed": c.seed, "history": [
            {**h, "test_clean_acc": tests[(tag, i)][h["epoch"]][0],
             "test_robust_acc": tests[(tag, i)][h["epoch"]][1]} for h in hist]}
            for i, (c, hist) in enumerate(zip(cfgs, histories, strict=True))]

    search = runs("search", search_cfgs, train_runs(search_cfgs, seen, config.epochs,
                                                    hook("search", search_cfgs, True), device))
    pick = _select(search)
    lr = grid[pick]
    more_cfgs = [config.training(scale, s, lr, arch) for s in rest]
    more = runs("more", more_cfgs, train_runs(more_cfgs, seen, config.epochs,
                                              hook("more", more_cfgs, False), device))
    n_probe = max(config.probe_images, config.q1_images)
    images, labels = (t.to(device) for t in probe_images(data, n_probe, 0))
    model = network(search_cfgs[pick]).to(device)
    probes = []
    for epoch in config.probe_epochs:
        model.load_state_dict(snapshots[(pick, epoch)])
        probes.append({"epoch": epoch, **_probe(config, arm, model, scale, prepared.unit,
                                                prepared.eps, images, labels, first)})
    counts = np.bincount(y_test.cpu().numpy(), minlength=10)
    return {"arm": arm, "scale": scale, "eps": prepared.eps, "unit": prepared.unit,
            "source": data.source, "grid": grid, "selected_lr": lr, "search": search,
            "runs": [search[pick], *more], "probes": probes,
            "constant_predictor_acc": float(counts.max() / max(counts.sum(), 1)),
            "lr_at_edge": pick in (0, len(grid) - 1) and len(grid) > 1}


def at_scale_jobs(config: AtScaleConfig) -> list[Job]:
    """One :func:`train_job` per (arm, scale)."""
    return [Job("advdyn.experiments.at_scale:train_job",
                {"arm": arm, "scale": s, **config_dict(config)})
            for arm in ARMS for s in config.scales]


EXPERIMENT = Experiment(
    name="at_scale", title="Adversarial training across input scales (Q2, Figure 3, Q1 on a CNN)",
    config=AtScaleConfig, jobs=at_scale_jobs, collect=at_scale_collect, devices=True,
    quick={"scales": (0.1, 1000.0), "seeds": (0, 1), "epochs": 2, "probe_epochs": (0, 2),
           "arch": "tiny", "train_images": 100, "validation": 50, "eval_images": 50,
           "eval_restarts": 1, "pgd_steps": 3, "lr": 3e-2, "lr_points": 3, "lr_decades": 4.0,
           "probe_images": 3, "probe_steps": 30, "probe_ascent_steps": 60,
           "probe_reference_steps": 30, "q1_images": 3, "q1_runs": 2, "q1_steps": 40,
           "restarts": 6, "restart_steps": 20, "affine_probes": 4},
    reference={"scales": (0.1, 1.0, 10.0, 1000.0), "seeds": (0, 1, 2, 3, 4), "epochs": 6,
               "probe_epochs": (0, 1, 6), "arch": "tiny", "train_images": 3000,
               "validation": 500, "eval_images": 500, "eval_restarts": 2, "pgd_steps": 5,
               "lr": 3e-2, "lr_points": 5, "lr_decades": 4.0, "probe_images": 20,
               "probe_steps": 60, "probe_ascent_steps": 150, "probe_reference_steps": 60,
               "q1_images": 20, "q1_runs": 4, "q1_steps": 60, "restarts": 20,
               "restart_steps": 40},
    description="Madry-style PGD adversarial training of one CNN at input scales from 0.1 to "
                "1000 at a fixed ratio, the first weight's learning rate compensated for the "
                "reparameterisation W₁' = s·W₁ and each scale at its own learning rate (a "
                "search selected on a validation split, reported on the test split, several "
                "seeds), beside an "
                "affine model trained the same way (the control): robust and clean test "
                "accuracy per epoch; at chosen epochs the Figure 2 probe, PGD's stationarity "
                "and plateau against the affine and linearised floors, the restarts' spread "
                "and distinct maxima, and how affine the loss is over the ball.")
