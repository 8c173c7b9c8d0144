r"""The five cases of ``advdyn bench``: what each one times, against which floor and which peers.

Every case builds its contenders (ours, a floor, the peers that apply), times them interleaved
(:func:`advdyn.bench.timing.interleaved`) and reports medians and ratios of medians (ours ÷
other; below 1 is faster). All runs are float32 on the CPU, with the threads torch chooses.

1. ``twolayer`` — compute bound: the two-layer softplus network with ``d = 784``, ``m = 4096``,
   batch 256, normalised L2 PGD from zero with a ``[0, 1]`` data box. Floor: the two GEMMs of one
   step (``Z Wᵀ`` forward and ``S W`` backward, the same shapes), timed alone.
2. ``cnn`` — the MNIST CNN of Figure 2 (:func:`advdyn.models.cnn.build_cnn`, ``small``, ReLU,
   batch 256, random images in ``[0, 1]``). Floor: one forward + backward to the input
   (``autograd.grad`` of the summed cross-entropy), timed alone.
3. ``fig1`` — many small problems: Figure 1's workload (d = 2, ``m = 256``, 9 panels × 64 starts
   × 2,000 steps). Ours runs all 576 rows as one batch (each row its own x, ε and step); a peer
   runs its attack once per panel (64 rows). Per-step overhead rules here. Floor: the two GEMMs
   of one batched step.
4. ``census`` — :func:`advdyn.sphere.census.census` on one two-layer problem with ``d = 10``,
   ``m = 4000``: throughput in row-steps (a row-step is one ∇L of one row, Hessian rows counted
   by their own floor) against the per-row floors of the work it did: the GEMM floor (``Z Wᵀ`` and
   ``S W``; for a Hessian row the ``m × d²`` GEMM) and the elementwise floor (the activations of a
   step: softplus and sigmoid of the ``B × m`` pre-activations); the larger binds.
5. ``record`` — the cost of recording every step (:class:`advdyn.pgd.Recorder`, default fields,
   ``stride = 1``, streamed to disk) on case 2's problem: time against the same run without
   recording (the floor), and peak memory (Python/NumPy allocations, where a recording lives)
   at ``T`` and ``4T`` steps: flat means the recording's memory does not grow with the steps.
"""

from __future__ import annotations

import importlib.metadata
import multiprocessing
import os
import platform
import tempfile
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import torch
from torch import nn

from advdyn.bench.peers import PEERS, AttackSetup, Peer, freeze
from advdyn.bench.timing import interleaved, median, peak_memory, spread
from advdyn.experiments.fig1 import Fig1Config
from advdyn.losses import BinaryCrossEntropy, CrossEntropy
from advdyn.models import ModuleObjective, Objective, TwoLayerNet, TwoLayerObjective
from advdyn.models.cnn import build_cnn
from advdyn.pgd import Recorder, run_pgd
from advdyn.sphere.census import census

DTYPE = torch.float32
CENSUS_DTYPE = torch.float64  # the census runs in double precision, as the experiments do


@dataclass(frozen=True)
class BenchSizes:
    """Every size of the bench (defaults: the full bench; :data:`QUICK` is a short run).

    ``record_fresh_processes``: measure case 5's peak memory in a fresh process per run (the
    default: no run reuses another's freed heap) or in this process (fast, for tests)."""

    reps: int = 5
    twolayer_dim: int = 784
    twolayer_width: int = 4096
    twolayer_batch: int = 256
    twolayer_steps: int = 50
    cnn_arch: str = "small"
    cnn_batch: int = 256
    cnn_steps: int = 40
    fig1_starts: int = 64
    fig1_steps: int = 2000
    fig1_reps: int = 3
    census_dim: int = 10
    census_width: int = 4000
    census_starts: int = 256
    census_reps: int = 3
    record_steps: int = 20
    record_chunk_bytes: int = 8 << 20
    record_fresh_processes: bool = True
    seed: int = 0


QUICK = BenchSizes(reps=3, twolayer_steps=5, cnn_steps=3, fig1_steps=200, fig1_reps=2,
                   census_starts=64, census_reps=2, record_steps=5)


