"""Figure 3 of the paper: the escape probe along adversarial training on MNIST.

Madry-style PGD adversarial training at input scale 0.1 (:mod:`advdyn.experiments.advtrain`,
checkpoints kept and resumable), then the Figure 2 escape probe on the networks at the chosen
epochs. ``advdyn fig3`` and the experiment ``fig3`` both compute through :func:`run_fig3`.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from advdyn.data.mnist import cache_dir
from advdyn.errors import check_number, fail
from advdyn.experiments.advtrain import TrainConfig, probe_training
from advdyn.experiments.escape import EscapeConfig, summarize, training_claim
from advdyn.experiments.fig2 import (
    ESCAPE_DEFINITION,
    data_record,
    escape_caption,
    escape_claims,
    footnote,
    json_tuples,
    load_config_data,
    plain_json,
    probe_of,
    verdict_text,
    write_figure,
)
from advdyn.experiments.fig2 import (
    QUICK as PROBE_QUICK,
)
from advdyn.models.cnn import build_cnn, parameter_count
from advdyn.report import Figure, Outcome, Table
from advdyn.runner import Experiment, Job, JobResult, config_dict

SCALE = 0.1
EPOCHS = (0, 10, 100)
QUICK_EPOCHS = (0, 2, 5)
TRAIN_QUICK = {"train_images": 1000, "eval_images": 500, "pgd_steps": 5}
SUPTITLE = ("Figure 3 — attack from a local maximum of L along adversarial training; claim: "
            "escape gets harder as training proceeds")
_D = TrainConfig()
_E = EscapeConfig()


@dataclass(frozen=True)
class Fig3Config:
    """Every choice of Figure 3: ``epochs`` probed; training (:class:`TrainConfig`'s fields,
    ``model_seed`` its ``seed``); the probe (:class:`EscapeConfig`'s fields, scales default
    0.1); the data; ``work_dir``: the checkpoint folder (default: a cache folder named by the
    hash of the training and data settings, so a rerun resumes)."""

    epochs: tuple[int, ...] = EPOCHS
    arch: str = _D.arch
    activation: str = _D.activation
    model_seed: int = 0
    scale: float = SCALE
    ratio: float = _D.ratio
    pgd_steps: int = _D.pgd_steps
    pgd_rho: float = _D.pgd_rho
    pgd_rule: str = _D.pgd_rule
    box: bool = _D.box
    optimizer: str = _D.optimizer
    lr: float = _D.lr
    momentum: float = _D.momentum
    batch_size: int = _D.batch_size
    train_images: int | None = _D.train_images
    eval_images: int = _D.eval_images
    scales: tuple[float, ...] = (SCALE,)
    ratios: tuple[float, ...] = _E.ratios
    images: int = _E.images
    rule: str = _E.rule
    rho: float = _E.rho
    steps: int = _E.steps
    ascent_rho: float = _E.ascent_rho
    ascent_steps: int = _E.ascent_steps
    ascent_tol: float = _E.ascent_tol
    ascent_check: int = _E.ascent_check
    perturb: float = _E.perturb
    fraction: float = _E.fraction
    seed: int = _E.seed
    dtype: str = _E.dtype
    claim_margin: float = _E.claim_margin
    mnist_dir: str | None = None
    holdout: int = 1000
    data_seed: int = 0
    work_dir: str | None = None

    def __post_init__(self) -> None:
        epochs = tuple(check_number("epochs", e, nonnegative=True, integer=True)
                       for e in self.epochs)
        if not epochs:
            raise fail("epochs", "needs at least one checkpoint epoch")
        object.__setattr__(self, "epochs", epochs)
        probe = self.probe()
        object.__setattr__(self, "scales", probe.scales)
        object.__setattr__(self, "ratios", probe.ratios)
        self.training()

    def probe(self) -> EscapeConfig:
        return probe_of(self)

    def training(self) -> TrainConfig:
        names = [f.name for f in fields(TrainConfig) if f.name != "seed"]
        return TrainConfig(**{n: getattr(self, n) for n in names}, seed=self.model_seed)

    def checkpoints(self) -> Path:
        """``work_dir``, else ``<cache>/fig3/<hash of training and data settings>``."""
        if self.work_dir is not None:
            return Path(self.work_dir)
        key = {"training": asdict(self.training()), "mnist_dir": self.mnist_dir,
               "holdout": self.holdout, "data_seed": self.data_seed}
        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
        return cache_dir() / "fig3" / digest


def run_fig3(config: Fig3Config, *, quick: bool = False, command: Sequence[str] | None = None,
             progress: bool = False) -> dict[str, Any]:
    """Train (or resume) and probe. Returns JSON data: ``payload`` (what ``fig3.json`` holds),
    ``panels``, ``suptitle``, ``note`` and ``history`` (per-epoch accuracies)."""
    train_cfg, probe_cfg, epochs = config.training(), config.probe(), config.epochs
    data = load_config_data(config)
    t0 = time.perf_counter()
    run_, curves = probe_training(train_cfg, probe_cfg, data, config.checkpoints(), epochs,
                                  progress=progress)
    claims = training_claim(curves, probe_cfg.claim_margin)
    summaries = [{**summarize(c), "data_source": data.source} for c in curves]
    seconds = time.perf_counter() - t0
    n_params = parameter_count(build_cnn(config.arch, activation=config.activation))
    model_text = (f"{config.arch} CNN ({config.activation}, {n_params} parameters), PGD "
                  f"adversarial training at scale {train_cfg.scale:g}, ratio "
                  f"{train_cfg.ratio:g}, K = {train_cfg.pgd_steps}")
    payload = {
        "figure": "fig3",
        "claim": "escape from a local maximum of L gets harder (more steps) as adversarial "
                 "training proceeds (paper Figure 3)",
        "escape_definition": ESCAPE_DEFINITION,
        "claims_per_scale": claims,
        "quick": quick, "seconds": seconds,
        "command": list(command) if command is not None else None,
        "data": data_record(data, train_cfg.train_images or int(data.train_images.shape[0]),
                            run_.unit_mean_norm),
        "model": {"arch": config.arch, "activation": config.activation,
                  "seed": config.model_seed, "parameters": n_params, "init": "PyTorch default"},
        "training": {"config": asdict(train_cfg), "eps": run_.eps, "epochs": list(epochs),
                     "checkpoints": {str(e): str(p) for e, p in run_.checkpoints.items()},
                     "resumed_from": run_.resumed_from, "history": run_.history},
        "config": asdict(probe_cfg),
        "curves": summaries,
    }
    acc = {h["epoch"]: h for h in run_.history}
    verdicts = {c["scale"]: c for c in claims}
    panels = []
    for s in probe_cfg.scales:
        for e in sorted(set(epochs)):
            panels.append({
                "title": f"epoch {e}, input scale {s:g} (clean {acc[e]['clean_acc']:.2f}, "
                         f"robust {acc[e]['robust_acc']:.2f})",
                "verdict": verdict_text(verdicts[s]),
                "curves": [c for c in summaries if c["scale"] == s and c["epoch"] == e]})
    return plain_json({"payload": payload, "panels": panels, "suptitle": SUPTITLE,
                       "note": footnote(probe_cfg, model_text, data.source),
                       "history": run_.history})


def fig3_job(**config: Any) -> dict[str, Any]:
    """Job-runner entry point: ``run_fig3(Fig3Config(**config))`` (JSON parameters)."""
    return run_fig3(Fig3Config(**json_tuples(config)))


def fig3_jobs(config: Fig3Config) -> list[Job]:
    return [Job("advdyn.experiments.fig3:fig3_job", config_dict(config))]


def _acc_row(h: Mapping[str, Any]) -> list[Any]:
    def num(v: Any) -> Any:
        return "–" if v is None else round(float(v), 4)
    return [h["epoch"], num(h.get("train_loss")), num(h.get("train_adv_acc")),
            num(h["clean_acc"]), num(h["robust_acc"])]


def fig3_summarize(config: Fig3Config, results: list[JobResult], folder: Path) -> Outcome:
    """Write fig3.json/png/pdf; one claim per input scale, accuracies per epoch in a table."""
    value = results[0].value
    write_figure(value, folder)
    payload = value["payload"]
    train = payload["training"]["config"]
    note = (f"{payload['data']['source']}; training at scale {train['scale']:g}, ratio "
            f"{train['ratio']:g}, K = {train['pgd_steps']}, "
            f"{payload['data']['train_images']} training images; {config.images} probe images")
    epochs = ", ".join(map(str, sorted(set(config.epochs))))
    return Outcome(
        text=f"{ESCAPE_DEFINITION} Consecutive checkpoints (epochs {epochs}) are compared at "
             "every ratio; fig3.json holds every curve, the training history and settings.",
        claims=escape_claims(payload, "Fig. 3",
                             "escape gets harder as training proceeds (scale {scale:g}: more "
                             "steps at each later epoch)", note),
        figures=[Figure(folder / "fig3.png",
                        escape_caption(value, f"One panel per checkpoint epoch ({epochs})."),
                        title="Escape from a local maximum of L along adversarial training")],
        tables=[Table("Adversarial training: accuracy on held-out images per epoch",
                      ["epoch", "train loss", "train adversarial acc", "clean acc",
                       "robust acc"],
                      [_acc_row(h) for h in value["history"]])])


EXPERIMENT = Experiment(
    name="fig3", title="Figure 3: escape from local maxima of L along adversarial training",
    config=Fig3Config, jobs=fig3_jobs, summarize=fig3_summarize,
    quick={"epochs": QUICK_EPOCHS, **TRAIN_QUICK, **PROBE_QUICK},
    description="A CNN adversarially trained on MNIST at input scale 0.1 (PGD, Madry style); "
                "the Figure 2 escape probe on the network at several epochs. Claim: escape "
                "from a local maximum of L gets harder as training proceeds.")
