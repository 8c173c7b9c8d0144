r"""The bench's CNN cases: 2 (PGD on the MNIST CNN), 5 (recording every step), 6 (adversarial
training throughput) and 7 (an ensemble's adversarial training). Images are uniform random in
``[0, 1]`` (timing does not need MNIST).

The floors are eager NCHW passes of the user's module (the layout :class:`ModuleObjective`
chooses is part of our gain, not of the floor).
"""

from __future__ import annotations

import copy
import multiprocessing
import tempfile
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

import torch
from torch import nn

from advdyn.bench.core import (
    DTYPE,
    BenchSizes,
    CaseResult,
    best_peer_ratio,
    generator,
    summarise,
    synchronised,
    usable_peers,
    with_peers,
)
from advdyn.bench.peers import AttackSetup, freeze
from advdyn.bench.timing import interleaved, median, peak_memory, spread
from advdyn.losses import CrossEntropy
from advdyn.models import ModuleObjective
from advdyn.models.cnn import build_cnn
from advdyn.pgd import Recorder, run_pgd
from advdyn.train import InnerPGD, Member, Optimiser, Recipe, fit, fit_ensemble

EPS, ALPHA, BOX = 2.0, 0.25, (0.0, 1.0)


def cnn_problem(sz: BenchSizes, batch: int | None = None
                ) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    """The frozen CNN of ``sz`` and ``batch`` (default ``sz.cnn_batch``) random images/labels."""
    g = generator(sz.seed)
    model = freeze(build_cnn(sz.cnn_arch, seed=sz.seed, dtype=DTYPE))
    b = sz.cnn_batch if batch is None else batch
    x = torch.rand(b, 1, 28, 28, generator=g, dtype=DTYPE)
    y = torch.randint(0, 10, (b,), generator=g)
    return model, x, y


def input_gradient(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """One eager forward + backward to the input: ``∇_x`` of the summed cross-entropy."""
    z = x.detach().requires_grad_(True)
    loss = nn.functional.cross_entropy(model(z), y, reduction="sum")
    return torch.autograd.grad(loss, z)[0]


# ---------------------------------------------------------------------------------------------
# 2. the MNIST CNN


def case_cnn(sz: BenchSizes) -> CaseResult:
    """Case 2: the MNIST CNN of Figure 2 (``small``, ReLU), batch 256, normalised L2 PGD from
    zero with a [0, 1] box; per step. Floor: one NCHW forward + backward to the input."""
    model, x, y = cnn_problem(sz)
    steps = sz.cnn_steps
    objective = ModuleObjective(model, CrossEntropy, x, y)

    def floor() -> None:
        for _ in range(steps):
            input_gradient(model, x, y)

    contenders: dict[str, Callable[[], object]] = {
        "ours": lambda: run_pgd(objective, EPS, ALPHA, steps, rule="normalized", start="zero",
                                box=BOX),
        "floor": floor,
    }
    notes = with_peers(contenders, lambda: [AttackSetup(model, x, y, EPS, ALPHA, steps)])
    times = interleaved(contenders, sz.reps)
    ours, fl, peers, spr = summarise(times, steps, notes)
    best = best_peer_ratio(peers)
    return CaseResult(
        "2-cnn", f"MNIST CNN ({sz.cnn_arch}) batch {sz.cnn_batch}, {steps} steps", "s/step",
        ours, fl, "one NCHW forward + backward to the input", "ratio_to_best_peer <= 0.85",
        best is not None and best <= 0.85, peers, spr,
        {"eps": EPS, "alpha": ALPHA, "box": list(BOX), "images": "uniform random in [0, 1]",
         "layout": "channels-last" if objective.channels_last_weights else "module's own"})


# ---------------------------------------------------------------------------------------------
# 5. recording


def _record_run(sz: BenchSizes, steps: int, record: bool, folder: str) -> Callable[[], object]:
    """One run of case 5's problem, recording every step to ``folder`` or nothing. Both read
    ``L`` and ``∇L`` at the last iterate (which a recording holds anyway), so both evaluate the
    network ``steps + 1`` times and the ratio is the recording's own cost."""
    model, x, y = cnn_problem(sz)
    objective = ModuleObjective(model, CrossEntropy, x, y)
    rec = (Recorder(stride=1, path=folder, chunk_bytes=sz.record_chunk_bytes)
           if record else None)

    def run() -> object:
        res = run_pgd(objective, EPS, ALPHA, steps, rule="normalized", start="zero", box=BOX,
                      record=rec)
        return res.L, res.grad

    return run


def _record_memory(sz: BenchSizes, steps: int, record: bool, folder: str,
                   threads: int) -> tuple[int, str]:
    """Peak memory of one run (meant for a fresh process, so no earlier run's heap is reused);
    the problem is built and a one-step run made before the measurement starts."""
    torch.set_num_threads(threads)
    _record_run(sz, 1, False, folder)()
    return peak_memory(_record_run(sz, steps, record, folder))


def case_record(sz: BenchSizes) -> CaseResult:
    """Case 5: case 2's run recording every step (default fields, streamed to disk) against
    the same run without recording, and its peak memory at ``T`` and ``4T`` steps."""
    steps = sz.record_steps
    spawn = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="advdyn-bench-") as tmp:
        times = interleaved({"ours": _record_run(sz, steps, True, f"{tmp}/timed"),
                             "floor": _record_run(sz, steps, False, tmp)}, sz.reps)
        memory: dict[str, float] = {}
        for t in (steps, 4 * steps):
            for record in (False, True):
                args = (sz, t, record, f"{tmp}/m{t}", torch.get_num_threads())
                if sz.record_fresh_processes:
                    with ProcessPoolExecutor(1, mp_context=spawn) as pool:
                        used, method = pool.submit(_record_memory, *args).result()
                else:
                    used, method = _record_memory(*args)
                memory[f"{'record' if record else 'none'}@{t}"] = used / 2**20
    ours, fl = median(times["ours"]) / steps, median(times["floor"]) / steps
    extra = {t: memory[f"record@{t}"] - memory[f"none@{t}"] for t in (steps, 4 * steps)}
    flat = memory[f"record@{4 * steps}"] <= 1.1 * memory[f"record@{steps}"] + 4
    return CaseResult(
        "5-record", f"record every step (default fields, streamed) on case 2, {steps} steps",
        "s/step", ours, fl, "the same run without recording",
        "ratio_to_floor <= 1.10; peak memory flat in steps (4T <= 1.1 x T + 4 MiB)",
        ours / fl <= 1.10 and flat, {}, {k: spread(v) for k, v in times.items()},
        {"overhead": ours / fl - 1, "overhead_ms_per_step": (ours - fl) * 1e3,
         "peak_rise_mib": memory, "recording_extra_mib": {str(k): v for k, v in extra.items()},
         "memory_method": method, "memory_flat": flat,
         "chunk_bytes": sz.record_chunk_bytes, "recorded_bytes_per_step":
             4 * sz.cnn_batch * 28 * 28 + 6 * 4 * sz.cnn_batch})


