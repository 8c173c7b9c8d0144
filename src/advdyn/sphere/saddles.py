r"""The saddle search of the multistart census: Newton on ``Γ = 0`` from midpoints of found
extrema and from uniform points, and the exits of each saddle along its unstable and stable
directions."""

from __future__ import annotations

import torch

from advdyn.geometry import row_norm, tangent_basis
from advdyn.models.objective import Objective
from advdyn.sphere.descent import dedup, polish_and_type, retract, riemannian_descent
from advdyn.sphere.diagnose import diagnose


def saddle_exits(objective: Objective, saddles: torch.Tensor, eps: float, *, lowest: bool,
                  size: float = 0.05) -> torch.Tensor:
    """``ε(δ ± size·ε·v)/‖·‖`` for each saddle δ, ``v`` the unit tangent eigenvector of the
    lowest (``lowest``) or highest tangent eigenvalue of Ξ: the two starts that leave the saddle
    downhill (uphill) along its most unstable (stable) direction."""
    if saddles.shape[0] == 0:
        return saddles
    dg = diagnose(objective, saddles, eps=eps)
    q = tangent_basis(saddles)
    vecs = torch.linalg.eigh(q.transpose(1, 2) @ dg.xi @ q).eigenvectors
    v = (q @ vecs[:, :, 0 if lowest else -1:][..., :1])[:, :, 0]
    return retract(torch.cat([saddles + size * eps * v, saddles - size * eps * v]), eps)


def pair_midpoints(delta: torch.Tensor, eps: float, limit: int = 24) -> torch.Tensor:
    """Retracted midpoints of all pairs among the first ``limit`` rows (antipodal pairs skipped)."""
    d = delta[:limit]
    if d.shape[0] < 2:
        return d[:0]
    i, j = torch.triu_indices(d.shape[0], d.shape[0], offset=1)
    mid = (d[i] + d[j]) / 2
    ok = row_norm(mid) > 1e-3 * eps
    return retract(mid[ok], eps)


def search_saddles(objective: Objective, minima: torch.Tensor, maxima: torch.Tensor,
                   uniform: torch.Tensor, eps: float, *, critical_rtol: float, eig_rtol: float,
                   grad_scale: float, newton_iters: int, descent_iters: int, dedup_tol: float
                   ) -> tuple[torch.Tensor, list[str]]:
    r"""Saddles of L on the sphere, and the minima (maxima) they lead to.

    Newton on ``Γ = 0`` (:func:`~advdyn.sphere.descent.polish_and_type`, ``2·newton_iters``)
    from the retracted midpoints of pairs of the found ``minima``, of the found ``maxima``, and
    from the ``uniform`` sphere points; then from every distinct saddle found, descent (ascent)
    from ``±0.05ε`` along its most unstable (stable) tangent eigenvector
    (:func:`saddle_exits`), polished and typed: minima with small basins beside the found ones.
    Returns every end point and its type (empty when there is nothing to start from)."""
    seeds = torch.cat([pair_midpoints(minima, eps), pair_midpoints(maxima, eps), uniform])
    ends, labels = seeds[:0], list[str]()
    if seeds.shape[0] == 0:
        return ends, labels
    tolerances = {"critical_rtol": critical_rtol, "eig_rtol": eig_rtol,
                  "grad_scale": grad_scale}
    ends, labels = polish_and_type(objective, seeds, eps, iters=2 * newton_iters, **tolerances)
    found = ends[[i for i, t in enumerate(labels) if t == "saddle"]]
    saddles = found[dedup(found, dedup_tol)[1]] if found.shape[0] else found
    for sign, starts in ((1.0, saddle_exits(objective, saddles, eps, lowest=True)),
                         (-1.0, saddle_exits(objective, saddles, eps, lowest=False))):
        if starts.shape[0]:
            e = riemannian_descent(objective, starts, eps, sign=sign, iters=descent_iters)
            e, lab = polish_and_type(objective, e, eps, iters=newton_iters, **tolerances)
            ends, labels = torch.cat([ends, e]), labels + lab
    return ends, labels