@dataclass
class CaseResult:
    """One row of the bench. Times are medians in ``unit``; ``peers`` maps a peer's name to
    ``{"attack", "time", "ratio"}`` (``ratio`` = ours ÷ theirs) or ``{"skipped": note}``."""

    case: str
    title: str
    unit: str
    ours: float
    floor: float
    floor_kind: str
    target: str
    met: bool
    peers: dict[str, dict[str, Any]] = field(default_factory=dict)
    spread: dict[str, float] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio_to_floor(self) -> float:
        return self.ours / self.floor

    @property
    def best_peer(self) -> str | None:
        timed = {k: v["time"] for k, v in self.peers.items() if "time" in v}
        return min(timed, key=timed.__getitem__) if timed else None

    @property
    def ratio_to_best_peer(self) -> float | None:
        best = self.best_peer
        return None if best is None else self.ours / self.peers[best]["time"]

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(ratio_to_floor=self.ratio_to_floor, best_peer=self.best_peer,
                   ratio_to_best_peer=self.ratio_to_best_peer)
        return out


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _run_all(runs: list[Callable[[], torch.Tensor]]) -> list[torch.Tensor]:
    return [r() for r in runs]


def _with_peers(contenders: dict[str, Callable[[], object]],
                setups: Callable[[], list[AttackSetup]]) -> dict[str, dict[str, Any]]:
    """Add one contender per usable peer (running every setup in turn); the skip notes of the
    others. ``setups`` is only called when some peer is usable."""
    notes: dict[str, dict[str, Any]] = {}
    usable: list[Peer] = []
    for peer in PEERS:
        note = peer.missing()
        if note is None:
            usable.append(peer)
        else:
            notes[peer.name] = {"attack": peer.attack, "skipped": note}
    if usable:
        built = setups()
        for peer in usable:
            runs = [peer.prepare(s) for s in built]
            contenders[peer.name] = partial(_run_all, runs)
    return notes


def _summarise(times: dict[str, list[float]], per: float, peer_notes: dict[str, dict[str, Any]]
               ) -> tuple[float, float, dict[str, dict[str, Any]], dict[str, float]]:
    """Medians divided by ``per`` (ours, floor, peers) and the spread of every contender."""
    med = {k: median(v) / per for k, v in times.items()}
    peers = dict(peer_notes)
    for peer in PEERS:
        if peer.name in med:
            peers[peer.name] = {"attack": peer.attack, "time": med[peer.name],
                                "ratio": med["ours"] / med[peer.name]}
    return med["ours"], med["floor"], peers, {k: spread(v) for k, v in times.items()}


# ---------------------------------------------------------------------------------------------
# shared problem builders


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


def _gemm_floors(z: torch.Tensor, s: torch.Tensor, W: torch.Tensor, steps: int
                 ) -> dict[str, Callable[[], object]]:
    """``steps`` times the two GEMMs of a two-layer step, ``Z Wᵀ`` and ``S W``, once with ``W``
    as stored (m, d) and once with ``Wᵀ`` stored (d, m): BLAS speed depends on the layout, and
    the floor is the faster of the two (:func:`_best_floor`)."""
    w_t = W.T.contiguous()

    def rows() -> None:
        for _ in range(steps):
            torch.mm(z, W.T)
            torch.mm(s, W)

    def cols() -> None:
        for _ in range(steps):
            torch.mm(z, w_t)
            torch.mm(s, w_t.T)

    return {"floor_w": rows, "floor_wt": cols}


def _best_floor(times: dict[str, list[float]]) -> dict[str, list[float]]:
    """Keep, as ``floor``, the floor variant with the smaller median."""
    variants = {k: times.pop(k) for k in [k for k in times if k.startswith("floor_")]}
    times["floor"] = min(variants.values(), key=median)
    return times


# ---------------------------------------------------------------------------------------------
# 1. compute-bound two-layer