# ---------------------------------------------------------------------------------------------
# 6. adversarial training throughput

Attack = Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]


def _ours_attack(steps: int, seed: int) -> Attack:
    gen = generator(seed)

    def attack(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        res = run_pgd(ModuleObjective(model, CrossEntropy, x, y), EPS, ALPHA, steps,
                      rule="normalized", start="uniform", generator=gen, box=BOX)
        return x + res.delta

    return attack


def _torchattacks_attack(steps: int) -> Attack:
    import torchattacks

    def attack(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torchattacks.PGDL2(model, eps=EPS, alpha=ALPHA, steps=steps,
                                  random_start=True)(x, y)

    return attack


def _floor_attack(steps: int) -> Attack:
    """The floor's attack: ``steps`` eager NCHW forward + backward passes to the input (with
    the normalised step's few elementwise operations left out)."""

    def attack(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        for _ in range(steps):
            input_gradient(model, x, y)
        return x

    return attack


def training_epoch(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch: int,
                   attack: Attack) -> float:
    """One epoch of Madry adversarial training: per batch (in the given order) ``x' =
    attack(model, x, y)``, then one SGD step (lr 0.01, momentum 0.9) on the mean cross-entropy
    at ``x'``. Returns the last batch's loss."""
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss = torch.zeros(())
    for i in range(0, images.shape[0], batch):
        x, y = images[i:i + batch], labels[i:i + batch]
        adv = attack(model, x, y)
        opt.zero_grad(set_to_none=True)
        loss = nn.functional.cross_entropy(model(adv), y)
        loss.backward()
        opt.step()
    return float(loss.detach())


def training_data(sz: BenchSizes) -> tuple[torch.Tensor, torch.Tensor]:
    """Cases 6 and 7's ``advtrain_images`` random images and labels, on ``sz.device``."""
    g = generator(sz.seed)
    images = torch.rand(sz.advtrain_images, 1, 28, 28, generator=g, dtype=DTYPE)
    labels = torch.randint(0, 10, (sz.advtrain_images,), generator=g)
    return images.to(sz.device), labels.to(sz.device)


def case_advtrain(sz: BenchSizes) -> CaseResult:
    """Case 6: images/s of one Madry PGD-10 epoch (normalised L2 PGD from a random start in
    the ball, [0, 1] box, then an SGD step) on the small CNN; ours uses ``run_pgd`` on a
    :class:`ModuleObjective`, the peer loop torchattacks ``PGDL2``, same data order, optimiser
    and steps, each epoch from the same initial weights. Floor: the same loop with the attack
    replaced by its eager NCHW forward + backward passes to the input (so per batch: ``steps + 1``
    forward passes, ``steps`` backward passes to the input and one to the weights)."""
    n, b, steps = sz.advtrain_images, sz.advtrain_batch, sz.advtrain_steps
    start = build_cnn(sz.cnn_arch, seed=sz.seed, dtype=DTYPE).train().to(sz.device)
    images, labels = training_data(sz)

    def epoch(attack: Attack) -> Callable[[], object]:
        return synchronised(lambda: training_epoch(copy.deepcopy(start), images, labels, b,
                                                   attack), sz.device)

    contenders = {"ours": epoch(_ours_attack(steps, sz.seed)), "floor": epoch(_floor_attack(steps))}
    usable, notes = usable_peers()
    if any(p.name == "torchattacks" for p in usable):
        contenders["torchattacks"] = epoch(_torchattacks_attack(steps))
    notes = {k: v for k, v in notes.items() if k == "torchattacks"}
    times = interleaved(contenders, sz.advtrain_reps)
    ours, fl, peers, spr = summarise(times, 1.0, notes)
    for p in peers.values():
        p["attack"] = "PGDL2 in the same training loop"
    best = best_peer_ratio(peers)
    return CaseResult(
        "6-advtrain", f"Madry PGD-{steps} training epoch, {sz.cnn_arch} CNN, {n} images, "
        f"batch {b}", "s/epoch", ours, fl,
        f"{steps + 1} forward + backward passes per batch (eager NCHW) + SGD step",
        "ratio_to_best_peer <= 0.87", best is not None and best <= 0.87, peers, spr,
        {"images_per_s": {k: n / median(v) for k, v in times.items()}, "eps": EPS,
         "alpha": ALPHA, "box": list(BOX), "optimiser": "SGD lr 0.01 momentum 0.9",
         "peer_note": "only torchattacks is run inside a training loop", "device": sz.device})


# ---------------------------------------------------------------------------------------------
# 7. an ensemble's adversarial-training epoch


def case_ensemble(sz: BenchSizes) -> CaseResult:
    """Case 7: images/s of one Madry PGD-10 epoch of ``K`` small CNNs (seeds ``seed … seed+K-1``,
    case 6's attack, box and SGD step) trained as one grouped ensemble
    (:func:`advdyn.train.fit_ensemble`) against the same ``K`` trainings one after the other
    with :func:`advdyn.train.fit`, against ``K`` case-6 loops with torchattacks ``PGDL2``, and
    against ``K`` times case 6's floor. Images/s counts every model's images (``K·n``)."""
    k, n, b, steps = sz.ensemble_size, sz.advtrain_images, sz.advtrain_batch, sz.advtrain_steps
    starts = [build_cnn(sz.cnn_arch, seed=sz.seed + j, dtype=DTYPE).train().to(sz.device)
              for j in range(k)]
    images, labels = training_data(sz)
    recipes = [Recipe(InnerPGD(EPS, steps, rho=ALPHA / EPS, box=BOX), Optimiser("sgd", 0.01),
                      b, sz.seed + j) for j in range(k)]

    def ensemble() -> object:
        return fit_ensemble([copy.deepcopy(m) for m in starts], images, labels,
                            [Member(r) for r in recipes], 1)

    def sequential() -> object:
        return [fit(copy.deepcopy(m), images, labels, r, 1)
                for m, r in zip(starts, recipes, strict=True)]

    def loops(attack: Attack) -> Callable[[], object]:
        return synchronised(lambda: [training_epoch(copy.deepcopy(m), images, labels, b, attack)
                                     for m in starts], sz.device)

    contenders = {"ours": synchronised(ensemble, sz.device),
                  "sequential": synchronised(sequential, sz.device),
                  "floor": loops(_floor_attack(steps))}
    usable, notes = usable_peers()
    if any(p.name == "torchattacks" for p in usable):
        contenders["torchattacks"] = loops(_torchattacks_attack(steps))
    notes = {key: v for key, v in notes.items() if key == "torchattacks"}
    times = interleaved(contenders, sz.advtrain_reps)
    ours, fl, peers, spr = summarise(times, 1.0, notes)
    for p in peers.values():
        p["attack"] = f"{k} loops of case 6 with PGDL2"
    best = best_peer_ratio(peers)
    to_sequential = ours / median(times["sequential"])
    return CaseResult(
        "7-ensemble", f"Madry PGD-{steps} training epoch of {k} {sz.cnn_arch} CNNs as one "
        f"ensemble, {n} images, batch {b}", "s/epoch", ours, fl,
        f"{k} x case 6's floor", "ratio_to_sequential <= 0.67; ratio_to_best_peer <= 0.67",
        to_sequential <= 0.67 and best is not None and best <= 0.67, peers, spr,
        {"images_per_s": {key: k * n / median(v) for key, v in times.items()}, "eps": EPS,
         "alpha": ALPHA, "box": list(BOX), "optimiser": "SGD lr 0.01 momentum 0.9",
         "models": k, "sequential": "advdyn.train.fit, one model after the other",
         "device": sz.device},
        {"sequential": to_sequential})
