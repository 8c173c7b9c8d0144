r"""Convolutional networks for MNIST ``(B, 1, 28, 28) → (B, 10)`` logits, at PyTorch's standard
initialisation (Kaiming-uniform weights with ``a = √5``, uniform biases in ``±1/√fan_in``).

* ``small`` (default; ~0.2 M parameters, fast on 2 CPU cores)::

      conv 5×5, 1→16, pad 2 → σ → maxpool 2      (16×14×14)
      conv 5×5, 16→32, pad 2 → σ → maxpool 2     (32×7×7)
      linear 1568→128 → σ → linear 128→10

* ``madry`` (the MNIST network of Madry et al., 2018; ~3.3 M parameters)::

      conv 5×5, 1→32, pad 2 → σ → maxpool 2      (32×14×14)
      conv 5×5, 32→64, pad 2 → σ → maxpool 2     (64×7×7)
      linear 3136→1024 → σ → linear 1024→10

``σ`` is ReLU (default) or softplus (the smooth activation the paper's theory assumes). Neither
network has batch normalisation or dropout, so rows never interact and ``∇_δ`` of a batch is the
batch of per-row gradients. Any other ``torch.nn.Module`` with the same input/output shapes can be
used wherever these are.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from advdyn.errors import check_choice, check_number

ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "softplus": nn.Softplus}
# (conv1 channels, conv2 channels, hidden width)
ARCHITECTURES: dict[str, tuple[int, int, int]] = {"small": (16, 32, 128),
                                                  "madry": (32, 64, 1024)}


class MnistCNN(nn.Sequential):
    """Two 5×5 conv + max-pool blocks and two linear layers (see the module docstring)."""

    def __init__(self, conv1: int, conv2: int, hidden: int, activation: str = "relu",
                 classes: int = 10) -> None:
        act = ACTIVATIONS[check_choice("activation", activation, ACTIVATIONS)]
        f32: dict[str, Any] = {"dtype": torch.float32}  # float32 whatever the default dtype
        super().__init__(
            nn.Conv2d(1, conv1, 5, padding=2, **f32), act(), nn.MaxPool2d(2),
            nn.Conv2d(conv1, conv2, 5, padding=2, **f32), act(), nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(conv2 * 7 * 7, hidden, **f32), act(),
            nn.Linear(hidden, classes, **f32),
        )


def build_cnn(arch: str = "small", *, activation: str = "relu", seed: int = 0,
              dtype: torch.dtype = torch.float32) -> MnistCNN:
    """The network ``arch`` (``small`` | ``madry``) at standard init, drawn from ``seed`` without
    touching the global random state (same seed → same weights)."""
    conv1, conv2, hidden = ARCHITECTURES[check_choice("arch", arch, ARCHITECTURES)]
    seed = check_number("seed", seed, integer=True)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = MnistCNN(conv1, conv2, hidden, activation)
    return model.to(dtype)


def parameter_count(model: nn.Module) -> int:
    """Number of scalar parameters."""
    return sum(p.numel() for p in model.parameters())
