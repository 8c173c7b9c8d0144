r"""Trace any library's attack: record the iterates it feeds the model and judge them.

Wrap the model in a :class:`TracedModel`, hand the wrapper to an attack from any library
(torchattacks ``PGDL2``/``PGD``, Foolbox 3 ``L2PGD``, ART ``ProjectedGradientDescent`` through its
``PyTorchClassifier``, …), and run the attack unchanged. The wrapper keeps a copy of every input
``z`` it is given; :func:`trace_attack` turns them into advdyn's
:class:`~advdyn.pgd.Trajectory` of iterates ``δ_t = z_t − x`` (per row) and evaluates, with
advdyn's own loss ``ℓ`` and geometry, per step:

* ``ℓ(y, f(x + δ_t))`` and ``L = −ℓ`` (the minimisation form);
* ``‖δ_t‖/ε`` (the ball's own norm: l2 or l∞);
* stationarity on the sphere: ``1 − cos∠[∇ℓ, δ_t]`` (0 at a critical point where ``∇ℓ`` points
  outward, i.e. a KKT point of the attack) and ``‖Γ(δ_t)‖/‖∇ℓ‖`` with
  ``Γ = P_T ∇L`` the tangent gradient (0 at any critical point on the sphere);
* the law of the start: under a start uniform in the ball, ``(‖δ₀‖/ε)^D ~ U[0, 1]`` (D the
  flattened dimension; ``P(‖δ₀‖ ≤ r) = (r/ε)^D`` for the l2 and the l∞ ball alike), tested with
  a Kolmogorov–Smirnov test (:func:`start_uniformity`).

**Which forward calls are iterates.** A PGD step evaluates ``∇ℓ`` at the current point: one
forward call whose input is then differentiated. The wrapper registers a hook on each input that
requires a gradient; the hook fires when a backward pass (``loss.backward()`` or
``torch.autograd.grad``) reaches that input, and only such calls count as iterates. Everything
else is logged but not an iterate: ``"check"`` (grad disabled or an input without
``requires_grad``: success checks, predictions, ART's logging of the success rate, a wrapper's
shape probe) and ``"unmatched"`` (an input that required a gradient but was never
differentiated, e.g. a loss evaluation inside a line search). :attr:`Trace.calls` lists them all.

The attack's own last step is never fed to the model (it is what the attack returns), so
:func:`trace_attack` appends the attack's output as the last record ``t = T``; records
``0 … T−1`` are the gradient evaluations. Conventions and limits:

* every iterate call must hold the whole batch (ART: ``batch_size`` = number of rows), rows in
  the order of ``x``;
* restarts (ART ``num_random_init > 1``, torchattacks ``random_start`` with several runs) appear
  one after another in the same trajectory;
* ``ℓ`` is advdyn's loss (default cross-entropy per row), not the attack's (mean or sum);
* the wrapper sees what the attack feeds the model: if a library normalises inputs before the
  model, wrap the model that takes the attack's inputs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from scipy import stats
from torch import nn

from advdyn.errors import check_choice, fail
from advdyn.geometry import BALLS, alignment, row_norm, sphere_rtol, sphere_terms
from advdyn.losses import CrossEntropy, Loss
from advdyn.models import ModuleObjective
from advdyn.pgd import Trajectory

CALL_KINDS = ("iterate", "check", "unmatched")


@dataclass
class ForwardCall:
    """One forward call of the attack: its order, its rows and its kind (:data:`CALL_KINDS`)."""

    index: int
    rows: int
    kind: str


class TracedModel(nn.Module):
    """``model`` unchanged, plus a log of every input it is fed (see the module docstring)."""

    def __init__(self, model: nn.Module) -> None:
        if not isinstance(model, nn.Module):
            raise fail("model", f"expected a torch.nn.Module, got {type(model).__name__}")
        super().__init__()
        self.model = model
        self.train(model.training)
        self.calls: list[ForwardCall] = []
        self.inputs: list[torch.Tensor] = []

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """``model(z)``; ``z`` is copied and logged as a check or a pending iterate."""
        call = ForwardCall(len(self.calls), int(z.shape[0]), "check")
        if torch.is_grad_enabled() and z.requires_grad:
            call.kind = "unmatched"

            def matched(_: torch.Tensor) -> None:
                call.kind = "iterate"

            z.register_hook(matched)
        self.calls.append(call)
        self.inputs.append(z.detach().clone())
        return self.model(z)

    def iterates(self) -> list[torch.Tensor]:
        """The inputs of the calls that were differentiated, in order."""
        return [z for z, c in zip(self.inputs, self.calls, strict=True) if c.kind == "iterate"]


@dataclass(frozen=True)
class StartTest:
    """KS test of ``u = (‖δ₀‖/ε)^D`` against ``U[0, 1]`` over the rows of a start."""

    statistic: float
    pvalue: float
    rows: int
    dim: int


@dataclass
class Trace:
    """A traced attack. ``trajectory``: δ_t, ℓ, L, ‖Γ‖, λ*, cos∠[∇ℓ, δ], on-sphere flag, each
    ``(T+1, B, …)``, the last record being the attack's output. Per step and row ``(T+1, B)``:
    ``radius`` = ‖δ‖/ε, ``stationarity`` = 1 − cos∠[∇ℓ, δ], ``gamma_ratio`` = ‖Γ‖/‖∇ℓ‖.
    ``calls``: every forward call and its kind; ``start``: the test of δ₀'s law."""

    trajectory: Trajectory
    radius: np.ndarray
    stationarity: np.ndarray
    gamma_ratio: np.ndarray
    calls: list[ForwardCall]
    start: StartTest

    @property
    def steps(self) -> int:
        """T: the number of gradient evaluations (the output is record T)."""
        return len(self.trajectory.t) - 1

    def counts(self) -> dict[str, int]:
        """How many forward calls were of each kind."""
        return {k: sum(c.kind == k for c in self.calls) for k in CALL_KINDS}


