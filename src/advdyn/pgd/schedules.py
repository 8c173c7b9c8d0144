r"""Step-size schedules ``η_t`` per row.

A schedule is called as ``schedule(t, state) -> η`` (a ``(B,)`` tensor) with the current
:class:`ScheduleState`. Any callable of that form works; two are provided.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from advdyn.errors import check_number, fail


@dataclass
class ScheduleState:
    """What a schedule may look at: the base step ``eta`` and, per row, whether δ is on the
    sphere and the tangent-gradient norm ``‖Γ(δ)‖`` at the current iterate."""

    eta: torch.Tensor
    on_sphere: torch.Tensor
    gamma_norm: torch.Tensor


class Constant:
    """``η_t = η`` (the base step of each row)."""

    needs_geometry = False

    def __call__(self, t: int, state: ScheduleState) -> torch.Tensor:
        return state.eta


class Shrinking:
    r"""Corollary 3.1: constant ``η`` until the row is on the sphere with ``‖Γ‖ < η^{1/2}``
    (at step ``t̃``), then ``η_s = 2/(β(s + z))`` with ``s = t - t̃``.

    ``β`` is a local strong-convexity constant on the sphere (one value or one per row; e.g. the
    smallest tangent eigenvalue of Ξ at the minimum, see :mod:`advdyn.sphere`). The default
    ``z = 2/(βη)`` makes the schedule start at the base step, so it is continuous in ``t``. With
    ``Π(1 - βη_i/2) → 0`` the corollary gives ``D_s = ‖δ_{t̃+s} - δ*‖² = O(1/(z+s))``.

    ``switched_at`` holds each row's ``t̃`` in the latest run (``-1``: not switched). A run
    starts at ``t = 0``, where it is reset, so an instance reused for another run (of any batch
    size) carries no switch time over from the previous one.
    """

    needs_geometry = True

    def __init__(self, beta: float | torch.Tensor, z: float | None = None) -> None:
        b = torch.as_tensor(beta, dtype=torch.float64)
        if not torch.isfinite(b).all() or (b <= 0).any():
            raise fail("beta", "must be finite and > 0", "estimate it from the tangent Hessian")
        self.beta = b
        self.z = None if z is None else check_number("z", z, positive=True)
        self.switched_at: torch.Tensor | None = None

    def __call__(self, t: int, state: ScheduleState) -> torch.Tensor:
        if t == 0 or self.switched_at is None:
            self.switched_at = torch.full_like(state.eta, -1.0)
        beta = self.beta.to(state.eta)
        trigger = state.on_sphere & (state.gamma_norm < state.eta.sqrt()) & (self.switched_at < 0)
        self.switched_at = torch.where(trigger, torch.full_like(self.switched_at, t),
                                       self.switched_at)
        z = 2 / (beta * state.eta) if self.z is None else torch.full_like(state.eta, self.z)
        shrunk = 2 / (beta * ((t - self.switched_at) + z))
        return torch.where(self.switched_at >= 0, shrunk, state.eta)


ScheduleFn = Callable[[int, ScheduleState], torch.Tensor | float]


def as_schedule(schedule: ScheduleFn | str | None) -> ScheduleFn:
    """``None``/``"constant"`` → :class:`Constant`; a callable is used as it is."""
    if schedule is None or schedule == "constant":
        return Constant()
    if isinstance(schedule, str):
        raise fail("schedule", f"unknown schedule {schedule!r}",
                   "pass 'constant', a Shrinking(beta) or a callable (t, state) -> eta")
    if not callable(schedule):
        raise fail("schedule", f"expected a callable, got {type(schedule).__name__}")
    return schedule


def needs_geometry(schedule: ScheduleFn) -> bool:
    """Whether the schedule reads ``on_sphere``/``gamma_norm`` (callables are assumed to)."""
    return bool(getattr(schedule, "needs_geometry", True))

