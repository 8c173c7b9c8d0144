r"""Thin adapters that run the same L2 PGD attack with torchattacks, Foolbox 3 and ART.

Every peer gets one :class:`AttackSetup` — a classifier ``model`` (logits), clean inputs ``x``
(``(B, C, H, W)``, inside the data box), integer labels ``y``, the radius ``eps``, the step
``alpha``, the number of ``steps`` and the data box — and is configured to do exactly what
``run_pgd(objective, eps, alpha, steps, rule="normalized", ball="l2", start="zero", box=box)``
does on ``L = -CE(model(x + δ), y)``:

    ``δ ← clip_box(P_B(δ + α ∇ℓ/‖∇ℓ‖₂))`` from ``δ₀ = 0``, no restarts, no early stop.

Each library's own conventions, and how they are matched:

* **torchattacks** ``PGDL2(model, eps, alpha, steps, random_start=False)``: cross-entropy averaged
  over the batch (the step is normalised, so the ``1/B`` does not matter), step
  ``α g/(‖g‖ + 10⁻¹⁰)``, projection ``δ·min(1, ε/‖δ‖)``, then a hard-wired clamp to ``[0, 1]``
  (so the box must be ``(0, 1)``; problems on another scale are mapped into it by the caller),
  random start off (its own start would use its own random numbers). Inputs must be 4-D.
* **Foolbox 3** ``L2PGD(abs_stepsize=alpha, steps, random_start=False)`` on
  ``PyTorchModel(model, bounds=box)``, called through ``attack.run(model, x, Misclassification(y),
  epsilon=eps)`` (``__call__`` would add a success check with extra forward passes); cross-entropy
  summed, ``g/max(‖g‖, 10⁻¹²)``, projection with ``max(‖δ‖, 10⁻¹²)``, clip to the bounds.
* **ART** ``ProjectedGradientDescent(PyTorchClassifier(model, CrossEntropyLoss(), clip_values=box),
  norm=2, eps, eps_step=alpha, max_iter=steps, num_random_init=0, batch_size=B)`` through
  ``generate`` (NumPy in and out; it also logs the success rate, two more forward passes per call).
  ART clips to the box *before* projecting onto the ball, the others after; the two orders give
  the same iterates whenever the box is inactive (the agreement tests use such inputs).

The model's parameters are frozen (``requires_grad=False``) for every contender, so no library
computes weight gradients it would throw away (Foolbox and ART call ``loss.backward()``). A peer
that is not installed is skipped with a note saying how to install it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

PeerRun = Callable[[], torch.Tensor]


@dataclass(frozen=True)
class AttackSetup:
    """One L2 PGD attack, as every peer is asked to run it (see the module docstring)."""

    model: nn.Module
    x: torch.Tensor
    y: torch.Tensor
    eps: float
    alpha: float
    steps: int
    box: tuple[float, float] = (0.0, 1.0)

    @property
    def classes(self) -> int:
        """Number of logits the model returns."""
        with torch.no_grad():
            return int(self.model(self.x[:1]).shape[1])


def freeze(model: nn.Module) -> nn.Module:
    """``model`` in eval mode with every parameter's ``requires_grad`` off (returned as is)."""
    for p in model.parameters():
        p.requires_grad_(False)
    return model.eval()


def _torchattacks(s: AttackSetup) -> PeerRun:
    import torchattacks

    if tuple(s.box) != (0.0, 1.0):
        raise ValueError("torchattacks clamps to [0, 1]; map the problem into that box")
    attack = torchattacks.PGDL2(s.model, eps=s.eps, alpha=s.alpha, steps=s.steps,
                                random_start=False)
    return lambda: attack(s.x, s.y)


def _foolbox(s: AttackSetup) -> PeerRun:
    import foolbox

    fmodel = foolbox.PyTorchModel(s.model, bounds=s.box, device=s.x.device)
    attack = foolbox.attacks.L2PGD(abs_stepsize=s.alpha, steps=s.steps, random_start=False)
    criterion = foolbox.criteria.Misclassification(s.y)
    return lambda: attack.run(fmodel, s.x, criterion, epsilon=s.eps)


def _art(s: AttackSetup) -> PeerRun:
    from art.attacks.evasion import ProjectedGradientDescent
    from art.estimators.classification import PyTorchClassifier

    classifier = PyTorchClassifier(model=s.model, loss=nn.CrossEntropyLoss(),
                                   input_shape=tuple(s.x.shape[1:]), nb_classes=s.classes,
                                   clip_values=s.box,  # ART's device names, x's device
                                   device_type="gpu" if s.x.device.type == "cuda" else "cpu")
    attack = ProjectedGradientDescent(classifier, norm=2, eps=s.eps, eps_step=s.alpha,
                                      max_iter=s.steps, targeted=False, num_random_init=0,
                                      batch_size=s.x.shape[0], verbose=False)
    x, y = s.x.detach().cpu().numpy(), s.y.detach().cpu().numpy()
    return lambda: torch.from_numpy(attack.generate(x, y))


@dataclass(frozen=True)
class Peer:
    """A peer library: its name, the attack used, the module to import, how to install it."""

    name: str
    attack: str
    module: str
    install: str
    build: Callable[[AttackSetup], PeerRun]

    def missing(self) -> str | None:
        """``None`` when the library imports, else a note saying why it is skipped."""
        try:
            importlib.import_module(self.module)
        except Exception as e:  # any import failure (missing dependency, broken install) skips
            return f"{self.name} not usable ({type(e).__name__}: {e}); install: {self.install}"
        return None

    def prepare(self, setup: AttackSetup) -> PeerRun:
        """A callable that runs the attack once and returns the adversarial inputs ``x + δ_T``."""
        return self.build(setup)


PEERS: tuple[Peer, ...] = (
    Peer("torchattacks", "PGDL2", "torchattacks",
         "pip install --no-deps torchattacks", _torchattacks),
    Peer("foolbox", "L2PGD", "foolbox", "pip install foolbox", _foolbox),
    Peer("art", "ProjectedGradientDescent(norm=2)", "art.attacks.evasion",
         "pip install adversarial-robustness-toolbox", _art),
)
