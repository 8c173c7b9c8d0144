"""``advdyn census``: the critical points of L on the sphere εS^{d-1} of a problem file."""

from __future__ import annotations

import argparse

from advdyn.cli.common import (
    add_command,
    add_problem_output,
    emit_json,
    load_problem,
    nonneg_float,
    nonneg_int,
    positive_float,
    positive_int,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "census", "Census of the critical points of L(δ) = -ℓ(y, f(x+δ)) on "
                       "the sphere ‖δ‖ = eps: d = 2 by an exact angle scan; d ≥ 3 by Riemannian "
                       "descent/ascent from many starts, Newton polish, deduplication, saddle "
                       "search, with an estimate of what may be unseen. A minimum of L is a good "
                       "adversary, a maximum of L is where the attack is weakest.")
    p.add_argument("problem", help="problem file (.npz with W, a, x, y, eps[, loss])")
    p.add_argument("--starts", type=positive_int, default=None,
                   help="uniform starts per direction in the first round (default "
                   "clip(32·d, 256, 512)); rounds double it until the unseen basin mass is "
                   "below --coverage or --max-starts is reached")
    p.add_argument("--max-starts", type=positive_int, default=4096,
                   help="cap on the uniform starts per direction (default 4096)")
    p.add_argument("--coverage", type=nonneg_float, default=1e-3,
                   help="stop when the Good–Turing unseen mass is below this (default 1e-3)")
    p.add_argument("--seed", type=nonneg_int, default=0, help="random seed (default 0)")
    p.add_argument("--pgd-starts", type=nonneg_int, default=None,
                   help="extra descent starts from PGD end points (default starts/4)")
    p.add_argument("--saddle-starts", type=nonneg_int, default=None,
                   help="uniform starts of the Newton saddle search (default starts/8)")
    p.add_argument("--n-angles", type=positive_int, default=None,
                   help="angle grid of the exact d = 2 scan (default: the angle rule below, "
                   "the one the experiments use)")
    p.add_argument("--angle-density", type=positive_float, default=None,
                   help="d = 2 angle rule: 2^⌈log₂(2π·density·eps·max‖w_r‖)⌉ angles, grid "
                   "points per softplus transition width (default: the experiments' rule, "
                   "advdyn.sphere.scan.ANGLE_DENSITY)")
    p.add_argument("--min-angles", type=positive_int, default=None,
                   help="d = 2 angle rule: fewest angles (default: the experiments' rule)")
    p.add_argument("--max-angles", type=positive_int, default=None,
                   help="d = 2 angle rule: most angles (default: the experiments' rule)")
    add_problem_output(p)
    p.add_argument("--threads", type=positive_int, default=1,
                   help="torch CPU threads (default 1: the small batched kernels here are "
                   "latency-bound; extra threads cost more than they give on a busy machine)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from advdyn.sphere.census import census
    from advdyn.sphere.scan import ANGLE_DENSITY, MAX_ANGLES, MIN_ANGLES, ScanGrid

    torch.set_num_threads(args.threads)
    grid = ScanGrid(ANGLE_DENSITY if args.angle_density is None else args.angle_density,
                    MIN_ANGLES if args.min_angles is None else args.min_angles,
                    MAX_ANGLES if args.max_angles is None else args.max_angles)
    problem, dtype = load_problem(args)
    c = census(problem.objective(dtype), problem.eps, starts=args.starts,
               max_starts=args.max_starts, coverage=args.coverage,
               seed=args.seed, pgd_starts=args.pgd_starts, saddle_starts=args.saddle_starts,
               n_angles=args.n_angles, grid=grid)
    out = {**c.to_json(), "d": problem.dim, "m": int(problem.W.shape[0]),
           "loss": problem.loss, "dtype": args.dtype, "seed": args.seed}
    if args.json:
        emit_json(out)
        return 0
    print(f"method {c.method}  eps {c.eps:g}  d {problem.dim}")
    for name, pts in (("minima", c.minima), ("maxima", c.maxima), ("saddles", c.saddles),
                      ("degenerate", c.degenerate)):
        print(f"{name:>10}  {len(pts)}")
        for q in pts[:10]:
            print(f"{'':12}L {q.L:.10g}  λ* {q.lam:.4g}  hits {q.hits}  "
                  f"μ [{q.eigenvalues.min():.3g}, {q.eigenvalues.max():.3g}]")
    for name in ("minima", "maxima"):
        u = c.unseen.get(name)
        if u:
            print(f"unseen {name}: observed {u['observed']}, singletons {u['singletons']}, "
                  f"Chao1 {u['chao1']:.3g}")
    return 0
