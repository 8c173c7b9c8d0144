r"""K networks of one architecture evaluated as one, through grouped convolutions and batched
matrix products, and the PGD objective of that ensemble.

Member ``k`` (``k = 0 … K-1``) is the network ``f_k``; the ensemble takes rows in member-major
order, ``z = [z_0; z_1; …; z_{K-1}]`` with ``B`` rows per member, and returns
``[f_0(z_0); …; f_{K-1}(z_{K-1})]``. Internally an image batch is held as ``(B, K·C, H, W)``
(member ``k``'s channels at ``k·C … k·C + C - 1``), so a convolution of every member is one
``conv2d(…, groups=K)`` with the members' kernels stacked along the output channels; after
``Flatten`` the features are ``(K, B, F)`` and a linear layer is one ``baddbmm``
``b_k + z_k W_kᵀ``. Pointwise layers and pooling act per channel and need no change;
:class:`~advdyn.models.cnn.InputScaling` divides member ``k``'s channels by its own scale.

Why grouped convolutions rather than ``torch.func.stack_module_state`` + ``vmap``: one forward
+ backward to the input of K = 8 ``small`` CNNs on 128 images each took 1.41 s grouped in
channels-last layout, 1.53 s grouped in NCHW, 1.91 s with ``vmap`` over ``functional_call`` and
2.23 s for the 8 networks one after the other in channels-last layout (the layout of the
sequential training), medians of 5 rounds, interleaved, 2 cores at load average 8–9.5; for
``tiny`` CNNs 0.77 s grouped (NCHW), 0.77 s ``vmap`` and 1.24 s sequential (load 6–8). Grouped
convolutions win where the convolutions dominate and are never slower. On the CPU in float32
the convolution weights run in channels-last layout, as :class:`~advdyn.models.ModuleObjective`
does.

Supported layers (nested ``nn.Sequential`` is flattened): ``Conv2d`` (``groups = 1``, zero
padding), ``Linear``, ``Flatten`` (from dim 1), ``InputScaling``, and the pointwise or pooling
layers of :data:`PER_CHANNEL`. Every member must have the same layers with the same settings
(their ``repr``), only the parameters and the input scale differ.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from advdyn.errors import fail
from advdyn.losses import LogCrossEntropy, Loss
from advdyn.models.cnn import InputScaling
from advdyn.models.objective import Evaluation, Objective, autograd_evaluation

#: Layers that act on each channel (or each number) alone, so they run unchanged on the grouped
#: layout.
PER_CHANNEL: tuple[type[nn.Module], ...] = (
    nn.ReLU, nn.Softplus, nn.Tanh, nn.Sigmoid, nn.GELU, nn.ELU, nn.LeakyReLU, nn.Identity,
    nn.MaxPool2d, nn.AvgPool2d)
Weights = list[tuple[torch.Tensor, torch.Tensor | None]]


def leaves(model: nn.Module) -> list[nn.Module]:
    """The layers of ``model`` in call order, nested ``nn.Sequential`` flattened."""
    if isinstance(model, nn.Sequential):
        return [leaf for child in model for leaf in leaves(child)]
    return [model]


def _parametrised(model: nn.Module) -> list[nn.Conv2d | nn.Linear]:
    """The layers of ``model`` that hold parameters, in call order."""
    return [layer for layer in leaves(model) if isinstance(layer, (nn.Conv2d, nn.Linear))]


def _supported(layer: nn.Module) -> bool:
    """Whether one layer runs on the grouped layout (module docstring)."""
    if isinstance(layer, nn.Conv2d):
        return layer.groups == 1 and layer.padding_mode == "zeros"
    if isinstance(layer, nn.Flatten):
        return layer.start_dim == 1 and layer.end_dim == -1
    return isinstance(layer, (nn.Linear, InputScaling, *PER_CHANNEL))


def groupable(model: nn.Module) -> bool:
    """Whether every layer of ``model`` is one :class:`GroupedNet` supports (module docstring)."""
    return all(_supported(layer) for layer in leaves(model))


class GroupedNet:
    """The members ``models`` (one architecture) as one network on member-major rows (module
    docstring). The members' parameters are read at every :meth:`weights` call, so optimiser
    steps on the members are seen at once."""

    def __init__(self, models: Sequence[nn.Module]) -> None:
        self.models = list(models)
        if not self.models:
            raise fail("models", "an ensemble needs at least one model")
        self.layers = leaves(self.models[0])
        if not groupable(self.models[0]):
            odd = next(layer for layer in self.layers if not _supported(layer))
            raise fail("model", f"layer {odd!r} is not supported by the grouped ensemble",
                       "use Conv2d, Linear, Flatten, InputScaling and pointwise or "
                       "pooling layers")
        for k, m in enumerate(self.models[1:], start=1):
            if [repr(layer) for layer in leaves(m)] != [repr(layer) for layer in self.layers]:
                raise fail("models", f"model {k} has another architecture than model 0")
        scales = [[layer.scale for layer in leaves(m) if isinstance(layer, InputScaling)]
                  for m in self.models]
        self.scales = torch.tensor(scales).T  # (InputScaling layers, K)

    @property
    def size(self) -> int:
        """The number of members ``K``."""
        return len(self.models)

    def weights(self) -> Weights:
        """Every Conv2d and Linear layer's ``(weight, bias)`` stacked over the members
        (convolutions: ``(K·O, C, kh, kw)``, channels-last on the CPU in float32; linear
        layers: ``(K, O, I)``); differentiable in the members' parameters where grad is on."""
        out: Weights = []
        per_member = [_parametrised(m) for m in self.models]
        for i, layer in enumerate(_parametrised(self.models[0])):
            w = torch.stack([layers[i].weight for layers in per_member])
            biases = [t for layers in per_member if (t := layers[i].bias) is not None]
            b = torch.stack(biases) if biases else None
            if isinstance(layer, nn.Conv2d):
                w = w.flatten(0, 1)
                b = None if b is None else b.flatten()
                if w.device.type == "cpu" and w.dtype == torch.float32:
                    w = w.contiguous(memory_format=torch.channels_last)
            out.append((w, b))
        return out

    def __call__(self, z: torch.Tensor, weights: Weights) -> torch.Tensor:
        """``[f_0(z_0); …; f_{K-1}(z_{K-1})]`` for member-major rows ``z`` (``K·B`` rows)."""
        k = self.size
        b = z.shape[0] // k
        spatial = z.ndim == 4
        if spatial:
            h = z.reshape(k, b, *z.shape[1:]).transpose(0, 1).reshape(b, k * z.shape[1],
                                                                       *z.shape[2:])
            if z.device.type == "cpu" and z.dtype == torch.float32:
                h = h.contiguous(memory_format=torch.channels_last)
        else:
            h = z.reshape(k, b, *z.shape[1:])
        params, scales = iter(weights), iter(self.scales)
        for layer in self.layers:
            if isinstance(layer, nn.Conv2d):
                w, bias = next(params)
                h = F.conv2d(h, w, bias, layer.stride, layer.padding, layer.dilation, groups=k)
            elif isinstance(layer, nn.Linear):
                w, bias = next(params)
                wt = w.transpose(1, 2)
                h = torch.bmm(h, wt) if bias is None else torch.baddbmm(bias[:, None], h, wt)
            elif isinstance(layer, nn.Flatten):
                h, spatial = (h.reshape(b, k, -1).transpose(0, 1) if spatial else
                              h.reshape(k, b, -1)), False
            elif isinstance(layer, InputScaling):
                s = next(scales).to(h.device, h.dtype)
                h = h / (s.repeat_interleave(h.shape[1] // k)[None, :, None, None] if spatial
                         else s.reshape(k, *[1] * (h.ndim - 1)))
            else:
                h = layer(h)
        if spatial:
            raise fail("model", "the grouped ensemble needs a network that ends in a Linear "
                       "layer (flat logits)")
        return h.reshape(k * b, *h.shape[2:])


class EnsembleObjective(Objective):
    """``L(δ) = -ℓ(y, f_k(x + δ))`` on the member-major rows of a :class:`GroupedNet` at fixed
    ``weights`` (as :class:`~advdyn.models.ModuleObjective`: ``∇L`` by one backward pass of
    ``Σ_b L_b``; rows never interact). For PGD steps only: no Hessian, no row selection."""

    def __init__(self, net: GroupedNet, weights: Weights, loss: Loss | type[LogCrossEntropy],
                 x: torch.Tensor, y: torch.Tensor) -> None:
        self.net, self.weights, self.loss, self.x, self.y = net, weights, loss, x, y

    def _ell(self, delta: torch.Tensor) -> torch.Tensor:
        return self.loss.value(self.net(self.x + delta, self.weights), self.y)

    def evaluate(self, delta: torch.Tensor, grad: bool = True) -> Evaluation:
        return autograd_evaluation(self._ell, delta, grad)

    def state_key(self) -> object:
        """The version counters of every member's parameters."""
        return tuple(p._version for m in self.net.models for p in m.parameters())

    def hessian(self, delta: torch.Tensor) -> torch.Tensor:
        raise fail("EnsembleObjective", "has no Hessian (it serves PGD steps only)",
                   "use ModuleObjective on one member")

    def select(self, rows: torch.Tensor) -> Objective:
        raise fail("EnsembleObjective", "cannot select rows (each member holds B rows)",
                   "use ModuleObjective on one member")