def start_uniformity(delta0: torch.Tensor, eps: float | torch.Tensor,
                     ball: str = "l2") -> StartTest:
    r"""Test ``δ₀ ~ Uniform(B(0, ε))`` by ``u_b = (‖δ₀_b‖/ε_b)^D ~ U[0, 1]`` (KS, two-sided).

    For a start uniform in a D-dimensional l2 or l∞ ball, ``P(‖δ₀‖ ≤ r) = (r/ε)^D``, so ``u`` is
    uniform; ``u = exp(D log(‖δ₀‖/ε))`` is computed in float64. Only the radius law is tested,
    not the direction.
    """
    ball_cls = BALLS[check_choice("ball", ball, BALLS)]
    d0 = torch.as_tensor(delta0).to(torch.float64)
    if d0.ndim < 2 or d0.shape[0] < 1:
        raise fail("delta0", f"expected a batch (B, *shape), got shape {tuple(d0.shape)}")
    e = torch.as_tensor(eps, dtype=torch.float64).reshape(-1).expand(d0.shape[0])
    dim = math.prod(d0.shape[1:])
    u = torch.exp(dim * torch.log(ball_cls.radius(d0) / e)).clamp(0, 1)
    ks = stats.kstest(u.numpy(), "uniform")
    return StartTest(float(ks.statistic), float(ks.pvalue), int(d0.shape[0]), dim)


