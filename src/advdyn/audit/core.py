r"""Audit any attack: :func:`audit_attack` (see the package docstring)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from advdyn.audit import indicators as ind
from advdyn.audit.result import Audit
from advdyn.errors import check_choice, check_number, fail
from advdyn.geometry import BALLS
from advdyn.losses import CrossEntropy, Loss
from advdyn.models.checks import (
    check_device,
    forward_checks,
    model_device,
    model_dtype,
    static_checks,
)
from advdyn.sphere.feasible import check_box, feasible_stationarity
from advdyn.trace import trace_attack

Attack = Callable[[nn.Module, torch.Tensor, torch.Tensor, float], "torch.Tensor | np.ndarray"]


def _chunks(z: torch.Tensor, rows: int) -> list[torch.Tensor]:
    return [z[i:i + rows] for i in range(0, z.shape[0], rows)]


def predictions(model: nn.Module, z: torch.Tensor, chunk_rows: int = 4096) -> torch.Tensor:
    """``argmax_k f(z)_k`` of every row (no gradients)."""
    with torch.no_grad():
        return torch.cat([model(part).argmax(dim=1) for part in _chunks(z, chunk_rows)])


def _losses(model: nn.Module, loss: Loss, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return loss.value(model(z), y)


def _input_gradient(model: nn.Module, loss: Loss, z: torch.Tensor, y: torch.Tensor
                    ) -> torch.Tensor | None:
    """``∇_z ℓ(y, f(z))`` per row; ``None`` when ``z`` is disconnected from the loss."""
    with torch.enable_grad():
        zz = z.detach().clone().requires_grad_(True)
        ell = loss.value(model(zz), y)
        if not ell.requires_grad:
            return None
        (g,) = torch.autograd.grad(ell.sum(), zz, allow_unused=True)
    return g


def _grad_norms(grad: torch.Tensor | None, rows: int) -> torch.Tensor:
    """``‖∇ℓ‖`` per row; NaN where it is non-finite or missing (disconnected)."""
    if grad is None:
        return torch.full((rows,), math.nan, dtype=torch.float64)
    norms = grad.reshape(rows, -1).to(torch.float64).norm(dim=1).cpu()
    return torch.where(torch.isfinite(norms), norms, torch.full_like(norms, math.nan))


def unbounded_radius(norm: str, dim: int, box: tuple[float, float] | None,
                     eps: float) -> float:
    """The radius of the ball that holds the whole box (``√D (hi − lo)`` for l2, ``hi − lo`` for
    l∞), or ``10³ ε`` without a (finite) box: the "unconstrained" attack's budget."""
    if box is None or not all(math.isfinite(v) for v in box):
        return 1e3 * eps
    width = box[1] - box[0]
    return math.sqrt(dim) * width if norm == "l2" else width


def _as_input(out: torch.Tensor | np.ndarray, like: torch.Tensor) -> torch.Tensor:
    t = torch.as_tensor(out).to(dtype=like.dtype, device=like.device)
    if t.shape != like.shape:
        raise fail("attack", f"returned shape {tuple(t.shape)}, expected {tuple(like.shape)}",
                   "return the adversarial inputs x + δ")
    return t.detach()


