r"""The multistart census of the critical points of L on ``εS^{d-1}`` (any d).

Riemannian descent and ascent (:mod:`advdyn.sphere.descent`) from uniform sphere starts and
from PGD end points, Newton polish, deduplication and classification, in rounds that double the
starts until the Good–Turing unseen basin mass is small; then the saddle search
(:mod:`advdyn.sphere.saddles`). How many minima and maxima may still be unseen is estimated from
the hit counts of the uniform starts (:func:`unseen_estimate`: Chao1 and the Good–Turing
unseen probability mass), never presented as a complete count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from advdyn.geometry import L2Ball, row_norm
from advdyn.models.objective import Objective
from advdyn.pgd import run_pgd
from advdyn.sphere.descent import (
    FlatView,
    dedup,
    polish_and_type,
    retract,
    riemannian_descent,
)
from advdyn.sphere.points import KINDS, Census, critical_points, sorted_census
from advdyn.sphere.saddles import search_saddles

# degenerate points closer than DEGENERATE_MERGE·ε are listed once, and at most
# DEGENERATE_LISTED of them
DEGENERATE_MERGE = 0.1
DEGENERATE_LISTED = 32


def unseen_estimate(hits: list[int], samples: int) -> dict[str, Any]:
    r"""How many basins a sample of ``samples`` uniform starts may have missed.

    ``hits``: per observed point (found by the uniform starts or otherwise), how many of the
    starts ended there. With ``f₁``/``f₂`` the numbers hit exactly once/twice and ``S`` the
    number observed: bias-corrected Chao1 ``S + f₁(f₁-1)/(2(f₂+1))`` (a lower-bound style
    estimate of the total), and the Good–Turing estimate ``f₁/n`` of the probability that the
    next start lands in a basin not seen yet (``n`` the starts that reached this type).
    ``complete_likely`` only when no point was hit once and every point was hit by the sample
    (a point found only by another route shows that the sample misses basins).
    """
    observed = len(hits)
    f1 = sum(1 for h in hits if h == 1)
    f2 = sum(1 for h in hits if h == 2)
    n = sum(hits)
    chao1 = observed + f1 * (f1 - 1) / (2 * (f2 + 1))
    return {"observed": observed, "samples": int(samples), "samples_reached": int(n),
            "singletons": f1, "doubletons": f2,
            "found_by_other_routes": sum(1 for h in hits if h == 0),
            "chao1": chao1, "unseen_mass_good_turing": f1 / n if n else None,
            "complete_likely": bool(f1 == 0 and n > 0 and all(h > 0 for h in hits))}


@dataclass(frozen=True)
class CensusSettings:
    """The multistart settings (see :func:`census`)."""

    starts: int
    max_starts: int
    coverage: float
    seed: int
    pgd_starts: int
    saddle_starts: int
    descent_iters: int
    newton_iters: int
    dedup_rtol: float
    critical_rtol: float
    eig_rtol: float


def default_starts(d: int) -> int:
    """Uniform starts per direction in the first round: 32·d, at least 256, at most 512."""
    return int(min(512, max(256, 32 * d)))


# provenance of an end point
UNIFORM_DESCENT, PGD_END, UNIFORM_ASCENT, SADDLE_SEARCH = range(4)


def _hits(ends: torch.Tensor, labels: list[str], source: torch.Tensor, kind: str,
          wanted: int, tol: float) -> list[int]:
    """Hit counts (starts of provenance ``wanted``) of the distinct points of type ``kind``."""
    idx = torch.tensor([i for i, k in enumerate(labels) if k == kind], dtype=torch.long)
    if not idx.numel():
        return []
    label, reps = dedup(ends[idx], tol)
    return [int((source[idx[label == r]] == wanted).sum()) for r in range(reps.numel())]


def multistart(objective: Objective, eps: float, s: CensusSettings, progress: bool) -> Census:
    """The multistart census of a one-row objective with validated settings (see
    :func:`advdyn.sphere.census.census`)."""
    gen = torch.Generator().manual_seed(s.seed)
    shape, dtype, device = objective.shape, objective.dtype, objective.device
    dim = int(np.prod(shape))

    def sphere(k: int) -> torch.Tensor:
        """``k`` uniform points of ``εS^{d-1}``, flattened (``k = 0``: an empty batch)."""
        return L2Ball.sample_sphere(k, shape, eps, gen, dtype).to(device).reshape(k, dim)

    flat_obj = FlatView(objective)
    first = sphere(s.starts)
    grad_scale = float(row_norm(flat_obj.gradient(first)).median())
    pgd_end = first[:0]
    if s.pgd_starts:
        res = run_pgd(objective, eps, 0.05 * eps, 100, rule="normalized", batch=s.pgd_starts,
                      generator=int(torch.randint(0, 2**31 - 1, (1,), generator=gen)))
        pgd_end = retract(res.delta.reshape(s.pgd_starts, -1), eps)

    ends, labels, source = first[:0], list[str](), torch.zeros(0, dtype=torch.long)
    used, k, rounds = 0, s.starts, 0
    while True:
        down = first if rounds == 0 else sphere(k)
        extra = pgd_end if rounds == 0 else pgd_end[:0]
        lo = riemannian_descent(flat_obj, torch.cat([down, extra]), eps, sign=1.0,
                                iters=s.descent_iters, progress=progress)
        hi = riemannian_descent(flat_obj, sphere(k), eps, sign=-1.0, iters=s.descent_iters,
                                progress=progress)
        e, lab = polish_and_type(flat_obj, torch.cat([lo, hi]), eps, iters=s.newton_iters,
                                 critical_rtol=s.critical_rtol, eig_rtol=s.eig_rtol,
                                 grad_scale=grad_scale)
        ends, labels = torch.cat([ends, e]), labels + lab
        source = torch.cat([source, torch.full((k,), UNIFORM_DESCENT),
                            torch.full((extra.shape[0],), PGD_END),
                            torch.full((k,), UNIFORM_ASCENT)])
        used, rounds = used + k, rounds + 1
        unseen = [unseen_estimate(_hits(ends, labels, source, kind, w, s.dedup_rtol * eps),
                                  used)["unseen_mass_good_turing"] or 0.0
                  for kind, w in (("minimum", UNIFORM_DESCENT), ("maximum", UNIFORM_ASCENT))]
        if max(unseen) <= s.coverage or used >= s.max_starts:
            break
        k = min(used, s.max_starts - used)

    tolerances = {"critical_rtol": s.critical_rtol, "eig_rtol": s.eig_rtol,
                  "grad_scale": grad_scale}
    sad, sad_labels = search_saddles(
        flat_obj, _unique(ends, labels, "minimum", eps, s),
        _unique(ends, labels, "maximum", eps, s), sphere(s.saddle_starts), eps,
        newton_iters=s.newton_iters, descent_iters=s.descent_iters,
        dedup_tol=s.dedup_rtol * eps, **tolerances)
    ends, labels = torch.cat([ends, sad]), labels + sad_labels
    source = torch.cat([source, torch.full((sad.shape[0],), SADDLE_SEARCH)])

    unconverged = {"descent": 0, "ascent": 0, "saddle_search": 0}
    for i, t in enumerate(labels):
        if t == "not-critical":
            unconverged[("descent", "descent", "ascent", "saddle_search")[int(source[i])]] += 1
    reps_all: list[int] = []
    hits_all: list[int] = []
    merged = 0
    for kind in KINDS:  # merge per type: a minimum and a nearby saddle are never merged
        idx = torch.tensor([i for i, k in enumerate(labels) if k == kind], dtype=torch.long)
        if not idx.numel():
            continue
        tol = (DEGENERATE_MERGE if kind == "degenerate" else s.dedup_rtol) * eps
        label, reps = dedup(ends[idx], tol)
        if kind == "degenerate":
            merged = reps.numel()
            reps = reps[:DEGENERATE_LISTED]
        wanted = {"minimum": UNIFORM_DESCENT, "maximum": UNIFORM_ASCENT}.get(kind, -1)
        for r, rep in enumerate(reps.tolist()):
            reps_all.append(int(idx[rep]))
            hits_all.append(int((source[idx[label == r]] == wanted).sum()))
    final = critical_points(objective, ends[reps_all].reshape(-1, *shape), eps, hits_all,
                    s.critical_rtol, s.eig_rtol, continuum=eps) if reps_all else []
    unseen_out = {
        "minima": unseen_estimate([p.hits for p in final if p.type == "minimum"], used),
        "maxima": unseen_estimate([p.hits for p in final if p.type == "maximum"], used),
        "saddles": {"observed": sum(p.type == "saddle" for p in final),
                    "note": "lower bound: Newton on Γ = 0 from midpoints of minima/maxima pairs "
                            "and uniform starts; no sampling estimate"},
        "degenerate": {"observed": merged, "listed": sum(p.type == "degenerate" for p in final),
                       "note": f"merged within {DEGENERATE_MERGE:g}·ε, at most "
                               f"{DEGENERATE_LISTED} listed; often samples of a continuum (e.g. "
                               "the level set u = y where the quadratic loss attains its "
                               "maximum L = 0)"},
    }
    info = {**s.__dict__, "starts_used": used, "rounds": rounds, "unconverged": unconverged,
            "grad_scale": grad_scale}
    return sorted_census(eps, final, unseen=unseen_out, method="multistart", info=info)


def _unique(ends: torch.Tensor, labels: list[str], kind: str, eps: float, s: CensusSettings
            ) -> torch.Tensor:
    """The distinct end points of type ``kind`` (within ``dedup_rtol·ε``)."""
    delta = ends[[i for i, t in enumerate(labels) if t == kind]]
    return delta[dedup(delta, s.dedup_rtol * eps)[1]] if delta.shape[0] else delta