def case_twolayer(sz: BenchSizes) -> CaseResult:
    """Case 1 (see the module docstring)."""
    g = _generator(sz.seed)
    d, m, b, steps = sz.twolayer_dim, sz.twolayer_width, sz.twolayer_batch, sz.twolayer_steps
    net = TwoLayerNet.xavier(d, m, generator=g, dtype=DTYPE)
    x = torch.rand(b, d, generator=g, dtype=DTYPE)
    y = (torch.rand(b, generator=g) < 0.5).to(DTYPE)
    eps, alpha = 2.0, 0.25
    objective = TwoLayerObjective(net, BinaryCrossEntropy, x, y)
    contenders: dict[str, Callable[[], object]] = {
        "ours": lambda: run_pgd(objective, eps, alpha, steps, rule="normalized", start="zero",
                                box=(0.0, 1.0)),
        **_gemm_floors(x, torch.rand(b, m, generator=g, dtype=DTYPE), net.W, steps),
    }
    notes = _with_peers(contenders, lambda: [AttackSetup(
        two_layer_classifier(net.W, net.a), x.reshape(b, 1, 1, d), y.long(), eps, alpha, steps)])
    times = _best_floor(interleaved(contenders, sz.reps))
    ours, fl, peers, spr = _summarise(times, steps, notes)
    gflops = 4 * b * d * m / fl / 1e9
    return CaseResult(
        "1-twolayer", f"two-layer d={d} m={m} batch {b}, {steps} steps", "s/step", ours, fl,
        "the two GEMMs of one step", "ratio_to_floor <= 1.05", ours / fl <= 1.05, peers, spr,
        {"gemm_gflops": gflops, "eps": eps, "alpha": alpha, "box": [0.0, 1.0]})


# ---------------------------------------------------------------------------------------------
# 2. the MNIST CNN


def _cnn_problem(sz: BenchSizes) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    g = _generator(sz.seed)
    model = freeze(build_cnn(sz.cnn_arch, seed=sz.seed, dtype=DTYPE))
    x = torch.rand(sz.cnn_batch, 1, 28, 28, generator=g, dtype=DTYPE)
    y = torch.randint(0, 10, (sz.cnn_batch,), generator=g)
    return model, x, y


def case_cnn(sz: BenchSizes) -> CaseResult:
    """Case 2 (see the module docstring)."""
    model, x, y = _cnn_problem(sz)
    steps, eps, alpha = sz.cnn_steps, 2.0, 0.25
    objective = ModuleObjective(model, CrossEntropy, x, y)

    def floor() -> None:
        for _ in range(steps):
            z = x.detach().requires_grad_(True)
            loss = nn.functional.cross_entropy(model(z), y, reduction="sum")
            torch.autograd.grad(loss, z)

    contenders: dict[str, Callable[[], object]] = {
        "ours": lambda: run_pgd(objective, eps, alpha, steps, rule="normalized", start="zero",
                                box=(0.0, 1.0)),
        "floor": floor,
    }
    notes = _with_peers(contenders, lambda: [AttackSetup(model, x, y, eps, alpha, steps)])
    times = interleaved(contenders, sz.reps)
    ours, fl, peers, spr = _summarise(times, steps, notes)
    ratio, best = ours / fl, min((p["ratio"] for p in peers.values() if "ratio" in p),
                                 default=None)
    return CaseResult(
        "2-cnn", f"MNIST CNN ({sz.cnn_arch}) batch {sz.cnn_batch}, {steps} steps", "s/step",
        ours, fl, "one forward + backward to the input",
        "ratio_to_floor <= 1.05 and ratio_to_best_peer <= 0.97",
        ratio <= 1.05 and best is not None and best <= 0.97, peers, spr,
        {"eps": eps, "alpha": alpha, "box": [0.0, 1.0], "images": "uniform random in [0, 1]"})


# ---------------------------------------------------------------------------------------------
# 3. Figure 1's workload


def case_fig1(sz: BenchSizes) -> CaseResult:
    """Case 3 (see the module docstring)."""
    cfg = Fig1Config()
    setup = cfg.setup()
    net64, u64, _ = setup.draw(sz.seed)
    net, u = net64.to(DTYPE), u64.to(DTYPE)
    cells = [(c, r) for c in cfg.scales for r in cfg.ratios]
    k, steps = sz.fig1_starts, sz.fig1_steps
    rows = torch.arange(len(cells)).repeat_interleave(k)
    objective = setup.objective(net, u, [c for c, _ in cells])
    objective = TwoLayerObjective(net, objective.loss, objective.x.to(DTYPE)[rows], cfg.label)
    eps_cell = torch.tensor([c * r for c, r in cells], dtype=DTYPE)
    eps = eps_cell[rows]
    alpha = cfg.rho * eps
    s = torch.rand(len(rows), net.width, generator=_generator(sz.seed), dtype=DTYPE)

    def peer_setups() -> list[AttackSetup]:
        return [fold_into_box(net, c * u, e, cfg.rho * e, steps, int(cfg.label), k)
                for (c, _), e in zip(cells, eps_cell.tolist(), strict=True)]

    contenders: dict[str, Callable[[], object]] = {
        "ours": lambda: run_pgd(objective, eps, alpha, steps, rule=cfg.rule, start="zero"),
        **_gemm_floors(objective.x, s, net.W, steps),
    }
    notes = _with_peers(contenders, peer_setups)
    # no warm-up round: a round of the peers is 18,000 attack steps; the median of the rounds
    # absorbs the first one's one-time costs
    times = _best_floor(interleaved(contenders, sz.fig1_reps, warmup=0))
    ours, fl, peers, spr = _summarise(times, 1.0, notes)
    best = min((p["ratio"] for p in peers.values() if "ratio" in p), default=None)
    return CaseResult(
        "3-fig1", f"Figure 1 workload: d=2 m={net.width}, {len(cells)} settings x {k} starts "
        f"x {steps} steps", "s/run", ours, fl, "the two GEMMs of one batched step, x steps",
        "ratio_to_best_peer <= 0.05", best is not None and best <= 0.05, peers, spr,
        {"rows": len(rows), "rule": cfg.rule, "rho": cfg.rho,
         "peer_runs": f"{len(cells)} calls of {k} rows (one per setting)",
         "ours_steps_per_s": steps / ours})


