"""Step-size schedules: a reused :class:`~advdyn.pgd.Shrinking` instance behaves like a new one."""

from __future__ import annotations

import math

import torch

from advdyn.pgd import Shrinking, run_pgd
from conftest import make_objective


def _starts(eps: float, angles: list[float], radius: float) -> torch.Tensor:
    """Rows ``radius·ε(cos θ, sin θ)``."""
    return radius * eps * torch.tensor([[math.cos(a), math.sin(a)] for a in angles])


def test_reused_shrinking_schedule_starts_afresh() -> None:
    """Run 1 (sphere starts) switches early; run 2 (interior starts, same instance) must switch
    where a new instance does, with identical iterates; a run of another batch size too."""
    obj = make_objective(2, 60, 1.0, seed=7)
    eps, eta, steps = 0.7, 0.05, 150
    angles = [0.3, 1.9, 3.4, 5.0]
    reused = Shrinking(2.0)
    first = run_pgd(obj, eps, eta, steps, start=_starts(eps, angles, 1.0), schedule=reused)
    first_switch = reused.switched_at.clone()
    assert (first_switch >= 0).all()
    for start in (_starts(eps, angles, 0.05), _starts(eps, angles[:3], 0.5)):
        fresh = Shrinking(2.0)
        again = run_pgd(obj, eps, eta, steps, start=start, schedule=reused)
        alone = run_pgd(obj, eps, eta, steps, start=start, schedule=fresh)
        assert torch.equal(reused.switched_at, fresh.switched_at)
        assert torch.equal(again.delta, alone.delta)
    # interior starts reach the sphere later, so their switch times differ from run 1's
    assert not torch.equal(first_switch[:3], reused.switched_at)
    assert first.delta.shape == (4, 2)
