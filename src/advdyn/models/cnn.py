r"""Convolutional networks for MNIST ``(B, 1, 28, 28) → (B, 10)`` logits, at PyTorch's standard
initialisation (Kaiming-uniform weights with ``a = √5``, uniform biases in ``±1/√fan_in``).

* ``small`` (default; ~0.2 M parameters, fast on 2 CPU cores)::

      conv 5×5, 1→16, pad 2 → σ → maxpool 2      (16×14×14)
      conv 5×5, 16→32, pad 2 → σ → maxpool 2     (32×7×7)
      linear 1568→128 → σ → linear 128→10

* ``tiny`` (quick runs; ~30 k parameters): channels 4 and 8, hidden width 32.

* ``affine`` (the calibration arm, :func:`advdyn.models.calibration.affine_classifier`):
  ``Flatten → Linear(784, 10)``; its loss over the ball has a single maximum.

* ``madry`` (the MNIST network of Madry et al., 2018; ~3.3 M parameters)::

      conv 5×5, 1→32, pad 2 → σ → maxpool 2      (32×14×14)
      conv 5×5, 32→64, pad 2 → σ → maxpool 2     (64×7×7)
      linear 3136→1024 → σ → linear 1024→10

``σ`` is ReLU (default) or softplus (the smooth activation the paper's theory assumes); the pooling
is max (default) or average (``pool="avg"``). Softplus with average pooling makes the network
smooth in its input, so a local maximum of the loss on the sphere has a KKT certificate (with
ReLU or max-pooling, maxima sit on kinks where the one-sided gradient is not radial). No
network has batch normalisation or dropout, so rows never interact and ``∇_δ`` of a batch is the
batch of per-row gradients. Any other ``torch.nn.Module`` with the same input/output shapes can be
used wherever these are.
"""

from __future__ import annotations

import torch
from torch import nn

from advdyn.errors import check_choice, check_number
from advdyn.models.calibration import affine_classifier

ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "softplus": nn.Softplus}
# (conv1 channels, conv2 channels, hidden width)
# (conv1 channels, conv2 channels, hidden width); None: the affine calibration arm
ARCHITECTURES: dict[str, tuple[int, int, int] | None] = {
    "tiny": (4, 8, 32), "small": (16, 32, 128), "madry": (32, 64, 1024), "affine": None}
POOLS: dict[str, type[nn.Module]] = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d}


class MnistCNN(nn.Sequential):
    """Two 5×5 conv + max-pool blocks and two linear layers (see the module docstring)."""

    def __init__(self, conv1: int, conv2: int, hidden: int, activation: str = "relu",
                 classes: int = 10, pool: str = "max") -> None:
        act = ACTIVATIONS[check_choice("activation", activation, ACTIVATIONS)]
        down = POOLS[check_choice("pool", pool, POOLS)]
        f32 = torch.float32  # initialised in float32 whatever the default dtype
        super().__init__(
            nn.Conv2d(1, conv1, 5, padding=2, dtype=f32), act(), down(2),
            nn.Conv2d(conv1, conv2, 5, padding=2, dtype=f32), act(), down(2),
            nn.Flatten(),
            nn.Linear(conv2 * 7 * 7, hidden, dtype=f32), act(),
            nn.Linear(hidden, classes, dtype=f32),
        )


def build_cnn(arch: str = "small", *, activation: str = "relu", pool: str = "max",
              seed: int = 0, dtype: torch.dtype = torch.float32) -> nn.Sequential:
    """The network ``arch`` (``tiny`` | ``small`` | ``madry`` | ``affine``) at standard init,
    drawn from ``seed`` without touching the global random state (same seed → same weights)."""
    widths = ARCHITECTURES[check_choice("arch", arch, ARCHITECTURES)]
    seed = check_number("seed", seed, integer=True)
    if widths is None:
        return affine_classifier(seed=seed, dtype=dtype)
    conv1, conv2, hidden = widths
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = MnistCNN(conv1, conv2, hidden, activation, pool=pool)
    return model.to(dtype)


def parameter_count(model: nn.Module) -> int:
    """Number of scalar parameters."""
    return sum(p.numel() for p in model.parameters())


class InputScaling(nn.Module):
    """``x ↦ x / scale``: put in front of a network trained on pixels in ``[0, scale]``, it makes
    the input scale invisible (the network sees ``[0, 1]`` and the radius ``ε/scale = r·m₁`` at
    every scale) — the negative control of every input-scale claim."""

    def __init__(self, scale: float) -> None:
        super().__init__()
        self.scale = float(check_number("scale", scale, positive=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x / self.scale


def scale_invisible(model: nn.Module, scale: float) -> nn.Sequential:
    """``model(x / scale)`` (see :class:`InputScaling`)."""
    return nn.Sequential(InputScaling(scale), model)