# ---------------------------------------------------------------------------------------------
# 4. the census


class _Counted(Objective):
    """An objective that counts the rows it evaluates (gradients) and the Hessian rows."""

    def __init__(self, inner: Objective, counts: dict[str, int]) -> None:
        self.inner, self.counts = inner, counts
        self.x, self.y = inner.x, inner.y

    def evaluate(self, delta: torch.Tensor, grad: bool = True) -> Any:
        self.counts["grad_rows"] += delta.shape[0]
        return self.inner.evaluate(delta, grad)

    def hessian(self, delta: torch.Tensor) -> torch.Tensor:
        self.counts["hessian_rows"] += delta.shape[0]
        return self.inner.hessian(delta)

    def select(self, rows: torch.Tensor) -> _Counted:
        return _Counted(self.inner.select(rows), self.counts)


def case_census(sz: BenchSizes) -> CaseResult:
    """Case 4 (see the module docstring)."""
    g = _generator(sz.seed)
    d, m, dtype = sz.census_dim, sz.census_width, CENSUS_DTYPE
    net = TwoLayerNet.xavier(d, m, generator=g, dtype=dtype)
    x = torch.randn(d, generator=g, dtype=dtype)
    eps = 0.5 * float(x.norm())
    counts = {"grad_rows": 0, "hessian_rows": 0}
    objective = _Counted(TwoLayerObjective(net, BinaryCrossEntropy, x, 0.0), counts)
    census(objective, eps, starts=sz.census_starts, seed=sz.seed)
    work = dict(counts)

    b = 1024
    zb = torch.randn(b, d, generator=g, dtype=dtype)
    hb = torch.randn(b, m, generator=g, dtype=dtype)
    ww = (net.W[:, :, None] * net.W[:, None, :]).reshape(m, d * d)

    def elementwise() -> None:
        torch.sigmoid(hb)
        nn.functional.softplus(hb)

    times = _best_floor(interleaved(
        {"ours": lambda: census(objective, eps, starts=sz.census_starts, seed=sz.seed),
         **_gemm_floors(zb, hb, net.W, 1), "elementwise": elementwise,
         "hessian_gemm": lambda: torch.mm(hb, ww)},
        sz.census_reps, warmup=0))  # the counting run above warmed the census up
    med = {k: median(v) for k, v in times.items()}
    med["gemm"] = med.pop("floor")
    per_row = {k: med[k] / b for k in ("gemm", "elementwise", "hessian_gemm")}
    binding = "gemm" if per_row["gemm"] >= per_row["elementwise"] else "elementwise"
    fl = work["grad_rows"] * per_row[binding] + work["hessian_rows"] * per_row["hessian_gemm"]
    row_steps = work["grad_rows"] + work["hessian_rows"]
    ours = med["ours"]
    return CaseResult(
        "4-census", f"census d={d} m={m}, {sz.census_starts} starts", "s/census", ours, fl,
        f"{binding} floor per row-step (binding) x row-steps done", "ratio_to_floor <= 1.5",
        ours / fl <= 1.5, {}, {k: spread(v) for k, v in times.items()},
        {"grad_rows": work["grad_rows"], "hessian_rows": work["hessian_rows"],
         "row_steps_per_s": row_steps / ours,
         "floor_per_row_s": per_row, "binding_floor": binding,
         "floor_row_steps_per_s": {k: 1 / v for k, v in per_row.items()}})


