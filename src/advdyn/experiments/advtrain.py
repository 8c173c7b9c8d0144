r"""Madry-style PGD adversarial training on MNIST, with checkpoints, resume, and the escape probe
at the checkpoints (Figure 3).

Objective (Madry et al., 2018): ``min_θ (1/n) Σ_i max_{‖δ_i‖₂ ≤ ε} ℓ(y_i, f_θ(x_i + δ_i))`` with
``ℓ`` the multi-class cross-entropy, inputs scaled to ``[0, scale]`` and ``ε = r · mean‖x‖₂``
over the training images used. The inner maximisation is ``K`` steps of the PGD engine (descent on
``L = -ℓ``) from a uniform start in the ball, step ``ρε`` (normalized/sign) or ``ρε²`` (raw),
optionally keeping ``x + δ`` in the pixel box ``[0, scale]``; the outer step is Adam or SGD with
momentum on the mean loss at the adversarial examples of a minibatch.

Accuracies on the held-out images: clean, and robust = accuracy on the examples of the same PGD
(same K, rule, ρ, box, a fixed seed), measured after every epoch and at epoch 0.

Randomness: epoch ``e`` shuffles and draws its PGD starts from generators seeded by
``(seed, e)``, so a run resumed from the checkpoint written after epoch ``e`` repeats exactly what
the uninterrupted run would have done. Checkpoints are written atomically after every epoch
(``last.pt``) and kept at the chosen epochs (``epoch_0010.pt``, …); they are ``torch.save`` files
read back with ``torch.load(weights_only=True)`` (tensors and plain values only, no code).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from advdyn.atomic import write_with
from advdyn.data import MnistData, mean_norm, scale_images
from advdyn.errors import check_choice, check_number, fail
from advdyn.experiments.escape import (
    EscapeConfig,
    EscapeCurve,
    probe_images,
    rule_step,
    run_escape_probe,
)
from advdyn.losses import CrossEntropy
from advdyn.models import ModuleObjective
from advdyn.models.cnn import ACTIVATIONS, ARCHITECTURES, build_cnn
from advdyn.pgd import RULES, run_pgd

FORMAT = "advdyn-advtrain-1"
OPTIMIZERS = ("adam", "sgd")
LAST = "last.pt"


@dataclass(frozen=True)
class TrainConfig:
    """Every choice of adversarial training (the number of epochs is not part of it: a run can
    be extended by resuming)."""

    arch: str = "small"
    activation: str = "relu"
    scale: float = 1.0
    ratio: float = 0.1
    pgd_steps: int = 10
    pgd_rho: float = 0.25
    pgd_rule: str = "normalized"
    box: bool = True
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9
    batch_size: int = 64
    train_images: int | None = None
    eval_images: int = 1000
    seed: int = 0

    def __post_init__(self) -> None:
        check_choice("arch", self.arch, ARCHITECTURES)
        check_choice("activation", self.activation, ACTIVATIONS)
        check_choice("pgd_rule", self.pgd_rule, RULES)
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        for name in ("scale", "ratio", "pgd_rho", "lr"):
            check_number(name, getattr(self, name), positive=True)
        check_number("momentum", self.momentum, nonnegative=True)
        check_number("pgd_steps", self.pgd_steps, nonnegative=True, integer=True)
        for name in ("batch_size", "eval_images"):
            check_number(name, getattr(self, name), positive=True, integer=True)
        if self.train_images is not None:
            check_number("train_images", self.train_images, positive=True, integer=True)
        check_number("seed", self.seed, nonnegative=True, integer=True)


@dataclass
class TrainRun:
    """What a call to :func:`train` left: per-epoch ``history`` (epoch 0 = the untrained network),
    the kept checkpoints by epoch, the epoch it resumed from (``None``: fresh start)."""

    history: list[dict]
    checkpoints: dict[int, Path]
    resumed_from: int | None
    unit_mean_norm: float
    eps: float
    source: str
    config: TrainConfig


SHUFFLE, ATTACK, EVALUATE = 0, 1, 2


def _generator(seed: int, purpose: int, epoch: int = 0) -> torch.Generator:
    """A generator for one ``purpose`` in one epoch, independent of all the others."""
    key = [seed, purpose, epoch]
    g = torch.Generator()
    g.manual_seed(int(np.random.SeedSequence(key).generate_state(1)[0]))
    return g


def adversarial_examples(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float,
                         cfg: TrainConfig, generator: torch.Generator) -> torch.Tensor:
    """``x + δ`` with δ from ``cfg.pgd_steps`` PGD steps (descent on ``L = -ℓ``) from a uniform
    start in the l2 ball of radius ``eps`` (and ``x + δ ∈ [0, scale]`` if ``cfg.box``)."""
    if cfg.pgd_steps == 0:
        return x
    objective = ModuleObjective(model, CrossEntropy, x, y)
    res = run_pgd(objective, eps, rule_step(cfg.pgd_rule, cfg.pgd_rho, eps), cfg.pgd_steps,
                  rule=cfg.pgd_rule, start="uniform", generator=generator,
                  box=(0.0, cfg.scale) if cfg.box else None)
    return x + res.delta


def accuracies(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float,
               cfg: TrainConfig, seed: int, batch: int = 500) -> tuple[float, float]:
    """Clean and robust accuracy (the training PGD, starts drawn from ``seed``)."""
    gen = _generator(seed, EVALUATE)
    clean = robust = 0
    with torch.no_grad():
        for i in range(0, x.shape[0], batch):
            xb, yb = x[i:i + batch], y[i:i + batch]
            clean += int((model(xb).argmax(1) == yb).sum())
            adv = adversarial_examples(model, xb, yb, eps, cfg, gen)  # PGD enables grad itself
            robust += int((model(adv).argmax(1) == yb).sum())
    return clean / x.shape[0], robust / x.shape[0]


def _optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    if cfg.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=cfg.lr)
    return torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum)


def _save(path: Path, epoch: int, cfg: TrainConfig, model: nn.Module,
          opt: torch.optim.Optimizer, history: list[dict], source: str) -> None:
    state = {"format": FORMAT, "epoch": epoch, "config": asdict(cfg), "source": source,
             "model": model.state_dict(), "optimizer": opt.state_dict(), "history": history}
    write_with(path, lambda p: torch.save(state, p))


def read_checkpoint(path: str | Path) -> dict:
    """A checkpoint's contents, loaded with ``weights_only=True``; errors name the file."""
    p = Path(path)
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise fail(str(p), "no such checkpoint") from None
    except Exception as e:  # any unpickling/format failure of a foreign or damaged file
        raise fail(str(p), f"not a readable checkpoint ({type(e).__name__})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise fail(str(p), "not an advdyn adversarial-training checkpoint")
    return state


def load_checkpoint(path: str | Path) -> tuple[nn.Module, dict]:
    """The network stored in a checkpoint (float32) and the checkpoint's contents."""
    state = read_checkpoint(path)
    cfg = state["config"]
    model = build_cnn(cfg["arch"], activation=cfg["activation"])
    model.load_state_dict(state["model"])
    return model, state


def _subset(images: np.ndarray, labels: np.ndarray, n: int | None, field_name: str
            ) -> tuple[np.ndarray, np.ndarray]:
    if n is None:
        return images, labels
    if n > images.shape[0]:
        raise fail(field_name, f"asked for {n} images but the data has {images.shape[0]}")
    return images[:n], labels[:n]


def train(cfg: TrainConfig, data: MnistData, out: str | Path, epochs: int,
          checkpoint_epochs: tuple[int, ...] = (), *, progress: bool = False) -> TrainRun:
    """Train for ``epochs`` epochs in total, resuming from ``out/last.pt`` if a run with the same
    configuration and data is there; keep checkpoints at ``checkpoint_epochs`` (and always the
    last epoch)."""
    epochs = check_number("epochs", epochs, nonnegative=True, integer=True)
    keep = sorted({check_number("checkpoint_epochs", e, nonnegative=True, integer=True)
                   for e in checkpoint_epochs} | {epochs})
    if keep[-1] > epochs:
        raise fail("checkpoint_epochs", f"epoch {keep[-1]} is beyond the last epoch {epochs}")
    folder = Path(out)
    tr_img, tr_lab = _subset(data.train_images, data.train_labels, cfg.train_images,
                             "train_images")
    te_img, te_lab = _subset(data.test_images, data.test_labels, cfg.eval_images, "eval_images")
    x = scale_images(tr_img, cfg.scale)
    y = torch.as_tensor(tr_lab)
    x_eval, y_eval = scale_images(te_img, cfg.scale), torch.as_tensor(te_lab)
    unit = mean_norm(x) / cfg.scale
    eps = cfg.ratio * cfg.scale * unit

    model = build_cnn(cfg.arch, activation=cfg.activation, seed=cfg.seed)
    opt = _optimizer(model, cfg)
    history: list[dict] = []
    start, resumed = 0, None
    if (folder / LAST).is_file():
        state = read_checkpoint(folder / LAST)
        if state["config"] != asdict(cfg) or state["source"] != data.source:
            raise fail("out", f"{folder} holds a run with another configuration or data",
                       "use the same flags to resume, or another output folder")
        start = resumed = int(state["epoch"])
        missing = [e for e in keep if e < start and not (folder / _name(e)).is_file()]
        if missing or start > epochs:
            raise fail("epochs", f"{folder} already holds epoch {start}; cannot produce "
                                 f"checkpoints {missing or [epochs]} any more",
                       "ask for later epochs or use another output folder")
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        history = list(state["history"])
        if start in keep and not (folder / _name(start)).is_file():
            _save(folder / _name(start), start, cfg, model, opt, history, data.source)

    def checkpoint(epoch: int) -> None:
        if epoch in keep:
            _save(folder / _name(epoch), epoch, cfg, model, opt, history, data.source)
        _save(folder / LAST, epoch, cfg, model, opt, history, data.source)

    if start == 0 and not history:
        clean, robust = accuracies(model, x_eval, y_eval, eps, cfg, cfg.seed)
        history.append({"epoch": 0, "train_loss": None, "train_adv_acc": None,
                        "clean_acc": clean, "robust_acc": robust, "seconds": 0.0})
        checkpoint(0)
    bar = tqdm(range(start + 1, epochs + 1), desc="adversarial training", unit="epoch",
               disable=not progress, initial=start, total=epochs)
    for epoch in bar:
        t0 = time.perf_counter()
        order = torch.randperm(x.shape[0], generator=_generator(cfg.seed, SHUFFLE, epoch))
        pgd_gen = _generator(cfg.seed, ATTACK, epoch)
        total, correct = 0.0, 0
        batches = tqdm(range(0, x.shape[0], cfg.batch_size), desc=f"epoch {epoch}",
                       unit="batch", disable=not progress, leave=False)
        for i in batches:
            idx = order[i:i + cfg.batch_size]
            xb, yb = x[idx], y[idx]
            adv = adversarial_examples(model, xb, yb, eps, cfg, pgd_gen)
            opt.zero_grad(set_to_none=True)
            logits = model(adv)
            loss = F.cross_entropy(logits, yb)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * xb.shape[0]
            correct += int((logits.argmax(1) == yb).sum())
            batches.set_postfix(loss=f"{float(loss.detach()):.3f}")
        clean, robust = accuracies(model, x_eval, y_eval, eps, cfg, cfg.seed)
        history.append({"epoch": epoch, "train_loss": total / x.shape[0],
                        "train_adv_acc": correct / x.shape[0], "clean_acc": clean,
                        "robust_acc": robust, "seconds": time.perf_counter() - t0})
        checkpoint(epoch)
        bar.set_postfix(loss=f"{total / x.shape[0]:.3f}", clean=f"{clean:.3f}",
                        robust=f"{robust:.3f}")
    bar.close()
    kept = {e: folder / _name(e) for e in keep}
    return TrainRun(history=history, checkpoints=kept, resumed_from=resumed,
                    unit_mean_norm=unit, eps=eps, source=data.source, config=cfg)


def _name(epoch: int) -> str:
    return f"epoch_{epoch:04d}.pt"


def probe_training(cfg: TrainConfig, probe: EscapeConfig, data: MnistData, out: str | Path,
                   epochs: tuple[int, ...], *, progress: bool = False
                   ) -> tuple[TrainRun, list[EscapeCurve]]:
    """Figure 3: train (or resume) up to ``max(epochs)`` keeping checkpoints at ``epochs``, then
    run the escape probe on every kept checkpoint (curves carry their epoch). The probe's ε uses
    the mean norm of the training images used."""
    if not epochs:
        raise fail("epochs", "needs at least one checkpoint epoch")
    images, labels = probe_images(data, probe.images, probe.seed)  # fails before training
    run = train(cfg, data, out, max(epochs), epochs, progress=progress)
    curves: list[EscapeCurve] = []
    for e in sorted(set(epochs)):
        model, _ = load_checkpoint(run.checkpoints[e])
        curves += run_escape_probe(model, images, labels, run.unit_mean_norm, probe, epoch=e,
                                   progress=progress)
    return run, curves

