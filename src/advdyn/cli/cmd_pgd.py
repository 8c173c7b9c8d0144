"""``advdyn pgd``: run batched PGD on a two-layer problem file and print the end point."""

from __future__ import annotations

import argparse

from advdyn.cli.common import (
    add_command,
    add_problem_output,
    emit_json,
    load_problem,
    load_vector,
    nonneg_float,
    nonneg_int,
    save_array,
)
from advdyn.cli.names import PGD_RULES


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "pgd", "PGD on L(δ) = -ℓ(y, f(x+δ)) over the l2 ball of radius eps: "
                       "δ ← P_B(δ - η v), v = ∇L (raw) or ∇L/‖∇L‖ (normalized), η = --eta.")
    p.add_argument("problem", help="problem file (.npz with W, a, x, y, eps[, loss])")
    p.add_argument("--eta", type=nonneg_float, required=True,
                   help="step size η ≥ 0, the same rule as run_pgd (η = 0 leaves δ₀ in place): "
                   "η for raw steps, the step length α for normalized steps")
    p.add_argument("--steps", type=nonneg_int, required=True, help="number of steps T")
    p.add_argument("--rule", choices=PGD_RULES, default="raw", help="step rule")
    p.add_argument("--direction", choices=("descent", "ascent"), default="descent",
                   help="descent on L (the attack) or ascent on L (to local maxima of L)")
    start = p.add_mutually_exclusive_group()
    start.add_argument("--delta0", metavar="D",
                       help="start point δ₀, shape (d,), ‖δ₀‖ ≤ eps: a .npy file, or the JSON "
                       "that advdyn pgd --json writes (its delta field); - reads standard input")
    start.add_argument("--seed", type=nonneg_int, default=0,
                       help="seed of the uniform start (default 0)")
    p.add_argument("--start", choices=("uniform", "sphere", "zero"), default="uniform",
                   help="random start when no --delta0 is given (default uniform in the ball)")
    p.add_argument("--tol", type=nonneg_float, default=None,
                   help="stop early once ‖Γ‖ ≤ tol at a KKT point (default: run all steps)")
    p.add_argument("--save-delta", metavar="D.npy", default=None,
                   help="also write the end point δ, shape (d,), to this .npy file (what "
                   "diagnose --delta and pgd --delta0 read)")
    add_problem_output(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from advdyn.pgd import run_pgd

    problem, dtype = load_problem(args)
    obj = problem.objective(dtype)
    start: str | torch.Tensor = args.start
    if args.delta0 is not None:
        start = torch.tensor(load_vector(args.delta0, "--delta0", (problem.dim,)), dtype=dtype)
    res = run_pgd(obj, problem.eps, args.eta, args.steps, rule=args.rule,
                  direction=args.direction, start=start, generator=args.seed, tol=args.tol)
    out = {"delta": res.delta[0], "L": float(res.L[0]), "adv_loss": float(res.ell[0]),
           "steps": int(res.steps[0]), "converged": bool(res.converged[0]),
           "norm": float(res.delta[0].norm()), "eps": problem.eps, "rule": args.rule,
           "direction": args.direction, "dtype": args.dtype}
    if args.save_delta is not None:
        save_array(args.save_delta, "--save-delta", res.delta[0].cpu().numpy())
    if args.json:
        emit_json(out)
    else:
        print(f"steps {out['steps']}  L {out['L']:.10g}  adv_loss {out['adv_loss']:.10g}  "
              f"‖δ‖/eps {out['norm'] / problem.eps:.6f}")
        print("delta", " ".join(f"{v:.10g}" for v in res.delta[0].tolist()))
    return 0
