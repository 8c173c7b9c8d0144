"""``advdyn diagnose``: the sphere geometry (λ*, Γ, Ξ, tangent eigenvalues, type) at a point."""

from __future__ import annotations

import argparse

from advdyn.cli.common import (
    add_command,
    add_problem_output,
    emit_json,
    load_problem,
    load_vector,
    positive_float,
)
from advdyn.errors import fail


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "diagnose", "Second-order geometry of L on the sphere through δ: "
                       "λ* = ⟨∇L,δ⟩/(2‖δ‖²), Γ = ∇L - 2λ*δ, Ξ = ∇²L - 2λ*I, eigenvalues of "
                       "the Riemannian Hessian, alignment cos∠[-∇L, δ], and the type "
                       "(minimum/maximum/saddle/degenerate/not-critical of L on the sphere).")
    p.add_argument("problem", help="problem file (.npz with W, a, x, y, eps[, loss])")
    p.add_argument("--delta", required=True, metavar="D",
                   help="the point δ ≠ 0, shape (d,): a .npy file, or the JSON that advdyn pgd "
                   "--json writes (its delta field); - reads standard input")
    p.add_argument("--critical-rtol", type=positive_float, default=None,
                   help="‖Γ‖ ≤ rtol·‖∇L‖ counts as critical (default 1e-6 float64, 1e-3 float32)")
    add_problem_output(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from advdyn.sphere import diagnose

    problem, dtype = load_problem(args)
    delta = torch.tensor(load_vector(args.delta, "--delta", (problem.dim,)), dtype=dtype)[None]
    if float(delta.norm()) == 0:
        raise fail("--delta", "δ = 0 has no sphere through it", "give a nonzero point")
    dg = diagnose(problem.objective(dtype), delta, eps=problem.eps,
                  critical_rtol=args.critical_rtol)
    out = {"L": float(dg.L[0]), "adv_loss": float(dg.ell[0]), "lambda": float(dg.lam[0]),
           "gamma": dg.gamma[0], "gamma_norm": float(dg.gamma_norm[0]), "grad": dg.grad[0],
           "xi": dg.xi[0], "tangent_eigenvalues": dg.tangent_eigenvalues[0],
           "alignment": float(dg.alignment[0]), "type": dg.types[0],
           "on_sphere": bool(dg.on_sphere[0]), "kkt": bool(dg.kkt[0]),
           "norm": float(delta.norm()), "eps": problem.eps, "dtype": args.dtype}
    if args.json:
        emit_json(out)
    else:
        for k in ("type", "L", "adv_loss", "lambda", "gamma_norm", "alignment", "on_sphere",
                  "kkt"):
            print(f"{k:>12}  {out[k]}")
        print(f"{'tangent eig':>12}  " + " ".join(f"{v:.6g}" for v in
                                                 dg.tangent_eigenvalues[0].tolist()))
    return 0
