"""A zoo of broken defences, built here (never downloaded), for the audit's tests.

One tiny CNN (``build_cnn("tiny")``) trained for a few seconds on the shipped MNIST subset, and
around it: input quantisation (``round`` masks the gradients), inference noise (a randomised
model), a softmax before the loss (saturated outputs), an untrained surrogate; and the attacks:
a sound torchattacks PGD-l2, a budget far too small, a loop that returns its last iterate after
a sign error in its last steps.
"""

from __future__ import annotations

from functools import lru_cache

import torch
from torch import nn

from advdyn.data import load_mnist
from advdyn.models.cnn import build_cnn

EPS = 3.0  # l2 radius on MNIST in [0, 1] (the images' norm is about 9)
ROWS = 64  # audited rows: correctly classified held-out images


class Quantise(nn.Module):
    """``round(x·k)/k`` (k = 1: binarised at 0.5): its gradient is zero almost everywhere."""

    def __init__(self, levels: int = 1) -> None:
        super().__init__()
        self.levels = levels

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.round(z * self.levels) / self.levels


class InputNoise(nn.Module):
    """``z + σ·N(0, I)`` at every forward pass, also in eval mode (a randomised defence)."""

    def __init__(self, sigma: float) -> None:
        super().__init__()
        self.sigma = sigma

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z + self.sigma * torch.randn_like(z)


class Saturate(nn.Module):
    """``softmax(T·u)``: probabilities instead of logits, saturated (T = 100)."""

    def __init__(self, temperature: float = 100.0) -> None:
        super().__init__()
        self.temperature = temperature

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.temperature * u, dim=1)


@lru_cache(maxsize=1)
def trained() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    """The tiny CNN after one epoch of Adam on 4,000 images, and ``ROWS`` held-out images it
    classifies correctly (float32 in [0, 1])."""
    data = load_mnist(holdout=1000, seed=0)
    xs = torch.from_numpy(data.train_images).float()[:, None] / 255
    ys = torch.from_numpy(data.train_labels).long()
    model = build_cnn("tiny", seed=0)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(0)
    for _ in range(2):
        perm = torch.randperm(xs.shape[0], generator=g)
        for i in range(0, xs.shape[0], 100):
            idx = perm[i:i + 100]
            opt.zero_grad()
            nn.functional.cross_entropy(model(xs[idx]), ys[idx]).backward()
            opt.step()
    model = model.eval().requires_grad_(False)
    xt = torch.from_numpy(data.test_images).float()[:, None] / 255
    yt = torch.from_numpy(data.test_labels).long()
    with torch.no_grad():
        right = model(xt).argmax(1) == yt
    return model, xt[right][:ROWS], yt[right][:ROWS]


def untrained() -> nn.Module:
    """An untrained CNN of the same architecture: a surrogate whose attacks do not transfer."""
    return build_cnn("tiny", seed=7).eval().requires_grad_(False)


def quantised(model: nn.Module) -> nn.Module:
    return nn.Sequential(Quantise(), model).eval()


def randomised(model: nn.Module) -> nn.Module:
    return nn.Sequential(InputNoise(0.5), model).eval()


def saturated(model: nn.Module) -> nn.Module:
    return nn.Sequential(model, Saturate()).eval()


def last_iterate_loop(m: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float
                      ) -> torch.Tensor:
    """l2 PGD (normalized steps ε/8, no random start) for 24 steps, whose last 16 steps go
    *down* the loss (a sign error), and which returns its last iterate, not its best one."""
    alpha = eps / 8
    z = x.clone()
    for t in range(40):
        z = z.detach().requires_grad_(True)
        nn.functional.cross_entropy(m(z), y).backward()
        assert z.grad is not None
        g = z.grad
        step = alpha * g / g.flatten(1).norm(dim=1).clamp_min(1e-12)[:, None, None, None]
        d = z.detach() + (step if t < 24 else -step) - x
        d = d * (eps / d.flatten(1).norm(dim=1).clamp_min(eps)).reshape(-1, 1, 1, 1)
        z = (x + d).clamp(0, 1)
    return z.detach()


def tiny_cnn() -> nn.Module:
    """The untrained architecture of :func:`trained` (a ``--model`` factory for the CLI)."""
    return build_cnn("tiny", seed=0)


def quantised_cnn() -> nn.Module:
    """:func:`tiny_cnn` behind the input quantisation (a ``--model`` factory for the CLI)."""
    return quantised(tiny_cnn())
