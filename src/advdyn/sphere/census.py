r"""A census of the critical points of ``L`` on the sphere ``εS^{d-1}``: the one entry point.

The work is split by job: result types and classification (:mod:`advdyn.sphere.points`), the
exact d = 2 circle scan and its angle rule (:mod:`advdyn.sphere.scan`), the local tools —
retraction, Riemannian descent, Newton polish, deduplication (:mod:`advdyn.sphere.descent`),
the multistart rounds with the unseen estimate (:mod:`advdyn.sphere.multistart`) and the saddle
search (:mod:`advdyn.sphere.saddles`). :func:`census` chooses the method: the exact scan for
d = 2, the multistart census otherwise.
"""

from __future__ import annotations

import numpy as np

from advdyn.errors import check_number, fail
from advdyn.models.objective import Objective
from advdyn.sphere.descent import newton_polish, riemannian_descent
from advdyn.sphere.diagnose import default_tolerances
from advdyn.sphere.multistart import CensusSettings, default_starts, multistart, unseen_estimate
from advdyn.sphere.points import KINDS, Census, CriticalPoint
from advdyn.sphere.scan import ScanGrid, scan_circle

__all__ = ["KINDS", "Census", "CensusSettings", "CriticalPoint", "ScanGrid", "census",
           "newton_polish", "riemannian_descent", "scan_circle", "unseen_estimate"]


def census(objective: Objective, eps: float, *, starts: int | None = None,
           max_starts: int = 4096, coverage: float = 1e-3, seed: int = 0,
           pgd_starts: int | None = None, saddle_starts: int | None = None,
           descent_iters: int = 500, newton_iters: int = 30, dedup_rtol: float = 1e-6,
           n_angles: int | None = None, grid: ScanGrid | None = None,
           critical_rtol: float | None = None, eig_rtol: float | None = None,
           progress: bool = False) -> Census:
    r"""Census of the critical points of L on ``εS^{d-1}`` for a one-row objective.

    d = 2: :func:`~advdyn.sphere.scan.scan_circle` (exact) on ``n_angles`` angles, by default
    those of the angle rule :class:`~advdyn.sphere.scan.ScanGrid` (``grid``, default
    ``ScanGrid()``: the same rule and defaults as the experiments). d ≥ 3,
    :func:`~advdyn.sphere.multistart.multistart` in rounds:

    1. each round, ``k`` uniform sphere points descend and another ``k`` ascend
       (:func:`~advdyn.sphere.descent.riemannian_descent`); in the first round
       (``k = starts``) also ``pgd_starts`` normalised-PGD end points (uniform starts in
       the ball, step ``0.05ε``, 100 steps);
    2. every end point is polished by :func:`~advdyn.sphere.descent.newton_polish` and
       classified (tangent eigenvalues of Ξ; critical when ``‖Γ‖ ≤ critical_rtol·‖∇L‖``);
       points closer than ``dedup_rtol·ε`` are merged; ``hits`` counts the uniform descent
       (ascent) starts that reached each minimum (maximum);
    3. rounds double the number of starts until the Good–Turing estimate of the unseen basin
       mass, ``f₁/n``, is below ``coverage`` for minima and maxima, or ``max_starts`` starts per
       direction have been used (:func:`~advdyn.sphere.multistart.unseen_estimate` reports what
       may still be missing);
    4. saddle search: Newton from the retracted midpoints of pairs of found minima, of found
       maxima, and from ``saddle_starts`` uniform sphere points; then from every saddle found,
       descent (ascent) from ``±0.05ε`` along its most unstable (stable) tangent eigenvector, to
       the minima (maxima) it connects — minima with small basins beside the found ones. Points
       found only this way have ``hits = 0`` and mark the sample as incomplete.

    Defaults: ``starts = clip(32d, 256, 512)``, ``pgd_starts = starts/4``,
    ``saddle_starts = starts/8``. Same seed → same census.
    """
    if objective.rows != 1:
        raise fail("objective", f"census takes one problem (one row), got {objective.rows} rows",
                   "use scan_circle for a batch of d = 2 problems, or objective.select([i])")
    eps = check_number("eps", eps, positive=True)
    dim = int(np.prod(objective.shape))
    if dim < 2:
        raise fail("objective", "the sphere needs dimension ≥ 2")
    crit_default, eig_default = default_tolerances(objective.dtype)
    crit = crit_default if critical_rtol is None else check_number(
        "critical_rtol", critical_rtol, nonnegative=True)
    eig = eig_default if eig_rtol is None else check_number("eig_rtol", eig_rtol,
                                                            nonnegative=True)
    if dim == 2:
        n = (int((grid or ScanGrid()).for_objective(objective, eps)[0]) if n_angles is None
             else n_angles)
        return scan_circle(objective, eps, n, critical_rtol=crit, eig_rtol=eig,
                           progress=progress)[0]
    n = default_starts(dim) if starts is None else check_number("starts", starts,
                                                                 positive=True, integer=True)
    s = CensusSettings(
        starts=n, max_starts=max(n, check_number("max_starts", max_starts, positive=True,
                                                 integer=True)),
        coverage=check_number("coverage", coverage, nonnegative=True),
        seed=check_number("seed", seed, integer=True),
        pgd_starts=n // 4 if pgd_starts is None else check_number(
            "pgd_starts", pgd_starts, nonnegative=True, integer=True),
        saddle_starts=n // 8 if saddle_starts is None else check_number(
            "saddle_starts", saddle_starts, nonnegative=True, integer=True),
        descent_iters=check_number("descent_iters", descent_iters, positive=True, integer=True),
        newton_iters=check_number("newton_iters", newton_iters, positive=True, integer=True),
        dedup_rtol=check_number("dedup_rtol", dedup_rtol, positive=True),
        critical_rtol=crit, eig_rtol=eig)
    return multistart(objective, eps, s, progress)