# ---------------------------------------------------------------------------------------------
# 5. recording


def _record_run(sz: BenchSizes, steps: int, record: bool, folder: str) -> Callable[[], object]:
    """One run of case 5's problem, recording every step to ``folder`` or nothing."""
    model, x, y = _cnn_problem(sz)
    objective = ModuleObjective(model, CrossEntropy, x, y)
    rec = (Recorder(stride=1, path=folder, chunk_bytes=sz.record_chunk_bytes)
           if record else None)
    return lambda: run_pgd(objective, RECORD_EPS, RECORD_ALPHA, steps, rule="normalized",
                           start="zero", box=(0.0, 1.0), record=rec)


def _record_memory(sz: BenchSizes, steps: int, record: bool, folder: str,
                   threads: int) -> tuple[int, str]:
    """Peak memory of one run (meant for a fresh process, so no earlier run's heap is reused);
    the problem is built and a one-step run made before the measurement starts."""
    torch.set_num_threads(threads)
    _record_run(sz, 1, False, folder)()
    return peak_memory(_record_run(sz, steps, record, folder))


RECORD_EPS, RECORD_ALPHA = 2.0, 0.25


def case_record(sz: BenchSizes) -> CaseResult:
    """Case 5 (see the module docstring)."""
    steps = sz.record_steps
    spawn = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="advdyn-bench-") as tmp:
        times = interleaved({"ours": _record_run(sz, steps, True, f"{tmp}/timed"),
                             "floor": _record_run(sz, steps, False, tmp)}, sz.reps)
        memory: dict[str, float] = {}
        for t in (steps, 4 * steps):
            for record in (False, True):
                args = (sz, t, record, f"{tmp}/m{t}", torch.get_num_threads())
                if sz.record_fresh_processes:
                    with ProcessPoolExecutor(1, mp_context=spawn) as pool:
                        used, method = pool.submit(_record_memory, *args).result()
                else:
                    used, method = _record_memory(*args)
                memory[f"{'record' if record else 'none'}@{t}"] = used / 2**20
    ours, fl = median(times["ours"]) / steps, median(times["floor"]) / steps
    extra = {t: memory[f"record@{t}"] - memory[f"none@{t}"] for t in (steps, 4 * steps)}
    flat = memory[f"record@{4 * steps}"] <= 1.1 * memory[f"record@{steps}"] + 4
    return CaseResult(
        "5-record", f"record every step (default fields, streamed) on case 2, {steps} steps",
        "s/step", ours, fl, "the same run without recording",
        "ratio_to_floor <= 1.10; peak memory flat in steps (4T <= 1.1 x T + 4 MiB)",
        ours / fl <= 1.10 and flat, {}, {k: spread(v) for k, v in times.items()},
        {"overhead": ours / fl - 1, "overhead_ms_per_step": (ours - fl) * 1e3,
         "peak_rise_mib": memory, "recording_extra_mib": {str(k): v for k, v in extra.items()},
         "memory_method": method, "memory_flat": flat,
         "chunk_bytes": sz.record_chunk_bytes, "recorded_bytes_per_step":
             4 * sz.cnn_batch * 28 * 28 + 6 * 4 * sz.cnn_batch})


CASES: dict[str, Callable[[BenchSizes], CaseResult]] = {
    "1": case_twolayer, "2": case_cnn, "3": case_fig1, "4": case_census, "5": case_record}


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions: dict[str, str] = {"torch": torch.__version__}
    for peer in PEERS:
        if peer.missing() is None:
            dist = {"art": "adversarial-robustness-toolbox"}.get(peer.name, peer.name)
            versions[peer.name] = importlib.metadata.version(dist)
    return {"cpu": cpu, "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "python": platform.python_version(), "versions": versions,
            "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None}


def run_bench(sz: BenchSizes, cases: list[str] | None = None,
              progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run the chosen cases (default all) and return the JSON report."""
    chosen = list(CASES) if cases is None else cases
    results = []
    for key in chosen:
        if progress is not None:
            progress(f"case {key} ...")
        results.append(CASES[key](sz).to_json())
    return {"machine": machine(), "sizes": asdict(sz), "cases": results,
            "all_met": all(r["met"] for r in results)}
