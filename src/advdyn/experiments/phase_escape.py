r"""Escape from the local maxima of L in the phase diagram, under three step conventions side
by side (the conventions of the real-network experiments, so both settings answer the same
question):

* ``normalized``: ``δ ← P_B(δ − α∇L/‖∇L‖)``, ``α = ρε`` — scale-free, the rule of practical
  attacks;
* ``raw-fixed``: ``δ ← P_B(δ − η∇L)`` with one fixed ``η`` for every cell;
* ``raw-eps2``: raw steps with ``η = ρ_raw·ε²`` — the theorems' natural scale.

From every local maximum ``δ*`` of L found by the census, the start ``P_B(δ* + σεv)`` (``v``
uniform on the unit sphere, ``σ`` = ``perturb``). The escape time measures *leaving the
maximum*, as Figure 2 does (:func:`advdyn.experiments.escape.escape_times`): the first step
``t`` with ``ℓ_t ≥ (1 − q)ℓ₀ + qℓ_ref``, ``ℓ = −L``, ``q`` = ``fraction`` of the gap from the
start's value to ``ℓ_ref``, the largest ℓ over the cell's census minima (the value a long run
reaches). Unlike a settle radius ``min(τε, gap/2)``, which shrinks where minima are dense, the
gap does not depend on the spacing of the critical points. A start with no gap (ℓ₀ ≥ ℓ_ref) has
nothing to leave: time 0. A run that does not cover the fraction within the budget is
**censored** (time ``-1`` here); summaries use Kaplan–Meier
(:func:`advdyn.claims.stats.kaplan_meier` is the verdict layer's; here only the raw times are
kept), never the budget as a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from advdyn.experiments.escape import escape_times
from advdyn.experiments.simulated import perturbed_starts, stuck_rows
from advdyn.models import TwoLayerObjective
from advdyn.pgd import Recorder, run_pgd
from advdyn.sphere import Census

CONVENTIONS = ("normalized", "raw-fixed", "raw-eps2")


def convention_step(convention: str, eps: torch.Tensor, *, rho: float, raw_eta: float,
                    raw_rho: float) -> tuple[str, torch.Tensor]:
    """``(rule, step per row)`` of a convention."""
    if convention == "normalized":
        return "normalized", rho * eps
    if convention == "raw-fixed":
        return "raw", torch.full_like(eps, raw_eta)
    return "raw", raw_rho * eps * eps


def escape_runs(objective: TwoLayerObjective, eps: torch.Tensor, censuses: Sequence[Census],
                generator: torch.Generator, *, steps: int, fraction: float, perturb: float,
                rho: float, raw_eta: float, raw_rho: float) -> dict[str, np.ndarray]:
    """Every cell's escape runs under every convention (same starts for all three).

    Returns ``start_cell`` ``(N,)``, ``saturated`` ``(N,)`` (runs whose first normalised step
    leaves δ unchanged, :func:`~advdyn.experiments.simulated.stuck_rows`: ∇L underflowed to 0,
    so no step rule can move them) and, per convention, ``steps_<convention>`` ``(N,)``
    (``-1``: censored)."""
    cells = [b for b, c in enumerate(censuses) for _ in c.maxima]
    out: dict[str, np.ndarray] = {"start_cell": np.asarray(cells, dtype=np.int64)}
    if not cells:
        out["saturated"] = np.zeros(0, dtype=bool)
        for conv in CONVENTIONS:
            out[f"steps_{conv}"] = np.zeros(0, dtype=np.int64)
        return out
    rows = torch.tensor(cells)
    tops = torch.tensor(np.stack([p.delta for c in censuses for p in c.maxima]))
    start = perturbed_starts(tops, eps[rows], perturb, generator)
    ref = np.array([max(-p.L for p in c.minima) for c in censuses])[cells]
    with np.errstate(divide="ignore"):
        log_ref = np.log(ref)
    for conv in CONVENTIONS:
        rule, step = convention_step(conv, eps[rows], rho=rho, raw_eta=raw_eta, raw_rho=raw_rho)
        res = run_pgd(objective.select(rows), eps[rows], step, steps, rule=rule, start=start,
                      record=Recorder(fields=("delta", "ell"), dtype="float64"))
        with np.errstate(divide="ignore"):
            log_ell = np.log(np.asarray(res.recorded().ell))
        times, escaped, gap = escape_times(log_ell, log_ref, fraction)
        out[f"steps_{conv}"] = np.where(~gap, 0, np.where(escaped, times, -1)).astype(np.int64)
        if conv == "normalized":
            out["saturated"] = stuck_rows(np.asarray(res.recorded().delta))
    return out


def cell_runs(per_seed: Sequence[dict[str, Any]], n_cells: int, budget: int, convention: str
              ) -> list[dict[str, list]]:
    """Per flat cell: the runs' times (censored runs at the budget) and whether they escaped,
    pooled over seeds."""
    out: list[dict[str, list]] = [{"times": [], "escaped": []} for _ in range(n_cells)]
    for r in per_seed:
        for cell, t in zip(np.asarray(r["start_cell"]), np.asarray(r[f"steps_{convention}"]),
                           strict=True):
            out[int(cell)]["times"].append(int(budget if t < 0 else t))
            out[int(cell)]["escaped"].append(bool(t >= 0))
    return out