def audit_attack(model: nn.Module, attack: Attack, x: torch.Tensor, y: torch.Tensor,
                 eps: float, norm: str = "l2", *, box: tuple[float, float] | None = (0.0, 1.0),
                 surrogate: nn.Module | None = None, restarts: int = 2,
                 unconstrained_eps: float | None = None, loss: Loss = CrossEntropy,
                 window: float = 0.2, improve_tol: float = 0.01, grad_atol: float = 1e-10,
                 noise_samples: int = 8, noise_radius: float = 0.01,
                 unstable_tol: float = 0.1, certificate_tol: float = 0.05,
                 device: str | torch.device | None = None, seed: int = 0) -> Audit:
    r"""Run ``attack(model, x, y, eps)`` traced, and audit it row by row.

    ``attack(model, x, y, eps)`` builds and runs the library's attack on the module it is given
    (a traced wrapper, the surrogate, or the model with another radius) and returns the
    adversarial inputs. It is called ``1 + restarts + 1`` times, plus once on the
    ``surrogate`` when one is given; ``torch.manual_seed(seed + i)`` before call ``i``. ``norm``:
    ``"l2"`` or ``"linf"``; ``box``: the pixel box the attack clips to (``None``: none), used by
    the stationarity certificate and the noise of the stability test. The model checks
    (:mod:`advdyn.models.checks`) run first: a train-mode BatchNorm/Dropout model or an absent
    device raise, the others are reported in :attr:`Audit.checks`; data of another dtype than the
    model's are cast to the model's. Thresholds: :mod:`advdyn.audit.indicators`.
    """
    ball_cls = BALLS[check_choice("norm", norm, BALLS)]
    bounds = check_box(box)
    eps = check_number("eps", eps, positive=True)
    restarts = check_number("restarts", restarts, nonnegative=True, integer=True)
    noise_samples = check_number("noise_samples", noise_samples, positive=True, integer=True)
    if not isinstance(model, nn.Module):
        raise fail("model", f"expected a torch.nn.Module, got {type(model).__name__}")
    x = torch.as_tensor(x)
    if device is not None:
        dev = check_device("device", device)
        model, x = model.to(dev), x.to(dev)
    check_device("x", x.device)
    if x.ndim < 2:
        raise fail("x", f"expected a batch (B, *shape), got shape {tuple(x.shape)}")
    findings = static_checks(model, x)
    for f in findings:
        if f.name in ("train_mode", "device"):
            raise fail("model", f.message)
    dtype = model_dtype(model)
    if dtype is not None and x.is_floating_point():
        x = x.to(dtype)
    dev = model_device(model) or x.device
    y = torch.as_tensor(y, device=dev)
    if y.ndim == 2 and y.is_floating_point():
        y = y.argmax(dim=1)  # one-hot labels
    y = y.long().reshape(-1)
    if y.shape[0] != x.shape[0]:
        raise fail("y", f"has {y.shape[0]} rows but x has {x.shape[0]}")
    findings += forward_checks(model, x)

    def run(target: nn.Module, radius: float, i: int) -> torch.Tensor:
        torch.manual_seed(seed + i)
        return _as_input(attack(target, x, y, radius), x)

    torch.manual_seed(seed)
    trace = trace_attack(model, x, y, eps, lambda m: attack(m, x, y, eps), loss=loss,
                         ball=norm)
    delta = torch.from_numpy(trace.trajectory.delta)
    steps = delta.shape[0] - 1
    z = (x.to(torch.float64)[None] + delta.to(x.device)).to(x.dtype)
    flat = z.reshape(-1, *x.shape[1:])
    pred = predictions(model, flat).reshape(steps + 1, -1)
    adversarial = (pred != y[None]).cpu().numpy()
    end = z[-1]
    failed = ~adversarial[-1]

    fired: dict[str, np.ndarray] = {}
    fired["silent_success"] = ind.silent_success(adversarial)
    assert trace.trajectory.ell is not None  # a trace records ℓ at every step
    fired["incomplete_optimisation"] = ind.incomplete_optimisation(trace.trajectory.ell, window,
                                                                   improve_tol)
    grad_end = _input_gradient(model, loss, end, y)
    b = x.shape[0]
    norms = torch.stack([_grad_norms(_input_gradient(model, loss, z[0], y), b),
                         _grad_norms(grad_end, b)])
    fired["unavailable_gradients"] = ind.unavailable(norms.numpy(), grad_atol)
    gen = torch.Generator().manual_seed(seed)
    noisy = []
    for _ in range(noise_samples):
        u = ball_cls.sample(x.shape[0], tuple(x.shape[1:]), noise_radius * eps, gen, x.dtype)
        point = end + u.to(x.device)
        if bounds is not None:
            point = point.clamp(*bounds)
        noisy.append(_losses(model, loss, point, y))
    fired["unstable_predictions"] = ind.unstable(torch.stack(noisy).to(torch.float64)
                                                 .cpu().numpy(), unstable_tol)
    if surrogate is not None:
        transferred = run(surrogate, eps, 1_000)
        fools_surrogate = (predictions(surrogate, transferred) != y).cpu().numpy()
        fools_model = (predictions(model, transferred) != y).cpu().numpy()
        fired["transfer_failure"] = fools_surrogate & ~fools_model
    else:
        fired["transfer_failure"] = np.zeros_like(failed)
    radius = unconstrained_eps if unconstrained_eps is not None else unbounded_radius(
        norm, math.prod(x.shape[1:]), bounds, eps)
    fired["unconstrained_failure"] = (predictions(model, run(model, radius, 2_000)) == y
                                      ).cpu().numpy()
    restarted = np.zeros_like(failed)
    for r in range(restarts):
        restarted |= (predictions(model, run(model, eps, 1 + r)) != y).cpu().numpy()
    fired["bad_initialisation"] = restarted
    fired = {k: fired[k] if k in ind.ANY_ROW else fired[k] & failed for k in ind.INDICATORS}

    g_end = torch.zeros_like(end) if grad_end is None else torch.nan_to_num(grad_end, nan=0.0)
    cert = feasible_stationarity(g_end, delta[-1].to(x.device), x, eps, ball=norm, box=bounds)
    sphere_only = cert.ball_active & (cert.box_active == 0)
    sphere = np.where(sphere_only.cpu().numpy(), trace.stationarity[-1], np.nan)
    return Audit(indicators=fired, success=~failed,
                 first_adversarial=ind.first_adversarial(adversarial),
                 kkt_residual=cert.relative.cpu().numpy(),
                 certified=(cert.relative <= certificate_tol).cpu().numpy(),
                 fosc=cert.fosc.cpu().numpy(), active=cert.active,
                 sphere_stationarity=sphere, checks=findings, start=trace.start, trace=trace,
                 eps=eps, norm=norm, box=bounds, certificate_tol=certificate_tol,
                 rules=ind.rules(window, improve_tol, grad_atol, noise_samples, noise_radius,
                                 unstable_tol))
