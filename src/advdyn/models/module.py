r"""Any ``torch.nn.Module`` as an objective of δ, through autograd.

``L(δ) = -ℓ(y, model(x + δ))`` row-wise; ``∇L`` by one backward pass of ``Σ_b L_b`` (rows are
independent as long as the module has no cross-row coupling, e.g. batch norm in training mode —
put such modules in ``eval()``); ``∇²L`` by ``torch.func.hessian`` vectorised over rows.

Layout: on the CPU, in float32, a module with 2-D convolutions runs ``L`` and ``∇L`` in
channels-last layout (``layout="auto"``): at every evaluation its convolution weights are copied
to channels-last strides (a few µs; the user's module and its parameters are not touched, and the
copies follow any change to them) and the module is called on them through
:func:`torch.func.functional_call`, so oneDNN runs the whole network in its preferred layout
(a PGD step on the MNIST CNN in 0.77–0.87 of the NCHW time, measured with one thread on a
loaded 2-core machine). Results equal the NCHW ones to float32 rounding; ``layout="contiguous"``
keeps the module's own layout, and ``"auto"`` falls back to it for good when the module fails in
channels-last (e.g. it calls ``.view`` on its activations).

Checks at construction (:mod:`advdyn.models.checks`): a module in training mode with BatchNorm or
Dropout layers, and model and data on two devices, raise :class:`~advdyn.errors.AdvdynError`;
floating inputs of another dtype than the model's are **cast to the model's dtype** (so δ is then
in that dtype too); for the class losses (``CrossEntropy``, ``LogCrossEntropy``) a floating
``y`` of shape ``(B, K)`` (one-hot or soft labels) is read as the labels ``argmax_k y``.
:meth:`ModuleObjective.model_checks` also runs the checks that need a forward pass.
"""

from __future__ import annotations

import torch
from torch import nn

from advdyn.errors import check_choice, check_finite_tensor, fail
from advdyn.losses import CrossEntropy, LogCrossEntropy, Loss
from advdyn.models.checks import (
    Finding,
    check_device,
    forward_checks,
    model_dtype,
    static_checks,
)
from advdyn.models.objective import Evaluation, Objective, autograd_evaluation


