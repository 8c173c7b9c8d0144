r"""The bench's two-layer cases (1 compute bound, 3 Figure 1's workload, 4 the census) and the
two-layer network as the peers see it.

The floor of a two-layer step is what the step must compute: the two GEMMs ``Z Wᵀ`` and
``S (a⊙W)`` and one elementwise pass over the ``B × m`` pre-activations per transcendental the
step's rule needs: sigmoid for ``∇f``, plus softplus for the loss value ``u`` unless the rule is
scale-free and ``sign ℓ'(u)`` is known without ``u`` (bce with labels 0/1, see
:meth:`advdyn.models.TwoLayerObjective.gradient`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from advdyn.bench.core import (
    DTYPE,
    BenchSizes,
    CaseResult,
    best_floor,
    best_peer_ratio,
    generator,
    step_floors,
    summarise,
    with_peers,
)
from advdyn.bench.peers import AttackSetup, freeze
from advdyn.bench.timing import interleaved, median, spread
from advdyn.losses import BinaryCrossEntropy, ScalarLoss
from advdyn.models import Objective, TwoLayerNet, TwoLayerObjective
from advdyn.pgd import RULES, run_pgd
from advdyn.sphere.census import census

CENSUS_DTYPE = torch.float64  # the census runs in double precision, as the experiments do


def two_layer_classifier(W: torch.Tensor, a: torch.Tensor, weight: torch.Tensor | None = None,
                         bias: torch.Tensor | None = None) -> nn.Module:
    r"""The two-layer network as a 2-logit classifier ``[0, f(z)]`` for the peers.

    Cross-entropy on the logits ``[0, u]`` equals binary cross-entropy on the logit ``u``
    (label 1: ``-log s(u)``; label 0: ``-log(1 - s(u))``), so a peer's CE attack on this module is
    our BCE attack on the two-layer objective. Inputs are ``(B, 1, 1, d)`` (torchattacks needs
    4-D). ``weight``/``bias`` replace the first layer ``z ↦ Wz`` by ``z ↦ weight·z + bias`` (an
    affine change of input coordinates folded into the layer, see :func:`fold_into_box`).
    """
    m, d = W.shape
    first = nn.Linear(d, m, bias=bias is not None)
    second = nn.Linear(m, 2, bias=False)
    with torch.no_grad():
        first.weight.copy_(W if weight is None else weight)
        if bias is not None:
            first.bias.copy_(bias)
        second.weight.copy_(torch.stack([torch.zeros_like(a), a]))
    return freeze(nn.Sequential(nn.Flatten(), first, nn.Softplus(), second).to(W.dtype))


def fold_into_box(net: TwoLayerNet, x: torch.Tensor, eps: float, alpha: float, steps: int,
                  label: int, rows: int) -> AttackSetup:
    r"""A peer's view of the problem ``(x, ε)`` with every iterate inside the box ``[0, 1]^d``.

    Input coordinates ``z' = c + (z - x)/s`` with ``c = ½`` and ``s = ε/0.4``: the ball of radius
    ``ε`` around ``x`` becomes the ball of radius 0.4 around ``c``, which the box never clips, and
    ``f(z) = f(x + s(z' - c))`` is again a two-layer network with first layer ``sW`` and bias
    ``W(x - s c 1)``. L2 PGD commutes with this map (a translation and a uniform scaling), so the
    peer's iterates are ours, mapped; ``ε' = ε/s``, ``α' = α/s``.
    """
    s = eps / 0.4
    d = x.numel()
    W = net.W
    module = two_layer_classifier(W, net.a, weight=s * W, bias=W @ (x - 0.5 * s))
    return AttackSetup(module, torch.full((rows, 1, 1, d), 0.5, dtype=W.dtype),
                       torch.full((rows,), label, dtype=torch.long), eps / s, alpha / s, steps)


def _softplus_pass(h: torch.Tensor) -> torch.Tensor:
    return torch.logaddexp(h, h.new_zeros(()))


def step_passes(loss: ScalarLoss, y: torch.Tensor, rule: str
                ) -> tuple[Callable[[torch.Tensor], torch.Tensor], ...]:
    """The elementwise passes a two-layer PGD step with ``rule`` must make (module docstring)."""
    if RULES[rule].scale_free and loss.d1_sign(y) is not None:
        return (torch.Tensor.sigmoid_,)
    return (_softplus_pass, torch.Tensor.sigmoid_)


def _pass_names(passes: tuple[Callable[[torch.Tensor], torch.Tensor], ...]) -> str:
    return " + ".join("softplus" if p is _softplus_pass else "sigmoid" for p in passes)


# ---------------------------------------------------------------------------------------------
# 1. compute-bound two-layer


def case_twolayer(sz: BenchSizes) -> CaseResult:
    """Case 1: the two-layer softplus network, d = 784, m = 4096, batch 256, normalised L2 PGD
    from zero with a [0, 1] box; per step. Floor: the two GEMMs of one step."""
    g = generator(sz.seed)
    d, m, b, steps = sz.twolayer_dim, sz.twolayer_width, sz.twolayer_batch, sz.twolayer_steps
    net = TwoLayerNet.xavier(d, m, generator=g, dtype=DTYPE)
    x = torch.rand(b, d, generator=g, dtype=DTYPE)
    y = (torch.rand(b, generator=g) < 0.5).to(DTYPE)
    eps, alpha = 2.0, 0.25
    objective = TwoLayerObjective(net, BinaryCrossEntropy, x, y)
    contenders: dict[str, Callable[[], object]] = {
        "ours": lambda: run_pgd(objective, eps, alpha, steps, rule="normalized", start="zero",
                                box=(0.0, 1.0)),
        **step_floors(x, torch.rand(b, m, generator=g, dtype=DTYPE), net.W, steps),
    }
    notes = with_peers(contenders, lambda: [AttackSetup(
        two_layer_classifier(net.W, net.a), x.reshape(b, 1, 1, d), y.long(), eps, alpha, steps)])
    times = best_floor(interleaved(contenders, sz.reps))
    ours, fl, peers, spr = summarise(times, steps, notes)
    gflops = 4 * b * d * m / fl / 1e9
    return CaseResult(
        "1-twolayer", f"two-layer d={d} m={m} batch {b}, {steps} steps", "s/step", ours, fl,
        "the two GEMMs of one step", "ratio_to_floor <= 1.10", ours / fl <= 1.10, peers, spr,
        {"gemm_gflops": gflops, "eps": eps, "alpha": alpha, "box": [0.0, 1.0],
         "passes_per_step": _pass_names(step_passes(BinaryCrossEntropy, y, "normalized"))})


# ---------------------------------------------------------------------------------------------
# 3. Figure 1's workload


FIG1_SCALES, FIG1_RATIOS = (0.01, 1.0, 100.0), (0.1, 1.0, 10.0)
FIG1_WIDTH, FIG1_RULE, FIG1_RHO, FIG1_LABEL = 256, "normalized", 0.05, 0.0


def fig1_workload(seed: int, starts: int
                  ) -> tuple[TwoLayerNet, torch.Tensor, list[tuple[float, float]], torch.Tensor]:
    r"""Figure 1's problems (the defaults of :mod:`advdyn.experiments.fig1`, rebuilt from the
    model layer): a Xavier network with ``d = 2``, ``m = 256`` and a unit direction ``u`` drawn
    from ``seed`` (float64, then float32); per panel ``(c, r)`` the input ``x = c·u`` and radius
    ``ε = r·c``. Returns ``(net, u, cells, rows)`` with ``rows`` the panel of each of the
    ``9 × starts`` batch rows."""
    g = generator(seed)
    net = TwoLayerNet.xavier(2, FIG1_WIDTH, generator=g, dtype=torch.float64)
    u = torch.randn(2, generator=g, dtype=torch.float64)
    cells = [(c, r) for c in FIG1_SCALES for r in FIG1_RATIOS]
    rows = torch.arange(len(cells)).repeat_interleave(starts)
    return net.to(DTYPE), (u / u.norm()).to(DTYPE), cells, rows


def case_fig1(sz: BenchSizes) -> CaseResult:
    """Case 3: Figure 1's workload, 9 panels × 64 starts × 2,000 steps from δ₀ = 0, as one
    batched run (each row its own x, ε and step); a peer runs one attack call per panel. Floor:
    the GEMMs and elementwise passes of one batched step (module docstring), × steps."""
    net, u, cells, rows = fig1_workload(sz.seed, sz.fig1_starts)
    k, steps = sz.fig1_starts, sz.fig1_steps
    y = torch.tensor([FIG1_LABEL], dtype=DTYPE)
    x = torch.stack([c * u for c, _ in cells])[rows]
    objective = TwoLayerObjective(net, BinaryCrossEntropy, x, y)
    eps_cell = torch.tensor([c * r for c, r in cells], dtype=DTYPE)
    eps = eps_cell[rows]
    alpha = FIG1_RHO * eps
    s = torch.rand(len(rows), net.width, generator=generator(sz.seed), dtype=DTYPE)
    passes = step_passes(BinaryCrossEntropy, y, FIG1_RULE)

    def peer_setups() -> list[AttackSetup]:
        return [fold_into_box(net, c * u, e, FIG1_RHO * e, steps, int(FIG1_LABEL), k)
                for (c, _), e in zip(cells, eps_cell.tolist(), strict=True)]

    contenders: dict[str, Callable[[], object]] = {
        "ours": lambda: run_pgd(objective, eps, alpha, steps, rule=FIG1_RULE, start="zero"),
        **step_floors(x, s, net.W, steps, passes),
    }
    notes = with_peers(contenders, peer_setups)
    # no warm-up round: a round of the peers is 18,000 attack steps; the median of the rounds
    # absorbs the first one's one-time costs
    times = best_floor(interleaved(contenders, sz.fig1_reps, warmup=0))
    ours, fl, peers, spr = summarise(times, 1.0, notes)
    best = best_peer_ratio(peers)
    return CaseResult(
        "3-fig1", f"Figure 1 workload: d=2 m={net.width}, {len(cells)} settings x {k} starts "
        f"x {steps} steps", "s/run", ours, fl,
        f"the two GEMMs + {_pass_names(passes)} of one batched step, x steps",
        "ratio_to_best_peer <= 0.10 and ratio_to_floor <= 2.0",
        best is not None and best <= 0.10 and ours / fl <= 2.0, peers, spr,
        {"rows": len(rows), "rule": FIG1_RULE, "rho": FIG1_RHO,
         "peer_runs": f"{len(cells)} calls of {k} rows (one per setting)",
         "ours_steps_per_s": steps / ours})


# ---------------------------------------------------------------------------------------------
# 4. the census


class _Counted(Objective):
    """An objective that counts the rows it evaluates: full evaluations, gradients a
    scale-free rule asked for, other gradients, and Hessian rows."""

    def __init__(self, inner: Objective, counts: dict[str, int]) -> None:
        self.inner, self.counts = inner, counts
        self.x, self.y = inner.x, inner.y

    def evaluate(self, delta: torch.Tensor, grad: bool = True) -> Any:
        self.counts["grad_rows"] += delta.shape[0]
        return self.inner.evaluate(delta, grad)

    def gradient(self, delta: torch.Tensor, scale_free: bool = False) -> torch.Tensor:
        self.counts["scale_free_rows" if scale_free else "grad_rows"] += delta.shape[0]
        return self.inner.gradient(delta, scale_free)

    def hessian(self, delta: torch.Tensor) -> torch.Tensor:
        self.counts["hessian_rows"] += delta.shape[0]
        return self.inner.hessian(delta)

    def select(self, rows: torch.Tensor) -> _Counted:
        return _Counted(self.inner.select(rows), self.counts)


def case_census(sz: BenchSizes) -> CaseResult:
    """Case 4: :func:`advdyn.sphere.census.census` on one two-layer problem (d = 10, m = 4000,
    float64). Floor, as case 3's: per gradient row the two GEMMs plus the elementwise passes
    over its m pre-activations (sigmoid + softplus; sigmoid alone for the rows a scale-free
    rule asked for), per Hessian row the ``m × d²`` GEMM; summed over the rows the census did.
    (GEMMs and passes run one after the other, so the floor is their sum, not the larger.)"""
    g = generator(sz.seed)
    d, m, dtype = sz.census_dim, sz.census_width, CENSUS_DTYPE
    net = TwoLayerNet.xavier(d, m, generator=g, dtype=dtype)
    x = torch.randn(d, generator=g, dtype=dtype)
    eps = 0.5 * float(x.norm())
    counts = {"grad_rows": 0, "scale_free_rows": 0, "hessian_rows": 0}
    objective = _Counted(TwoLayerObjective(net, BinaryCrossEntropy, x, 0.0), counts)
    census(objective, eps, starts=sz.census_starts, seed=sz.seed)
    work = dict(counts)

    b = 1024
    zb = torch.randn(b, d, generator=g, dtype=dtype)
    hb = torch.randn(b, m, generator=g, dtype=dtype)
    ww = (net.W[:, :, None] * net.W[:, None, :]).reshape(m, d * d)
    times = best_floor(interleaved(
        {"ours": lambda: census(objective, eps, starts=sz.census_starts, seed=sz.seed),
         **step_floors(zb, hb, net.W, 1), "sigmoid": lambda: torch.sigmoid(hb),
         "softplus": lambda: _softplus_pass(hb), "hessian_gemm": lambda: torch.mm(hb, ww)},
        sz.census_reps, warmup=0))  # the counting run above warmed the census up
    med = {k: median(v) for k, v in times.items()}
    med["gemm"] = med.pop("floor")
    per_row = {k: med[k] / b for k in ("gemm", "sigmoid", "softplus", "hessian_gemm")}
    full = per_row["gemm"] + per_row["sigmoid"] + per_row["softplus"]
    scale_free = per_row["gemm"] + per_row["sigmoid"]
    fl = (work["grad_rows"] * full + work["scale_free_rows"] * scale_free
          + work["hessian_rows"] * per_row["hessian_gemm"])
    row_steps = work["grad_rows"] + work["scale_free_rows"] + work["hessian_rows"]
    ours = med["ours"]
    return CaseResult(
        "4-census", f"census d={d} m={m}, {sz.census_starts} starts", "s/census", ours, fl,
        "per row-step done: GEMMs + the elementwise passes it needs (Hessian rows: their GEMM)",
        "ratio_to_floor <= 1.5", ours / fl <= 1.5, {}, {k: spread(v) for k, v in times.items()},
        {**work, "row_steps_per_s": row_steps / ours, "floor_per_row_s": per_row,
         "floor_row_steps_per_s": {k: 1 / v for k, v in per_row.items()}})
