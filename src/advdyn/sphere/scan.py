r"""The exact census on the circle (d = 2), and the one rule for its angle grid.

``θ ↦ L(ε(cos θ, sin θ))`` has derivative ``ε⟨∇L, (-sin θ, cos θ)⟩``; its sign is evaluated on
a dense angle grid (:class:`ScanGrid`), every sign change is a bracket, refined by the Illinois
(modified regula-falsi) method to the last representable angle. A change ``- → +`` is a local
minimum of L on the circle, ``+ → -`` a local maximum. Rows are batched: one call scans many
problems (each row of the objective with its own ε).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from advdyn.errors import check_number, fail
from advdyn.geometry import row_dot
from advdyn.models.objective import Objective
from advdyn.sphere.diagnose import default_tolerances
from advdyn.sphere.points import Census, CriticalPoint, critical_points, sorted_census

# elements of one evaluation batch (points × hidden units) the d = 2 scan aims at (memory bound)
SCAN_CHUNK = 1 << 23
ANGLE_DENSITY = 2.0
MIN_ANGLES = 256
MAX_ANGLES = 16384


@dataclass(frozen=True)
class ScanGrid:
    r"""The angle grid of the d = 2 circle scan: the one rule, used by ``advdyn census`` and by
    every experiment.

    On the circle ``δ = ε(cos θ, sin θ)`` the feature ``h_r(θ) = w_rᵀx + ε‖w_r‖cos(θ - φ_r)``
    passes through the softplus transition (``|h_r| ≲ 1``) within an angle of about
    ``1/(ε‖w_r‖)``, the finest structure L can have on the circle. The scan uses
    ``n = 2^⌈log₂(2π·density·ε·max_r‖w_r‖)⌉`` angles (``density`` grid points per transition
    width), clipped to ``[lo, hi]``; the scan is exact unless two critical points fall within
    one grid cell (the census reports the closest pair, ``info.min_gap_cells``). An objective
    without hidden weights (no ``net.W``) gets ``hi`` angles.
    """

    density: float = ANGLE_DENSITY
    lo: int = MIN_ANGLES
    hi: int = MAX_ANGLES

    def __post_init__(self) -> None:
        check_number("angle_density", self.density, positive=True)
        if check_number("min_angles", self.lo, positive=True, integer=True) < 8:
            raise fail("min_angles", f"needs at least 8 angles, got {self.lo}")
        if check_number("max_angles", self.hi, positive=True, integer=True) < self.lo:
            raise fail("max_angles", f"must be ≥ min_angles = {self.lo}, got {self.hi}")

    def angles(self, eps: torch.Tensor | np.ndarray | float, net: Any) -> np.ndarray:
        """The number of scan angles for each radius in ``eps``, for the two-layer network
        ``net`` (its hidden weights ``net.W``, rows ``w_r``)."""
        wmax = float(torch.as_tensor(net.W).norm(dim=1).max())
        want = 2 * math.pi * self.density * np.asarray(eps, dtype=np.float64).reshape(-1) * wmax
        n = np.power(2.0, np.ceil(np.log2(np.maximum(want, 1.0))))
        return np.clip(n, self.lo, self.hi).astype(np.int64)

    def for_objective(self, objective: Objective, eps: torch.Tensor | float) -> np.ndarray:
        """:meth:`angles` for the rows of ``objective`` (``hi`` angles for an objective that
        is not a two-layer network's)."""
        net = getattr(objective, "net", None)
        if net is None:
            return np.full(np.asarray(eps).size, self.hi, dtype=np.int64)
        return self.angles(eps, net)


def row_eps(objective: Objective, eps: float | torch.Tensor) -> torch.Tensor:
    e = torch.as_tensor(eps, dtype=objective.dtype).reshape(-1)
    if e.numel() == 1:
        e = e.expand(objective.rows)
    if objective.rows not in (1, e.numel()):
        raise fail("eps", f"expected a scalar or {objective.rows} values (one per row), "
                          f"got {e.numel()}")
    if not torch.isfinite(e).all() or (e <= 0).any():
        raise fail("eps", "every radius must be finite and > 0")
    return e.contiguous()


def _tangent_slope(objective: Objective, rows: torch.Tensor, theta: torch.Tensor,
                   eps: torch.Tensor) -> torch.Tensor:
    """``⟨∇L(δ), (-sin θ, cos θ)⟩`` at ``δ = ε(cos θ, sin θ)``: the sign of ``dL/dθ``."""
    u = torch.stack([torch.cos(theta), torch.sin(theta)], dim=1)
    t = torch.stack([-torch.sin(theta), torch.cos(theta)], dim=1)
    return row_dot(objective.select(rows).gradient(eps[:, None] * u), t)


def scan_circle(objective: Objective, eps: float | torch.Tensor, n_angles: int = 4096, *,
                max_refine: int = 200, critical_rtol: float | None = None,
                eig_rtol: float | None = None, progress: bool = False) -> list[Census]:
    r"""Exact census on the circle ``εS¹`` for every row of a d = 2 objective.

    ``eps``: a scalar or one radius per row. The sign of ``dL/dθ`` is evaluated at ``n_angles``
    equispaced angles; each sign change (``- → +``: minimum of L, ``+ → -``: maximum) is refined
    by the Illinois method on the bracket until the bracket is one ulp wide or ``dL/dθ = 0``.
    The count is exact unless two critical points lie within one grid cell ``2π/n_angles`` of each
    other (``info.min_gap_cells`` reports the closest pair found, in cells; None for fewer than
    two points). Points are then
    diagnosed (λ*, tangent eigenvalue); a point whose tangent eigenvalue is within ``eig_rtol·‖Ξ‖₂``
    of 0 is listed as degenerate. Returns one :class:`Census` per row.
    """
    if objective.shape != (2,):
        raise fail("objective", f"scan_circle needs dimension d = 2, got shape {objective.shape}",
                   "use census() for other dimensions")
    n_angles = check_number("n_angles", n_angles, positive=True, integer=True)
    if n_angles < 8:
        raise fail("n_angles", f"needs at least 8 angles, got {n_angles}")
    max_refine = check_number("max_refine", max_refine, positive=True, integer=True)
    dtype, device = objective.dtype, objective.device
    e = row_eps(objective, eps).to(device)
    b = e.numel()
    crit_default, eig_default = default_tolerances(dtype)
    eig_rtol = eig_default if eig_rtol is None else check_number("eig_rtol", eig_rtol,
                                                                 nonnegative=True)
    crit_rtol = crit_default if critical_rtol is None else check_number(
        "critical_rtol", critical_rtol, nonnegative=True)
    theta = torch.arange(n_angles, dtype=dtype, device=device) * (2 * math.pi / n_angles)

    width = int(getattr(getattr(objective, "net", None), "width", 64))
    per_call = max(1024, SCAN_CHUNK // max(width, 1))  # (row, angle) points per evaluation
    total = b * n_angles
    slope = torch.empty(total, dtype=dtype, device=device)
    for start in tqdm(range(0, total, per_call), desc="scan", disable=not progress, leave=False):
        idx = torch.arange(start, min(total, start + per_call), device=device)
        rows = idx // n_angles
        slope[idx] = _tangent_slope(objective, rows, theta[idx % n_angles], e[rows])
    slope = slope.reshape(b, n_angles)
    positive = slope >= 0
    flat = (slope == 0).all(dim=1)

    change = positive != positive.roll(-1, dims=1)
    row_id, k = change.nonzero(as_tuple=True)
    kinds = ["minimum" if not bool(p) else "maximum" for p in positive[row_id, k].tolist()]
    step = 2 * math.pi / n_angles
    roots = _illinois(objective, row_id, theta[k], theta[k] + step, e, max_refine)

    out = []
    for r in range(b):
        sel = (row_id == r).nonzero(as_tuple=True)[0]
        th = roots[sel]
        gap = _min_gap(th) / step if th.numel() > 1 else None
        pts: list[CriticalPoint] = []
        if th.numel():
            delta = e[r] * torch.stack([torch.cos(th), torch.sin(th)], dim=1)
            obj_r = objective.select(torch.tensor([r], device=device))
            pts = critical_points(obj_r, delta, e[r], [0] * th.numel(), crit_rtol, eig_rtol,
                          exact=[kinds[i] for i in sel.tolist()])
        info = {"n_angles": n_angles, "grid_cell": step, "min_gap_cells": gap,
                "flat_circle": bool(flat[r]), "critical_rtol": crit_rtol, "eig_rtol": eig_rtol}
        unseen = {"method": "grid", "grid_cell_rad": step,
                  "note": "exact up to pairs of critical points closer than one grid cell"
                          + ("; dL/dθ vanishes on the whole grid (flat circle)"
                             if bool(flat[r]) else "")}
        out.append(sorted_census(float(e[r]), pts, unseen=unseen, method="circle-scan",
                                  info=info))
    return out


def _min_gap(theta: torch.Tensor) -> float:
    s = torch.sort(torch.remainder(theta, 2 * math.pi)).values
    gaps = torch.diff(torch.cat([s, s[:1] + 2 * math.pi]))
    return float(gaps.min())


def _illinois(objective: Objective, rows: torch.Tensor, a: torch.Tensor, b: torch.Tensor,
              eps: torch.Tensor, iters: int) -> torch.Tensor:
    """Batched Illinois root finding of ``dL/dθ`` on brackets ``[a, b]`` (opposite signs)."""
    if rows.numel() == 0:
        return a
    e = eps[rows]

    def slope(th: torch.Tensor) -> torch.Tensor:
        return _tangent_slope(objective, rows, th, e)

    fa, fb = slope(a), slope(b)
    for it in range(iters):
        width = (b - a).abs()
        done = (width <= 2 * torch.finfo(a.dtype).eps * b.abs().clamp_min(1.0)) | (fb == 0)
        if bool(done.all()):
            break
        secant = (a * fb - b * fa) / (fb - fa)
        inside = (secant - torch.minimum(a, b)) * (torch.maximum(a, b) - secant) > 0
        c = torch.where(inside & (it % 8 != 7), secant, (a + b) / 2)
        c = torch.where(done, b, c)
        fc = slope(c)
        flip = (fc * fb < 0) | ((fc * fb == 0) & (fc != 0))
        a_new = torch.where(flip, b, a)
        fa_new = torch.where(flip, fb, fa / 2)
        a = torch.where(done, a, a_new)
        fa = torch.where(done, fa, fa_new)
        b = torch.where(done, b, c)
        fb = torch.where(done, fb, fc)
    return torch.where(fb.abs() <= fa.abs(), b, a)