class ModuleObjective(Objective):
    """``L(δ) = -ℓ(y, model(x+δ))`` for a module mapping ``(B, *shape)`` to ``(B,)``/``(B, K)``."""

    def __init__(self, model: nn.Module, loss: Loss | type[LogCrossEntropy], x: torch.Tensor,
                 y: torch.Tensor, layout: str = "auto") -> None:
        if not isinstance(model, nn.Module):
            raise fail("model", f"expected a torch.nn.Module, got {type(model).__name__}")
        x = torch.as_tensor(x)
        if x.ndim < 2:
            raise fail("x", f"expected a batch (B, *shape), got shape {tuple(x.shape)}",
                       "add a leading batch dimension")
        check_device("x", x.device)
        findings = {f.name: f for f in static_checks(model, x)}
        for name in ("train_mode", "device"):
            if name in findings:
                raise fail("model", findings[name].message)
        dtype = model_dtype(model)
        if "dtype" in findings and dtype is not None:
            x = x.to(dtype)
        self.model, self.loss = model, loss
        self.x = check_finite_tensor("x", x)
        y = torch.as_tensor(y, device=x.device)
        if loss in (CrossEntropy, LogCrossEntropy) and y.ndim == 2 and y.is_floating_point():
            y = y.argmax(dim=1)  # one-hot or soft labels (B, K): the class of each row
        self.y = y.reshape(-1) if y.ndim <= 1 else y
        if self.y.shape[0] not in (1, x.shape[0]) and x.shape[0] != 1:
            raise fail("y", f"has {self.y.shape[0]} rows but x has {x.shape[0]}")
        self.layout = check_choice("layout", layout, LAYOUTS)
        self._channels_last = _channels_last_weights(model, self.x, layout)

    @property
    def channels_last_weights(self) -> tuple[str, ...]:
        """The convolution weights run in channels-last layout (empty: the module's own)."""
        return self._channels_last

    def _forward(self, z: torch.Tensor) -> torch.Tensor:
        """``model(z)``, in channels-last layout where chosen (see the module docstring)."""
        if self._channels_last:
            weights = {name: self.model.get_parameter(name).to(memory_format=torch.channels_last)
                       for name in self._channels_last}
            try:
                return torch.func.functional_call(
                    self.model, weights, (z.contiguous(memory_format=torch.channels_last),))
            except RuntimeError:  # e.g. ``.view`` on activations: the module needs its layout
                if self.layout == "channels_last":
                    raise
                self._channels_last = ()
        return self.model(z)

    def model_checks(self) -> list[Finding]:
        """Every check of :mod:`advdyn.models.checks` on this model and its inputs, the forward
        ones included (what :func:`advdyn.audit.audit_attack` reports before an attack)."""
        return static_checks(self.model, self.x) + forward_checks(self.model, self.x)

    def _ell(self, delta: torch.Tensor) -> torch.Tensor:
        out = self._forward(self.x + delta.to(self.x.dtype))
        if out.ndim == 2 and out.shape[1] == 1:
            out = out[:, 0]
        y = self.y.to(out.dtype) if out.ndim == 1 else self.y
        if y.shape[0] == 1 and out.shape[0] != 1:
            y = y.expand(out.shape[0], *y.shape[1:])
        return self.loss.value(out, y)

    def evaluate(self, delta: torch.Tensor, grad: bool = True) -> Evaluation:
        return autograd_evaluation(self._ell, delta, grad)

    def state_key(self) -> object:
        """The version counters of the module's parameters and buffers (in-place changes, e.g.
        an optimiser step, increment them)."""
        return tuple(t._version for t in (*self.model.parameters(), *self.model.buffers()))

    def hessian(self, delta: torch.Tensor) -> torch.Tensor:
        b = delta.shape[0]
        x = self.x.expand(b, *self.x.shape[1:]) if self.x.shape[0] == 1 else self.x
        y = self.y.expand(b, *self.y.shape[1:]) if self.y.shape[0] == 1 else self.y

        def neg_loss(flat: torch.Tensor, xi: torch.Tensor, yi: torch.Tensor) -> torch.Tensor:
            out = self.model((xi + flat.reshape(xi.shape))[None])
            out = out[:, 0] if out.ndim == 2 and out.shape[1] == 1 else out
            yy = yi[None].to(out.dtype) if out.ndim == 1 else yi[None]
            return -self.loss.value(out, yy)[0]

        flat = delta.reshape(b, -1).detach()
        try:
            return torch.vmap(torch.func.hessian(neg_loss))(flat, x, y)
        except (RuntimeError, NotImplementedError):  # modules vmap cannot batch: row by row
            return torch.stack([torch.func.hessian(neg_loss)(flat[i], x[i], y[i])
                                for i in range(b)])

    def select(self, rows: torch.Tensor) -> ModuleObjective:
        return ModuleObjective(self.model, self.loss, self._rows(self.x, rows),
                               self._rows(self.y, rows), self.layout)


LAYOUTS = ("auto", "channels_last", "contiguous")


def _channels_last_weights(model: nn.Module, x: torch.Tensor, layout: str) -> tuple[str, ...]:
    """Names of the 2-D convolution weights to run in channels-last layout: all of them with
    ``layout="channels_last"``; with ``"auto"`` only on the CPU in float32 (oneDNN's fast path;
    float64 convolutions have no channels-last kernel there); none for other inputs."""
    if layout == "contiguous" or x.ndim != 4:
        return ()
    if layout == "auto" and (x.device.type != "cpu" or x.dtype != torch.float32):
        return ()
    return tuple(f"{name}.weight" if name else "weight" for name, m in model.named_modules()
                 if isinstance(m, nn.Conv2d))
