r"""Checks of a model and its data before any attack (as AutoAttack's ``checks.py``).

Each check has a name and, when it finds something, a one-line message saying what and what to
do. :func:`static_checks` needs no forward pass; :func:`forward_checks` runs the model twice on a
few rows. :class:`~advdyn.models.ModuleObjective` raises on the fatal findings of the static
checks; :func:`advdyn.audit.audit_attack` reports them all.

* ``train_mode``: a module in training mode that holds BatchNorm or Dropout layers (an attack
  then updates the running statistics and couples the rows, or draws a new mask per step);
* ``dtype``: the data's floating dtype is not the model's (torch would fail with ``mat1 and mat2
  must have the same dtype``); the inputs are cast to the model's dtype;
* ``device``: a CUDA device asked for on a torch build without CUDA, or model and data on two
  devices;
* ``probabilities``: the outputs lie in ``[0, 1]`` and every row sums to 1 (probabilities, not
  logits: a cross-entropy on them saturates and its gradients vanish);
* ``randomised``: two forward passes on the same inputs differ (a stochastic defence: the
  gradient of one draw is not the gradient of the model).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from advdyn.errors import check_choice, fail

CHECKS = ("train_mode", "dtype", "device", "probabilities", "randomised")
STOCHASTIC_LAYERS = (nn.modules.batchnorm._BatchNorm, nn.modules.dropout._DropoutNd)
CUDA_FIX = ("use device 'cpu', or install a CUDA build of torch "
            "(https://pytorch.org/get-started/locally/, e.g. pip install torch --index-url "
            "https://download.pytorch.org/whl/cu124) on a machine with an NVIDIA GPU")


@dataclass(frozen=True)
class Finding:
    """What one check found: its name (:data:`CHECKS`) and a one-line message."""

    name: str
    message: str


def model_dtype(model: nn.Module) -> torch.dtype | None:
    """The dtype of the model's first floating parameter or buffer (``None``: it has none)."""
    for t in (*model.parameters(), *model.buffers()):
        if t.is_floating_point():
            return t.dtype
    return None


def model_device(model: nn.Module) -> torch.device | None:
    """The device of the model's first parameter or buffer (``None``: it has none)."""
    for t in (*model.parameters(), *model.buffers()):
        return t.device
    return None


def check_device(field: str, device: str | torch.device) -> torch.device:
    """``device`` as a :class:`torch.device`; raises when it names CUDA on a build without it."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise fail(field, f"unknown device {device!r}", "use 'cpu' or 'cuda'") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        build = "no CUDA" if torch.version.cuda is None else "no CUDA device visible"
        raise fail(field, f"{dev} asked for, but this torch install ({torch.__version__}) has "
                   f"{build}", CUDA_FIX)
    return dev


#: What a ``--device`` flag takes: the CPU, CUDA, or ``auto`` (CUDA when a GPU is visible).
DEVICES = ("cpu", "cuda", "auto")


def resolve_device(name: str, field: str = "--device", *, local: bool = True) -> str:
    """The device ``name`` (one of :data:`DEVICES`) stands for: ``auto`` is ``cuda`` when this
    process sees a GPU, else ``cpu``. With ``local`` (the work runs in this process or on this
    machine) ``cuda`` must be usable here (:func:`check_device`); without it (the work runs
    elsewhere, e.g. on a Dask cluster's workers) ``cuda`` is kept for the workers to check."""
    check_choice(field, name, DEVICES)
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if local:
        check_device(field, name)
    return name


def train_mode_finding(model: nn.Module) -> Finding | None:
    """A finding when ``model`` is in training mode with BatchNorm or Dropout layers."""
    if not model.training:
        return None
    found = [f"{name or 'model'} ({type(m).__name__})" for name, m in model.named_modules()
             if isinstance(m, STOCHASTIC_LAYERS) and m.training]
    if not found:
        return None
    return Finding("train_mode", f"model is in train mode with {', '.join(found[:3])}: an attack "
                   "would update running statistics or redraw dropout masks; call model.eval()")


def static_checks(model: nn.Module, x: torch.Tensor) -> list[Finding]:
    """The checks without a forward pass: ``train_mode``, ``dtype``, ``device``."""
    out = []
    train = train_mode_finding(model)
    if train is not None:
        out.append(train)
    dtype = model_dtype(model)
    if dtype is not None and x.is_floating_point() and x.dtype != dtype:
        out.append(Finding("dtype", f"data are {x.dtype} but the model is {dtype}; the inputs "
                           f"are cast to {dtype} (or cast the model with model.to({x.dtype}))"))
    dev = model_device(model)
    if dev is not None and dev != x.device:
        out.append(Finding("device", f"model is on {dev} but the data are on {x.device}; move "
                           f"the data with x.to('{dev}')"))
    return out


def forward_checks(model: nn.Module, x: torch.Tensor, rows: int = 8) -> list[Finding]:
    """The checks that run the model (twice, on the first ``rows`` rows, without gradients):
    ``probabilities`` and ``randomised``."""
    z = x[:rows]
    with torch.no_grad():
        first, second = model(z), model(z)
    out = []
    if first.ndim == 2 and first.shape[1] > 1:
        ones = torch.ones(first.shape[0], dtype=first.dtype, device=first.device)
        if first.min() >= 0 and first.max() <= 1 and torch.allclose(first.sum(1), ones,
                                                                      atol=1e-4):
            out.append(Finding("probabilities", "model outputs are probabilities (in [0, 1], "
                               "rows sum to 1), not logits: the cross-entropy saturates; remove "
                               "the final softmax"))
    if not torch.equal(first, second):
        gap = float((first - second).abs().max())
        out.append(Finding("randomised", f"two forward passes on the same inputs differ (by up "
                           f"to {gap:.3g}): a randomised model; attack its expectation (EOT) or "
                           "fix its randomness"))
    return out
