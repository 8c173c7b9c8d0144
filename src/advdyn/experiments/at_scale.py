"""Question 2 (and Figure 3, and Question 1 along training): Madry adversarial training at
several input scales at a fixed ratio.

One job per (arm, scale, seed): :func:`advdyn.experiments.advtrain.train` with the same
architecture, optimiser and schedule at every scale; arm ``plain`` sees pixels in
``[0, scale]``, arm ``invisible`` has ``x/scale`` in front (the scale-invisible control). For the
first seed, at each of ``probe_epochs``, the trained network is probed: the Figure 2 escape
probe (normalised convention; :mod:`advdyn.experiments.escape`), the steps PGD needs to become
stationary under each rule and the spread of Madry-style restarts
(:mod:`advdyn.experiments.stationarity`). ``collect`` gathers the per-epoch histories and the
probes; the claims at-scale, sphere-at, fig3, fig3-scale, q1-cnn and concentration-cnn read them.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, fields
from typing import Any

import torch
from torch import nn

from advdyn.errors import check_number, fail
from advdyn.experiments.advtrain import (
    DATA_HELP,
    TRAIN_HELP,
    DataChoices,
    TrainConfig,
    TrainingChoices,
    check_data_fields,
    prepare,
    train,
)
from advdyn.experiments.base import Experiment, Job, config_dict, tuple_lists
from advdyn.experiments.escape import ProbeConfig, probe, survival
from advdyn.experiments.fig2 import ARMS, load_data, plain_record, probe_images, summarize_record
from advdyn.experiments.stationarity import (
    Q1_HELP,
    Q1Config,
    restart_spread,
    steps_to_stationarity,
)

TRAIN_FIELDS = tuple(f.name for f in fields(TrainingChoices))
Q1_FIELDS = tuple(f.name for f in fields(Q1Config))


#: One line per :class:`AtScaleConfig` field, for command-line help.
AT_SCALE_HELP = {
    **TRAIN_HELP, **Q1_HELP, **DATA_HELP,
    "scales": "input scales trained: pixels in [0, scale]",
    "seeds": "training seeds (probes on the first)",
    "epochs": "training epochs",
    "probe_epochs": "epochs at which the network is probed (0 = untrained)",
    "probe_images": "Figure 3 probe: held-out images",
    "probe_ratios": "Figure 3 probe: ratios",
    "probe_steps": "Figure 3 probe: attack step budget",
    "probe_ascent_steps": "Figure 3 probe: ascent step budget",
    "probe_reference_steps": "Figure 3 probe: reference attack steps",
    "robust_level": "at-scale: robust accuracy whose first epoch is the convergence time",
}


@dataclass(frozen=True)
class AtScaleConfig(DataChoices, Q1Config, TrainingChoices):
    """Scales, seeds, epochs and probe epochs; training (:class:`TrainingChoices`); the
    Figure 3 probe (``probe_*``: images, ratios, attack/ascent/reference steps); Question 1
    (:class:`Q1Config`'s fields); the data."""

    scales: tuple[float, ...] = (0.1, 1.0, 10.0, 1000.0)
    seeds: tuple[int, ...] = (0, 1, 2)
    epochs: int = 10
    probe_epochs: tuple[int, ...] = (0, 1, 2, 5, 10)
    probe_images: int = 20
    probe_ratios: tuple[float, ...] = (0.01, 0.1, 1.0)
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
        probes = tuple(sorted({check_number("probe_epochs", e, nonnegative=True, integer=True)
                               for e in self.probe_epochs}))
        if not probes or probes[-1] > self.epochs:
            raise fail("probe_epochs", f"need values in 0..epochs ({self.epochs}), got "
                                       f"{self.probe_epochs}")
        object.__setattr__(self, "probe_epochs", probes)
        if not 0 < self.robust_level < 1:
            raise fail("robust_level", f"must lie in (0, 1), got {self.robust_level}")
        check_data_fields(self)
        for name in ("probe_images", "probe_steps", "probe_ascent_steps",
                     "probe_reference_steps"):
            check_number(name, getattr(self, name), positive=True, integer=True)
        for r in self.probe_ratios:
            check_number("probe_ratios", r, positive=True)
        self.training(self.scales[0], False, seeds[0])
        self.probe_config()

    def training(self, scale: float, invisible: bool, seed: int) -> TrainConfig:
        """The training configuration of one (scale, arm, seed)."""
        return TrainConfig(**{n: getattr(self, n) for n in TRAIN_FIELDS}, scale=scale,
                           invisible=invisible, seed=seed)

    def probe_config(self) -> ProbeConfig:
        """The Figure 3 probe: normalised convention only, the ``probe_*`` budgets."""
        return ProbeConfig(ratios=self.probe_ratios, images=self.probe_images,
                           conventions=("normalized",), steps=self.probe_steps,
                           rho=self.rho, ascent_steps=self.probe_ascent_steps,
                           reference_steps=self.probe_reference_steps)

    def q1(self) -> Q1Config:
        """The Question 1 measurements' configuration."""
        return Q1Config(**{n: getattr(self, n) for n in Q1_FIELDS})


def _probes(config: AtScaleConfig, model: nn.Module, scale: float, unit: float,
            eps: float, images: torch.Tensor, labels: torch.Tensor, seed: int
            ) -> dict[str, Any]:
    """Figure 3 probe, steps to stationarity and restarts on a float64 copy of ``model``."""
    net = copy.deepcopy(model).double().eval().requires_grad_(False)
    escape = probe(net, images, labels, scale, unit, config.probe_config())
    q1 = config.q1()
    x = scale * images
    return {"escape": [plain_record(r) for r in escape],
            "stationarity": steps_to_stationarity(net, x[:q1.q1_images], labels[:q1.q1_images],
                                                  eps, q1, seed),
            "restarts": restart_spread(net, x[:q1.restart_images], labels[:q1.restart_images],
                                       eps, q1, seed)}


def train_job(arm: str, scale: float, seed: int, **parameters: Any) -> dict[str, Any]:
    """One job: train one (arm, scale, seed) and, for the first seed, probe at the probe
    epochs."""
    config = AtScaleConfig(**tuple_lists(parameters))
    cfg = config.training(scale, arm == "invisible", seed)
    data = load_data(config)
    prepared = prepare(cfg, data)
    n_probe = max(config.probe_images, config.q1_images, config.restart_images)
    images, labels = probe_images(data, n_probe, 0)
    probes: list[dict[str, Any]] = []

    def on_epoch(epoch: int, model: nn.Module, state: dict[str, Any]) -> None:
        if seed == config.seeds[0] and epoch in config.probe_epochs:
            probes.append({"epoch": epoch, **_probes(config, model, scale, prepared.unit,
                                                     prepared.eps, images, labels, seed)})

    history = train(cfg, data, config.epochs, on_epoch=on_epoch)
    return {"arm": arm, "scale": scale, "seed": seed, "eps": prepared.eps,
            "unit": prepared.unit, "source": data.source, "history": history, "probes": probes}


def at_scale_jobs(config: AtScaleConfig) -> list[Job]:
    """One :func:`train_job` per (arm, scale, seed)."""
    return [Job("advdyn.experiments.at_scale:train_job",
                {"arm": arm, "scale": s, "seed": seed, **config_dict(config)})
            for arm in ARMS for s in config.scales for seed in config.seeds]


def _escape_groups(v: dict[str, Any], budget: int) -> list[dict[str, Any]]:
    return [{"epoch": p["epoch"], **summarize_record(v["arm"], r, budget)}
            for p in v["probes"] for r in p["escape"]]


def at_scale_collect(config: AtScaleConfig, values: list[dict[str, Any]]) -> dict[str, Any]:
    """The result: ``runs`` (arm, scale, seed, per-epoch history), ``escape`` (Figure 3 groups
    per arm, epoch, scale, ratio) and ``fig3_curves`` (their Kaplan–Meier curves, ratios
    pooled), ``stationarity`` (times to stationarity per arm, scale, epoch and rule, with
    their Kaplan–Meier curves) and ``restarts`` (per arm, scale, epoch), tables and text."""
    runs = [{k: v[k] for k in ("arm", "scale", "seed", "eps", "history")} for v in values]
    escape = [g for v in values for g in _escape_groups(v, config.probe_steps)]
    stationarity = [{"arm": v["arm"], "scale": v["scale"], "epoch": p["epoch"], "rule": rule,
                     **t, "survival": survival(t["times"], t["hit"], config.q1_steps)}
                    for v in values for p in v["probes"]
                    for rule, t in p["stationarity"].items()]
    fig3 = []
    for arm in ARMS:
        for s in config.scales:
            for e in config.probe_epochs:
                mine = [g for g in escape if (g["arm"], g["scale"], g["epoch"]) == (arm, s, e)]
                if mine:
                    fig3.append({"arm": arm, "scale": s, "epoch": e, **survival(
                        [t for g in mine for t in g["times"]],
                        [x for g in mine for x in g["escaped"]], config.probe_steps)})
    restarts = [{"arm": v["arm"], "scale": v["scale"], "epoch": p["epoch"], **p["restarts"]}
                for v in values for p in v["probes"]]
    rows = [[r["arm"], r["scale"], r["seed"], h["epoch"], _num(h["robust_train_loss"]),
             _num(h["clean_acc"]), _num(h["robust_acc"]), _num(h["on_sphere"])]
            for r in runs for h in r["history"]]
    source = values[0]["source"] if values else "?"
    text = (f"{source}; {config.arch} CNN ({config.activation}, {config.pool} pooling), Madry "
            f"PGD training at input scales {', '.join(f'{s:g}' for s in config.scales)} with "
            f"ratio {config.ratio:g} (ε = r·mean‖x‖₂), K = {config.pgd_steps} {config.pgd_rule} "
            f"steps of ρ = {config.pgd_rho:g}, {config.optimizer} lr {config.lr:g}, batch "
            f"{config.batch_size}, {config.epochs} epochs, seeds {list(config.seeds)}; the "
            "same network behind x/scale is the control arm. Robust accuracy: correct under "
            f"all {config.eval_restarts} PGD restarts on {config.eval_images} held-out images. "
            f"Probes (seed {config.seeds[0]}) at epochs {list(config.probe_epochs)}.")
    return {"text": text, "config": config_dict(config), "runs": runs, "escape": escape,
            "fig3_curves": fig3,
            "stationarity": stationarity, "restarts": restarts, "budget": config.probe_steps,
            "q1_budget": config.q1_steps, "robust_level": config.robust_level,
            "tables": [{"title": "Adversarial training per epoch",
                        "columns": ["arm", "scale", "seed", "epoch", "robust train loss",
                                    "clean acc", "robust acc", "PGD outputs on the sphere"],
                        "rows": rows}]}


def _num(v: Any) -> Any:
    return "–" if v is None else round(float(v), 4)


EXPERIMENT = Experiment(
    name="at_scale", title="Adversarial training across input scales (Q2, Figure 3, Q1 on a CNN)",
    config=AtScaleConfig, jobs=at_scale_jobs, collect=at_scale_collect,
    quick={"scales": (0.1, 10.0, 1000.0), "seeds": (0, 1), "epochs": 2, "probe_epochs": (0, 2),
           "arch": "tiny", "train_images": 200, "eval_images": 100, "eval_restarts": 1,
           "pgd_steps": 3, "probe_images": 3, "probe_ratios": (0.1,), "probe_steps": 40,
           "probe_ascent_steps": 100, "probe_reference_steps": 40, "q1_images": 3,
           "q1_steps": 40, "restart_images": 3, "restarts": 10, "restart_steps": 20},
    description="Madry-style PGD adversarial training of one CNN at input scales from 0.1 to "
                "1000 at a fixed ratio, beside the same network behind x/scale (where the "
                "scale is invisible): robust loss, clean and robust accuracy, PGD outputs on "
                "the sphere per epoch; at chosen epochs the Figure 2 probe, PGD's steps to "
                "stationarity and the spread of restarts.")