def _gradients(model: nn.Module, loss: Loss, z: torch.Tensor, y: torch.Tensor,
               chunk_rows: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``ℓ`` and ``∇L`` at the inputs ``z`` ``(T, B, …)`` themselves (δ = 0 around each input, so
    the model sees exactly what the attack fed it), ``chunk_rows`` rows per pass."""
    steps, b = z.shape[:2]
    flat = z.reshape(steps * b, *z.shape[2:])
    labels = y.reshape(1, *y.shape).expand(steps, *y.shape).reshape(steps * b, *y.shape[1:])
    per = max(1, chunk_rows // b) * b
    ells, grads = [], []
    for i in range(0, flat.shape[0], per):
        part = flat[i:i + per]
        ev = ModuleObjective(model, loss, part, labels[i:i + per]).evaluate(torch.zeros_like(part))
        assert ev.grad is not None
        ells.append(ev.ell)
        grads.append(ev.grad)
    return torch.cat(ells).reshape(steps, b), torch.cat(grads).reshape(z.shape)


def trace_attack(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float | torch.Tensor,
                 attack: Callable[[TracedModel], torch.Tensor | np.ndarray], *,
                 loss: Loss = CrossEntropy, ball: str = "l2", chunk_rows: int = 4096) -> Trace:
    r"""Run ``attack(traced)`` on a :class:`TracedModel` around ``model`` and judge its iterates.

    ``attack`` builds and runs the library's attack on the wrapper it is given and returns the
    adversarial inputs ``x + δ_T`` (a tensor or a NumPy array). ``x`` ``(B, *shape)`` and ``y``
    are the clean inputs and labels the attack was given; ``eps`` its radius (a scalar or one per
    row); ``loss`` the loss advdyn evaluates (default cross-entropy on logits). ``model`` should
    be in ``eval()`` mode, so that the post-hoc evaluation sees the function the attack saw.
    """
    ball_cls = BALLS[check_choice("ball", ball, BALLS)]
    x = torch.as_tensor(x)
    if x.ndim < 2:
        raise fail("x", f"expected a batch (B, *shape), got shape {tuple(x.shape)}",
                    "add a leading batch dimension")
    b = x.shape[0]
    y = torch.as_tensor(y)
    if y.shape[0] != b:
        raise fail("y", f"has {y.shape[0]} rows but x has {b}")
    e = torch.as_tensor(eps, dtype=torch.float64).reshape(-1)
    if e.numel() not in (1, b) or not torch.isfinite(e).all() or (e <= 0).any():
        raise fail("eps", f"expected one radius > 0 or {b} of them")
    e = e.expand(b)

    traced = TracedModel(model)
    out = torch.as_tensor(attack(traced)).to(dtype=x.dtype, device=x.device)
    if out.shape != x.shape:
        raise fail("attack", f"returned shape {tuple(out.shape)}, expected {tuple(x.shape)}",
                   "return the adversarial inputs x + δ")
    its = traced.iterates()
    if not its:
        raise fail("attack", f"made {len(traced.calls)} forward call(s), none of them then "
                   "differentiated: no iterate to trace", "run a gradient attack on the wrapper")
    wrong = [z.shape[0] for z in its if z.shape[0] != b]
    if wrong:
        raise fail("attack", f"fed the model iterates of {wrong[0]} rows, not the batch of {b}",
                   "run the attack on the whole batch at once (ART: batch_size=len(x))")
    z = torch.stack([*its, out.detach()]).to(x.device)
    ell, grad = _gradients(model, loss, z, y, chunk_rows)

    delta = z.to(torch.float64) - x.to(torch.float64)  # exact for float32 inputs
    flat_d, flat_g = delta.flatten(0, 1), grad.to(torch.float64).flatten(0, 1)
    _, gamma, lam = sphere_terms(flat_g, flat_d)
    eps_rows = e.repeat(z.shape[0])
    radius = ball_cls.radius(flat_d) / eps_rows
    align = alignment(flat_g, flat_d)
    shape = (z.shape[0], b)
    trajectory = Trajectory(
        t=np.arange(z.shape[0], dtype=np.int64), rows=np.arange(b), delta=delta.numpy(),
        L=(-ell).to(torch.float64).numpy(), ell=ell.to(torch.float64).numpy(),
        gamma_norm=gamma.reshape(shape).numpy(), lam=lam.reshape(shape).numpy(),
        alignment=align.reshape(shape).numpy(),
        on_sphere=(radius >= 1 - sphere_rtol(x.dtype)).reshape(shape).numpy())
    ratio = gamma / row_norm(flat_g).clamp_min(torch.finfo(torch.float64).tiny)
    return Trace(trajectory=trajectory, radius=radius.reshape(shape).numpy(),
                 stationarity=(1 - align).reshape(shape).numpy(),
                 gamma_ratio=ratio.reshape(shape).numpy(), calls=traced.calls,
                 start=start_uniformity(delta[0], e, ball))
