"""The attacks the command line names, ``LIB:NAME`` with keyword arguments, as
:data:`advdyn.audit.core.Attack` callables ``attack(model, x, y, eps) -> x_adv``.

``torchattacks:PGDL2`` / ``torchattacks:PGD`` (box [0, 1], its own), ``foolbox:L2PGD`` /
``foolbox:LinfPGD`` (bounds = the box), ``art:ProjectedGradientDescent`` (``norm`` from the
ball, ``clip_values`` = the box, the whole batch at once) and ``advdyn:pgd``
(:func:`advdyn.pgd.run_pgd`, normalized steps for l2 and sign steps for l∞, ascent on ℓ; keywords
``eta``, ``steps``, ``rule``, ``start``). Keywords go to the library's constructor unchanged;
the libraries are imported when an attack is built.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np
import torch
from torch import nn

from advdyn.audit.core import Attack
from advdyn.errors import fail
from advdyn.losses import CrossEntropy
from advdyn.models import ModuleObjective
from advdyn.pgd import run_pgd

ATTACKS = {
    "torchattacks": ("PGDL2", "PGD"),
    "foolbox": ("L2PGD", "LinfPGD"),
    "art": ("ProjectedGradientDescent",),
    "advdyn": ("pgd",),
}
NORM_OF = {"PGDL2": "l2", "PGD": "linf", "L2PGD": "l2", "LinfPGD": "linf"}
PACKAGE = {"torchattacks": "torchattacks", "foolbox": "foolbox", "art": "art"}


def parse_attack(spec: str, field: str = "attack") -> tuple[str, str]:
    """``"LIB:NAME"`` → ``(lib, name)``, one of :data:`ATTACKS`."""
    lib, _, name = spec.partition(":")
    if lib not in ATTACKS or name not in ATTACKS[lib]:
        known = ", ".join(f"{k}:{n}" for k, names in ATTACKS.items() for n in names)
        raise fail(field, f"unknown attack {spec!r}", f"choose one of {known}")
    return lib, name


def _library(lib: str, field: str) -> Any:
    try:
        return importlib.import_module(PACKAGE[lib])
    except ImportError:
        raise fail(field, f"{lib} is not installed", "pip install 'advdyn[peers]'") from None


def make_attack(spec: str, kwargs: dict[str, Any], norm: str, box: tuple[float, float] | None,
                field: str = "attack") -> Attack:
    """The attack ``spec`` (``LIB:NAME``) with constructor keywords ``kwargs`` for the ``norm``
    ball and the pixel ``box``; a named attack of the other norm is refused."""
    lib, name = parse_attack(spec, field)
    if name in NORM_OF and NORM_OF[name] != norm:
        raise fail(field, f"{spec} attacks the {NORM_OF[name]} ball, not {norm}",
                   f"pass --norm {NORM_OF[name]} or another attack")
    if lib != "advdyn":
        module = _library(lib, field)
    lo, hi = box if box is not None else (-np.inf, np.inf)

    def torchattacks_attack(m: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float
                            ) -> torch.Tensor:
        return getattr(module, name)(m, eps=eps, **kwargs)(x, y)

    def foolbox_attack(m: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float
                       ) -> torch.Tensor:
        fmodel = module.PyTorchModel(m, bounds=(lo, hi))
        run = getattr(module.attacks, name)(**kwargs)
        return run(fmodel, x, module.criteria.Misclassification(y), epsilons=eps)[1]

    def art_attack(m: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float) -> np.ndarray:
        from art.attacks.evasion import ProjectedGradientDescent
        from art.estimators.classification import PyTorchClassifier

        with torch.no_grad():
            classes = int(m(x[:1]).shape[1])
        clf = PyTorchClassifier(model=m, loss=nn.CrossEntropyLoss(), input_shape=tuple(
            x.shape[1:]), nb_classes=classes, clip_values=box,
            device_type="gpu" if x.device.type == "cuda" else "cpu")  # ART's names, x's device
        options = {"norm": 2 if norm == "l2" else np.inf, "batch_size": x.shape[0],
                   "verbose": False, **kwargs}
        return ProjectedGradientDescent(clf, eps=eps, **options).generate(
            x.cpu().numpy(), y.cpu().numpy())

    def advdyn_attack(m: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float
                      ) -> torch.Tensor:
        options = {"eta": eps / 4, "steps": 40, "rule": "normalized" if norm == "l2" else "sign",
                   "start": "uniform", **kwargs}
        res = run_pgd(ModuleObjective(m, CrossEntropy, x, y), eps, options.pop("eta"),
                      options.pop("steps"), ball=norm, box=box, **options)
        return x + res.delta

    attacks: dict[str, Attack] = {"torchattacks": torchattacks_attack,
                                  "foolbox": foolbox_attack, "art": art_attack,
                                  "advdyn": advdyn_attack}
    attack = attacks[lib]

    def checked(m: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float
                ) -> torch.Tensor | np.ndarray:
        try:
            return attack(m, x, y, eps)
        except TypeError as e:  # an unknown or ill-typed keyword of the library's constructor
            raise fail("attack_args", f"{spec} refused {sorted(kwargs)}: {e}") from None

    return checked
